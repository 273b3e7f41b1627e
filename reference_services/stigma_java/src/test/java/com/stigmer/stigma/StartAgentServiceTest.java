package com.stigmer.stigma;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.Duration;
import com.google.protobuf.Empty;
import com.stigmer.stigma.v1.Correlation;
import com.stigmer.stigma.v1.StartAgentRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class StartAgentServiceTest {
  /** Records the order of events: the durable start must come before the ACK. */
  final List<String> events = new ArrayList<>();

  class Reply implements StreamObserver<Empty> {
    Throwable error;

    @Override
    public void onNext(Empty value) {
      events.add("ack");
    }

    @Override
    public void onError(Throwable t) {
      error = t;
      events.add("error");
    }

    @Override
    public void onCompleted() {}
  }

  static StartAgentRequest handshake() {
    return StartAgentRequest.newBuilder()
        .setAgentId("summarize")
        .setInput(ByteString.copyFromUtf8("{}"))
        .setCallbackToken(ByteString.copyFromUtf8("tok"))
        .setIdempotencyKey("wf/run/0-a")
        .setCorrelation(
            Correlation.newBuilder()
                .setZigflowWorkflowId("wf")
                .setZigflowRunId("run")
                .setZigflowActivityId("0-a")
                .setZigflowAttempt(2))
        .setHeartbeatTimeout(Duration.newBuilder().setSeconds(3))
        .build();
  }

  @Test
  void acksOnlyAfterTheDurableStartOfWorkflowStigmaKey() {
    List<String> ids = new ArrayList<>();
    Model.AgentRequest[] seen = new Model.AgentRequest[1];
    var service =
        new StartAgentService(
            (id, req) -> {
              ids.add(id);
              seen[0] = req;
              events.add("started");
            });
    Reply reply = new Reply();
    service.startAgent(handshake(), reply);
    assertEquals(List.of("started", "ack"), events);
    assertEquals(List.of("stigma-wf/run/0-a"), ids);
    Model.AgentRequest r = seen[0];
    assertEquals("summarize", r.agentId);
    assertEquals("{}", new String(r.input));
    assertEquals(2, r.token.attempt);
    assertEquals("0-a", r.token.zigflowActivityId);
    assertEquals(1.0, r.heartbeatEveryS, 1e-9);
    assertTrue(r.executionId.startsWith("agx-"));
  }

  @Test
  void aBadRequestStartsNothingAndGetsInvalidArgumentWithAMessage() {
    var service = new StartAgentService((id, req) -> events.add("started"));
    Reply reply = new Reply();
    service.startAgent(handshake().toBuilder().setAgentId("").build(), reply);
    assertEquals(List.of("error"), events);
    Status s = ((StatusRuntimeException) reply.error).getStatus();
    assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
    assertTrue(s.getDescription().contains("agent_id is required"));
  }

  @Test
  void aDirectCallCarriesNoToken() {
    Model.AgentRequest[] seen = new Model.AgentRequest[1];
    var service = new StartAgentService((id, req) -> seen[0] = req);
    service.startAgent(StartAgentRequest.newBuilder().setAgentId("a").build(), new Reply());
    assertNotNull(seen[0]);
    assertNull(seen[0].token);
    assertNull(seen[0].heartbeatEveryS);
  }

  @Test
  void temporalUnreachableIsUnavailableAndAFinishedKeyIsFailedPrecondition() {
    var down =
        new StartAgentService(
            (id, req) -> {
              throw Status.UNAVAILABLE.asRuntimeException();
            });
    Reply r1 = new Reply();
    down.startAgent(handshake(), r1);
    assertEquals(
        Status.Code.UNAVAILABLE, ((StatusRuntimeException) r1.error).getStatus().getCode());
    var done =
        new StartAgentService(
            (id, req) -> {
              throw new StartAgentService.AlreadyFinished(id);
            });
    Reply r2 = new Reply();
    done.startAgent(handshake(), r2);
    assertEquals(
        Status.Code.FAILED_PRECONDITION, ((StatusRuntimeException) r2.error).getStatus().getCode());
    assertEquals(List.of("error", "error"), events);
  }

  @Test
  void aBodyThatDoesNotParseIsInvalidArgumentNotUnknown() {
    // invalid UTF-8 in agent_id (a proto3 string): grpc-java's own marshaller would throw
    byte[] body = {0x0a, 3, (byte) 0xff, (byte) 0xfe, 'a', 0x1a, 1, 't', 0x22, 1, 'k'};
    StigmaGrpc.Parsed parsed = StigmaGrpc.REQUEST.parse(new java.io.ByteArrayInputStream(body));
    assertNull(parsed.request());
    var service = new StartAgentService((id, req) -> events.add("started"));
    Reply reply = new Reply();
    service.startAgent(parsed, reply);
    assertEquals(List.of("error"), events);
    Status s = ((StatusRuntimeException) reply.error).getStatus();
    assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
    assertTrue(s.getDescription().contains("not a valid StartAgentRequest"));
    byte[] framing = {0x0a, 1, 'a', 0x12, (byte) 0xff, 1};
    assertNull(StigmaGrpc.REQUEST.parse(new java.io.ByteArrayInputStream(framing)).request());
  }
}
