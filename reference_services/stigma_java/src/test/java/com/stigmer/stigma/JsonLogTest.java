package com.stigmer.stigma;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class JsonLogTest {
  static final byte[] TOKEN = "\n$8f1c-task-token-bytes".getBytes(StandardCharsets.UTF_8);

  @Test
  void fingerprintIsTheFirst12HexDigitsOfSha256() {
    // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    assertEquals("ba7816bf8f01", JsonLog.fingerprint("abc".getBytes(StandardCharsets.UTF_8)));
    assertEquals("none", JsonLog.fingerprint(new byte[0]));
    assertEquals("none", JsonLog.fingerprint(null));
  }

  @Test
  void aFingerprintIsNeverTheTokenInAnyEncoding() {
    String fp = JsonLog.fingerprint(TOKEN);
    assertEquals(12, fp.length());
    assertNotEquals(new String(TOKEN, StandardCharsets.UTF_8), fp);
    assertFalse(HexFormat.of().formatHex(TOKEN).contains(fp));
    assertFalse(Base64.getEncoder().encodeToString(TOKEN).contains(fp));
    byte[] short1 = {1, 2, 3, 4, 5, 6};
    assertNotEquals(HexFormat.of().formatHex(short1), JsonLog.fingerprint(short1));
  }

  @Test
  void rawBytesPassedToALogLineBecomeAFingerprint() {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    PrintStream saved = JsonLog.out;
    JsonLog.out = new PrintStream(buf, true, StandardCharsets.UTF_8);
    try {
      new JsonLog("test").event("start_agent.received", "token", TOKEN, "workflow_id", "wf-1");
    } finally {
      JsonLog.out = saved;
    }
    String line = buf.toString(StandardCharsets.UTF_8);
    assertTrue(line.contains("\"token_fp\":\"" + JsonLog.fingerprint(TOKEN) + "\""), line);
    assertTrue(line.contains("\"event\":\"start_agent.received\""), line);
    assertFalse(line.contains(Base64.getEncoder().encodeToString(TOKEN)), line);
    assertFalse(line.contains("task-token-bytes"), line);
  }
}
