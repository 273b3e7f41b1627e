package com.stigmer.stigma;

import com.google.protobuf.ByteString;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.activity.ActivityInfo;
import io.temporal.api.workflowservice.v1.RespondActivityTaskCanceledRequest;
import io.temporal.client.ActivityCompletionClient;
import io.temporal.failure.ApplicationFailure;
import io.temporal.serviceclient.WorkflowServiceStubs;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Calls by token through ActivityCompletionClient, on a client for Zigflow's namespace. */
public class SystemActivitiesImpl implements SystemActivities {
  private static final JsonLog LOG = new JsonLog("stigma.activity");
  // Well inside the workflow's 3 s heartbeat timeout for system activities.
  static final long HEARTBEAT_EVERY_MS = 1000;

  /** Something that makes the calls by token (a fake in unit tests). */
  public interface TokenCalls {
    void complete(byte[] token, Object result) throws Exception;

    void fail(byte[] token, Exception failure) throws Exception;

    void heartbeat(byte[] token) throws Exception;

    void reportCancellation(byte[] token) throws Exception;
  }

  /**
   * The deadline of every call by token (contract: at most 10 s). Set on the stubs of Zigflow's
   * client (the SDK's rpcTimeout) and on the raw cancellation RPC. A call answered takes
   * milliseconds (p99 ~1 s with 1000 handshakes in flight on 2 busy cores), so this gives up only
   * on a server that is not answering; a call that lands late is recognised on its retry
   * (delivered_earlier). Not under the contract's 3 s for other completions to pass a waiting
   * call (see the Python Stigma's CALL_DEADLINE). As the Python Stigma's.
   */
  public static final Duration CALL_DEADLINE = Duration.ofSeconds(3);

  /** The real calls: ActivityCompletionClient, and the raw RPC for cancellation. */
  public static TokenCalls temporal(
      ActivityCompletionClient client, WorkflowServiceStubs stubs, String namespace) {
    return new TokenCalls() {
      @Override
      public void complete(byte[] token, Object result) {
        client.complete(token, result);
      }

      @Override
      public void fail(byte[] token, Exception failure) {
        client.completeExceptionally(token, failure);
      }

      @Override
      public void heartbeat(byte[] token) {
        client.heartbeat(token, null);
      }

      @Override
      public void reportCancellation(byte[] token) {
        // ActivityCompletionClient.reportCancellation swallows every error (it only logs),
        // so a dead or refused token would pass for delivered: the RPC itself is made here.
        stubs
            .blockingStub()
            .withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
            .respondActivityTaskCanceled(
                RespondActivityTaskCanceledRequest.newBuilder()
                    .setNamespace(namespace)
                    .setTaskToken(ByteString.copyFrom(token))
                    .setIdentity("stigma-java")
                    .build());
      }
    };
  }

  private final TokenCalls calls;
  private final ZigflowRecord record;
  private final ExecutorService pool = Executors.newCachedThreadPool(daemon());

  public SystemActivitiesImpl(TokenCalls calls, ZigflowRecord record) {
    this.calls = calls;
    this.record = record;
  }

  @Override
  public Model.CompletionOutcome complete(Model.Completion c) {
    return deliver(c, "complete");
  }

  @Override
  public Model.CompletionOutcome fail(Model.Completion c) {
    return deliver(c, "fail");
  }

  @Override
  public Model.CompletionOutcome cancel(Model.Completion c) {
    return deliver(c, "cancel");
  }

  @Override
  public Model.CompletionOutcome heartbeat(Model.Completion c) {
    return deliver(c, "heartbeat");
  }

  Model.CompletionOutcome deliver(Model.Completion c, String kind) {
    byte[] token = Base64.getDecoder().decode(c.tokenB64);
    String fp = JsonLog.fingerprint(token);
    ActivityInfo info = Activity.getExecutionContext().getInfo();
    Object[] fields = {
      "token_fp", fp,
      "zigflow_attempt", c.attempt,
      "agent_execution_id", c.executionId,
      "stigma_workflow_id", info.getWorkflowId(),
      "completion_attempt", info.getAttempt(),
      "kind", kind
    };
    try {
      switch (kind) {
        case "heartbeat" -> calls.heartbeat(token);
        case "cancel" -> aliveWhile(() -> calls.reportCancellation(token));
        case "fail" ->
            aliveWhile(
                () ->
                    calls.fail(
                        token,
                        // non-retryable: the agent's own retries belong to Stigma
                        ApplicationFailure.newNonRetryableFailure(
                            c.errorMessage, c.errorType, c.result)));
        default -> aliveWhile(() -> calls.complete(token, c.result));
      }
    } catch (Exception err) {
      CallError what = CallError.classify(err);
      String code = CallError.code(err).name();
      String message = CallError.message(err);
      if (kind.equals("heartbeat") && what == CallError.CANCEL_REQUESTED) {
        LOG.event("completion.cancel_requested", fields);
        Metrics.completionCall("heartbeat", "cancel_requested", "");
        return new Model.CompletionOutcome("cancel_requested", "", "", fp);
      }
      if (kind.equals("heartbeat") && what == CallError.PAUSED_OR_RESET) {
        // An operator paused or reset Zigflow's activity: the attempt lives on and takes the
        // result by this token; keep the agent and beat on (the server took this beat).
        LOG.event(
            "completion.heartbeat_paused_or_reset",
            concat(fields, "operator_action", operatorAction(err)));
        Metrics.completionCall("heartbeat", "alive", "");
        return new Model.CompletionOutcome("alive", "", "", fp);
      }
      if (what != CallError.TOKEN_DEAD && what != CallError.TOKEN_REJECTED) {
        throw retryLater(
            fields, kind, code, message, "completion call failed with " + code + ": " + message);
      }
      Model.CompletionOutcome outcome =
          new Model.CompletionOutcome(
              what == CallError.TOKEN_DEAD ? "token_dead" : "token_rejected", code, message, fp);
      if (what == CallError.TOKEN_DEAD && record != null && !explainWhileAlive(c, outcome)) {
        // NOT_FOUND may mean our own earlier call landed (its reply lost), and the record
        // that tells could not be read now: retried, never recorded as a dead token.
        throw retryLater(
            fields,
            kind,
            code,
            outcome.message,
            "completion call answered " + code + " and Zigflow's record could not be read now");
      }
      Metrics.completionCall(kind, outcome.status, code);
      LOG.event(
          "completion." + outcome.status, concat(fields, "code", code, "message", outcome.message));
      return outcome;
    }
    if (kind.equals("heartbeat")) {
      Metrics.completionCall("heartbeat", "alive", "");
      return new Model.CompletionOutcome("alive", "", "", fp);
    }
    LOG.event("completion.delivered", fields);
    Metrics.completionCall(kind, "delivered", "");
    return new Model.CompletionOutcome("delivered", "", "", fp);
  }

  /**
   * Record a call a retry may still make good; the failure that fails the attempt so that the
   * activity's retry policy makes it again.
   */
  private static ApplicationFailure retryLater(
      Object[] fields, String kind, String code, String message, String why) {
    LOG.warn("completion.transient", concat(fields, "code", code, "message", message));
    Metrics.completionCall(kind, "transient", code);
    return ApplicationFailure.newFailure(why, "CompletionTransient");
  }

  /**
   * Explain a NOT_FOUND while heartbeating our own attempt: on a slow link the reads take
   * seconds, and an attempt that outlives its heartbeat timeout is retried however it ended.
   */
  private boolean explainWhileAlive(Model.Completion c, Model.CompletionOutcome outcome) {
    boolean[] explained = {true};
    try {
      aliveWhile(() -> explained[0] = explainNotFound(c, outcome));
    } catch (Exception interrupted) { // explainNotFound keeps its own errors
      throw Activity.wrap(interrupted);
    }
    return explained[0];
  }

  /**
   * NOT_FOUND is ambiguous; Zigflow's own history says which case it is. False when the
   * record could not be read for a reason that asking again may clear (the call is then
   * retried); a record that cannot be read at all leaves the outcome a dead token.
   */
  boolean explainNotFound(Model.Completion c, Model.CompletionOutcome outcome) {
    ZigflowRecord.Why why;
    try {
      why = record.whyNotFound(c);
    } catch (Exception err) { // the record is a diagnosis, not a dependency
      outcome.message += " (Zigflow's record unreadable: " + err.getMessage() + ")";
      return !ZigflowRecord.readAgain(err);
    }
    if (why.kind() == ZigflowRecord.Kind.DELIVERED_EARLIER) {
      outcome.status = "delivered_earlier";
    }
    outcome.retryPending = why.kind() == ZigflowRecord.Kind.RETRY_PENDING;
    outcome.requesterClosed = why.kind() == ZigflowRecord.Kind.CLOSED;
    outcome.message += " (" + why.detail() + ")";
    return true;
  }

  interface Call {
    void run() throws Exception;
  }

  /**
   * Make a call by token while heartbeating our own attempt: the SDK's client retries some
   * codes before the caller sees them, and an attempt that outlived its heartbeat timeout
   * would be retried before a refused token is ever classified.
   */
  private void aliveWhile(Call call) throws Exception {
    Future<?> task =
        pool.submit(
            () -> {
              call.run();
              return null;
            });
    ActivityExecutionContext ctx = Activity.getExecutionContext();
    try {
      while (true) {
        try {
          task.get(HEARTBEAT_EVERY_MS, TimeUnit.MILLISECONDS);
          return;
        } catch (TimeoutException stillRunning) {
          ctx.heartbeat(null);
        }
      }
    } catch (ExecutionException err) {
      Throwable cause = err.getCause();
      if (cause instanceof Exception e) {
        throw e;
      }
      throw err;
    } finally {
      task.cancel(true);
    }
  }

  /** "reset" or "paused": which operator action a heartbeat's answer reported. */
  static String operatorAction(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof io.temporal.client.ActivityResetException) {
        return "reset";
      }
    }
    return "paused";
  }

  private static Object[] concat(Object[] a, Object... b) {
    Object[] out = new Object[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  static java.util.concurrent.ThreadFactory daemon() {
    return r -> {
      Thread t = new Thread(r, "stigma-token-call");
      t.setDaemon(true);
      return t;
    };
  }
}
