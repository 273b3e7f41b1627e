package com.stigmer.stigma;

import com.fasterxml.jackson.databind.JsonNode;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.api.common.v1.Payloads;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.api.workflow.v1.PendingActivityInfo;
import io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest;
import io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionResponse;
import io.temporal.client.WorkflowClient;
import io.temporal.common.converter.DataConverter;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Zigflow's workflow history and pending activities, read with Stigma's client for Zigflow's
 * namespace: tells the meanings of a NOT_FOUND apart (our result is already there; a retried
 * attempt is pending and will bring a live token; Zigflow's workflow has closed, so nobody will
 * ever take the result; nobody is waiting).
 */
public class ZigflowRecord {
  public enum Kind {
    DELIVERED_EARLIER,
    RETRY_PENDING,
    CLOSED,
    GONE
  }

  // Closed for good (PAUSED is not: the workflow may resume).
  static final Set<WorkflowExecutionStatus> CLOSED_STATUSES =
      EnumSet.of(
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW,
          WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT);

  public record Why(Kind kind, String detail) {}

  // A read that failed with one of these may succeed when asked again (a slow or broken
  // link, a busy server); any other failure (e.g. PERMISSION_DENIED) will not.
  static final Set<Status.Code> READ_AGAIN =
      EnumSet.of(
          Status.Code.DEADLINE_EXCEEDED,
          Status.Code.UNAVAILABLE,
          Status.Code.RESOURCE_EXHAUSTED,
          Status.Code.ABORTED);

  /** Whether a failed read of Zigflow's record may succeed when asked again. */
  static boolean readAgain(Throwable err) {
    for (Throwable t = err; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof StatusRuntimeException sre) {
        return READ_AGAIN.contains(sre.getStatus().getCode());
      }
    }
    return false;
  }

  private final WorkflowClient client;

  public ZigflowRecord(WorkflowClient client) {
    this.client = client;
  }

  public Why whyNotFound(Model.Completion c) {
    if (c.zigflowWorkflowId.isEmpty()) {
      return new Why(Kind.GONE, "no correlation ids to look Zigflow up");
    }
    DataConverter converter = client.getOptions().getDataConverter();
    String runId = c.zigflowRunId.isEmpty() ? null : c.zigflowRunId;
    Optional<Why> earlier =
        fromHistory(c, client.fetchHistory(c.zigflowWorkflowId, runId).getEvents(), converter);
    if (earlier.isPresent()) {
      return earlier.get();
    }
    WorkflowExecution.Builder exec = WorkflowExecution.newBuilder().setWorkflowId(c.zigflowWorkflowId);
    if (runId != null) {
      exec.setRunId(runId);
    }
    DescribeWorkflowExecutionResponse desc =
        client
            .getWorkflowServiceStubs()
            .blockingStub()
            .describeWorkflowExecution(
                DescribeWorkflowExecutionRequest.newBuilder()
                    .setNamespace(client.getOptions().getNamespace())
                    .setExecution(exec)
                    .build());
    return fromDescription(c, desc);
  }

  /**
   * What Zigflow's history says about our own earlier call, when it resolved the activity:
   * DELIVERED_EARLIER when our result or our failure is there (a call that landed and whose reply
   * was lost, so its retry met NOT_FOUND), GONE when someone else's result is; empty when the
   * history does not tell.
   *
   * <p>A failure is recognised by its structure, never by its message: an application failure of
   * our error type whose details carry our envelope (our execution id), as {@code fail} sends it.
   * A failure that is not ours (a timeout, another caller's) tells nothing here: the description
   * of the workflow then says the rest.
   */
  static Optional<Why> fromHistory(
      Model.Completion c, Iterable<HistoryEvent> events, DataConverter converter) {
    Map<Long, Boolean> ours = new HashMap<>();
    for (HistoryEvent ev : events) {
      if (ev.hasActivityTaskScheduledEventAttributes()) {
        ours.put(
            ev.getEventId(),
            ev.getActivityTaskScheduledEventAttributes()
                .getActivityId()
                .equals(c.zigflowActivityId));
      } else if (ev.hasActivityTaskCompletedEventAttributes()) {
        var a = ev.getActivityTaskCompletedEventAttributes();
        if (Boolean.TRUE.equals(ours.get(a.getScheduledEventId()))) {
          if (namesUs(c, a.hasResult() ? a.getResult() : null, converter)) {
            return Optional.of(
                new Why(
                    Kind.DELIVERED_EARLIER,
                    "Zigflow's history shows our result (event "
                        + ev.getEventId()
                        + "): an earlier call completed it and its reply was lost"));
          }
          return Optional.of(
              new Why(Kind.GONE, "completed by someone else (event " + ev.getEventId() + ")"));
        }
      } else if (ev.hasActivityTaskFailedEventAttributes()) {
        var a = ev.getActivityTaskFailedEventAttributes();
        var failure = a.getFailure();
        var app = failure.getApplicationFailureInfo();
        if (Boolean.TRUE.equals(ours.get(a.getScheduledEventId()))
            && failure.hasApplicationFailureInfo()
            && app.getType().equals(c.errorType)
            && namesUs(c, app.hasDetails() ? app.getDetails() : null, converter)) {
          return Optional.of(
              new Why(
                  Kind.DELIVERED_EARLIER,
                  "Zigflow's history shows our failure (event "
                      + ev.getEventId()
                      + ", "
                      + app.getType()
                      + "): an earlier call failed it and its reply was lost"));
        }
      }
    }
    return Optional.empty();
  }

  /** The first payload is an envelope naming our agent execution. */
  private static boolean namesUs(Model.Completion c, Payloads payloads, DataConverter converter) {
    if (payloads == null || payloads.getPayloadsCount() == 0) {
      return false;
    }
    JsonNode value =
        converter.fromPayloads(0, Optional.of(payloads), JsonNode.class, JsonNode.class);
    return value != null
        && value.isObject()
        && c.executionId.equals(value.path("agent_execution_id").asText());
  }

  /** What Zigflow's workflow, as described, says about a NOT_FOUND (no completion seen). */
  static Why fromDescription(Model.Completion c, DescribeWorkflowExecutionResponse desc) {
    for (PendingActivityInfo p : desc.getPendingActivitiesList()) {
      if (p.getActivityId().equals(c.zigflowActivityId) && p.getAttempt() > c.attempt) {
        return new Why(Kind.RETRY_PENDING, "Zigflow attempt " + p.getAttempt() + " is pending");
      }
    }
    WorkflowExecutionStatus status = desc.getWorkflowExecutionInfo().getStatus();
    if (CLOSED_STATUSES.contains(status)) {
      // A Zigflow cancelling with TRY_CANCEL (the SDKs' default) closes without waiting.
      return new Why(
          Kind.CLOSED, "Zigflow workflow is " + status.name() + ", nobody will take the result");
    }
    return new Why(
        Kind.GONE, "Zigflow workflow is " + status.name() + ", activity not waiting any more");
  }
}
