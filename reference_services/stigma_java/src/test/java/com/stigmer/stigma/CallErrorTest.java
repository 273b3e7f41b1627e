package com.stigmer.stigma;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.client.ActivityCanceledException;
import io.temporal.client.ActivityCompletionFailureException;
import io.temporal.client.ActivityNotExistsException;
import io.temporal.client.ActivityPausedException;
import io.temporal.client.ActivityResetException;
import org.junit.jupiter.api.Test;

class CallErrorTest {
  static StatusRuntimeException status(Status s) {
    return s.withDescription("from the server").asRuntimeException();
  }

  @Test
  void cancellationIsFoundInsideTheCompletionFailureTheHeartbeatThrows() {
    // SDK 1.38: ManualActivityCompletionClient.recordHeartbeat catches its own
    // ActivityCanceledException and wraps it; the outer type alone says "failure".
    var wrapped = new ActivityCompletionFailureException("", new ActivityCanceledException());
    assertEquals(CallError.CANCEL_REQUESTED, CallError.classify(wrapped));
    assertEquals(CallError.CANCEL_REQUESTED, CallError.classify(new ActivityCanceledException()));
  }

  @Test
  void anOperatorsPauseOrResetIsNotACancellation() {
    // SDK 1.38 throws these (wrapped like the cancellation) when the heartbeat's answer says
    // activity_paused or activity_reset without cancel_requested: the attempt lives on.
    for (var thrown :
        new RuntimeException[] {new ActivityPausedException(), new ActivityResetException()}) {
      assertEquals(
          CallError.PAUSED_OR_RESET,
          CallError.classify(new ActivityCompletionFailureException("", thrown)));
      assertEquals(CallError.PAUSED_OR_RESET, CallError.classify(thrown));
    }
    assertEquals(
        "reset",
        SystemActivitiesImpl.operatorAction(
            new ActivityCompletionFailureException("", new ActivityResetException())));
    assertEquals("paused", SystemActivitiesImpl.operatorAction(new ActivityPausedException()));
  }

  @Test
  void notFoundIsADeadTokenWhateverWrapsIt() {
    var sre = status(Status.NOT_FOUND);
    assertEquals(CallError.TOKEN_DEAD, CallError.classify(new ActivityNotExistsException(sre)));
    assertEquals(
        CallError.TOKEN_DEAD, CallError.classify(new ActivityCompletionFailureException(sre)));
    assertEquals(CallError.TOKEN_DEAD, CallError.classify(sre));
    assertEquals("NOT_FOUND", CallError.code(new ActivityNotExistsException(sre)).name());
  }

  @Test
  void invalidArgumentAndInternalAreARefusedToken() {
    for (Status s : new Status[] {Status.INVALID_ARGUMENT, Status.INTERNAL}) {
      assertEquals(
          CallError.TOKEN_REJECTED,
          CallError.classify(new ActivityCompletionFailureException(status(s))));
    }
    assertEquals(
        "from the server",
        CallError.message(new ActivityCompletionFailureException(status(Status.INTERNAL))));
  }

  @Test
  void everythingElseIsTransient() {
    for (Status s :
        new Status[] {Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.RESOURCE_EXHAUSTED}) {
      assertEquals(
          CallError.TRANSIENT,
          CallError.classify(new ActivityCompletionFailureException(status(s))));
    }
    assertEquals(CallError.TRANSIENT, CallError.classify(new RuntimeException("boom")));
    assertEquals("UNKNOWN", CallError.code(new RuntimeException("boom")).name());
  }
}
