"""Run the reference Zigflow worker.

    python -m reference_services.zigflow [flags]

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
from temporalio.worker import Worker

from reference_services.common import jsonlog, metrics, temporal_tls, tuning
from reference_services.common.health import Health
from reference_services.common.lifecycle import env_or, exit_after_shutdown, shutdown_requested
from reference_services.zigflow.activities import GrpcStigmaClient, ZigflowActivities
from reference_services.zigflow.workflow import ZigflowWorkflow

log = jsonlog.EventLog("zigflow.main")


def parse_args(argv: Sequence[str] | None, env: dict[str, str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m reference_services.zigflow",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--temporal-address",
        default=env_or(env, "ZIGFLOW_TEMPORAL_ADDRESS", "127.0.0.1:7233"),
        help="Temporal frontend host:port (env ZIGFLOW_TEMPORAL_ADDRESS)",
    )
    p.add_argument(
        "--namespace",
        default=env_or(env, "ZIGFLOW_NAMESPACE", "default"),
        help="Temporal namespace (env ZIGFLOW_NAMESPACE)",
    )
    p.add_argument(
        "--task-queue",
        default=env_or(env, "ZIGFLOW_TASK_QUEUE", "zigflow"),
        help="task queue for workflows and activities (env ZIGFLOW_TASK_QUEUE)",
    )
    p.add_argument(
        "--stigma-target",
        default=env_or(env, "ZIGFLOW_STIGMA_TARGET", "127.0.0.1:50051"),
        help="Stigma gRPC host:port (env ZIGFLOW_STIGMA_TARGET)",
    )
    p.add_argument(
        "--ack-timeout",
        type=float,
        default=float(env_or(env, "ZIGFLOW_ACK_TIMEOUT_S", "5")),
        help="deadline in seconds for Stigma's ACK (env ZIGFLOW_ACK_TIMEOUT_S)",
    )
    p.add_argument(
        "--max-concurrent-activities",
        type=int,
        default=int(env_or(env, "ZIGFLOW_MAX_CONCURRENT_ACTIVITIES", "100")),
        help="activity slots of this worker (env ZIGFLOW_MAX_CONCURRENT_ACTIVITIES)",
    )
    p.add_argument(
        "--health-listen",
        default=env_or(env, "ZIGFLOW_HEALTH_LISTEN", "127.0.0.1:0"),
        help="host:port of the gRPC health service (env ZIGFLOW_HEALTH_LISTEN)",
    )
    p.add_argument(
        "--metrics-listen",
        default=env_or(env, "ZIGFLOW_METRICS_LISTEN", ""),
        help="host:port of the Prometheus /metrics endpoint; empty: none "
        "(env ZIGFLOW_METRICS_LISTEN)",
    )
    p.add_argument(
        "--workflow-sandbox",
        choices=tuning.SANDBOX_MODES,
        default=env_or(env, "ZIGFLOW_WORKFLOW_SANDBOX", "passthrough"),
        help="how workflow code runs: passthrough (sandbox sharing our modules), full, off "
        "(env ZIGFLOW_WORKFLOW_SANDBOX)",
    )
    temporal_tls.add_arguments(p, env, "zigflow")
    p.add_argument("--log-level", default=env_or(env, "ZIGFLOW_LOG_LEVEL", "INFO"))
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    stop = shutdown_requested()
    health = Health("zigflow.Worker")
    # No SO_REUSEPORT: a port already taken must fail the bind, not be shared.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health.register(server)
    port = server.add_insecure_port(args.health_listen)
    await server.start()
    await health.not_ready()
    client = await Client.connect(
        args.temporal_address,
        namespace=args.namespace,
        runtime=metrics.runtime_for(args.metrics_listen, "zigflow"),
        **temporal_tls.connect_kwargs(args),
    )
    stigma = GrpcStigmaClient(args.stigma_target)
    activities = ZigflowActivities(stigma, args.ack_timeout)
    worker = Worker(
        client,
        task_queue=args.task_queue,
        workflows=[ZigflowWorkflow],
        activities=[activities.execute_agent, activities.echo],
        max_concurrent_activities=args.max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=2),
        sticky_queue_schedule_to_start_timeout=tuning.STICKY_SCHEDULE_TO_START,
        workflow_runner=tuning.workflow_runner(args.workflow_sandbox),
    )
    async with worker:
        await health.ready()
        log.event(
            "zigflow.ready",
            task_queue=args.task_queue,
            health_port=port,
            temporal_address=args.temporal_address,
            namespace=args.namespace,
            temporal_tls=temporal_tls.describe(args),
            pid=os.getpid(),
        )
        await stop.wait()
        # A deploy's SIGTERM: result-pending activities are left as they are (their tokens
        # stay live for Stigma; never failed or cancelled on the way out), activities
        # still waiting for an ACK get the worker's 2 s graceful shutdown.
        log.event("zigflow.stopping")
        await health.stopping()
    await stigma.close()
    await server.stop(grace=1)
    log.event("zigflow.stopped")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv, dict(os.environ))
    jsonlog.configure("zigflow", args.log_level)
    asyncio.run(serve(args))
    exit_after_shutdown(0)


if __name__ == "__main__":
    sys.exit(main())
