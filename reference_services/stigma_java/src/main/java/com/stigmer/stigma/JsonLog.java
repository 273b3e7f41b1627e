package com.stigmer.stigma;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * JSON-lines logs on stderr with correlation ids. A task token is a capability: a log line
 * names it only by its fingerprint (first 12 hex digits of its SHA-256), never by its bytes
 * in any encoding.
 */
public final class JsonLog {
  private static final ObjectMapper JSON = new ObjectMapper();
  static volatile PrintStream out = System.err; // tests capture it
  private final String logger;

  public JsonLog(String logger) {
    this.logger = logger;
  }

  /** First 12 hex digits of the token's SHA-256; "none" for no token. */
  public static String fingerprint(byte[] token) {
    if (token == null || token.length == 0) {
      return "none";
    }
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(token);
      StringBuilder hex = new StringBuilder();
      for (int i = 0; i < 6; i++) {
        hex.append(String.format("%02x", digest[i]));
      }
      return hex.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code log.event("start_agent.ack", "workflow_id", id, "token_fp", fp)}: one line. */
  public void event(String event, Object... fields) {
    write("info", event, fields);
  }

  public void warn(String event, Object... fields) {
    write("warning", event, fields);
  }

  private void write(String level, String event, Object... fields) {
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("ts", java.math.BigDecimal.valueOf(System.currentTimeMillis(), 3)); // seconds, no exponent
    line.put("level", level);
    line.put("service", "stigma");
    line.put("logger", logger);
    line.put("event", event);
    for (int i = 0; i + 1 < fields.length; i += 2) {
      String key = String.valueOf(fields[i]);
      Object value = fields[i + 1];
      if (value instanceof byte[]) { // defence in depth: raw bytes never reach a line
        line.put("token_fp", fingerprint((byte[]) value));
        continue;
      }
      line.put(key, value);
    }
    String text;
    try {
      text = JSON.writeValueAsString(line);
    } catch (Exception e) {
      text = "{\"event\":" + quote(event) + ",\"log_error\":" + quote(e.toString()) + "}";
    }
    PrintStream o = out;
    synchronized (o) {
      o.println(text);
      o.flush();
    }
  }

  private static String quote(String s) {
    try {
      return JSON.writeValueAsString(s);
    } catch (Exception e) {
      return "\"?\"";
    }
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
