"""A deployed service that serves only TLS (a Stigma guarding the tokens it carries):
every connection the harness opens to it (raw StartAgent probes, grpc.health.v1
Checks, the kill Watch, the pause checks) goes over TLS with its profile's
``grpc-tls-*`` keys, and a wrong CA or name is refused, not quietly passed."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import pathlib
import signal
import subprocess
import sys
import types
from collections.abc import Iterator

import grpc
import pytest

from harness.errors import ConfigError
from harness.servers.ports import free_port
from harness.servers.probe import StigmaProbe
from harness.stack.stack import Stack
from harness.target import plan, profile
from harness.target.hooks import HookRunner, health_status, service_killed, service_paused
from harness.tls import HarnessCA, ServiceTLS
from harness.waits import eventually

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# A name the service's certificate carries besides its IP: what a port-forward to
# stigma.staging would be checked against.
NAME = "stigma.staging.internal"


@dataclasses.dataclass(frozen=True)
class TLSFake:
    """tests/unit/fake_service.py serving only TLS, with a certificate of ``ca``."""

    port: int
    pidfile: pathlib.Path
    ca: HarnessCA

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def argv(self) -> list[str]:
        return [
            PYTHON, "-m", "tests.unit.fake_service", str(self.port), str(self.pidfile),
            str(self.ca.server_cert), str(self.ca.server_key),
        ]  # fmt: skip

    @property
    def started(self) -> pathlib.Path:
        return self.pidfile.with_suffix(".started")

    def hook(self, action: str) -> str:
        if action == "start":
            return f"sh -c '{' '.join(self.argv)} >/dev/null 2>&1 & echo $! >> {self.started}'"
        sig = {"kill": "-9", "pause": "-STOP", "resume": "-CONT"}[action]
        return f"sh -c 'kill {sig} $(cat {self.pidfile})'"


@pytest.fixture
def fake(tmp_path: pathlib.Path) -> Iterator[TLSFake]:
    ca = HarnessCA.create(["127.0.0.1", NAME], b"", parent=str(tmp_path))
    spec = TLSFake(free_port(), tmp_path / "fake.pid", ca)
    proc = subprocess.Popen(spec.argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        asyncio.run(_serving(spec))
        yield spec
    finally:
        proc.kill()
        proc.wait()
        for pid in spec.started.read_text().split() if spec.started.exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        ca.remove()


async def _serving(spec: TLSFake) -> None:
    tls = ServiceTLS(ca=str(spec.ca.ca_cert))

    async def up() -> bool | None:
        return True if await health_status(spec.address, "", 1.0, tls) == "SERVING" else None

    await eventually(up, timeout_s=20, pending=lambda: f"the TLS fake at {spec.address}")


async def test_a_tls_service_answers_with_its_ca_and_name_and_is_refused_otherwise(
    fake: TLSFake, tmp_path: pathlib.Path
) -> None:
    ca = str(fake.ca.ca_cert)
    assert await health_status(fake.address, "", 2.0, ServiceTLS(ca=ca)) == "SERVING"
    assert await health_status(fake.address, "", 2.0, ServiceTLS(ca, server_name=NAME)) == (
        "SERVING"
    )
    # Plain text to a TLS port, another CA, a name its certificate does not carry.
    other = HarnessCA.create(["127.0.0.1"], b"", parent=str(tmp_path))
    try:
        refused = [
            await health_status(fake.address, "", 2.0, None),
            await health_status(fake.address, "", 2.0, ServiceTLS(ca=str(other.ca_cert))),
            await health_status(fake.address, "", 2.0, ServiceTLS(ca, server_name="elsewhere")),
        ]
    finally:
        other.remove()
    assert all(status.startswith("UNAVAILABLE") for status in refused), refused


def _read(stigma: dict[str, object], **top: object) -> profile.Profile:
    """A profile of the smallest table, Stigma's keys ``stigma``."""
    table = {
        "temporal": "127.0.0.1:1",
        "namespace": "cert",
        "allowed-namespaces": ["cert"],
        "zigflow-task-queue": "zq",
        "agent-task-queue": "aq",
    }
    return profile.parse("staging", {**table, **top, "stigma": stigma})


def _tls_profile(fake: TLSFake, **stigma: object) -> profile.Profile:
    hooks = {action: fake.hook(action) for action in ("kill", "start", "pause", "resume")}
    return _read(
        {
            **hooks,
            "ready-grpc-health": fake.address,
            "ready-interval-s": 0.05,
            "hook-timeout-s": 10,
            "ready-timeout-s": 10,
            **stigma,
        },
        **{"stigma-address": fake.address},
    )


async def test_probes_kills_and_pauses_reach_a_tls_stigma_through_its_profile(
    fake: TLSFake,
) -> None:
    target = _tls_profile(
        fake, **{"grpc-tls-ca": str(fake.ca.ca_cert), "grpc-tls-server-name": NAME}
    )
    tls = target.grpc_tls("stigma")
    assert tls == ServiceTLS(ca=str(fake.ca.ca_cert), server_name=NAME)
    assert target.grpc_tls("zigflow") is None
    # A raw StartAgent reaches the server over TLS (the fake implements only health:
    # UNIMPLEMENTED is its answer); in plain text nothing answers.
    probe, plain = StigmaProbe(fake.address, tls), StigmaProbe(fake.address)
    try:
        assert (await probe.start_agent_raw(b"", 5.0)).code == grpc.StatusCode.UNIMPLEMENTED
        assert (await plain.start_agent_raw(b"", 5.0)).code == grpc.StatusCode.UNAVAILABLE
    finally:
        await probe.close()
        await plain.close()
    runner = HookRunner(target, run_id="run-1", env=dict(os.environ))
    # The driver's probes of a deployed stack take the same settings; the harness's own
    # stack serves plain text.
    assert Stack.stigma_tls.fget(types.SimpleNamespace(runner=runner)) == tls  # type: ignore[attr-defined]
    assert Stack.stigma_tls.fget(types.SimpleNamespace(runner=None)) is None  # type: ignore[attr-defined]
    async with service_paused(runner, "stigma") as seen:
        assert "unanswered" in seen
    async with service_killed(runner, "stigma") as seen:
        assert seen
    assert runner.log.runs[-1].outcome == "ok"  # back, and seen SERVING over TLS
    assert f"{fake.address} (tls ca={fake.ca.ca_cert}" in plan.render(target, run_id="run-1")


async def test_without_its_tls_keys_a_tls_stigma_is_not_taken_for_ready(fake: TLSFake) -> None:
    runner = HookRunner(_tls_profile(fake), run_id="run-1", env=dict(os.environ))
    assert not await runner.ready_once("stigma")
    assert runner.log.runs[-1].output_tail.startswith("UNAVAILABLE")


def test_service_tls_keys_are_checked_when_the_profile_is_read(tmp_path: pathlib.Path) -> None:
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    junk = tmp_path / "junk.txt"
    junk.write_text("not a certificate")

    def read(**stigma: str) -> profile.Profile:
        return _read(dict(stigma))

    assert read().grpc_tls("stigma") is None
    assert read(**{"grpc-tls-ca": str(pem)}).grpc_tls("stigma") == ServiceTLS(ca=str(pem))
    # A server name alone: TLS, checked against the system's CAs.
    assert read(**{"grpc-tls-server-name": NAME}).grpc_tls("stigma") == ServiceTLS(server_name=NAME)
    with pytest.raises(
        ConfigError, match=r"targets\.staging\.stigma: grpc-tls-cert needs grpc-tls-key"
    ):
        read(**{"grpc-tls-cert": str(pem)})
    with pytest.raises(ConfigError, match=r"grpc-tls-ca .*missing\.pem: cannot read it"):
        read(**{"grpc-tls-ca": str(tmp_path / "missing.pem")})
    with pytest.raises(ConfigError, match=r"grpc-tls-ca .*junk\.txt: not a PEM file"):
        read(**{"grpc-tls-ca": str(junk)})
    with pytest.raises(ConfigError, match="grpc-tls-ca"):
        read(**{"grpc_tls_cA": str(pem)})  # a misspelled key is an error, not dropped


async def test_the_preflight_reaches_a_tls_stigma_with_its_keys_and_hints_at_them_without(
    fake: TLSFake,
) -> None:
    from harness.faults.deployment import preflight

    async def stigma_check(target: profile.Profile) -> tuple[bool, str]:
        checks = await preflight(target, HookRunner(target, run_id="run-1", env={}))
        found = next(c for c in checks if c.what == "stigma address")
        return found.ok, found.detail

    ok, detail = await stigma_check(_tls_profile(fake))
    assert not ok
    assert detail.startswith(f"{fake.address}: UNAVAILABLE")
    assert "grpc-tls-* keys in [targets.staging.stigma]" in detail
    keyed = _tls_profile(fake, **{"grpc-tls-ca": str(fake.ca.ca_cert)})
    assert await stigma_check(keyed) == (
        True,
        f"{fake.address} SERVING (tls ca={fake.ca.ca_cert} auth=none)",
    )
