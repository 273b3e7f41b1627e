package com.stigmer.stigma;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.ServerFailure;
import org.junit.jupiter.api.Test;

class PayloadLimitTest {
  @Test
  void aPayloadIsMeasuredAsTemporalMeasuresItAndOnlyOverTheLimitIsTooLarge() {
    long size = PayloadLimit.encodedSize("x".repeat(10_000));
    assertTrue(size > 10_000 && size < 10_100, String.valueOf(size)); // the JSON string, framed
    assertTrue(PayloadLimit.overLimit(size, 10_000));
    assertFalse(PayloadLimit.overLimit(size, size));
    assertFalse(PayloadLimit.overLimit(size, 0)); // 0: no check
  }

  @Test
  void anAgentOutcomeRefusedForItsSizeIsToldFromTheAgentsOwnFailures() {
    assertTrue(
        PayloadLimit.refusedForSize(
            ApplicationFailure.newNonRetryableFailure("over", "PayloadsTooLarge")));
    assertTrue(
        PayloadLimit.refusedForSize(new ServerFailure("Complete result exceeds size limit.", true)));
    assertTrue(PayloadLimit.refusedForSize(new ServerFailure("Failure exceeds size limit.", true)));
    assertFalse(
        PayloadLimit.refusedForSize(ApplicationFailure.newNonRetryableFailure("no", "AgentError")));
    assertFalse(PayloadLimit.refusedForSize(new ServerFailure("something else", true)));
  }

  @Test
  void theMessageNamesTheSizeAndTheLimit() {
    assertEquals(
        "the agent's result (120 bytes) is over the cluster's payload limit of 100 bytes: not"
            + " delivered",
        PayloadLimit.tooLargeMessage("result", 120L, 100));
  }
}
