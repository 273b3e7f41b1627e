package com.stigmer.stigma;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import java.io.IOException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Stigma's Prometheus metrics, the Python reference's names (docs handbook "Metrics"; the dashboard
 * and alert rules read them). Served on STIGMA_METRICS_LISTEN; without it every hook is a
 * no-op. "Running" is a set of workflow ids, so a replayed workflow re-adds harmlessly.
 */
public final class Metrics {
  private static volatile Counter startAgent;
  private static volatile Counter completionCalls;
  private static volatile Counter tokenRejections;
  private static volatile Counter completionFailures;
  private static volatile Counter gaveUp;
  private static volatile Gauge running;
  private static final Set<String> RUNNING = ConcurrentHashMap.newKeySet();

  private Metrics() {}

  /** Register the instruments and serve /metrics on host:port; null when listen is empty. */
  public static HTTPServer serve(String listen) throws IOException {
    if (listen == null || listen.isEmpty()) {
      return null;
    }
    int colon = listen.lastIndexOf(':');
    String host = listen.substring(0, colon);
    int port = Integer.parseInt(listen.substring(colon + 1));
    startAgent =
        Counter.builder()
            .name("stigma_start_agent_requests_total")
            .help("StartAgent requests answered, by outcome")
            .labelNames("outcome")
            .register();
    completionCalls =
        Counter.builder()
            .name("stigma_completion_calls_total")
            .help("calls by task token (complete/fail/cancel/heartbeat), by outcome")
            .labelNames("kind", "outcome")
            .register();
    tokenRejections =
        Counter.builder()
            .name("stigma_token_rejections_total")
            .help("calls by token that Temporal rejected (malformed/foreign token)")
            .labelNames("kind", "code")
            .register();
    completionFailures =
        Counter.builder()
            .name("stigma_completion_call_failures_total")
            .help("calls by token that failed transiently (retried), by code")
            .labelNames("kind", "code")
            .register();
    gaveUp =
        Counter.builder()
            .name("stigma_completion_gave_up_total")
            .help("completions abandoned when the completion window closed")
            .register();
    running =
        Gauge.builder()
            .name("stigma_workflows_running")
            .help("Stigma agent workflows running on this worker")
            .register();
    running.set(0);
    return HTTPServer.builder().hostname(host).port(port).buildAndStart();
  }

  /** StartAgent's answer: ack, invalid, undecodable, already_finished, temporal_error. */
  public static void startAgentAnswered(String outcome) {
    Counter c = startAgent;
    if (c != null) {
      c.labelValues(outcome).inc();
    }
  }

  public static void workflowStarted(String workflowId) {
    RUNNING.add(workflowId);
    publish();
  }

  public static void workflowEnded(String workflowId) {
    RUNNING.remove(workflowId);
    publish();
  }

  private static void publish() {
    Gauge g = running;
    if (g != null) {
      g.set(RUNNING.size());
    }
  }

  /** One call by token and what came of it. */
  public static void completionCall(String kind, String outcome, String code) {
    Counter c = completionCalls;
    if (c == null) {
      return;
    }
    c.labelValues(kind, outcome).inc();
    String why = code == null || code.isEmpty() ? "unknown" : code;
    if (outcome.equals("token_rejected")) {
      tokenRejections.labelValues(kind, why).inc();
    } else if (outcome.equals("transient")) {
      completionFailures.labelValues(kind, why).inc();
    }
  }

  /** The completion window closed with only transient errors (from workflow code). */
  public static void completionGaveUp(boolean replaying) {
    Counter c = gaveUp;
    if (c != null && !replaying) {
      c.inc();
    }
  }
}
