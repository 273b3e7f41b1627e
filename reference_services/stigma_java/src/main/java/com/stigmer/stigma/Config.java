package com.stigmer.stigma;

import java.util.Map;

/**
 * Flags and environment, as the Python reference Stigma's (docs handbook "Service command line and
 * environment"): every flag also reads an environment variable, the flag wins.
 */
public final class Config {
  public String listen;
  public String temporalAddress;
  public String namespace;
  public String taskQueue;
  public String agentTaskQueue;
  public String zigflowTemporalAddress;
  public String zigflowNamespace;
  public double completionWindowS;
  public long maxPayloadBytes; // the cluster's payload limit; 0: no check
  public String metricsListen;
  public boolean eagerStart;
  public String workflowSandbox; // accepted for command-line parity; a JVM has no sandbox modes
  public String logLevel;
  // TLS towards Temporal (TemporalTls): set only when the cluster speaks TLS.
  public boolean temporalTls;
  public String temporalTlsCa;
  public String temporalTlsCert;
  public String temporalTlsKey;
  public String temporalTlsServerName;
  public String temporalApiKey; // never logged

  static final String USAGE =
      "usage: stigma-java [--listen H:P] [--temporal-address H:P] [--namespace NS]\n"
          + "  [--task-queue Q] [--agent-task-queue Q] [--zigflow-temporal-address H:P]\n"
          + "  [--zigflow-namespace NS] [--completion-window S] [--metrics-listen H:P]\n"
          + "  [--max-payload-bytes N]\n"
          + "  [--eager-start 0|1] [--workflow-sandbox MODE] [--log-level LEVEL]\n"
          + "  [--temporal-tls 0|1] [--temporal-tls-ca PEM] [--temporal-tls-cert PEM]\n"
          + "  [--temporal-tls-key PEM] [--temporal-tls-server-name NAME] [--temporal-api-key K]\n"
          + "Each flag also reads STIGMA_<FLAG> from the environment (flag wins).";

  /** Thrown for a bad command line; the message says what is wrong. */
  public static final class UsageError extends Exception {
    UsageError(String message) {
      super(message);
    }
  }

  public static Config parse(String[] argv, Map<String, String> env) throws UsageError {
    Config c = new Config();
    c.listen = envOr(env, "STIGMA_LISTEN", "127.0.0.1:50051");
    c.temporalAddress = envOr(env, "STIGMA_TEMPORAL_ADDRESS", "127.0.0.1:7233");
    c.namespace = envOr(env, "STIGMA_NAMESPACE", "default");
    c.taskQueue = envOr(env, "STIGMA_TASK_QUEUE", "stigma");
    c.agentTaskQueue = envOr(env, "STIGMA_AGENT_TASK_QUEUE", "agents");
    c.zigflowTemporalAddress = envOr(env, "STIGMA_ZIGFLOW_TEMPORAL_ADDRESS", "");
    c.zigflowNamespace = envOr(env, "STIGMA_ZIGFLOW_NAMESPACE", "");
    String window = envOr(env, "STIGMA_COMPLETION_WINDOW_S", "3600");
    String maxPayload =
        envOr(
            env,
            "STIGMA_MAX_PAYLOAD_BYTES",
            String.valueOf(PayloadLimit.DEFAULT_MAX_PAYLOAD_BYTES));
    c.metricsListen = envOr(env, "STIGMA_METRICS_LISTEN", "");
    String eager = envOr(env, "STIGMA_EAGER_START", "1");
    c.workflowSandbox = envOr(env, "STIGMA_WORKFLOW_SANDBOX", "passthrough");
    c.logLevel = envOr(env, "STIGMA_LOG_LEVEL", "INFO");
    String tls = envOr(env, "STIGMA_TEMPORAL_TLS", "");
    c.temporalTlsCa = envOr(env, "STIGMA_TEMPORAL_TLS_CA", "");
    c.temporalTlsCert = envOr(env, "STIGMA_TEMPORAL_TLS_CERT", "");
    c.temporalTlsKey = envOr(env, "STIGMA_TEMPORAL_TLS_KEY", "");
    c.temporalTlsServerName = envOr(env, "STIGMA_TEMPORAL_TLS_SERVER_NAME", "");
    c.temporalApiKey = envOr(env, "STIGMA_TEMPORAL_API_KEY", "");
    for (int i = 0; i < argv.length; i++) {
      String arg = argv[i];
      String value = null;
      int eq = arg.indexOf('=');
      if (arg.startsWith("--") && eq > 0) {
        value = arg.substring(eq + 1);
        arg = arg.substring(0, eq);
      }
      if (arg.equals("-h") || arg.equals("--help")) {
        throw new UsageError(USAGE);
      }
      if (value == null) {
        if (i + 1 >= argv.length) {
          throw new UsageError(arg + ": expected a value\n" + USAGE);
        }
        value = argv[++i];
      }
      switch (arg) {
        case "--listen" -> c.listen = value;
        case "--temporal-address" -> c.temporalAddress = value;
        case "--namespace" -> c.namespace = value;
        case "--task-queue" -> c.taskQueue = value;
        case "--agent-task-queue" -> c.agentTaskQueue = value;
        case "--zigflow-temporal-address" -> c.zigflowTemporalAddress = value;
        case "--zigflow-namespace" -> c.zigflowNamespace = value;
        case "--completion-window" -> window = value;
        case "--max-payload-bytes" -> maxPayload = value;
        case "--metrics-listen" -> c.metricsListen = value;
        case "--eager-start" -> eager = value;
        case "--workflow-sandbox" -> c.workflowSandbox = value;
        case "--log-level" -> c.logLevel = value;
        case "--temporal-tls" -> tls = value;
        case "--temporal-tls-ca" -> c.temporalTlsCa = value;
        case "--temporal-tls-cert" -> c.temporalTlsCert = value;
        case "--temporal-tls-key" -> c.temporalTlsKey = value;
        case "--temporal-tls-server-name" -> c.temporalTlsServerName = value;
        case "--temporal-api-key" -> c.temporalApiKey = value;
        default -> throw new UsageError("unknown argument " + arg + "\n" + USAGE);
      }
    }
    try {
      c.completionWindowS = Double.parseDouble(window);
    } catch (NumberFormatException e) {
      throw new UsageError("--completion-window: not a number: " + window);
    }
    try {
      c.maxPayloadBytes = Long.parseLong(maxPayload);
    } catch (NumberFormatException e) {
      throw new UsageError("--max-payload-bytes: not a number of bytes: " + maxPayload);
    }
    if (!eager.equals("0") && !eager.equals("1")) {
      throw new UsageError("--eager-start: expected 0 or 1, got " + eager);
    }
    c.eagerStart = eager.equals("1");
    c.temporalTls = tls.equals("1") || tls.equalsIgnoreCase("true") || tls.equalsIgnoreCase("yes");
    return c;
  }

  public String zigflowAddress() {
    return zigflowTemporalAddress.isEmpty() ? temporalAddress : zigflowTemporalAddress;
  }

  public String zigflowNamespaceOrOwn() {
    return zigflowNamespace.isEmpty() ? namespace : zigflowNamespace;
  }

  static String envOr(Map<String, String> env, String name, String dflt) {
    String v = env.get(name);
    return v == null || v.isEmpty() ? dflt : v;
  }
}
