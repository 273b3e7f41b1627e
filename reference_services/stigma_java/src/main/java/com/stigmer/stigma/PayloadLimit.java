package com.stigmer.stigma;

import io.temporal.api.common.v1.Payloads;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.GlobalDataConverter;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.ServerFailure;
import java.util.Set;

/**
 * The cluster's payload limit (limit.blobSize.error, 2 MiB by default): Stigma never sends
 * Temporal a payload over it, because the server does not refuse such a call by token: it answers
 * OK and fails Zigflow's activity with a ServerFailure of its own, so Stigma would record
 * "delivered" for a result Zigflow never got. Instead Zigflow's activity is failed with a
 * non-retryable application failure of type ResultTooLarge naming the size and the limit, and
 * the call is recorded result_too_large. As the Python reference's payload_limit module.
 */
public final class PayloadLimit {
  private PayloadLimit() {}

  public static final String RESULT_TOO_LARGE = "ResultTooLarge";
  public static final long DEFAULT_MAX_PAYLOAD_BYTES = 2L * 1024 * 1024;

  // How an agent's own outcome comes back when it was already over the limit on its way into
  // Stigma's workflow: its SDK worker refusing to upload it (Python's answers with this
  // application failure type), or the server failing the agent's activity with its fixed
  // reasons (a worker that does not check).
  static final Set<String> SDK_REFUSAL_TYPES = Set.of("PayloadsTooLarge");
  static final Set<String> SERVER_REFUSALS =
      Set.of("Complete result exceeds size limit.", "Failure exceeds size limit.");

  /** Bytes of {@code values} as Temporal measures them: the encoded Payloads message. */
  public static long encodedSize(Object... values) {
    DataConverter converter = GlobalDataConverter.get();
    return converter.toPayloads(values).map(Payloads::getSerializedSize).orElse(0);
  }

  public static boolean overLimit(long size, long limit) {
    return limit > 0 && size > limit;
  }

  /**
   * Whether the agent's activity failed because its own result or failure was over the payload
   * limit (refused by its SDK or by the server), not by the agent's choice.
   */
  public static boolean refusedForSize(Throwable cause) {
    if (cause instanceof ApplicationFailure app) {
      return app.getType() != null && SDK_REFUSAL_TYPES.contains(app.getType());
    }
    if (cause instanceof ServerFailure server) {
      return SERVER_REFUSALS.contains(server.getOriginalMessage());
    }
    return false;
  }

  public static String tooLargeMessage(String what, Long size, long limit) {
    String measured = size != null ? size + " bytes" : "refused by Temporal";
    return "the agent's "
        + what
        + " ("
        + measured
        + ") is over the cluster's payload limit of "
        + limit
        + " bytes: not delivered";
  }
}
