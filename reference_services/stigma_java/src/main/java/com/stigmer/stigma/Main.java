package com.stigmer.stigma;

import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.serviceclient.RpcRetryOptions;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerFactory;
import io.temporal.worker.WorkerOptions;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import sun.misc.Signal;

/**
 * The Java reference Stigma: gRPC StartAgent server + Temporal worker (StigmaWorkflow and the
 * system activities). Same flags and environment as {@code python -m reference_services.stigma};
 * grpc.health.v1 SERVING ("" and stigma.v1.StigmaService) once the worker runs; SIGTERM/SIGINT:
 * NOT_SERVING, server and worker stopped, exit 0.
 */
public final class Main {
  private static final JsonLog LOG = new JsonLog("stigma.main");
  static final Duration STICKY_SCHEDULE_TO_START = Duration.ofSeconds(1);

  /**
   * The client's own retries of one call by token (UNAVAILABLE, and INTERNAL: what the
   * time-skipping server answers a malformed token): a connection blip, not an outage, which the
   * completion activity's retry rides out. Every refused token on the time-skipping server pays
   * this window before it is classified. As the Python Stigma's.
   */
  static final RpcRetryOptions COMPLETION_RPC_RETRY =
      RpcRetryOptions.newBuilder()
          .setInitialInterval(Duration.ofMillis(100))
          .setMaximumInterval(Duration.ofMillis(500))
          .setExpiration(Duration.ofMillis(800))
          .build();

  private Main() {}

  public static void main(String[] argv) throws Exception {
    Config cfg;
    try {
      cfg = Config.parse(argv, System.getenv());
    } catch (Config.UsageError e) {
      System.err.println(e.getMessage());
      System.exit(argv.length > 0 && (argv[0].equals("-h") || argv[0].equals("--help")) ? 0 : 2);
      return;
    }
    CountDownLatch stop = new CountDownLatch(1);
    for (String name : new String[] {"TERM", "INT"}) {
      Signal.handle(new Signal(name), s -> stop.countDown());
    }
    HTTPServer metrics = Metrics.serve(cfg.metricsListen);

    WorkflowServiceStubs stubs =
        WorkflowServiceStubs.newServiceStubs(
            TemporalTls.apply(
                    WorkflowServiceStubsOptions.newBuilder().setTarget(cfg.temporalAddress), cfg)
                .build());
    WorkflowClient client =
        WorkflowClient.newInstance(
            stubs, WorkflowClientOptions.newBuilder().setNamespace(cfg.namespace).build());
    // Calls by token get their own connection (the harness's completion relay) with a short
    // client-side retry (COMPLETION_RPC_RETRY): the system activities already retry transient
    // errors with backoff inside the completion window. Each call carries CALL_DEADLINE (the
    // contract allows at most 10 s, the SDK's default): a server that answers a token late or
    // never costs the call that long, then DEADLINE_EXCEEDED is transient and the activity
    // calls again.
    WorkflowServiceStubs zigStubs =
        WorkflowServiceStubs.newServiceStubs(
            TemporalTls.apply(WorkflowServiceStubsOptions.newBuilder(), cfg)
                .setTarget(cfg.zigflowAddress())
                .setRpcTimeout(SystemActivitiesImpl.CALL_DEADLINE)
                .setRpcRetryOptions(COMPLETION_RPC_RETRY)
                .build());
    WorkflowClient zigClient =
        WorkflowClient.newInstance(
            zigStubs,
            WorkflowClientOptions.newBuilder().setNamespace(cfg.zigflowNamespaceOrOwn()).build());

    WorkerFactory factory = WorkerFactory.newInstance(client);
    // A task parked on a killed worker's sticky queue moves to the normal queue after
    // this, not the SDK's 5 s: a live worker replays these short histories in
    // milliseconds (the contract's recommendation, as the Python services).
    Worker worker =
        factory.newWorker(
            cfg.taskQueue,
            WorkerOptions.newBuilder()
                .setStickyQueueScheduleToStartTimeout(STICKY_SCHEDULE_TO_START)
                .build());
    worker.registerWorkflowImplementationTypes(StigmaWorkflowImpl.class);
    worker.registerActivitiesImplementations(
        new SystemActivitiesImpl(
            SystemActivitiesImpl.temporal(
                zigClient.newActivityCompletionClient(), zigStubs, cfg.zigflowNamespaceOrOwn()),
            new ZigflowRecord(zigClient)));

    HealthStatusManager health = new HealthStatusManager();
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.NOT_SERVING);
    health.setStatus(StigmaGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
    StartAgentService service =
        new StartAgentService(
            new TemporalStarter(
                client,
                cfg.taskQueue,
                cfg.agentTaskQueue,
                cfg.completionWindowS,
                cfg.eagerStart,
                cfg.maxPayloadBytes),
            cfg.maxPayloadBytes);
    int colon = cfg.listen.lastIndexOf(':');
    InetSocketAddress address =
        new InetSocketAddress(
            cfg.listen.substring(0, colon), Integer.parseInt(cfg.listen.substring(colon + 1)));
    // grpc-java sets no SO_REUSEPORT: a port already taken fails the bind.
    Server server =
        NettyServerBuilder.forAddress(address)
            .addService(StigmaGrpc.bind((StigmaGrpc.Parsed body, io.grpc.stub.StreamObserver<com.google.protobuf.Empty> reply) -> service.startAgent(body, reply)))
            .addService(health.getHealthService())
            .build();

    factory.start();
    server.start();
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
    health.setStatus(StigmaGrpc.SERVICE_NAME, ServingStatus.SERVING);
    LOG.event(
        "stigma.ready",
        "listen", cfg.listen,
        "port", server.getPort(),
        "task_queue", cfg.taskQueue,
        "agent_task_queue", cfg.agentTaskQueue,
        "temporal_address", cfg.temporalAddress,
        "namespace", cfg.namespace,
        "temporal_tls", TemporalTls.describe(cfg),
        "pid", ProcessHandle.current().pid());

    stop.await();
    // A deploy's SIGTERM with calls in flight (the contract's shutdown bound, 10 s):
    // NOT_SERVING and no new StartAgent; one in flight (a durable start awaiting its ACK)
    // has 2 s to answer, else Zigflow's retry finds the execution by its key. Then the
    // worker factory's shutdown lets calls by token in flight finish (2 s); running
    // agents are Temporal's, never waited for: the next process takes over.
    LOG.event("stigma.stopping");
    health.enterTerminalState();
    server.shutdown();
    server.awaitTermination(2, TimeUnit.SECONDS);
    server.shutdownNow();
    factory.shutdown();
    factory.awaitTermination(2, TimeUnit.SECONDS);
    factory.shutdownNow();
    if (metrics != null) {
      metrics.close();
    }
    stubs.shutdownNow();
    zigStubs.shutdownNow();
    LOG.event("stigma.stopped");
    System.out.flush();
    System.err.flush();
    Runtime.getRuntime().halt(0); // stopped: no lingering non-daemon SDK thread keeps us alive
  }
}
