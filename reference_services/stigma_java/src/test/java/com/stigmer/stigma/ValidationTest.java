package com.stigmer.stigma;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.Duration;
import com.stigmer.stigma.v1.StartAgentRequest;
import java.util.List;
import org.junit.jupiter.api.Test;

class ValidationTest {
  static StartAgentRequest.Builder valid() {
    return StartAgentRequest.newBuilder()
        .setAgentId("summarize")
        .setInput(ByteString.copyFromUtf8("{\"doc\": 1}"))
        .setCallbackToken(ByteString.copyFromUtf8("token"))
        .setIdempotencyKey("wf/run/0-a");
  }

  static void refused(StartAgentRequest r, String part) {
    List<String> found = Validation.problems(r);
    assertTrue(found.stream().anyMatch(p -> p.contains(part)), found + " should name " + part);
  }

  @Test
  void aValidHandshakeOrDirectCallHasNoProblems() {
    assertEquals(List.of(), Validation.problems(valid().build()));
    assertEquals(
        List.of(), Validation.problems(StartAgentRequest.newBuilder().setAgentId("a.b_c-1").build()));
  }

  @Test
  void theInputIsOpaqueBytesNotJson() {
    var r = valid().setInput(ByteString.copyFrom(new byte[] {(byte) 0xff, 0, 'x'})).build();
    assertEquals(List.of(), Validation.problems(r));
  }

  @Test
  void agentIdRequiredAndRestricted() {
    refused(valid().setAgentId("").build(), "agent_id is required");
    refused(valid().setAgentId("has space").build(), "agent_id must be");
    refused(valid().setAgentId("x\n").build(), "agent_id must be");
    refused(valid().setAgentId("a".repeat(129)).build(), "agent_id must be");
  }

  @Test
  void sizeLimits() {
    refused(
        valid().setInput(ByteString.copyFrom(new byte[Validation.MAX_INPUT_BYTES + 1])).build(),
        "input is");
    refused(
        valid()
            .setCallbackToken(ByteString.copyFrom(new byte[Validation.MAX_TOKEN_BYTES + 1]))
            .build(),
        "callback_token is");
    refused(valid().setIdempotencyKey("k".repeat(513)).build(), "idempotency_key is longer");
  }

  @Test
  void aTokenNeedsAKey() {
    refused(valid().setIdempotencyKey("").build(), "idempotency_key is required");
  }

  @Test
  void heartbeatTimeoutAtLeast100ms() {
    refused(
        valid().setHeartbeatTimeout(Duration.newBuilder().setNanos(99_000_000)).build(),
        "heartbeat_timeout");
    refused(valid().setHeartbeatTimeout(Duration.newBuilder().setSeconds(-1)).build(), "heartbeat");
    assertEquals(
        List.of(),
        Validation.problems(
            valid().setHeartbeatTimeout(Duration.newBuilder().setNanos(100_000_000)).build()));
  }

  @Test
  void everyProblemIsNamed() {
    var r = StartAgentRequest.newBuilder().setCallbackToken(ByteString.copyFromUtf8("t")).build();
    assertEquals(2, Validation.problems(r).size());
  }
}
