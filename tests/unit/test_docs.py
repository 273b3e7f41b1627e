"""The docs site (docs/, mkdocs.yml) says what the code does.

Generated pages are regenerated and compared (scripts/docs_gen.py); every environment
variable the harness reads and every make variable is documented; every `make X` and
`handshake X` a page shows exists; every alert runbook is in the site's navigation;
the benchmarks page generator and the offline check work on synthetic input. The site
itself is built by `make docs` (mkdocs build --strict), which `make test` runs first.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import pytest

from harness import cli, setting_names

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT / "scripts"))

import bench_page  # noqa: E402
import check_site_offline  # noqa: E402
import docs_gen  # noqa: E402


def _pages() -> dict[pathlib.Path, str]:
    return {p: p.read_text() for p in DOCS.rglob("*.md")}


def test_generated_pages_are_up_to_date() -> None:
    assert docs_gen.stale() == [], "docs are stale: run `make docs-gen`"


def test_the_contract_page_has_the_contract_tables() -> None:
    from harness import contract

    page = (DOCS / "reference" / "contract.md").read_text()
    assert contract.markdown().strip() in page


def test_every_environment_variable_the_harness_reads_is_documented() -> None:
    cli_page = (DOCS / "reference" / "cli.md").read_text()
    constants = {"HANDSHAKE_STAGES"}  # a tuple in harness/observe/stages.py, not a variable
    constants |= setting_names.TEST_ONLY  # the project's own test knobs, not the harness's
    names = [n for n in docs_gen.env_candidates() if not n.endswith("_") and n not in constants]
    assert len(names) > 30
    missing = [n for n in names if f"`{n}`" not in cli_page]
    assert not missing, f"not in docs/reference/cli.md: {missing}"


def test_every_make_variable_is_documented() -> None:
    makefile = (ROOT / "Makefile").read_text()
    variables = re.findall(r"^([A-Z_]+) \?=", makefile, re.M)
    cli_page = (DOCS / "reference" / "cli.md").read_text()
    missing = [v for v in variables if f"`{v}`" not in cli_page]
    assert not missing, f"make variables not in docs/reference/cli.md: {missing}"


def _subcommands(text: str, program: str) -> list[str]:
    """What follows `program` in code: a code block's line or a `span` that runs it."""
    code = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    lines = [line for block in code for line in block.splitlines()]
    lines += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    found = (re.match(rf"\s*(?:\S*/)?{program} ([a-z][a-z0-9-]*)\b", line) for line in lines)
    return [m.group(1) for m in found if m]


def test_every_make_target_and_handshake_command_shown_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.M))
    for page, text in _pages().items():
        for target in _subcommands(text, "make"):
            assert target in targets, f"{page.relative_to(ROOT)}: `make {target}` is no target"
        for command in _subcommands(text, "handshake"):
            assert command in cli.COMMANDS, f"{page.relative_to(ROOT)}: `handshake {command}`"


def test_every_alert_runbook_is_in_the_site() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for book in (ROOT / "reports" / "runbooks").glob("*.md"):
        assert f"operations/runbooks/{book.name}" in nav, f"{book.name} is not in mkdocs.yml's nav"


def test_the_readme_draft_is_short_and_points_at_the_docs() -> None:
    draft = (DOCS / "_readme_draft.md").read_text()
    assert len(draft.splitlines()) <= 150
    for needed in ("make certify", "make test", "docs/"):
        assert needed in draft


def _synthetic() -> dict[str, object]:
    return {
        "schema_version": 3,
        "generated_at": "2026-01-02T03:04:05+00:00",
        "verdict": "pass",
        "budget_ms": 100,
        "budget": {"level": 10, "mode": "open", "n": 110, "p99": 42.25, "within": True},
        "versions": {"git_sha": "abc123def456"},
        "machine": {"cpus": 2, "cpu_model": "Test CPU", "platform": "Linux-x", "python": "3.11"},
        "bench": {"generated_at": "2026-01-02T03:00:00+00:00", "target": "dev", "server": "s 1"},
        "concurrency": [
            {
                "level": 10,
                "mode": "open",
                "n": 110,
                "p50": 23.5,
                "p95": 30.0,
                "p99": 42.25,
                "p999": 44.0,
                "max": 44.0,
                "baseline_p50_ms": 3.4,
                "baseline_p99_ms": 12.7,
                "ratio_p99": 3.3,
                "throughput_per_s": 8.8,
                "errors": 0,
                "peak_rss_mb": {"temporal": 274.0, "zigflow": 84.0, "stigma": 85.0},
                "stages_p50_ms": {"start_agent_rpc": 4.8, "completion_call": 2.8},
            }
        ],
    }


def test_the_benchmarks_page_shows_date_machine_commit_and_each_row(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "certification.json"
    source.write_text(json.dumps(_synthetic()))
    out = tmp_path / "benchmarks.md"
    assert bench_page.main([str(source), "--out", str(out)]) == 0
    page = out.read_text()
    assert "2026-01-02T03:00:00+00:00" in page  # when the figures were measured
    assert "`abc123def456`" in page
    assert "2 CPUs, Test CPU" in page
    assert "| open | 10 | 110 | 23.5 | 30.0 | 42.2 |" in page
    assert "p99 42.2 ms (n=110) against 100 ms: within" in page
    assert "`start_agent_rpc`" in page
    assert "| 4.8 | 2.8 |" in page


def test_the_benchmarks_page_without_figures_says_how_to_make_them(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_page, "CANDIDATES", (tmp_path / "none.json",))
    out = tmp_path / "benchmarks.md"
    assert bench_page.main(["--out", str(out)]) == 0
    assert "Run `make certify`" in out.read_text()


def test_the_committed_benchmarks_page_is_generated() -> None:
    page = (DOCS / "benchmarks.md").read_text()
    assert page == bench_page.EMPTY or "Generated by `scripts/bench_page.py`" in page


def test_the_offline_check_finds_an_external_asset(tmp_path: pathlib.Path) -> None:
    (tmp_path / "index.html").write_text(
        '<a href="https://example.org/">a link is fine</a>'
        '<svg xmlns="http://www.w3.org/2000/svg"></svg>'
    )
    assert check_site_offline.main([str(tmp_path)]) == 0
    (tmp_path / "page.html").write_text(
        '<script src="https://unpkg.com/mermaid.js"></script>'
        '<link rel="stylesheet" href="//fonts.googleapis.com/css">'
    )
    (tmp_path / "a.css").write_text("@import url(https://fonts.example/x.css);")
    bad = check_site_offline.external_assets(tmp_path)
    assert len(bad) == 3, bad
    assert check_site_offline.main([str(tmp_path)]) == 1


def architecture_gaps(page: str) -> list[str]:
    """What docs/index.md's map of the code names and the checkout does not have: each
    top-level directory, each sub-directory under it, each module (``x.py``) somewhere
    under its top-level directory."""
    block = page.split("## Architecture", 1)[1].split("```", 2)[1]
    missing: list[str] = []
    top = ROOT
    for line in block.splitlines():
        found = re.match(r"^([\w/]+/)", line)
        if found:  # harness/, scenarios/, proto/stigma/v1/ ...
            top = ROOT / found.group(1)
            if not top.is_dir():
                missing.append(found.group(1))
            continue
        sub = re.match(r"^\s+([\w]+/)\s", line)
        if sub and not (top / sub.group(1)).is_dir():
            missing.append(f"{top.relative_to(ROOT)}/{sub.group(1)}")
        for module in re.findall(r"\b\w+\.py\b", line):
            if not any(top.rglob(module)):
                missing.append(f"{top.relative_to(ROOT)}/.../{module}")
    return missing


def test_the_architecture_names_only_modules_that_exist() -> None:
    page = (ROOT / "docs" / "index.md").read_text()
    assert architecture_gaps(page) == [], "docs/index.md names what does not exist"
    # and a renamed module would be caught
    assert architecture_gaps(page.replace("topology.py", "topolgy.py")) == [
        "harness/.../topolgy.py"
    ]
