package com.stigmer.stigma;

import com.google.protobuf.Empty;
import com.stigmer.stigma.v1.Correlation;
import com.stigmer.stigma.v1.StartAgentRequest;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;

/** StartAgent: validate, durably start (or re-attach to) the agent's workflow, then ACK. */
public class StartAgentService {
  private static final JsonLog LOG = new JsonLog("stigma.server");

  /** Starts the workflow for an id, or hands the newest token to the one already running. */
  public interface Starter {
    void start(String workflowId, Model.AgentRequest request) throws Exception;
  }

  /** The execution for this idempotency key has already closed. */
  public static final class AlreadyFinished extends Exception {
    public AlreadyFinished(String workflowId) {
      super(workflowId);
    }
  }

  private final Starter starter;
  // The cluster's payload limit: an input over it can never start an execution (0: no check).
  private final long maxPayloadBytes;

  public StartAgentService(Starter starter) {
    this(starter, 0);
  }

  public StartAgentService(Starter starter, long maxPayloadBytes) {
    this.starter = starter;
    this.maxPayloadBytes = maxPayloadBytes;
  }

  public static String workflowIdFor(StartAgentRequest r) {
    if (!r.getIdempotencyKey().isEmpty()) {
      return "stigma-" + r.getIdempotencyKey();
    }
    return "stigma-direct-" + UUID.randomUUID();
  }

  public static String executionIdFor(String workflowId) {
    try {
      byte[] d =
          MessageDigest.getInstance("SHA-256").digest(workflowId.getBytes(StandardCharsets.UTF_8));
      return "agx-" + HexFormat.of().formatHex(d).substring(0, 16);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** The workflow's input for a valid request. */
  public static Model.AgentRequest agentRequest(StartAgentRequest r, String workflowId) {
    Correlation corr = r.getCorrelation();
    byte[] token = r.getCallbackToken().toByteArray();
    Model.AgentRequest a = new Model.AgentRequest();
    a.executionId = executionIdFor(workflowId);
    a.agentId = r.getAgentId();
    a.input = r.getInput().toByteArray();
    a.idempotencyKey = r.getIdempotencyKey();
    if (token.length > 0) {
      a.token =
          new Model.TokenAttachment(
              Base64.getEncoder().encodeToString(token),
              Math.max(corr.getZigflowAttempt(), 1),
              corr.getZigflowWorkflowId(),
              corr.getZigflowRunId(),
              corr.getZigflowActivityId());
      if (r.hasHeartbeatTimeout()) {
        var hb = r.getHeartbeatTimeout();
        a.heartbeatEveryS = (hb.getSeconds() + hb.getNanos() / 1e9) / 3.0;
      }
    }
    return a;
  }

  /** The RPC as bound by {@link StigmaGrpc}: a body that did not parse is a bad request. */
  public void startAgent(StigmaGrpc.Parsed body, StreamObserver<Empty> reply) {
    if (body.request() == null) {
      LOG.event("start_agent.undecodable", "reason", body.error());
      Metrics.startAgentAnswered("undecodable");
      reply.onError(
          Status.INVALID_ARGUMENT
              .withDescription("request is not a valid StartAgentRequest: " + body.error())
              .asRuntimeException());
      return;
    }
    startAgent(body.request(), reply);
  }

  public void startAgent(StartAgentRequest r, StreamObserver<Empty> reply) {
    Correlation corr = r.getCorrelation();
    String agentId = r.getAgentId();
    String key = r.getIdempotencyKey();
    Object[] ids = {
      "agent_id", agentId.length() > 128 ? agentId.substring(0, 128) : agentId,
      "idempotency_key", key.length() > 512 ? key.substring(0, 512) : key,
      "workflow_id", corr.getZigflowWorkflowId(),
      "activity_id", corr.getZigflowActivityId(),
      "attempt", corr.getZigflowAttempt(),
      "token_fp", JsonLog.fingerprint(r.getCallbackToken().toByteArray())
    };
    List<String> problems = new java.util.ArrayList<>(Validation.problems(r));
    if (maxPayloadBytes > 0 && r.getInput().size() > maxPayloadBytes) {
      problems.add(
          "input: "
              + r.getInput().size()
              + " bytes, over the cluster's payload limit of "
              + maxPayloadBytes
              + " bytes");
    }
    if (!problems.isEmpty()) {
      LOG.event("start_agent.invalid", concat(ids, "problems", problems));
      Metrics.startAgentAnswered("invalid");
      reply.onError(
          Status.INVALID_ARGUMENT
              .withDescription("invalid StartAgentRequest: " + String.join("; ", problems))
              .asRuntimeException());
      return;
    }
    String workflowId = workflowIdFor(r);
    Model.AgentRequest request = agentRequest(r, workflowId);
    ids = concat(ids, "stigma_workflow_id", workflowId, "agent_execution_id", request.executionId);
    LOG.event("start_agent.received", concat(ids, "direct", request.token == null));
    try {
      starter.start(workflowId, request); // durable before the ACK
    } catch (AlreadyFinished done) {
      LOG.event("start_agent.already_finished", ids);
      Metrics.startAgentAnswered("already_finished");
      reply.onError(
          Status.FAILED_PRECONDITION
              .withDescription(
                  "agent execution "
                      + request.executionId
                      + " for idempotency key '"
                      + key
                      + "' has already finished; its result went to an earlier attempt's token")
              .asRuntimeException());
      return;
    } catch (Exception err) {
      String code = CallError.code(err).name();
      String message = CallError.message(err);
      LOG.warn("start_agent.temporal_error", concat(ids, "code", code, "message", message));
      if (CallError.code(err) == Status.Code.INVALID_ARGUMENT) {
        // Temporal refuses this start for good (an input that, with the token, is over the
        // payload limit): a retry would meet the same answer.
        Metrics.startAgentAnswered("invalid");
        reply.onError(
            Status.INVALID_ARGUMENT
                .withDescription("Temporal refused the agent's start: " + message)
                .asRuntimeException());
        return;
      }
      Metrics.startAgentAnswered("temporal_error");
      reply.onError(
          Status.UNAVAILABLE
              .withDescription(
                  "could not start the agent durably ("
                      + code
                      + ": "
                      + message
                      + "); retry with the same idempotency_key")
              .asRuntimeException());
      return;
    }
    LOG.event("start_agent.ack", ids);
    Metrics.startAgentAnswered("ack");
    reply.onNext(Empty.getDefaultInstance());
    reply.onCompleted();
  }

  static Object[] concat(Object[] a, Object... b) {
    Object[] out = new Object[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
