"""One-shot readiness probes and the Toxiproxy admin calls: each bounded, each
answering in words (``SERVING``, ``UNAVAILABLE: ...``) that an error message can show."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, WorkflowServiceStub

from reference_services.deploy.procs import DeployError

# The frontend's own grpc.health.v1 service name (what the Temporal SDKs check).
TEMPORAL_HEALTH_SERVICE = "temporal.api.workflowservice.v1.WorkflowService"
SERVING = "SERVING"
# Every address probed is the deployment's own, on loopback: never through an HTTP
# proxy the environment may name (CI runners often set one).
_CHANNEL_OPTIONS = [("grpc.enable_http_proxy", 0)]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _rpc_error(err: grpc.RpcError) -> str:
    if isinstance(err, grpc.Call):
        return f"{err.code().name}: {err.details()}"
    return repr(err)  # pragma: no cover - every error of a unary call is a Call


def health(address: str, service: str, timeout_s: float) -> str:
    """What grpc.health.v1 at ``address`` says of ``service`` (``SERVING`` ...), or
    the error's code when it does not answer."""
    with grpc.insecure_channel(address, options=_CHANNEL_OPTIONS) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.RpcError as err:
            return _rpc_error(err)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def temporal(address: str, namespace: str, timeout_s: float) -> str:
    """``SERVING`` once the frontend is healthy *and* knows the namespace: start-dev
    registers ``--namespace`` after its frontend is up, and a worker started in
    between fails on "namespace not found"."""
    status = health(address, TEMPORAL_HEALTH_SERVICE, timeout_s)
    if status != SERVING:
        return status
    with grpc.insecure_channel(address, options=_CHANNEL_OPTIONS) as channel:
        try:
            WorkflowServiceStub(channel).DescribeNamespace(
                DescribeNamespaceRequest(namespace=namespace), timeout=timeout_s
            )
        except grpc.RpcError as err:
            return f"namespace {namespace!r}: {_rpc_error(err)}"
    return SERVING


def http(method: str, url: str, body: Any = None, timeout_s: float = 5.0) -> tuple[int, str]:
    """(status, text) of one HTTP call; (0, the reason) when nothing answered."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=timeout_s) as reply:
            return int(reply.status), reply.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except (OSError, ValueError) as err:
        return 0, str(err)


def toxiproxy(admin_url: str, timeout_s: float) -> str:
    """``SERVING`` once the admin API answers /version."""
    status, text = http("GET", f"{admin_url}/version", timeout_s=timeout_s)
    return SERVING if status == 200 else f"GET /version: {status or text}"


def create_proxy(admin_url: str, name: str, listen: str, upstream: str) -> dict[str, Any]:
    """POST /proxies; the proxy as Toxiproxy describes it (its actual listen address)."""
    body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
    status, text = http("POST", f"{admin_url}/proxies", body)
    if status != 201 and status != 200:
        raise DeployError(f"toxiproxy POST /proxies {name}: {status or ''} {text[:300]}".strip())
    created: dict[str, Any] = json.loads(text)
    return created
