"""The gate against a Temporal cluster behind TLS: mutual TLS and an API key.

A dev server behind nginx, which terminates TLS (a CA of this test's, client
certificates required, ALPN h2) and refuses any call without the API key, stands in
for a self-hosted mTLS cluster or Temporal Cloud. The harness's own clients, both
services, the Toxiproxy links (TLS passes through them) and the completion relay
(which terminates TLS with the harness's per-run CA) must all get through it, in a
child pytest run of real scenarios. With a wrong CA the run must end at once with
exit code 4 and ``tls_handshake_failed``. No artefact of either run may hold the
API key or a line of the client's private key.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness import tls
from harness.config import DEV, PAIRINGS, StackConfig
from harness.judge import log_checks
from harness.servers.ports import LOOPBACK, free_port
from harness.servers.temporal import _server_argv, connect
from harness.waits import eventually
from tests.children import run_bounded, run_printed

ROOT = pathlib.Path(__file__).resolve().parent.parent
API_KEY = "hs-test-api-key-7c1f0e9a2b"  # a value the secret scan must never find
# The server's certificate names only this, while everyone connects to 127.0.0.1 (the
# harness to nginx, the services to Toxiproxy links and the relay): the run passes only
# if the server name reaches every client, including through the relays.
SERVER_NAME = "localhost"
CHILD_BOUND_S = 420  # a bound on a hung child run, not a measurement
WRONG_CA_BOUND_S = 60  # "fails fast": far less than the stacks' 60 s readiness wait

# Real scenarios: a plain handshake (the gate's stack has both relays: the completion
# relay carries all of Stigma's calls), a Toxiproxy fault on Zigflow's TLS link to
# Temporal, and a completion parked in the completion relay while Stigma is killed.
SCENARIOS = (
    "scenarios/test_success.py::test_zigflow_resumes_with_exactly_the_agents_result_once",
    "scenarios/test_network.py::test_zigflow_cut_off_from_temporal_resumes_after_heal",
    "scenarios/test_restarts.py::test_stigma_killed_mid_completion_completes_exactly_once",
)


def _openssl(*args: str, cwd: pathlib.Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(directory: pathlib.Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
        "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip


def _issue(directory: pathlib.Path, name: str, ca: str, ext: str) -> None:
    (directory / f"{name}.ext").write_text(ext)
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
        "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        cwd=directory,
    )  # fmt: skip


def _nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found is None:
        pytest.fail(
            "nginx not found: this test puts a TLS-terminating nginx in front of the dev "
            "server. Install it: `make tls-proxy-tools` (as root: apt-get install -y "
            "nginx-light), or your system's nginx package with the http2, ssl and grpc modules"
        )
    return found


NGINX_CONF = """\
daemon off;
{user}
worker_processes 1;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    # Temporal's long polls hold a call ~60-70 s; payloads go up to a few MB.
    keepalive_timeout 3600s;
    client_max_body_size 64m;
    server {{
        listen {listen} ssl http2;
        ssl_certificate {dir}/server.pem;
        ssl_certificate_key {dir}/server.key;
        ssl_client_certificate {dir}/ca.pem;
        ssl_verify_client on;
        location / {{
            if ($http_authorization != "Bearer {api_key}") {{
                return 401;
            }}
            grpc_pass grpc://{upstream};
            grpc_read_timeout 300s;
            grpc_send_timeout 300s;
        }}
    }}
}}
"""


@dataclass
class Cluster:
    address: str
    directory: pathlib.Path

    def connection(self, ca: str = "ca.pem") -> tls.Connection:
        return tls.Connection(
            ca=str(self.directory / ca),
            cert=str(self.directory / "client.pem"),
            key=str(self.directory / "client.key"),
            server_name=SERVER_NAME,
            api_key=API_KEY,
        )


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _tls_accepts(address: str, directory: pathlib.Path) -> None:
    """Until nginx completes a TLS handshake with the client certificate (h2 agreed)."""
    context = ssl.create_default_context(cafile=str(directory / "ca.pem"))
    context.load_cert_chain(str(directory / "client.pem"), str(directory / "client.key"))
    context.set_alpn_protocols(["h2"])
    host, port = address.rsplit(":", 1)

    async def probe() -> bool | None:
        _, writer = await asyncio.open_connection(
            host, int(port), ssl=context, server_hostname=SERVER_NAME
        )
        try:
            agreed = writer.get_extra_info("ssl_object").selected_alpn_protocol()
        finally:
            writer.close()
        if agreed != "h2":
            raise AssertionError(f"nginx agreed ALPN {agreed!r}, not h2: gRPC clients refuse")
        return True

    await eventually(probe, timeout_s=30, pending=lambda: f"nginx to accept TLS at {address}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    nginx = _nginx()
    directory = tmp_path_factory.mktemp("tls-cluster")
    _ca(directory, "ca")
    _ca(directory, "other-ca")
    _issue(directory, "server", "ca",
           "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
           f"subjectAltName=DNS:{SERVER_NAME}\n")  # fmt: skip
    _issue(directory, "client", "ca",
           "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")  # fmt: skip
    with contextlib.ExitStack() as stack:
        dev_port = free_port()
        argv, _ = _server_argv(StackConfig(temporal=DEV), dev_port, directory)
        with (directory / "temporal.log").open("wb") as log:
            dev = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        stack.callback(_stop, dev)
        asyncio.run(connect(f"{LOOPBACK}:{dev_port}", "default", 60, "the dev server"))
        listen = f"{LOOPBACK}:{free_port()}"
        conf = directory / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                # As root, nginx's workers would become "nobody", who cannot read the
                # keys in this private directory.
                user="user root;" if os.geteuid() == 0 else "",
                dir=directory,
                listen=listen,
                upstream=f"{LOOPBACK}:{dev_port}",
                api_key=API_KEY,
            )
        )
        proxy = subprocess.Popen(
            [nginx, "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=(directory / "nginx.stderr").open("wb"),
        )
        # SIGQUIT: nginx's graceful stop (its workers finish and exit with the master).
        stack.callback(_stop, proxy, signal.SIGQUIT)
        try:
            asyncio.run(_tls_accepts(listen, directory))
        except Exception as err:
            logs = [(directory / n).read_text(errors="replace") for n in ("nginx.stderr",)]
            pytest.fail(f"nginx did not come up ({err}): {logs}")
        yield Cluster(listen, directory)


def _gate(
    cluster: Cluster, connection: tls.Connection, out: pathlib.Path, *nodes: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """The gate in a child pytest with the TLS settings in its environment (as a CI
    job sets them), bounded; interrupted with SIGINT so it tears its stacks down."""
    env = {
        **os.environ,
        **connection.to_env(),
        "PYTHONPATH": str(ROOT),
        "HANDSHAKE_FAULT_MATRIX": "full",
    }
    argv = [sys.executable, "-m", "pytest", *nodes, "-q", "-p", "no:cacheprovider",
            "-n", "0", "-p", "no:randomly", "--temporal", cluster.address,
            "--handshake-out", str(out / "out"), "--handshake-results", str(out / "results"),
            "--junitxml", str(out / "junit.xml")]  # fmt: skip
    began = time.monotonic()
    proc = run_bounded(argv, bound_s=CHILD_BOUND_S, env=env, merge_stderr=True)
    return proc, (time.monotonic() - began)


def _no_secrets(cluster: Cluster, out: pathlib.Path, output: str) -> None:
    found = tls.leaks(cluster.connection(), [out], {"the gate's output": output})
    assert not found, f"secrets in the run's artefacts: {found}"


def test_the_gate_passes_against_a_cluster_behind_mtls_and_an_api_key(
    cluster: Cluster, tmp_path: pathlib.Path
) -> None:
    run, _ = _gate(cluster, cluster.connection(), tmp_path, *SCENARIOS)
    assert run.returncode == 0, f"the gate over TLS failed:\n{run.stdout[-6000:]}"
    records = [
        json.loads(line)
        for path in (tmp_path / "results").glob("results-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    outcomes = {r["id"]: r["outcome"] for r in records}
    ran = {node for node in SCENARIOS if any(node.split("::")[-1] in r for r in outcomes)}
    assert ran == set(SCENARIOS), f"not every scenario ran: {outcomes}"
    assert set(outcomes.values()) == {"passed"}, outcomes
    # Every scenario also judged the services' logs for the secrets.
    judged = [
        [c for c in r["checks"] if c["checker"] == log_checks.SECRET_CHECKER] for r in records
    ]
    assert all(j and j[0]["ok"] for j in judged), judged
    # The chaos scenario's fault went onto Zigflow's TLS link (and the reach check, run
    # by the gate, proved its traffic crossed that proxy).
    assert any(f["link"] == "zigflow_temporal" for r in records for f in r["faults"]), records
    # The services themselves connected with TLS (their ready lines say so) ...
    ready = [
        event
        for path in (tmp_path / "out" / "logs").rglob("zigflow.*.log")
        for line in path.read_text().splitlines()
        if line.startswith("{") and (event := json.loads(line)).get("event") == "zigflow.ready"
    ]
    assert ready, "no zigflow.ready line in the services' logs"
    assert {e.get("temporal_tls") for e in ready} == {"tls auth=api-key"}, ready
    commands = _reproduce_commands_run_as_printed(cluster, tmp_path, records)
    _no_secrets(cluster, tmp_path, run.stdout + commands)


def _reproduce_commands_run_as_printed(
    cluster: Cluster, tmp_path: pathlib.Path, records: list[dict[str, object]]
) -> str:
    """The run's records in a report as certify writes it (connection recorded): each
    row's reproduce command carries the TLS options, and one of them, run as printed
    with only the API key in the environment, gets through the gate's TLS preflight
    (``--collect-only``: options parsed, TLS handshake made, no scenario run)."""
    from harness.report import render, report
    from harness.report.model import CertificationReport, ReportedOverhead, ScenarioRecord

    rows = [
        ScenarioRecord.model_validate(r).model_copy(
            update={"target": cluster.address, "id": f"{r['id']}[{cluster.address}]"}
        )
        for r in records
    ]
    used = report.connection_used(cluster.connection(), "default", [cluster.address])
    doc = CertificationReport(
        schema_version=3,
        generated_at="2026-01-01T00:00:00+00:00",
        verdict="pass",
        verdict_reasons=[],
        targets=[cluster.address],
        connection=used,
        scenarios=[r.result() for r in rows],
        overhead_ms=ReportedOverhead(n=0),
        budget_ms=100.0,
        versions={},
        wall_s=0.0,
    )
    report.write(doc, tmp_path / "report")
    commands = [render.reproduce(s, doc.versions, doc.connection) for s in doc.scenarios]
    for option in ("--temporal-tls-ca", "--temporal-tls-cert", "--temporal-tls-key"):
        assert all(option in c for c in commands), commands
    assert all("--temporal-api-key" not in c for c in commands), commands
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDSHAKE_TEMPORAL_")}
    env |= {"PYTHONPATH": str(ROOT), "HANDSHAKE_TEMPORAL_API_KEY": API_KEY}
    rerun = run_printed(
        commands[0], "--collect-only", "-q", "-p", "no:cacheprovider", bound_s=120, env=env
    )
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "1 test collected" in rerun.stdout, rerun.stdout[-3000:]
    return "\n".join([*commands, rerun.stdout, rerun.stderr])


def _built(language_pairing: str) -> list[str]:
    """The Go Zigflow and Java Stigma as built by setup (``.bin``), or from
    ``HANDSHAKE_TLS_TEST_BIN`` (a directory with ``zigflow-go`` and ``stigma-java``: a
    build of a branch outside the shared ``.bin``); skipped when not built, except
    under CI=true, where setup is expected to have built them."""
    chosen = PAIRINGS[language_pairing]
    other = os.environ.get("HANDSHAKE_TLS_TEST_BIN")
    commands = [
        str(pathlib.Path(other) / pathlib.Path(impl.command[0]).name) if other else impl.command[0]
        for impl in (chosen.zigflow, chosen.stigma)
    ]
    missing = [c for c in commands if not os.access(c, os.X_OK)]
    if missing:
        why = f"not built: {missing} (make zigflow-go stigma-java)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return ["--zigflow-cmd", commands[0], "--stigma-cmd", commands[1],
            "--zigflow-level", chosen.zigflow_level]  # fmt: skip


def test_the_go_zigflow_and_java_stigma_pass_over_tls(
    cluster: Cluster, tmp_path: pathlib.Path
) -> None:
    run, _ = _gate(cluster, cluster.connection(), tmp_path, *SCENARIOS, *_built("go-java"))
    assert run.returncode == 0, f"the gate over TLS failed:\n{run.stdout[-6000:]}"
    records = [
        json.loads(line)
        for path in (tmp_path / "results").glob("results-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert len(records) >= len(SCENARIOS), records
    assert {r["outcome"] for r in records} == {"passed"}, records
    logs = "".join(p.read_text() for p in (tmp_path / "out" / "logs").rglob("*.log"))
    # Both services said, in their ready lines, that they connected with the key.
    assert logs.count("tls auth=api-key") >= 2, logs[-3000:]
    _no_secrets(cluster, tmp_path, run.stdout)


def test_a_wrong_ca_fails_fast_naming_the_tls_problem(
    cluster: Cluster, tmp_path: pathlib.Path
) -> None:
    run, took = _gate(cluster, cluster.connection(ca="other-ca.pem"), tmp_path, SCENARIOS[0])
    assert run.returncode == 4, f"expected a usage error (4), got {run.returncode}:\n{run.stdout}"
    assert tls.TLS_FAILED in run.stdout, run.stdout[-3000:]
    assert took < WRONG_CA_BOUND_S, f"took {took:.0f}s to report a wrong CA"
    _no_secrets(cluster, tmp_path, run.stdout)


def test_the_api_key_is_required_by_the_stand_in_cluster(cluster: Cluster) -> None:
    """The nginx in front really checks the key: without it the harness's own client is
    refused (so the passing run above proves every party sent it)."""
    from harness.errors import NotReadyError

    keyless = dataclasses.replace(cluster.connection(), api_key="")
    with pytest.raises(NotReadyError):
        asyncio.run(connect(cluster.address, "default", 5, "Temporal behind nginx", keyless))
