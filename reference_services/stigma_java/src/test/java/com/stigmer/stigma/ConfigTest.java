package com.stigmer.stigma;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigTest {
  @Test
  void environmentThenFlagsFlagWins() throws Exception {
    Map<String, String> env =
        Map.of(
            "STIGMA_LISTEN", "127.0.0.1:1",
            "STIGMA_AGENT_TASK_QUEUE", "agents-env",
            "STIGMA_ZIGFLOW_TEMPORAL_ADDRESS", "127.0.0.1:9",
            "STIGMA_EAGER_START", "0");
    Config c = Config.parse(new String[] {"--listen", "127.0.0.1:2", "--namespace=ns"}, env);
    assertEquals("127.0.0.1:2", c.listen);
    assertEquals("ns", c.namespace);
    assertEquals("agents-env", c.agentTaskQueue);
    assertEquals("127.0.0.1:9", c.zigflowAddress());
    assertEquals("ns", c.zigflowNamespaceOrOwn());
    assertFalse(c.eagerStart);
    assertEquals(3600.0, c.completionWindowS);
  }

  @Test
  void defaultsAndErrors() throws Exception {
    Config c = Config.parse(new String[0], Map.of());
    assertEquals("127.0.0.1:7233", c.zigflowAddress());
    assertEquals("stigma", c.taskQueue);
    assertThrows(Config.UsageError.class, () -> Config.parse(new String[] {"--bogus", "1"}, Map.of()));
    assertThrows(
        Config.UsageError.class, () -> Config.parse(new String[] {"--eager-start", "2"}, Map.of()));
  }
}
