// Command zigflow-go is the Go reference Zigflow: a Temporal worker serving the one
// agent activity, ExecuteAgent (activity.go), configured like the Python reference
// (docs handbook, "Service command line and environment"): flags or environment, flag wins;
// grpc.health.v1 SERVING once the worker runs; SIGTERM/SIGINT stop it, exit 0.
//
//	zigflow-go [--temporal-address H:P] [--namespace NS] [--task-queue Q]
//	           [--stigma-target H:P] [--ack-timeout S] [--max-concurrent-activities N]
//	           [--health-listen H:P] [--metrics-listen H:P]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	stigmav1 "github.com/handshake-harness/zigflow-go/gen/stigma/v1"
)

// healthService is this worker's own health name; "" (the server) is what the
// harness reads.
const healthService = "zigflow.Worker"

type config struct {
	TemporalAddress string
	Namespace       string
	TaskQueue       string
	StigmaTarget    string
	AckTimeout      time.Duration
	MaxConcurrent   int
	HealthListen    string
	MetricsListen   string
	LogLevel        string
	TemporalTLS     temporalTLS
}

// parseConfig reads flags, with defaults from the environment (flag wins).
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("zigflow-go", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	var ackS float64
	fs.StringVar(&c.TemporalAddress, "temporal-address", env("ZIGFLOW_TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		"Temporal frontend host:port (env ZIGFLOW_TEMPORAL_ADDRESS)")
	fs.StringVar(&c.Namespace, "namespace", env("ZIGFLOW_NAMESPACE", "default"),
		"Temporal namespace (env ZIGFLOW_NAMESPACE)")
	fs.StringVar(&c.TaskQueue, "task-queue", env("ZIGFLOW_TASK_QUEUE", "zigflow"),
		"task queue of the agent activity (env ZIGFLOW_TASK_QUEUE)")
	fs.StringVar(&c.StigmaTarget, "stigma-target", env("ZIGFLOW_STIGMA_TARGET", "127.0.0.1:50051"),
		"Stigma gRPC host:port (env ZIGFLOW_STIGMA_TARGET)")
	fs.Float64Var(&ackS, "ack-timeout", 0,
		"deadline in seconds for Stigma's ACK (env ZIGFLOW_ACK_TIMEOUT_S, default 5)")
	fs.IntVar(&c.MaxConcurrent, "max-concurrent-activities", 0,
		"activity slots of this worker (env ZIGFLOW_MAX_CONCURRENT_ACTIVITIES, default 100)")
	fs.StringVar(&c.HealthListen, "health-listen", env("ZIGFLOW_HEALTH_LISTEN", "127.0.0.1:0"),
		"host:port of the grpc.health.v1 service (env ZIGFLOW_HEALTH_LISTEN)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", env("ZIGFLOW_METRICS_LISTEN", ""),
		"host:port of the Prometheus /metrics endpoint (env ZIGFLOW_METRICS_LISTEN, default none): "+
			ResultPendingMetric+" only")
	fs.StringVar(&c.LogLevel, "log-level", env("ZIGFLOW_LOG_LEVEL", "INFO"), "DEBUG, INFO, WARN or ERROR")
	c.TemporalTLS.register(fs, env)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["ack-timeout"] {
		v, err := strconv.ParseFloat(env("ZIGFLOW_ACK_TIMEOUT_S", "5"), 64)
		if err != nil {
			return c, fmt.Errorf("ZIGFLOW_ACK_TIMEOUT_S: %w", err)
		}
		ackS = v
	}
	if !set["max-concurrent-activities"] {
		v, err := strconv.Atoi(env("ZIGFLOW_MAX_CONCURRENT_ACTIVITIES", "100"))
		if err != nil {
			return c, fmt.Errorf("ZIGFLOW_MAX_CONCURRENT_ACTIVITIES: %w", err)
		}
		c.MaxConcurrent = v
	}
	if ackS <= 0 || c.MaxConcurrent <= 0 {
		return c, errors.New("ack timeout and max concurrent activities must be positive")
	}
	c.AckTimeout = time.Duration(ackS * float64(time.Second))
	return c, nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})).With("service", "zigflow")
}

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "zigflow-go:", err)
		os.Exit(2)
	}
	log := newLogger(cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("zigflow.failed", "error", err.Error())
		os.Exit(1)
	}
}

// serve runs until ctx is done (a signal), then stops the worker and returns nil.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	lis, err := net.Listen("tcp", cfg.HealthListen)
	if err != nil {
		return fmt.Errorf("health listen %s: %w", cfg.HealthListen, err)
	}
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	hs.SetServingStatus(healthService, healthpb.HealthCheckResponse_NOT_SERVING)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	var metrics *Metrics
	if cfg.MetricsListen != "" {
		mlis, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listen %s: %w", cfg.MetricsListen, err)
		}
		metrics = &Metrics{}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics)
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = msrv.Serve(mlis) }()
		defer func() { _ = msrv.Close() }()
	}

	opts := client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.Namespace,
		Logger:    tlog.NewStructuredLogger(log.With("component", "temporal")),
	}
	if err := cfg.TemporalTLS.apply(&opts); err != nil {
		return err
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil // told to stop while connecting
		}
		return fmt.Errorf("temporal %s: %w", cfg.TemporalAddress, err)
	}
	defer c.Close()
	conn, err := grpc.NewClient(cfg.StigmaTarget, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("stigma target %s: %w", cfg.StigmaTarget, err)
	}
	defer func() { _ = conn.Close() }()

	w := worker.New(c, cfg.TaskQueue, worker.Options{
		MaxConcurrentActivityExecutionSize: cfg.MaxConcurrent,
		WorkerStopTimeout:                  2 * time.Second,
		DisableWorkflowWorker:              true, // the agent activity is all it serves
	})
	acts := &Activities{Stigma: stigmav1.NewStigmaServiceClient(conn), AckTimeout: cfg.AckTimeout, Log: log,
		Metrics: metrics}
	w.RegisterActivityWithOptions(acts.ExecuteAgent, activity.RegisterOptions{Name: ActivityName})
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(healthService, healthpb.HealthCheckResponse_SERVING)
	log.Info("zigflow.ready", "task_queue", cfg.TaskQueue, "health_port", lis.Addr().(*net.TCPAddr).Port,
		"temporal_address", cfg.TemporalAddress, "namespace", cfg.Namespace,
		"temporal_tls", cfg.TemporalTLS.describe(),
		"stigma_target", cfg.StigmaTarget, "pid", os.Getpid())

	<-ctx.Done()
	// A deploy's SIGTERM: result-pending activities are left as they are (their tokens
	// stay live for Stigma; never failed or cancelled on the way out), activities still
	// waiting for an ACK get WorkerStopTimeout.
	log.Info("zigflow.stopping")
	hs.Shutdown() // every service NOT_SERVING
	w.Stop()
	log.Info("zigflow.stopped")
	return nil
}
