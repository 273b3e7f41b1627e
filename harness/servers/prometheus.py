"""A real Prometheus server scraping the stack's services, for alert scenarios.

The binary comes from the Debian package ``prometheus`` (``make setup`` installs it);
the server listens on loopback only, keeps its data in a temporary directory and is
always stopped (by pid, through harness/servers/procs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import shutil
import urllib.request
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from harness.servers.ports import LOOPBACK, free_port
from harness.servers.procs import running
from harness.waits import eventually

ALERT_RULES = pathlib.Path(__file__).resolve().parents[1] / "assets/observability/alerts.yml"


def binary() -> str | None:
    return shutil.which("prometheus")


def rule_variants(rules_text: str, variants: Mapping[str, Mapping[str, str]]) -> str:
    """Several alerts' rules in one file, each with its own replacements."""
    rules = [
        rule_variant(rules_text, alert, r).split("    rules:\n", 1)[1]
        for alert, r in variants.items()
    ]
    return "groups:\n  - name: scenario\n    rules:\n" + "".join(rules)


def rule_variant(rules_text: str, alert: str, replacements: Mapping[str, str]) -> str:
    """A rules file holding only ``alert``'s rule from ``rules_text``, with each
    replacement applied inside that rule (e.g. a low threshold for a scenario).
    Every replacement must match, so a renamed rule or threshold fails loudly."""
    lines = rules_text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"- alert: {alert}"), None)
    if start is None:
        raise ConfigError(f"no alert rule {alert!r} in the rules file")
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    rule = "\n".join(lines[start:end])
    for old, new in replacements.items():
        if old not in rule:
            raise ConfigError(f"{old!r} not found in alert rule {alert!r}")
        rule = rule.replace(old, new)
    return f"groups:\n  - name: scenario\n    rules:\n{_reindent(rule, 6)}\n"


def _reindent(block: str, spaces: int) -> str:
    lines = block.splitlines()
    strip = len(lines[0]) - len(lines[0].lstrip())
    return "\n".join((" " * spaces + line[strip:]) if line.strip() else "" for line in lines)


# Scrape and rule evaluation every half second: an alert's ``for:`` (and a scenario's
# wait for it) is counted in evaluations, so a scenario-sized ``for: 1s`` takes two.
INTERVAL = "500ms"


def config(targets: Mapping[str, str], rules_file: pathlib.Path, interval: str = INTERVAL) -> str:
    """prometheus.yml: one job per service (job label = its name), fast intervals."""
    jobs = "\n".join(
        f"  - job_name: {name}\n    static_configs:\n      - targets: ['{address}']"
        for name, address in sorted(targets.items())
    )
    return (
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        f"rule_files:\n  - {rules_file}\nscrape_configs:\n{jobs}\n"
    )


def _write_config(workdir: pathlib.Path, targets: Mapping[str, str], rules: str) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "rules.yml").write_text(rules)
    (workdir / "prometheus.yml").write_text(config(targets, workdir / "rules.yml"))


@dataclass
class Prometheus:
    address: str

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://{self.address}{path}", timeout=5) as reply:
            return json.loads(reply.read())

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts as the server sees them (state pending / firing)."""
        data = self._get("/api/v1/alerts")
        alerts: list[dict[str, Any]] = data["data"]["alerts"]
        return alerts

    def targets_up(self) -> dict[str, bool]:
        data = self._get("/api/v1/targets")
        return {t["labels"]["job"]: t["health"] == "up" for t in data["data"]["activeTargets"]}


@contextlib.asynccontextmanager
async def prometheus_server(
    targets: Mapping[str, str], rules: str, workdir: pathlib.Path, ready_timeout_s: float = 30
) -> AsyncIterator[Prometheus]:
    """Prometheus scraping ``targets`` (name -> host:port) with ``rules`` (YAML text),
    ready once every target is up; stopped on exit, whatever happened."""
    exe = binary()
    if exe is None:
        raise ConfigError("prometheus not found: `make setup` installs Debian package prometheus")
    await asyncio.to_thread(_write_config, workdir, targets, rules)
    address = f"{LOOPBACK}:{free_port()}"
    argv = [
        exe,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address={address}",
    ]
    async with running("prometheus", argv, {}, workdir, grace_s=10) as proc:
        server = Prometheus(address)

        async def all_up() -> bool | None:
            if not proc.running():
                raise ConfigError(f"prometheus exited: {proc.tail()}")
            up = await asyncio.to_thread(server.targets_up)
            return True if up and all(up.values()) and set(up) == set(targets) else None

        await eventually(
            all_up,
            timeout_s=ready_timeout_s,
            pending=lambda: f"prometheus at {address} scraping {dict(targets)} (all up)",
            interval_s=0.2,
        )
        yield server
