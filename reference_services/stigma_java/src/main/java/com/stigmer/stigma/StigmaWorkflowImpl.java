package com.stigmer.stigma;

import com.fasterxml.jackson.databind.JsonNode;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.workflow.ActivityStub;
import io.temporal.workflow.Async;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.Promise;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Run the agent (activity run_agent on the agents' task queue, with the request's fields as
 * received), heartbeat Zigflow's activity by token meanwhile, then complete, fail or cancel it
 * by token from a system activity.
 */
public class StigmaWorkflowImpl implements StigmaWorkflow {
  // Completion calls: transient errors retried with backoff inside the completion window;
  // NOT_FOUND / refused tokens come back as outcomes, so they are never retried.
  static final RetryOptions COMPLETION_RETRY =
      RetryOptions.newBuilder()
          .setInitialInterval(Duration.ofSeconds(1))
          .setBackoffCoefficient(2.0)
          .setMaximumInterval(Duration.ofSeconds(30))
          .build();
  // An agent attempt lost with its worker is retried; an agent's own failure is not.
  static final RetryOptions AGENT_RETRY =
      RetryOptions.newBuilder()
          .setMaximumAttempts(3)
          .setInitialInterval(Duration.ofSeconds(1))
          .setDoNotRetry("PayloadsTooLarge")
          .build();
  static final Duration AGENT_HEARTBEAT = Duration.ofMinutes(5);
  static final Duration AGENT_START_TO_CLOSE = Duration.ofDays(7);
  // System activities heartbeat while they work: one lost with a killed worker is retried
  // on the next worker within seconds.
  static final Duration WORKER_HEARTBEAT = Duration.ofSeconds(3);
  // How long a finished execution waits for a retrying Zigflow attempt's live token after
  // its own token turned out dead (Zigflow's retry backoff is at most 30 s).
  static final Duration TOKEN_GRACE = Duration.ofSeconds(120);

  private Model.TokenAttachment token;
  private final Set<String> tokensSeen = new HashSet<>();
  private boolean cancelRequested;
  private int heartbeats;
  // Why the agent's outcome cannot be delivered as it is (over the cluster's payload limit),
  // or "" while it can: then Zigflow's activity is failed with ResultTooLarge and the call is
  // recorded result_too_large.
  private String tooLarge = "";

  @Override
  public void attachToken(Model.TokenAttachment attachment) {
    tokensSeen.add(attachment.tokenB64);
    if (token == null || attachment.attempt >= token.attempt) {
      token = attachment;
    }
  }

  @Override
  public int tokenAttempt() {
    return token == null ? 0 : token.attempt;
  }

  @Override
  public Model.ExecutionSummary run(Model.AgentRequest request, double completionWindowS) {
    String workflowId = Workflow.getInfo().getWorkflowId();
    Metrics.workflowStarted(workflowId);
    // Not in a finally: an eviction (an Error thrown into the workflow thread) leaves a live
    // workflow counted as running.
    Model.ExecutionSummary summary;
    try {
      summary = execute(request, completionWindowS);
    } catch (RuntimeException err) {
      Metrics.workflowEnded(workflowId);
      throw err;
    }
    Metrics.workflowEnded(workflowId);
    return summary;
  }

  private Model.ExecutionSummary execute(Model.AgentRequest request, double windowS) {
    if (request.token != null) {
      attachToken(request.token);
    }
    Model.ExecutionSummary summary = new Model.ExecutionSummary();
    summary.executionId = request.executionId;
    summary.agentId = request.agentId;
    summary.idempotencyKey = request.idempotencyKey;

    ActivityStub agentStub =
        Workflow.newUntypedActivityStub(
            ActivityOptions.newBuilder()
                .setTaskQueue(request.agentTaskQueue)
                .setStartToCloseTimeout(AGENT_START_TO_CLOSE)
                .setHeartbeatTimeout(AGENT_HEARTBEAT)
                .setRetryOptions(AGENT_RETRY)
                .build());
    @SuppressWarnings("unchecked")
    Promise<JsonNode>[] agent = new Promise[1];
    CancellationScope agentScope =
        Workflow.newCancellationScope(
            () -> {
              agent[0] =
                  agentStub.executeAsync(
                      "run_agent", JsonNode.class, request.agentId, request.input);
            });
    agentScope.run();
    CancellationScope beatScope = null;
    if (request.heartbeatEveryS != null && request.heartbeatEveryS > 0 && token != null) {
      double every = request.heartbeatEveryS;
      beatScope = Workflow.newCancellationScope(() -> Async.procedure(this::heartbeatLoop, every));
      beatScope.run();
    }
    Workflow.await(() -> agent[0].isCompleted() || cancelRequested);
    if (beatScope != null) {
      beatScope.cancel();
    }
    summary.heartbeats = heartbeats;
    if (!agent[0].isCompleted()) { // Zigflow cancelled or closed (seen on a heartbeat)
      agentScope.cancel();
      try {
        agent[0].get();
      } catch (ActivityFailure | CanceledFailure stopped) {
        // the agent's cancellation: what we asked for
      }
      summary.agentOutcome = "canceled";
      summary.tokensSeen = tokensSeen.size();
      summary.completion = deliver(request, summary, windowS);
      return summary;
    }
    try {
      summary.output = agent[0].get();
    } catch (ActivityFailure err) {
      Throwable cause = err.getCause();
      summary.agentOutcome = "failed";
      if (cause instanceof ApplicationFailure app) {
        summary.errorType = app.getType() == null ? "ApplicationError" : app.getType();
        summary.errorMessage = app.getOriginalMessage();
      } else {
        summary.errorType = cause == null ? "ActivityFailure" : cause.getClass().getSimpleName();
        summary.errorMessage = cause == null ? err.getMessage() : cause.getMessage();
      }
      if (PayloadLimit.refusedForSize(cause)) {
        // Over the limit on its way in: the agent's own outcome is lost, only that it was
        // too large is known.
        tooLarge =
            PayloadLimit.tooLargeMessage("result or failure", null, request.maxPayloadBytes);
      }
    }
    summary.tokensSeen = tokensSeen.size();
    if (token == null) { // direct call: the agent ran, nothing to complete
      return fit(request, summary);
    }
    summary.completion = deliver(request, summary, windowS);
    summary.tokensSeen = tokensSeen.size(); // retried attempts may have attached more
    return fit(request, summary);
  }

  /**
   * The summary within the payload limit (a workflow result over it would fail every workflow
   * task and never close): the agent's output, then its error message, left out when they make
   * it too large (the summary is evidence, the result went, or did not, by token).
   */
  private static Model.ExecutionSummary fit(
      Model.AgentRequest request, Model.ExecutionSummary summary) {
    long limit = request.maxPayloadBytes;
    if (PayloadLimit.overLimit(PayloadLimit.encodedSize(summary), limit)) {
      summary.output = null;
    }
    if (PayloadLimit.overLimit(PayloadLimit.encodedSize(summary), limit)
        && summary.errorMessage.length() > 1024) {
      summary.errorMessage = summary.errorMessage.substring(0, 1024);
    }
    return summary;
  }

  /**
   * The call to make: {@code c} as it is when its encoded size (the system activity's input,
   * which carries the envelope Zigflow gets and the token, so it is the larger) is within the
   * payload limit; else failing Zigflow's activity with ResultTooLarge. Over the limit the
   * server would refuse the activity's input, or, by token, answer OK and fail Zigflow's
   * activity with a ServerFailure of its own.
   */
  private String withinLimit(
      Model.AgentRequest request, String name, Model.Completion c, Model.TokenAttachment t) {
    long limit = request.maxPayloadBytes;
    if (tooLarge.isEmpty()) {
      long size = PayloadLimit.encodedSize(c);
      if (!PayloadLimit.overLimit(size, limit)) {
        return name;
      }
      String what = name.equals("complete_zigflow_activity") ? "result" : "failure";
      tooLarge = PayloadLimit.tooLargeMessage(what, size, limit);
    }
    c.result = Model.envelope(request, Workflow.getInfo().getWorkflowId(), t, null);
    c.errorType = PayloadLimit.RESULT_TOO_LARGE;
    c.errorMessage = tooLarge;
    return "fail_zigflow_activity";
  }

  /** Keep Zigflow's activity alive by token; its answer may ask us to cancel. */
  private void heartbeatLoop(double everyS) {
    Duration every = Duration.ofMillis((long) (everyS * 1000));
    ActivityStub beat =
        Workflow.newUntypedActivityStub(
            ActivityOptions.newBuilder()
                .setStartToCloseTimeout(Duration.ofMillis((long) (Math.max(everyS, 5.0) * 1000)))
                .setRetryOptions(RetryOptions.newBuilder().setMaximumAttempts(2).build())
                .build());
    try {
      while (!CancellationScope.current().isCancelRequested()) {
        Workflow.sleep(every);
        Model.Completion c = new Model.Completion();
        c.tokenB64 = token.tokenB64;
        c.attempt = token.attempt;
        c.zigflowWorkflowId = token.zigflowWorkflowId;
        c.zigflowRunId = token.zigflowRunId;
        c.zigflowActivityId = token.zigflowActivityId;
        Model.CompletionOutcome outcome;
        try {
          outcome =
              beat.execute("heartbeat_zigflow_activity", Model.CompletionOutcome.class, c);
        } catch (ActivityFailure missed) {
          continue; // a missed beat; the next one may get through
        }
        heartbeats++;
        if ("cancel_requested".equals(outcome.status) || outcome.requesterClosed) {
          // Cancelled, or Zigflow's workflow closed without waiting for us (the SDKs'
          // default cancellation): nobody will take the result, stop the agent.
          cancelRequested = true;
          return;
        }
        int used = c.attempt;
        if ("token_dead".equals(outcome.status)
            && (outcome.retryPending || token.attempt > used)) {
          // That attempt timed out and Zigflow is retrying: beat the retry's live token
          // once its StartAgent attaches it (it may already have), or its attempt times
          // out by heartbeat too while the agent works on.
          if (!Workflow.await(TOKEN_GRACE, () -> token.attempt > used)) {
            return;
          }
          continue;
        }
        if ("token_dead".equals(outcome.status) || "token_rejected".equals(outcome.status)) {
          return; // nobody is waiting any more; the completion will say so
        }
      }
    } catch (CanceledFailure stopped) {
      // the agent finished: no more beats
    }
  }

  private Model.CompletionOutcome deliver(
      Model.AgentRequest request, Model.ExecutionSummary summary, double windowS) {
    while (true) {
      Model.TokenAttachment used = token;
      Model.CompletionOutcome outcome = deliverOnce(request, summary, windowS, used);
      if (!"token_dead".equals(outcome.status)) {
        return outcome;
      }
      if (token.attempt > used.attempt) {
        continue; // a newer Zigflow attempt attached its token meanwhile
      }
      if (!outcome.retryPending) {
        return outcome; // nobody is waiting any more: recorded, not retried
      }
      // An earlier attempt's ACK was lost and Zigflow is retrying: its next StartAgent
      // re-attaches a live token to this execution. Wait for it.
      if (!Workflow.await(TOKEN_GRACE, () -> token.attempt > used.attempt)) {
        return outcome;
      }
    }
  }

  private Model.CompletionOutcome deliverOnce(
      Model.AgentRequest request,
      Model.ExecutionSummary summary,
      double windowS,
      Model.TokenAttachment t) {
    String workflowId = Workflow.getInfo().getWorkflowId();
    Model.Completion c = new Model.Completion();
    c.tokenB64 = t.tokenB64;
    c.attempt = t.attempt;
    c.executionId = request.executionId;
    c.zigflowWorkflowId = t.zigflowWorkflowId;
    c.zigflowRunId = t.zigflowRunId;
    c.zigflowActivityId = t.zigflowActivityId;
    String name;
    switch (summary.agentOutcome) {
      case "canceled" -> name = "cancel_zigflow_activity";
      case "succeeded" -> {
        name = "complete_zigflow_activity";
        c.result = Model.envelope(request, workflowId, t, summary.output);
      }
      default -> {
        name = "fail_zigflow_activity";
        Map<String, Object> envelope = Model.envelope(request, workflowId, t, null);
        c.result = envelope;
        c.errorType = summary.errorType;
        c.errorMessage = summary.errorMessage;
      }
    }
    if (!name.equals("cancel_zigflow_activity")) {
      name = withinLimit(request, name, c, t);
    }
    ActivityStub call =
        Workflow.newUntypedActivityStub(
            ActivityOptions.newBuilder()
                .setStartToCloseTimeout(Duration.ofSeconds(30))
                .setHeartbeatTimeout(WORKER_HEARTBEAT)
                .setScheduleToCloseTimeout(Duration.ofMillis((long) (windowS * 1000)))
                .setRetryOptions(COMPLETION_RETRY)
                .build());
    try {
      Model.CompletionOutcome outcome = call.execute(name, Model.CompletionOutcome.class, c);
      if (!tooLarge.isEmpty() && "delivered".equals(outcome.status)) {
        // What was delivered is the ResultTooLarge failure, not the outcome.
        outcome.status = "result_too_large";
        outcome.message = tooLarge;
      }
      return outcome;
    } catch (ActivityFailure err) {
      // The window closed with only transient errors: recorded, not retried forever.
      Metrics.completionGaveUp(Workflow.isReplaying());
      Throwable cause = err.getCause() != null ? err.getCause() : err;
      return new Model.CompletionOutcome("gave_up", "", String.valueOf(cause.getMessage()), "");
    }
  }
}
