package com.stigmer.stigma;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.client.ActivityCanceledException;
import io.temporal.client.ActivityNotExistsException;
import io.temporal.client.ActivityPausedException;
import io.temporal.client.ActivityResetException;

/**
 * What an error from a call by token means. The SDK wraps: ActivityCompletionClient's heartbeat
 * throws ActivityCompletionFailureException whose cause is ActivityCanceledException when
 * Zigflow asked to cancel (SDK 1.38), ActivityResetException or ActivityPausedException when an
 * operator reset or paused Zigflow's activity (cancellation wins when several flags are set), and
 * complete/fail wrap the gRPC status; so the whole cause chain is read, never the outer type alone.
 */
public enum CallError {
  /** The heartbeat's answer: Zigflow's activity was asked to cancel. */
  CANCEL_REQUESTED,
  /**
   * The heartbeat's answer: an operator paused or reset Zigflow's activity, no cancellation
   * requested. Not a cancellation: the attempt lives on and takes the result by the same token
   * (a cancellation reported now is refused INVALID_ARGUMENT), so the agent is kept and the beats
   * go on. Nor an error: the server took the heartbeat.
   */
  PAUSED_OR_RESET,
  /** NOT_FOUND: nobody waits on that token any more (retrying can never succeed). */
  TOKEN_DEAD,
  /**
   * The server refused the token: INVALID_ARGUMENT (malformed or foreign token), INTERNAL
   * (what the time-skipping test server answers for a malformed one).
   */
  TOKEN_REJECTED,
  /** Anything else: may succeed on a retry. */
  TRANSIENT;

  public static CallError classify(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ActivityCanceledException) {
        return CANCEL_REQUESTED;
      }
    }
    for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ActivityPausedException || t instanceof ActivityResetException) {
        return PAUSED_OR_RESET;
      }
    }
    Status.Code code = code(error);
    if (code == Status.Code.NOT_FOUND) {
      return TOKEN_DEAD;
    }
    for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ActivityNotExistsException) {
        return TOKEN_DEAD;
      }
    }
    if (code == Status.Code.INVALID_ARGUMENT || code == Status.Code.INTERNAL) {
      return TOKEN_REJECTED;
    }
    return TRANSIENT;
  }

  /** The gRPC status code found in the cause chain; UNKNOWN when there is none. */
  public static Status.Code code(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof StatusRuntimeException) {
        return ((StatusRuntimeException) t).getStatus().getCode();
      }
    }
    return Status.Code.UNKNOWN;
  }

  /** The server's message from the cause chain (never a token: servers do not echo it). */
  public static String message(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof StatusRuntimeException) {
        String d = ((StatusRuntimeException) t).getStatus().getDescription();
        return d == null ? "" : d;
      }
    }
    return String.valueOf(error.getMessage());
  }
}
