package com.stigmer.stigma;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Data exchanged inside Stigma (workflow input, signal, system activities' input and result)
 * and the result envelope. JSON with snake_case names, as the Python reference's: the harness
 * reads the workflow's result (the optional execution summary) and the completion activities'
 * results.
 */
public final class Model {
  private Model() {}

  public static final int ENVELOPE_VERSION = 1;

  /** The task token of one Zigflow activity attempt (base64: JSON has no bytes). */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public static class TokenAttachment {
    public String tokenB64 = "";
    public int attempt;
    public String zigflowWorkflowId = "";
    public String zigflowRunId = "";
    public String zigflowActivityId = "";

    public TokenAttachment() {}

    public TokenAttachment(
        String tokenB64, int attempt, String workflowId, String runId, String activityId) {
      this.tokenB64 = tokenB64;
      this.attempt = attempt;
      this.zigflowWorkflowId = workflowId;
      this.zigflowRunId = runId;
      this.zigflowActivityId = activityId;
    }
  }

  /** StigmaWorkflow input: one agent execution. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public static class AgentRequest {
    public String executionId = "";
    public String agentId = "";
    public byte[] input = new byte[0]; // as received: run_agent gets it unread
    public String idempotencyKey = "";
    public TokenAttachment token; // null: a direct call
    public Double heartbeatEveryS; // null: Zigflow expects no heartbeats
    public String agentTaskQueue = "";
    // The cluster's payload limit (STIGMA_MAX_PAYLOAD_BYTES); 0: no check.
    public long maxPayloadBytes;
  }

  /** Input of the system activities: what to deliver to which token. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public static class Completion {
    public String tokenB64 = "";
    public int attempt;
    public String executionId = "";
    public Object result; // the envelope (complete; details of fail)
    public String errorType = "";
    public String errorMessage = "";
    // Whom the token belongs to: Zigflow's own record explains a NOT_FOUND.
    public String zigflowWorkflowId = "";
    public String zigflowRunId = "";
    public String zigflowActivityId = "";
  }

  /**
   * What a call by token did: delivered | delivered_earlier | token_dead | token_rejected |
   * result_too_large (the agent's result or failure was over the payload limit: Zigflow's
   * activity was failed with ResultTooLarge instead) | gave_up | no_token; for heartbeats also alive | cancel_requested.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public static class CompletionOutcome {
    public String status = "no_token";
    public String grpcCode = "";
    public String message = "";
    public String tokenFp = "";
    public boolean retryPending; // token_dead, but a newer Zigflow attempt is pending
    public boolean requesterClosed; // token_dead: Zigflow's workflow closed, nobody takes it

    public CompletionOutcome() {}

    public CompletionOutcome(String status, String grpcCode, String message, String tokenFp) {
      this.status = status;
      this.grpcCode = grpcCode;
      this.message = message;
      this.tokenFp = tokenFp;
    }
  }

  /** StigmaWorkflow result: the execution summary (optional evidence for the harness). */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public static class ExecutionSummary {
    public String executionId = "";
    public String agentId = "";
    public String idempotencyKey = "";
    public String agentOutcome = "succeeded"; // succeeded | failed | canceled
    public JsonNode output;
    public String errorType = "";
    public String errorMessage = "";
    public int tokensSeen;
    public int heartbeats;
    public CompletionOutcome completion = new CompletionOutcome();
  }

  /** The value Zigflow receives: the agent's output plus whom it is for. */
  public static Map<String, Object> envelope(
      AgentRequest request, String workflowId, TokenAttachment token, JsonNode output) {
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("envelope_version", ENVELOPE_VERSION);
    e.put("agent_id", request.agentId);
    e.put("agent_execution_id", request.executionId);
    e.put("stigma_workflow_id", workflowId);
    e.put("idempotency_key", request.idempotencyKey);
    e.put("zigflow_workflow_id", token != null ? token.zigflowWorkflowId : "");
    e.put("zigflow_activity_id", token != null ? token.zigflowActivityId : "");
    e.put("output", output);
    return e;
  }
}
