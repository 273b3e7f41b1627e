package com.stigmer.stigma;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.api.failure.v1.ApplicationFailureInfo;
import io.temporal.api.failure.v1.Failure;
import io.temporal.api.failure.v1.TimeoutFailureInfo;
import io.temporal.api.history.v1.ActivityTaskCompletedEventAttributes;
import io.temporal.api.history.v1.ActivityTaskFailedEventAttributes;
import io.temporal.api.history.v1.ActivityTaskScheduledEventAttributes;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.api.workflow.v1.PendingActivityInfo;
import io.temporal.api.workflow.v1.WorkflowExecutionInfo;
import io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionResponse;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ZigflowRecordTest {
  static Model.Completion heartbeatOf(int attempt) {
    Model.Completion c = new Model.Completion();
    c.tokenB64 = "dG9r";
    c.attempt = attempt;
    c.zigflowWorkflowId = "wf";
    c.zigflowRunId = "run";
    c.zigflowActivityId = "0-a";
    return c;
  }

  static DescribeWorkflowExecutionResponse.Builder described(WorkflowExecutionStatus status) {
    return DescribeWorkflowExecutionResponse.newBuilder()
        .setWorkflowExecutionInfo(WorkflowExecutionInfo.newBuilder().setStatus(status));
  }

  /** A record that answers {@code kind} without a Temporal client. */
  static ZigflowRecord answering(ZigflowRecord.Kind kind) {
    return new ZigflowRecord(null) {
      @Override
      public Why whyNotFound(Model.Completion c) {
        return new Why(kind, "from the record");
      }
    };
  }

  @Test
  void aZigflowWorkflowThatClosedHoweverItEndedWillNeverTakeTheResult() {
    // TRY_CANCEL (Go's and Python's SDK default) closes Zigflow's workflow as CANCELED at
    // once, without waiting for Stigma's cancellation by token.
    for (WorkflowExecutionStatus s :
        new WorkflowExecutionStatus[] {
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW
        }) {
      ZigflowRecord.Why why = ZigflowRecord.fromDescription(heartbeatOf(1), described(s).build());
      assertEquals(ZigflowRecord.Kind.CLOSED, why.kind(), s.name());
      assertTrue(why.detail().contains(s.name()), why.detail());
    }
  }

  @Test
  void aRunningOrPausedZigflowWorkflowIsNotClosed() {
    for (WorkflowExecutionStatus s :
        new WorkflowExecutionStatus[] {
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_PAUSED,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED
        }) {
      assertEquals(
          ZigflowRecord.Kind.GONE,
          ZigflowRecord.fromDescription(heartbeatOf(1), described(s).build()).kind(),
          s.name());
    }
  }

  @Test
  void aNewerZigflowAttemptPendingIsARetryNotAClosedWorkflow() {
    var desc =
        described(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING)
            .addPendingActivities(
                PendingActivityInfo.newBuilder().setActivityId("0-a").setAttempt(2))
            .build();
    ZigflowRecord.Why why = ZigflowRecord.fromDescription(heartbeatOf(1), desc);
    assertEquals(ZigflowRecord.Kind.RETRY_PENDING, why.kind());
    assertEquals("Zigflow attempt 2 is pending", why.detail());
    // Our own attempt still pending, or another activity's retry: not ours to wait for.
    assertEquals(
        ZigflowRecord.Kind.GONE, ZigflowRecord.fromDescription(heartbeatOf(2), desc).kind());
  }

  @Test
  void aNotFoundWhoseZigflowClosedSaysTheRequesterClosedAndNothingElse() {
    var outcome = new Model.CompletionOutcome("token_dead", "NOT_FOUND", "gone", "fp");
    new SystemActivitiesImpl(null, answering(ZigflowRecord.Kind.CLOSED))
        .explainNotFound(heartbeatOf(1), outcome);
    assertTrue(outcome.requesterClosed);
    assertFalse(outcome.retryPending);
    assertEquals("token_dead", outcome.status); // dead all the same: nobody takes a result
    assertEquals("gone (from the record)", outcome.message);
  }

  @Test
  void aNotFoundWithARetryPendingOrStillRunningDoesNotStopTheAgent() {
    for (ZigflowRecord.Kind kind :
        new ZigflowRecord.Kind[] {
          ZigflowRecord.Kind.RETRY_PENDING,
          ZigflowRecord.Kind.GONE,
          ZigflowRecord.Kind.DELIVERED_EARLIER
        }) {
      var outcome = new Model.CompletionOutcome("token_dead", "NOT_FOUND", "gone", "fp");
      new SystemActivitiesImpl(null, answering(kind)).explainNotFound(heartbeatOf(1), outcome);
      assertFalse(outcome.requesterClosed, kind.name());
      assertEquals(kind == ZigflowRecord.Kind.RETRY_PENDING, outcome.retryPending, kind.name());
    }
  }

  @Test
  void anUnreadableRecordStopsNothing() {
    var outcome = new Model.CompletionOutcome("token_dead", "NOT_FOUND", "gone", "fp");
    ZigflowRecord broken =
        new ZigflowRecord(null) {
          @Override
          public Why whyNotFound(Model.Completion c) {
            throw new IllegalStateException("no history");
          }
        };
    assertTrue(new SystemActivitiesImpl(null, broken).explainNotFound(heartbeatOf(1), outcome));
    assertFalse(outcome.requesterClosed);
    assertEquals("token_dead", outcome.status);
    assertTrue(outcome.message.contains("unreadable: no history"), outcome.message);
  }

  static ZigflowRecord failingWith(Status.Code code) {
    return new ZigflowRecord(null) {
      @Override
      public Why whyNotFound(Model.Completion c) {
        throw new StatusRuntimeException(Status.fromCode(code));
      }
    };
  }

  @Test
  void aRecordUnreadableForNowIsReadAgainNotTakenForADeadToken() {
    // Our own earlier call may have landed, its reply lost: only the record can tell, so a
    // read a retry may clear (a slow link's deadline) asks for the call to be retried.
    for (Status.Code code :
        new Status.Code[] {
          Status.Code.DEADLINE_EXCEEDED,
          Status.Code.UNAVAILABLE,
          Status.Code.RESOURCE_EXHAUSTED,
          Status.Code.ABORTED
        }) {
      var outcome = new Model.CompletionOutcome("token_dead", "NOT_FOUND", "gone", "fp");
      assertFalse(
          new SystemActivitiesImpl(null, failingWith(code)).explainNotFound(heartbeatOf(1), outcome),
          code.name());
    }
    // A refusal does not go away when asked again: a dead token, as before.
    var outcome = new Model.CompletionOutcome("token_dead", "NOT_FOUND", "gone", "fp");
    assertTrue(
        new SystemActivitiesImpl(null, failingWith(Status.Code.PERMISSION_DENIED))
            .explainNotFound(heartbeatOf(1), outcome));
    assertEquals("token_dead", outcome.status);
  }

  @Test
  void theOutcomeCarriesItAsRequesterClosedAsThePythonReferenceNamesIt() throws Exception {
    var outcome = new Model.CompletionOutcome("token_dead", "NOT_FOUND", "", "fp");
    outcome.requesterClosed = true;
    String json = new ObjectMapper().writeValueAsString(outcome);
    assertTrue(json.contains("\"requester_closed\":true"), json);
    var back =
        new ObjectMapper()
            .readValue(
                "{\"status\":\"token_dead\",\"requester_closed\":true}",
                Model.CompletionOutcome.class);
    assertTrue(back.requesterClosed);
  }

  // --- a NOT_FOUND read against Zigflow's history ---------------------------------------

  static final DataConverter CONVERTER = DefaultDataConverter.STANDARD_INSTANCE;

  static Model.Completion failureOf(String executionId) {
    Model.Completion c = heartbeatOf(1);
    c.executionId = executionId;
    c.errorType = "QuotaExceeded";
    c.errorMessage = "m";
    return c;
  }

  static List<HistoryEvent> zigflowHistory(HistoryEvent.Builder resolved) {
    return List.of(
        HistoryEvent.newBuilder()
            .setEventId(5)
            .setActivityTaskScheduledEventAttributes(
                ActivityTaskScheduledEventAttributes.newBuilder().setActivityId("0-a"))
            .build(),
        resolved.setEventId(7).build());
  }

  static HistoryEvent.Builder failed(Failure.Builder failure) {
    return HistoryEvent.newBuilder()
        .setActivityTaskFailedEventAttributes(
            ActivityTaskFailedEventAttributes.newBuilder()
                .setScheduledEventId(5)
                .setFailure(failure.setMessage("whatever the text says, it is not read")));
  }

  static Failure.Builder application(String type, String executionId) {
    return Failure.newBuilder()
        .setApplicationFailureInfo(
            ApplicationFailureInfo.newBuilder()
                .setType(type)
                .setDetails(
                    CONVERTER.toPayloads(Map.of("agent_execution_id", executionId)).get()));
  }

  @Test
  void ourFailureInZigflowsHistoryIsAnEarlierDelivery() {
    Optional<ZigflowRecord.Why> why =
        ZigflowRecord.fromHistory(
            failureOf("agx-1"),
            zigflowHistory(failed(application("QuotaExceeded", "agx-1"))),
            CONVERTER);
    assertTrue(why.isPresent());
    assertEquals(ZigflowRecord.Kind.DELIVERED_EARLIER, why.get().kind());
    assertTrue(why.get().detail().contains("event 7"), why.get().detail());
  }

  @Test
  void aFailureThatIsNotOursTellsNothing() {
    for (Failure.Builder other :
        List.of(
            application("QuotaExceeded", "agx-other"),
            application("OtherError", "agx-1"),
            Failure.newBuilder().setTimeoutFailureInfo(TimeoutFailureInfo.newBuilder()))) {
      assertTrue(
          ZigflowRecord.fromHistory(failureOf("agx-1"), zigflowHistory(failed(other)), CONVERTER)
              .isEmpty(),
          other.toString());
    }
  }

  @Test
  void ourResultInZigflowsHistoryIsAnEarlierDelivery() {
    var completed =
        HistoryEvent.newBuilder()
            .setActivityTaskCompletedEventAttributes(
                ActivityTaskCompletedEventAttributes.newBuilder()
                    .setScheduledEventId(5)
                    .setResult(CONVERTER.toPayloads(Map.of("agent_execution_id", "agx-1")).get()));
    Optional<ZigflowRecord.Why> why =
        ZigflowRecord.fromHistory(failureOf("agx-1"), zigflowHistory(completed), CONVERTER);
    assertEquals(ZigflowRecord.Kind.DELIVERED_EARLIER, why.orElseThrow().kind());
  }
}
