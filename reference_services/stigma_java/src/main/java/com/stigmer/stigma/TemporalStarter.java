package com.stigmer.stigma;

import io.grpc.Status;
import io.temporal.api.enums.v1.WorkflowIdReusePolicy;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import java.time.Duration;
import java.util.Optional;

/**
 * A plain start (eager when asked: the first workflow task comes back in the start reply); the
 * token travels in the input. When the id exists the token goes by signal (attach_token); a
 * closed execution answers the signal NOT_FOUND: "already finished".
 */
public class TemporalStarter implements StartAgentService.Starter {
  static final Duration WORKFLOW_TASK_TIMEOUT = Duration.ofSeconds(3);
  private final WorkflowClient client;
  private final String taskQueue;
  private final String agentTaskQueue;
  private final double windowS;
  private final boolean eager;
  private final long maxPayloadBytes;

  public TemporalStarter(
      WorkflowClient client,
      String taskQueue,
      String agentTaskQueue,
      double windowS,
      boolean eager,
      long maxPayloadBytes) {
    this.client = client;
    this.taskQueue = taskQueue;
    this.agentTaskQueue = agentTaskQueue;
    this.windowS = windowS;
    this.eager = eager;
    this.maxPayloadBytes = maxPayloadBytes;
  }

  @Override
  public void start(String workflowId, Model.AgentRequest request) throws Exception {
    request.agentTaskQueue = agentTaskQueue;
    request.maxPayloadBytes = maxPayloadBytes;
    WorkflowOptions options =
        WorkflowOptions.newBuilder()
            .setWorkflowId(workflowId)
            .setTaskQueue(taskQueue)
            // One agent per idempotency key, ever (also after it closed).
            .setWorkflowIdReusePolicy(
                WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE)
            .setDisableEagerExecution(!eager)
            // A first task handed (eagerly) to a Stigma that then died is retried after
            // this, not the server's 10 s (the contract's recommendation).
            .setWorkflowTaskTimeout(WORKFLOW_TASK_TIMEOUT)
            .build();
    try {
      client.newUntypedWorkflowStub("StigmaWorkflow", options).start(request, windowS);
    } catch (WorkflowExecutionAlreadyStarted exists) {
      if (request.token == null) {
        return; // a direct call repeated: the agent exists, nothing to attach
      }
      attach(workflowId, request.token);
    }
  }

  /** A retried Zigflow attempt: its live token to the running execution. */
  private void attach(String workflowId, Model.TokenAttachment token) throws Exception {
    WorkflowStub running =
        client.newUntypedWorkflowStub(workflowId, Optional.empty(), Optional.empty());
    try {
      running.signal("attach_token", token);
    } catch (WorkflowNotFoundException closed) {
      throw new StartAgentService.AlreadyFinished(workflowId);
    } catch (RuntimeException err) {
      if (CallError.code(err) == Status.Code.NOT_FOUND) {
        throw new StartAgentService.AlreadyFinished(workflowId);
      }
      throw err;
    }
  }
}
