"""Alert rules (promtool), dashboard queries and runbook links against what the
services really export (reference_services/common/metrics.py)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from harness.report import runbooks
from reference_services.common import metrics

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]
OBS = ROOT / "reports" / "observability"
OUR_METRIC = re.compile(r"\b((?:zigflow|stigma)_[a-z0-9_]+)\b")


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool not found: `make setup` installs Debian package prometheus"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI runs make setup as root: missing means setup broke
        pytest.skip(message)
    return found


def test_alert_rules_are_valid() -> None:
    out = subprocess.run(
        [_promtool(), "check", "rules", str(OBS / "alerts.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_alert_rules_fire_as_specified() -> None:
    out = subprocess.run(
        [_promtool(), "test", "rules", "alerts_test.yml"],
        cwd=OBS,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _dashboard_queries() -> list[str]:
    dashboard = json.loads((OBS / "dashboard.json").read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


def test_every_dashboard_query_uses_exported_metrics() -> None:
    exported = metrics.exported_names()
    queries = _dashboard_queries()
    assert queries
    unknown = {n for q in queries for n in OUR_METRIC.findall(q)} - exported
    assert not unknown, f"dashboard queries name metrics the services do not export: {unknown}"


def test_every_exported_metric_is_on_the_dashboard() -> None:
    used = {n for q in _dashboard_queries() for n in OUR_METRIC.findall(q)}
    families = {f"{c}_total" for c in metrics.COUNTERS} | set(metrics.GAUGES)
    families |= {f"{h}_bucket" for h in metrics.HISTOGRAMS}
    assert families <= used, f"not on the dashboard: {sorted(families - used)}"


def test_alert_rules_use_exported_metrics_and_existing_runbooks() -> None:
    text = (OBS / "alerts.yml").read_text()
    unknown = set(OUR_METRIC.findall(text)) - metrics.exported_names()
    assert not unknown, f"alert rules name metrics the services do not export: {unknown}"
    for url in re.findall(r"runbook_url:\s*(\S+)", text):
        assert (ROOT / url).is_file(), f"alert links a missing runbook {url}"


def test_each_checker_runbook_exists_and_is_named_by_checker() -> None:
    for checker, path in runbooks.BY_CHECKER.items():
        assert (ROOT / path).is_file(), f"{checker} -> missing {path}"
    assert runbooks.runbook_for("completion_outcome_is[token_dead]") == runbooks.COMPLETION_FAILING
    assert runbooks.runbook_for("no_such_checker") is None


def test_report_links_the_runbook_of_a_violated_check() -> None:
    from harness.report import report

    r = {
        "schema_version": 3,
        "overhead_ms": {"n": 0},
        "overhead_by_target": {},
        "verdict": "fail",
        "verdict_reasons": [],
        "generated_at": "now",
        "targets": ["dev"],
        "wall_s": 1.0,
        "budget_ms": 100,
        "versions": {},
        "scenarios": [
            {
                "id": "scenarios/test_x.py::test_y",
                "target": "dev",
                "outcome": "failed",
                "duration_s": 1.0,
                "checks": [
                    {"checker": "no_token_lost", "ok": False},
                    {"checker": "every_call_resolved", "ok": True},
                ],
            }
        ],
    }
    md = report.markdown(r)
    assert f"| no_token_lost | [{runbooks.COMPLETION_FAILING}]" in md
    assert runbooks.STUCK_PENDING not in md  # a check that held links nothing


def test_rule_variant_is_a_valid_rules_file_with_the_new_threshold(tmp_path: pathlib.Path) -> None:
    from harness.errors import ConfigError
    from harness.servers import prometheus

    text = (OBS / "alerts.yml").read_text()
    variant = prometheus.rule_variant(
        text, "HandshakeActivitiesPendingHigh", {"pending) > 500": "pending) > 2"}
    )
    assert "pending) > 2" in variant
    assert variant.count("- alert:") == 1
    path = tmp_path / "rules.yml"
    path.write_text(variant)
    out = subprocess.run(
        [_promtool(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    with pytest.raises(ConfigError):
        prometheus.rule_variant(text, "HandshakeActivitiesPendingHigh", {"> 9999": "> 1"})
    with pytest.raises(ConfigError):
        prometheus.rule_variant(text, "NoSuchAlert", {})
