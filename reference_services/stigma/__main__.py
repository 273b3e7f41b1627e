"""Run the reference Stigma service: gRPC StartAgent server + Temporal worker.

    python -m reference_services.stigma [flags]

Every flag also reads an environment variable (flag wins); see docs/reference/handbook.md,
"Service contract".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import timedelta

import grpc
from temporalio.client import Client
from temporalio.service import RetryConfig
from temporalio.worker import Worker

from reference_services.common import jsonlog, metrics, temporal_tls, tuning
from reference_services.common.health import Health
from reference_services.common.lifecycle import env_or, exit_after_shutdown, shutdown_requested
from reference_services.stigma.activities import SystemActivities, TemporalZigflowRecord
from reference_services.stigma.payload_limit import DEFAULT_MAX_PAYLOAD_BYTES
from reference_services.stigma.server import StigmaServicer, TemporalStarter, add_to_server
from reference_services.stigma.workflow import StigmaWorkflow

# The client's own retries of one call by token (UNAVAILABLE, and INTERNAL: what the
# time-skipping server answers a malformed token): a connection blip, not an outage,
# which the completion activity's retry (COMPLETION_RETRY) rides out. Every refused token
# on the time-skipping server pays this window before it is classified. The Java Stigma
# sets the same.
COMPLETION_RPC_RETRY = RetryConfig(
    initial_interval_millis=100, max_interval_millis=500, max_elapsed_time_millis=800
)

log = jsonlog.EventLog("stigma.main")


def parse_args(argv: Sequence[str] | None, env: dict[str, str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m reference_services.stigma",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--listen",
        default=env_or(env, "STIGMA_LISTEN", "127.0.0.1:50051"),
        help="gRPC host:port for StigmaService and grpc.health.v1 (env STIGMA_LISTEN)",
    )
    p.add_argument(
        "--temporal-address",
        default=env_or(env, "STIGMA_TEMPORAL_ADDRESS", "127.0.0.1:7233"),
        help="Temporal frontend for Stigma's own workflows (env STIGMA_TEMPORAL_ADDRESS)",
    )
    p.add_argument(
        "--namespace",
        default=env_or(env, "STIGMA_NAMESPACE", "default"),
        help="namespace of Stigma's workflows (env STIGMA_NAMESPACE)",
    )
    p.add_argument(
        "--task-queue",
        default=env_or(env, "STIGMA_TASK_QUEUE", "stigma"),
        help="task queue of Stigma's worker (env STIGMA_TASK_QUEUE)",
    )
    p.add_argument(
        "--agent-task-queue",
        default=env_or(env, "STIGMA_AGENT_TASK_QUEUE", "agents"),
        help="task queue of the agents' workers: each agent runs there as activity "
        "run_agent(agent_id, input) (env STIGMA_AGENT_TASK_QUEUE)",
    )
    p.add_argument(
        "--zigflow-temporal-address",
        default=env_or(env, "STIGMA_ZIGFLOW_TEMPORAL_ADDRESS", ""),
        help="Temporal frontend that owns Zigflow's tokens; default: --temporal-address "
        "(env STIGMA_ZIGFLOW_TEMPORAL_ADDRESS)",
    )
    p.add_argument(
        "--zigflow-namespace",
        default=env_or(env, "STIGMA_ZIGFLOW_NAMESPACE", ""),
        help="namespace of Zigflow's workflows; default: --namespace "
        "(env STIGMA_ZIGFLOW_NAMESPACE)",
    )
    p.add_argument(
        "--completion-window",
        type=float,
        default=float(env_or(env, "STIGMA_COMPLETION_WINDOW_S", "3600")),
        help="seconds to keep retrying a completion on transient errors "
        "(env STIGMA_COMPLETION_WINDOW_S)",
    )
    p.add_argument(
        "--max-payload-bytes",
        type=int,
        default=int(env_or(env, "STIGMA_MAX_PAYLOAD_BYTES", str(DEFAULT_MAX_PAYLOAD_BYTES))),
        help="the cluster's payload limit (its limit.blobSize.error); an agent result or "
        "failure over it fails Zigflow's activity with ResultTooLarge instead of being "
        "sent; 0: no check (env STIGMA_MAX_PAYLOAD_BYTES)",
    )
    p.add_argument(
        "--metrics-listen",
        default=env_or(env, "STIGMA_METRICS_LISTEN", ""),
        help="host:port of the Prometheus /metrics endpoint; empty: none "
        "(env STIGMA_METRICS_LISTEN)",
    )
    p.add_argument(
        "--eager-start",
        type=int,
        choices=(0, 1),
        default=int(env_or(env, "STIGMA_EAGER_START", "1")),
        help="1: ask for eager workflow start (first task in the start reply); 0: plain "
        "start (env STIGMA_EAGER_START)",
    )
    p.add_argument(
        "--workflow-sandbox",
        choices=tuning.SANDBOX_MODES,
        default=env_or(env, "STIGMA_WORKFLOW_SANDBOX", "passthrough"),
        help="how workflow code runs: passthrough (sandbox sharing our modules), full, off "
        "(env STIGMA_WORKFLOW_SANDBOX)",
    )
    temporal_tls.add_arguments(p, env, "stigma")
    p.add_argument("--log-level", default=env_or(env, "STIGMA_LOG_LEVEL", "INFO"))
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    stop = shutdown_requested()
    runtime = metrics.runtime_for(args.metrics_listen, "stigma")
    # One set of TLS settings for both connections (the harness's relay in front of
    # Temporal serves both addresses in the gate).
    client = await Client.connect(
        args.temporal_address,
        namespace=args.namespace,
        runtime=runtime,
        **temporal_tls.connect_kwargs(args),
    )
    zig_address = args.zigflow_temporal_address or args.temporal_address
    zig_namespace = args.zigflow_namespace or args.namespace
    # Completion calls get their own connection with a short client-side retry: the
    # system activities already retry transient errors with backoff inside the
    # completion window, so the SDK's default ~10 s retry loop would only nest a second
    # retry layer inside each attempt (and delay classifying a rejected token: the
    # time-skipping server's INTERNAL is retried by that loop).
    zig_client = await Client.connect(
        zig_address,
        namespace=zig_namespace,
        runtime=runtime,
        retry_config=COMPLETION_RPC_RETRY,
        **temporal_tls.connect_kwargs(args),
    )
    system = SystemActivities(
        lambda token: zig_client.get_async_activity_handle(task_token=token),
        TemporalZigflowRecord(zig_client),
    )
    worker = Worker(
        client,
        task_queue=args.task_queue,
        workflows=[StigmaWorkflow],
        activities=[
            system.complete_zigflow_activity,
            system.fail_zigflow_activity,
            system.cancel_zigflow_activity,
            system.heartbeat_zigflow_activity,
        ],
        graceful_shutdown_timeout=timedelta(seconds=2),
        sticky_queue_schedule_to_start_timeout=tuning.STICKY_SCHEDULE_TO_START,
        workflow_runner=tuning.workflow_runner(args.workflow_sandbox),
    )
    health = Health("stigma.v1.StigmaService")
    # No SO_REUSEPORT: a port already taken must fail the bind, not be shared.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    add_to_server(
        StigmaServicer(
            TemporalStarter(
                client,
                args.task_queue,
                args.completion_window,
                eager=bool(args.eager_start),
                agent_task_queue=args.agent_task_queue,
                max_payload_bytes=args.max_payload_bytes,
            ),
            max_payload_bytes=args.max_payload_bytes,
        ),
        server,
    )
    health.register(server)
    port = server.add_insecure_port(args.listen)
    async with worker:
        await server.start()
        await health.ready()
        log.event(
            "stigma.ready",
            listen=args.listen,
            port=port,
            task_queue=args.task_queue,
            agent_task_queue=args.agent_task_queue,
            temporal_address=args.temporal_address,
            namespace=args.namespace,
            pid=os.getpid(),
        )
        await stop.wait()
        # A deploy's SIGTERM with calls in flight (the contract's shutdown bound, 10 s):
        # NOT_SERVING and no new StartAgent; one in flight (a durable start awaiting its
        # ACK) has 2 s to answer, else Zigflow's retry finds the execution by its key.
        # Then the worker's graceful shutdown lets calls by token in flight finish (2 s);
        # running agents are Temporal's, never waited for: the next process takes over.
        log.event("stigma.stopping")
        await health.stopping()
        await server.stop(grace=2)
    log.event("stigma.stopped")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv, dict(os.environ))
    jsonlog.configure("stigma", args.log_level)
    asyncio.run(serve(args))
    exit_after_shutdown(0)


if __name__ == "__main__":
    sys.exit(main())
