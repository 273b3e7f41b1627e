"""certification.html from a synthetic report: self-contained, every section there,
plots as inline SVG made from the data; and the bench's pure parts (stages)."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from harness.observe import stages
from harness.observe.traces import ActivitySpan, StigmaTrace, WorkflowTrace
from harness.report import html as report_html

pytestmark = pytest.mark.unit


def _row(level: int, p99: float) -> dict[str, Any]:
    cdf = [[p99 / 4, 0.5], [p99 / 2, 0.9], [p99, 0.99], [p99 * 1.2, 1.0]]
    return {
        "level": level,
        "mode": "closed",
        "n": 100,
        "p50": p99 / 4,
        "p95": p99 / 2,
        "p99": p99,
        "p999": p99 * 1.1,
        "max": p99 * 1.2,
        "throughput_per_s": 42.0,
        "baseline_p50_ms": 3.0,
        "baseline_p99_ms": 9.0,
        "ratio_p99": round(p99 / 9.0, 2),
        "errors": 0,
        "stages_p50_ms": {"start_agent_rpc": 4.0, "stigma_workflow_start": 9.0},
        "stages_p99_ms": {"start_agent_rpc": 8.0, "stigma_workflow_start": 20.0},
        "cdf": cdf,
        "baseline_cdf": [[2.0, 0.5], [9.0, 1.0]],
        "peak_rss_mb": {"temporal": 200.0, "zigflow": 80.0, "stigma": 85.0},
        "cpu_pct": {"temporal": 50.0},
    }


def synthetic_report() -> dict[str, Any]:
    return {
        "schema_version": 3,
        "generated_at": "2026-11-25T20:00:00+00:00",
        "verdict": "fail",
        "verdict_reasons": ["1 scenario(s) failed: x"],
        "targets": ["time-skipping", "dev"],
        "scenarios": [
            {
                "id": "scenarios/test_success.py::test_ok[dev]",
                "target": "dev",
                "outcome": "passed",
                "server": "dev",
                "duration_s": 1.5,
                "checks": [{"checker": "every_call_resolved", "ok": True}],
                "measurements": {},
            },
            {
                "id": "scenarios/test_network.py::test_cut<script>[dev]",
                "target": "dev",
                "outcome": "failed",
                "server": "dev",
                "duration_s": 3.0,
                "checks": [{"checker": "no_token_lost", "ok": False}],
                "measurements": {"chaos_seed": 1234},
                "longrepr": "AssertionError: <boom>",
            },
        ],
        "faults": [
            {
                "link": "stigma_grpc",
                "toxic": "down",
                "stream": "both",
                "scenario": "scenarios/test_network.py::test_cut",
                "target": "dev",
                "attributes": {},
            }
        ],
        "fault_timeline": [
            {
                "scenario": "scenarios/test_network.py::test_cut",
                "target": "dev",
                "spans": [{"name": "down", "target": "stigma_grpc", "start_s": 0.5, "stop_s": 2.0}],
            }
        ],
        "overhead_ms": {"n": 30, "p50": 30.0, "p95": 40.0, "p99": 45.0, "max": 50.0},
        "overhead_by_target": {"dev": {"n": 30, "p50": 30.0, "p95": 40.0, "p99": 45.0, "max": 50}},
        "budget_ms": 100.0,
        "concurrency": [_row(1, 40.0), _row(10, 180.0)],
        "budget": {
            "level": 10,
            "mode": "closed",
            "n": 100,
            "p50": 45.0,
            "p99": 180.0,
            "baseline_p99_ms": 9.0,
            "throughput_per_s": 42.0,
            "within": False,
        },
        "bench": {"generated_at": "2026-11-25T19:50:00+00:00", "target": "dev", "note": "noisy"},
        "versions": {"python": "3.11", "git_sha": "abc123"},
        "machine": {"cpus": 2, "cpu_model": "test cpu"},
        "wall_s": 60.0,
    }


def test_html_is_self_contained_and_has_every_section() -> None:
    page = report_html.render(synthetic_report())
    # Nothing that a browser would fetch: no script, style sheet, font, image or URL.
    for banned in ("<script", "<link", "<img", "<iframe", "@import", "url(", "http://", "https://"):
        assert banned not in page.lower(), banned
    assert not re.search(r"\b(src|href)\s*=", page, re.IGNORECASE)
    # Verdict first, then the other sections in reading order.
    positions = [page.index(f'<section id="{s}"') for s in report_html.SECTIONS]
    assert positions == sorted(positions)
    assert "Verdict: FAIL" in page
    # Plots: CDF, stages, handshake vs direct, fault timeline; each from the data.
    assert page.count("<svg") == 4  # one CDF chart per mode (closed only here)
    assert "10 handshake" in page
    assert "1 direct" in page
    assert "stigma_workflow_start: 9.0 ms" in page
    assert "down: 0.50-2.00 s" in page
    # Scenario text is escaped, and the failure has a reproduce command with its seed.
    assert "test_cut<script>" not in page
    assert "--chaos-seed 1234" in page
    assert "test_cut&lt;script&gt;&#39; --temporal dev" in page
    assert "junit-dev.xml" in page
    assert "test cpu" in page
    assert "p99 <strong>180.0 ms</strong> with 10 agents in flight" in page
    assert "<strong>over the budget</strong>" in page


def test_html_says_how_to_get_missing_concurrency_figures() -> None:
    r = synthetic_report()
    r["concurrency"], r["fault_timeline"], r["faults"], r["budget"] = [], [], [], None
    page = report_html.render(r)
    assert "Budget not measured" in page
    assert "make bench" in page
    assert "No fault ran" in page
    assert "<svg" not in page


def test_reproduce_strips_only_the_target_suffix() -> None:
    row = {"id": "scenarios/t.py::test_x[a-b][dev]", "target": "dev", "measurements": {}}
    assert report_html.node_id(row) == "scenarios/t.py::test_x[a-b]"
    assert report_html.reproduce(row).endswith("'scenarios/t.py::test_x[a-b]' --temporal dev")


def test_reproduce_runs_as_printed_with_the_services_and_level_of_the_run() -> None:
    row = {"id": "scenarios/t.py::test_x[dev]", "target": "dev", "measurements": {"chaos_seed": 7}}
    versions = {
        "zigflow_cmd": "/opt/zigflow --temporal {temporal_address}",
        "stigma_cmd": "reference (python -m reference_services.stigma)",
        "zigflow_level": "activity",
    }
    cmd = report_html.reproduce(row, versions)
    assert " -n 0 " in cmd
    assert "no:xdist" not in cmd  # -p no:xdist collides with the project's -n auto
    assert "--chaos-seed 7" in cmd
    assert "--zigflow-cmd '/opt/zigflow --temporal {temporal_address}'" in cmd
    assert "--stigma-cmd" not in cmd  # the reference is the default
    assert cmd.endswith("--zigflow-level activity")


def _traces() -> tuple[WorkflowTrace, StigmaTrace]:
    z = WorkflowTrace("zig", "run", started_at=0.0)
    z.activities.append(
        ActivitySpan("0-agent", "ExecuteAgent", 1.000, 1.002, 1.100, "completed", attempts=1)
    )
    z.task_started, z.task_completed = [0.001, 1.105], [0.990, 1.110]
    s = StigmaTrace("stigma-zig/run/0-agent", "r2", started_at=1.010, first_task_done_at=1.030)
    s.task_started, s.task_completed = [1.015, 1.065], [1.030, 1.070]
    s.activities += [
        ActivitySpan("1", "run_agent", 1.030, 1.031, 1.060, "completed", attempts=1),
        ActivitySpan("2", "complete_zigflow_activity", 1.070, 1.071, 1.080, "completed", 1),
    ]
    return z, s


def test_stages_add_up_to_the_overhead() -> None:
    z, s = _traces()
    sample = stages.handshake(z, "0-agent", s)
    assert sample is not None
    st = sample.stages_ms
    assert st["start_agent_rpc"] == pytest.approx(8.0)
    assert st["agent_work"] == pytest.approx(29.0)
    assert st["resume"] == pytest.approx(10.0)
    assert st["stigma_workflow_start.dispatch"] == pytest.approx(5.0)
    parts = [k for k in stages.HANDSHAKE_STAGES if k not in stages.NOT_OVERHEAD]
    assert sample.overhead_ms == pytest.approx(sum(st[k] for k in parts))
    assert sample.overhead_ms == pytest.approx(100.0 - 29.0)


def test_retried_or_open_handshakes_give_no_sample() -> None:
    z, s = _traces()
    z.activities[0].attempts = 2
    assert stages.handshake(z, "0-agent", s) is None
    assert stages.direct(z, "missing") is None


def test_budget_with_ten_in_flight_prefers_the_open_loop_row() -> None:
    from harness.report import report

    ok = [{"id": "s", "target": "dev", "outcome": "passed", "duration_s": 1.0}]
    overhead = {"n": 5, "p50": 30.0, "p99": 140.0, "target": "dev"}
    closed, open_ = _row(10, 300.0), {**_row(10, 60.0), "mode": "open"}
    verdict, reasons = report.verdict(ok, overhead, 100.0, [closed, open_])
    assert verdict == "pass", reasons
    assert any("open loop" in r and "<= 100 ms" in r for r in reasons)
    # the scenarios' own figure is shown, never judged
    assert any("not judged" in r and "140.0" in r for r in reasons)
    verdict, reasons = report.verdict(ok, overhead, 100.0, [closed])
    assert verdict == "fail"
    assert any("closed loop" in r and "exceeds" in r for r in reasons)
    verdict, reasons = report.verdict(ok, overhead, 100.0, [_row(1, 20.0)])
    assert verdict == "fail"
    assert any("budget not measured" in r for r in reasons)
    assert report.verdict(ok, overhead, 100.0, [])[0] == "fail"


# Reproducing a row certified against a cluster behind TLS (docs/how-to/tls-cluster.md).

CLUSTER = "temporal.example:7233"
FAKE_API_KEY = "hs-fake-api-key-3b9d"  # must appear in no rendering of the report


def _cluster_report(api_key: str = FAKE_API_KEY, namespace: str = "cert") -> dict[str, Any]:
    """The synthetic report as a run on time-skipping and a cluster with mTLS and an API
    key: one failure on each target, the connection recorded as certify records it."""
    from harness import tls
    from harness.report import report

    r = synthetic_report()
    r["targets"] = ["time-skipping", CLUSTER]
    cut = r["scenarios"][1]
    r["scenarios"] = [
        {
            **cut,
            "id": "scenarios/test_network.py::test_cut[time-skipping]",
            "target": "time-skipping",
        },
        {**cut, "id": f"scenarios/test_network.py::test_cut[{CLUSTER}]", "target": CLUSTER},
    ]
    used = tls.Connection(
        ca="/etc/handshake/ca.pem",
        cert="/etc/handshake/client.pem",
        key="/etc/handshake/client.key",
        server_name="temporal.internal",
        api_key=api_key,
    )
    r["connection"] = report.connection_used(used, namespace, r["targets"]).model_dump()
    return r


def test_a_cluster_row_reproduces_with_the_runs_namespace_and_tls_but_never_the_key() -> None:
    from harness import tls
    from harness.report import render
    from harness.report.model import CertificationReport

    doc = CertificationReport.model_validate(_cluster_report())
    assert doc.connection is not None
    assert doc.connection.model_dump() == {
        "namespace": "cert",
        "tls": True,
        "ca_path": "/etc/handshake/ca.pem",
        "cert_path": "/etc/handshake/client.pem",
        "key_path": "/etc/handshake/client.key",
        "server_name": "temporal.internal",
        "api_key_used": True,
    }
    on_ts, on_cluster = doc.scenarios
    cmd = render.reproduce(on_cluster, doc.versions, doc.connection)
    assert cmd == (
        ".venv/bin/python -m pytest -n 0 scenarios/test_network.py::test_cut "
        f"--temporal {CLUSTER} --namespace cert --temporal-tls "
        "--temporal-tls-ca /etc/handshake/ca.pem --temporal-tls-cert /etc/handshake/client.pem "
        "--temporal-tls-key /etc/handshake/client.key "
        "--temporal-tls-server-name temporal.internal --chaos-seed 1234"
    )
    # Every option it adds is the gate's own (harness/tls.py), and never the key's.
    options = {s.option for s in tls.SETTINGS} | {"--namespace"}
    added = cmd.split(f"--temporal {CLUSTER} ", 1)[1].split(" --chaos-seed", 1)[0].split()
    assert {a for a in added if a.startswith("--")} <= options - {"--temporal-api-key"}
    # A time-skipping row is as it was: the embedded servers speak plain text.
    assert render.reproduce(on_ts, doc.versions, doc.connection) == render.reproduce(
        on_ts, doc.versions
    )
    assert "--temporal-tls" not in render.reproduce(on_ts, doc.versions, doc.connection)

    md, page, json_text = render.markdown(doc), render.html(doc), doc.to_json()
    for text in (md, page, json_text):
        assert FAKE_API_KEY not in text
        assert "--temporal-api-key" not in text
    # Markdown and HTML print the cluster row's command, and say once where the key goes.
    assert f"from a checkout: `{cmd}`" in md
    assert "--temporal-tls-ca /etc/handshake/ca.pem" in page
    note = "the reproduce commands of its cluster rows expect it in"
    assert md.count(note) == 1
    assert f"{note} `HANDSHAKE_TEMPORAL_API_KEY`" in md
    assert page.count(note) == 1
    assert f"{note} <code>HANDSHAKE_TEMPORAL_API_KEY</code>" in page
    assert md.index(note) < md.index("reproduce: `handshake gate")
    assert page.index(note) < page.index("--temporal-tls-ca")
    # The environment says how the run connected (paths, names, that a key was sent).
    assert "namespace cert, TLS with CA /etc/handshake/ca.pem" in md
    assert "server name temporal.internal, with an API key" in page
    # handshake report re-renders the same commands from the JSON.
    again = render.markdown(CertificationReport.from_json(json_text))
    assert again == md


def test_no_key_note_without_a_key_and_the_default_namespace_is_not_repeated() -> None:
    from harness.report import render
    from harness.report.model import CertificationReport

    doc = CertificationReport.model_validate(_cluster_report(api_key="", namespace="default"))
    assert doc.connection is not None
    assert not doc.connection.api_key_used
    cmd = render.reproduce(doc.scenarios[1], doc.versions, doc.connection)
    assert "--namespace" not in cmd
    assert "--temporal-tls-ca /etc/handshake/ca.pem" in cmd
    for text in (render.markdown(doc), render.html(doc)):
        assert "HANDSHAKE_TEMPORAL_API_KEY" not in text


def test_a_report_without_a_connection_reproduces_as_before() -> None:
    """Reports written before ``connection`` was recorded still load (schema_version 2)
    and their commands carry no TLS option."""
    from harness.report import render
    from harness.report.model import CertificationReport

    r = _cluster_report()
    del r["connection"]
    doc = CertificationReport.model_validate(r)
    assert doc.connection is None
    assert render.reproduce(doc.scenarios[1], doc.versions, doc.connection).endswith(
        f"--temporal {CLUSTER} --chaos-seed 1234"
    )
    assert "HANDSHAKE_TEMPORAL_API_KEY" not in render.markdown(doc)


def test_the_connection_is_recorded_for_the_clusters_only() -> None:
    from harness import tls
    from harness.report import report

    used = tls.Connection(ca="ca.pem", api_key=FAKE_API_KEY)
    embedded = report.connection_used(used, "cert", ["time-skipping", "dev"])
    assert embedded.model_dump() == {
        "namespace": "cert",
        "tls": False,
        "ca_path": None,
        "cert_path": None,
        "key_path": None,
        "server_name": None,
        "api_key_used": False,
    }
    cluster = report.connection_used(used, "", ["dev", CLUSTER])
    assert (cluster.namespace, cluster.tls, cluster.ca_path) == ("default", True, "ca.pem")
    assert cluster.api_key_used
    assert FAKE_API_KEY not in cluster.model_dump_json()


def _between(page: str, start: str, end: str) -> str:
    i = page.index(start)
    return page[i : page.index(end, i)]


def test_the_environment_keeps_commands_out_of_the_version_column() -> None:
    from harness.report import render

    r = synthetic_report()
    command = "/opt/team/bin/zigflow --temporal {temporal_address}"
    r["versions"] |= {"zigflow_cmd": command, "stigma_cmd": "java -jar stigma.jar"}
    r["versions"] |= {"zigflow_level": "activity", "pairing": "custom"}
    page, md = report_html.render(r), render.markdown(r)
    versions = _between(page, "<th>component</th><th>version</th>", "</table>")
    assert "3.11" in versions
    for text in ("zigflow_cmd", "/opt/team/bin/zigflow", "java -jar", "activity"):
        assert text not in versions, text
    commands = _between(page, "<th>service or setting</th><th>command or value</th>", "</table>")
    assert "<td>Zigflow</td><td><code>/opt/team/bin/zigflow --temporal {temporal_address}" in (
        commands
    )
    assert "<td>Stigma</td><td><code>java -jar stigma.jar</code>" in commands
    assert "<td>Zigflow level</td><td>activity</td>" in commands
    md_versions = _between(md, "| component | version |", "\n\n")
    assert "zigflow" not in md_versions
    assert "| Zigflow | `/opt/team/bin/zigflow --temporal {temporal_address}` |" in md


def test_the_judged_budget_and_the_not_judged_figures_are_apart_and_labelled() -> None:
    from harness.report import render

    r = synthetic_report()
    r["overhead_by_target"]["dev"]["p99"] = 152.0
    page, md = report_html.render(r), render.markdown(r)
    latency = _between(page, '<section id="latency"', "</section>")
    judged = _between(latency, '<p class="judged">', "</p>")
    assert "judged</span> Budget: p99 <strong>180.0 ms</strong>" in judged
    assert "152.0" not in judged
    # the scenarios' figure comes after every concurrency figure, under its own label
    not_judged = latency.index("Not judged: overhead in the scenarios")
    assert latency.index("152.0") > not_judged > latency.rindex("<svg")
    assert latency.index('<span class="tag">not judged</span>') > not_judged
    assert "**Judged** — budget: p99 **180.0 ms**" in md
    assert md.index("### Concurrency") < md.index("### Not judged: overhead in the scenarios")
    assert md.index("### Not judged") < md.index("| 152.0 |")


def test_a_time_skipping_cell_run_on_a_dev_server_says_so_and_why() -> None:
    r = synthetic_report()
    r["scenarios"][0] |= {"id": "scenarios/test_restarts.py::test_kill[time-skipping]",
                          "target": "time-skipping", "server": "dev"}  # fmt: skip
    page = report_html.render(r)
    assert "ran on a dev server &dagger;" in page
    assert "<small>on dev</small>" not in page
    assert "runs on a real (dev) server even in a time-skipping column" in page


def test_legends_and_labels_never_overlap_nor_lose_a_scenarios_parameters() -> None:
    from harness.report import svg

    stages = ("zigflow_dispatch", "agent_end_to_completion_call", "completion_call", "x")
    chart = svg.stacked_bars([("open 10", dict.fromkeys(stages, 5.0))], stages, "t")
    keys = re.findall(r'<text x="([\d.]+)" y="([\d.]+)">([a-z_]+)</text>', chart)
    assert [k[2] for k in keys] == list(stages)
    by_row: dict[str, list[tuple[float, str]]] = {}
    for x, y, name in keys:
        by_row.setdefault(y, []).append((float(x), name))
    for row in by_row.values():
        for (x0, name), (x1, _) in itertools.pairwise(sorted(row)):
            assert x1 - x0 >= len(name) * svg.CHAR_W, (name, x0, x1)
    label = (
        "test_toxic_on_a_link_keeps_every_call_exactly_once"
        "[zigflow_temporal-bandwidth-downstream] [time-skipping]"
    )
    timeline = svg.timeline([(label, [("toxic:bandwidth", 0.5, 2.0)]),
                             ("test_kill [dev]", [("kill:SIGKILL", 1.0, 1.1)])], "t")  # fmt: skip
    shown = svg.short_label(label, 76)
    assert len(shown) <= 76
    assert shown.startswith("test_toxic_on_a_link")
    assert shown.endswith("[zigflow_temporal-bandwidth-downstream] [time-skipping]")
    assert f">{shown}</text>" in timeline
    # the label's right edge is at the plot; its room starts right of the SVG's edge
    first = re.search(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="end"><title>', timeline)
    assert first is not None
    assert float(first.group(1)) >= 76 * svg.CHAR_W
    # every kind of fault is named in the legend, with its bars' colour
    for kind in ("toxic:bandwidth", "kill:SIGKILL"):
        color = re.search(rf'fill="(#[0-9a-f]+)" opacity="0.8"><title>{kind}:', timeline)
        assert color is not None
        assert f'fill="{color.group(1)}"/><text x=' in timeline
        assert f">{kind}</text>" in timeline


def test_the_banner_lists_the_junit_file_of_every_run() -> None:
    data = synthetic_report()
    runs = [
        {
            "label": label,
            "target": label.rsplit(":", 1)[-1],
            "pairing": pairing,
            "primary": pairing == "python-python",
            "command": ["pytest"],
            "exit_code": 0,
            "results": f"results/{label}",
            "junit": f"junit-{label.replace(':', '-')}.xml",
        }
        for label, pairing in (("dev", "python-python"), ("go-java:time-skipping", "go-java"))
    ]
    page = report_html.render({**data, "runs": runs})
    for run in runs:
        assert f"<code>{run['junit']}</code>" in page


def test_both_views_of_a_payload_limit_case_are_side_by_side() -> None:
    from harness.report import render

    report = synthetic_report()
    report["corruption"] = [
        {
            "class": "payload_limit/result_over_limit",
            "server": "dev",
            "expected": "stigma: result_too_large; zigflow: failed ResultTooLarge",
            "examples": 2,
            "observed": {
                "stigma: delivered; zigflow: failed ServerError": 1,
                "stigma: result_too_large; zigflow: failed ResultTooLarge": 1,
            },
            "scenario_outcomes": {"failed": 2},
        },
        {
            "class": "payload_limit/start_agent_input_over_grpc",
            "server": "dev",
            "expected": "refused",
            "examples": 1,
            "observed": {"stigma: RESOURCE_EXHAUSTED": 1},
            "scenario_outcomes": {"passed": 1},
        },
    ]
    rows = render.side_by_side(render.as_report(report))
    assert [(v.stigma, v.zigflow, v.count) for v in rows] == [
        ("delivered", "failed ServerError", 1),
        ("result_too_large", "failed ResultTooLarge", 1),
        ("RESOURCE_EXHAUSTED", "-", 1),
    ]
    md = render.markdown(report)
    assert "| payload_limit/result_over_limit | dev | delivered | failed ServerError | 1 |" in md
    assert 'id="side-by-side"' in render.html(report)
