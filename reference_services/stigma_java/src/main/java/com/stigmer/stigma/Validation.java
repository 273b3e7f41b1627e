package com.stigmer.stigma;

import com.google.protobuf.Duration;
import com.stigmer.stigma.v1.StartAgentRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * StartAgentRequest validation: every problem named, nothing started on error. The input is
 * opaque bytes (only its size is checked): the contract does not make it JSON.
 */
public final class Validation {
  public static final int MAX_TOKEN_BYTES = 8192;
  public static final int MAX_INPUT_BYTES = 1024 * 1024;
  public static final int MAX_KEY_CHARS = 512;
  static final Pattern AGENT_ID = Pattern.compile("[A-Za-z0-9._-]{1,128}");

  private Validation() {}

  /** Human-readable problems with a request; empty when it is valid. */
  public static List<String> problems(StartAgentRequest r) {
    List<String> found = new ArrayList<>();
    if (r.getAgentId().isEmpty()) {
      found.add("agent_id is required");
    } else if (!AGENT_ID.matcher(r.getAgentId()).matches()) {
      found.add("agent_id must be 1..128 characters of [A-Za-z0-9._-]");
    }
    if (r.getInput().size() > MAX_INPUT_BYTES) {
      found.add("input is " + r.getInput().size() + " bytes, limit " + MAX_INPUT_BYTES);
    }
    if (r.getCallbackToken().size() > MAX_TOKEN_BYTES) {
      found.add(
          "callback_token is " + r.getCallbackToken().size() + " bytes, limit " + MAX_TOKEN_BYTES);
    }
    if (!r.getCallbackToken().isEmpty() && r.getIdempotencyKey().isEmpty()) {
      found.add("idempotency_key is required when callback_token is set");
    }
    if (r.hasHeartbeatTimeout()) {
      Duration hb = r.getHeartbeatTimeout();
      if (hb.getSeconds() < 0
          || hb.getNanos() < 0
          || (hb.getSeconds() == 0 && hb.getNanos() < 100_000_000)) {
        found.add("heartbeat_timeout must be at least 100 ms");
      }
    }
    if (r.getIdempotencyKey().length() > MAX_KEY_CHARS) {
      found.add("idempotency_key is longer than " + MAX_KEY_CHARS + " characters");
    }
    return found;
  }
}
