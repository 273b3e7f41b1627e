"""The docs site (docs/, mkdocs.yml) says what the code does.

Generated pages are regenerated and compared (scripts/docs_gen.py); every environment
variable the harness reads and every make variable is documented; every `make X` and
`handshake X` a page shows exists; every alert runbook is in the site's navigation;
the benchmarks page generator and the offline check work on synthetic input. The site
itself is built by `make docs` (mkdocs build --strict), which `make test` runs first.
"""

from __future__ import annotations

import functools
import json
import os
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


def test_every_placeholder_is_in_the_contract_page() -> None:
    from harness.config import PLACEHOLDERS

    page = (DOCS / "reference" / "contract.md").read_text()
    missing = [p for p in PLACEHOLDERS if f"`{{{p}}}`" not in page]
    assert not missing, f"placeholders not in docs/reference/contract.md: {missing}"


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


def test_every_handshake_command_is_in_the_cli_page() -> None:
    table = (DOCS / "reference" / "cli.md").read_text().split("## Options", 1)[0]
    missing = [name for name in cli.COMMANDS if f"| `handshake {name}" not in table]
    assert not missing, f"commands not in docs/reference/cli.md's table: {missing}"


def test_every_alert_runbook_is_in_the_site() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for book in (ROOT / "reports" / "runbooks").glob("*.md"):
        assert f"operations/runbooks/{book.name}" in nav, f"{book.name} is not in mkdocs.yml's nav"


# -- names a page gives of the code: modules, commands, options -------------------------

README = ROOT / "README.md"
# `harness/x/y.py`, `harness/x/` (a path) or `harness.x.y` (a module, then attributes);
# not `handshake-harness` (the package) nor `harness` alone.
MODULE_RE = re.compile(r"(?<![\w./-])harness(?:/[\w./-]*[\w/]|(?:\.[A-Za-z_]\w*)+)")
# What runs a handshake command in a page: `handshake X`, `python -m harness.cli X`, the
# modules behind them, pytest on the scenarios (the gate), and the Makefile's *_ARGS.
RUNNERS = (
    (re.compile(r"(?:^|[\s`(/])handshake ([a-z][a-z-]*)"), None),
    (re.compile(r"python -m harness\.cli ([a-z][a-z-]*)"), None),
    (re.compile(r"python -m harness\.certify\b"), "certify"),
    (re.compile(r"python -m harness\.measure\.bench\b"), "bench"),
    (re.compile(r"python -m harness\.load\.run\b"), "load"),
    (re.compile(r"(?:^|[\s`/])(?:python -m )?pytest\b"), "gate"),
    (re.compile(r"\b(?:REHEARSAL_)?CERTIFY_ARGS=\"([^\"]*)\""), "certify"),
    (re.compile(r"\bBENCH_ARGS=\"([^\"]*)\""), "bench"),
    (re.compile(r"\bLOAD_ARGS=\"([^\"]*)\""), "load"),
    (re.compile(r"\bPYTEST_ARGS=\"([^\"]*)\""), "gate"),
)
OPTION_RE = re.compile(r"(?<![\w-])(--[a-z][a-z0-9_-]*)")


def _doc_pages() -> dict[str, str]:
    pages = {str(p.relative_to(ROOT)): t for p, t in _pages().items()}
    pages["README.md"] = README.read_text()
    return pages


def module_gaps(name: str) -> str | None:
    """Why a page's ``harness/...`` path or ``harness.x.y`` name names nothing (None: it
    exists): a path is a file or directory of the checkout; a dotted name is a module,
    then attributes of it (``harness.waits.eventually``)."""
    import importlib
    import importlib.util

    if "/" in name:
        return None if (ROOT / name).exists() else f"no such path {name}"
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        if found is None:
            continue
        obj: object = importlib.import_module(module)
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return f"{module} has no {attr!r}"
            obj = getattr(obj, attr)
        return None
    return f"no module {name}"


def _code_lines(text: str) -> list[str]:
    """Each command a page shows: a code block's logical lines (continuations joined)
    and each inline code span."""
    lines: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        lines += block.replace("\\\n", " ").splitlines()
    lines += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return lines


@functools.cache
def command_options() -> dict[str, set[str]]:
    """Every `--option` each handshake command takes, from its own ``--help`` (the gate:
    pytest's whole help with the harness's plugin loaded)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDSHAKE_", "LOAD_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "proto" / "gen" / "python")])

    def help_text(argv: list[str]) -> str:
        run = subprocess.run(
            [sys.executable, *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
        )
        return run.stdout + run.stderr

    from concurrent.futures import ThreadPoolExecutor

    argvs = {name: ["-m", "harness.cli", name, "--help"] for name in cli.COMMANDS if name != "gate"}
    argvs["gate"] = cli.gate_command(["--help"])[1:]
    with ThreadPoolExecutor(4) as pool:
        texts = dict(zip(argvs, pool.map(help_text, argvs.values()), strict=True))
    return {name: set(OPTION_RE.findall(text)) for name, text in texts.items()}


def option_gaps(pages: dict[str, str], options: dict[str, set[str]]) -> list[str]:
    """Each `handshake X ... --opt` (or the same through pytest, python -m or a make
    *_ARGS) in a page whose X is no command or does not take --opt."""
    gaps: list[str] = []
    for page, text in pages.items():
        for line in _code_lines(text):
            spans = []
            for pattern, fixed in RUNNERS:
                for m in pattern.finditer(line):
                    # a make variable's value is the command's arguments
                    args = m.group(1) if fixed and pattern.groups else None
                    spans.append((m.start(), m.end(), fixed or m.group(1), args))
            spans.sort()
            for i, (_, stop, command, args) in enumerate(spans):
                if command not in options:
                    gaps.append(f"{page}: `handshake {command}` is no command")
                    continue
                upto = spans[i + 1][0] if i + 1 < len(spans) else len(line)
                text = line[stop:upto] if args is None else args
                # a quoted argument is the user's own (a --zigflow-cmd's command line)
                words = re.sub(r'"[^"]*"|\'[^\']*\'', " ", text)
                for option in OPTION_RE.findall(words):
                    if option not in options[command]:
                        gaps.append(f"{page}: `handshake {command}` has no {option}")
    return gaps


# Options of other programs a page names in prose: Locust's, the Temporal CLI's and test
# server's, buf's, kubectl's, protoc's.
OTHER_PROGRAMS_OPTIONS = {
    "--headless", "--master", "--master-host", "--worker", "--expect-workers", "--processes",
    "--workflow-id", "--enable-time-skipping", "--error-format", "--replicas", "--go_opt",
}  # fmt: skip


def test_every_option_a_page_names_in_prose_exists() -> None:
    """A `--option` in a page's prose is one of a handshake command's, of a reference
    service's (their own --help) or of another program the page names."""
    import subprocess

    known = set().union(*command_options().values()) | OTHER_PROGRAMS_OPTIONS
    # Deprecated spellings still work (with a note) and are named where the page says so.
    known |= {s.option for s in setting_names.SETTINGS if s.alias_of and s.option}
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'proto' / 'gen' / 'python'}"}
    for service in ("reference_services.zigflow", "reference_services.stigma"):
        run = subprocess.run(
            [sys.executable, "-m", service, "--help"], capture_output=True, text=True, env=env
        )
        known |= set(OPTION_RE.findall(run.stdout))
    gaps = [
        f"{page}: {option}"
        for page, text in _doc_pages().items()
        for span in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
        for option in OPTION_RE.findall(span)
        if option not in known
    ]
    assert gaps == [], "pages name options nothing takes:\n" + "\n".join(gaps)


def test_every_module_a_page_names_exists() -> None:
    gaps = [
        f"{page}: {why}"
        for page, text in _doc_pages().items()
        for name in dict.fromkeys(m.rstrip(".") for m in MODULE_RE.findall(text))
        if (why := module_gaps(name))
    ]
    assert gaps == [], "pages name code that does not exist:\n" + "\n".join(gaps)
    # and a renamed module would be caught
    assert module_gaps("harness/stack/topolgy.py")
    assert module_gaps("harness.stack.topolgy")
    assert module_gaps("harness.waits.eventualy")


def test_every_command_and_option_a_page_shows_exists() -> None:
    options = command_options()
    assert "--zigflow-cmd" in options["gate"]
    assert "--bench-levels" in options["certify"]
    gaps = option_gaps(_doc_pages(), options)
    assert gaps == [], "pages show commands or options that do not exist:\n" + "\n".join(gaps)
    # and a renamed option would be caught
    bad = {"x.md": "```sh\nhandshake certify --bench-level 1,10\n```\n"}
    assert option_gaps(bad, options) == ["x.md: `handshake certify` has no --bench-level"]


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
                "cpu_ms_per_handshake": {"harness": 3.5, "services": 95.0},
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
    assert "| 8.8 | 0 | 3.5 / 95.0 | 274 / 84 / 85 |" in page  # the harness's CPU per handshake
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


def test_the_benchmarks_page_keeps_its_figures_without_a_run(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "certification.json"
    source.write_text(json.dumps(_synthetic()))
    out = tmp_path / "benchmarks.md"
    assert bench_page.main([str(source), "--out", str(out)]) == 0
    before = out.read_text()
    monkeypatch.setattr(bench_page, "CANDIDATES", (tmp_path / "none.json",))
    assert bench_page.main(["--out", str(out)]) == 0
    assert out.read_text() == before  # a checkout without a run wipes nothing


def test_the_committed_benchmarks_page_is_generated() -> None:
    page = (DOCS / "benchmarks.md").read_text()
    assert "Generated by `scripts/bench_page.py`" in page
    assert "No figures yet" not in page
    # the hand-measured durations come from docs/_measured.json, as rendered
    assert bench_page.measured(bench_page.MEASURED).strip() in page
    assert "## How long things take" in page


def test_the_benchmarks_page_renders_the_measured_file(tmp_path: pathlib.Path) -> None:
    measured = tmp_path / "measured.json"
    measured.write_text(
        json.dumps({"timings": {"measured": "2026-01-02, here", "rows": [["the gate", "90 s"]]}})
    )
    source = tmp_path / "certification.json"
    source.write_text(json.dumps(_synthetic()))
    out = tmp_path / "benchmarks.md"
    assert bench_page.main([str(source), "--out", str(out), "--measured", str(measured)]) == 0
    page = out.read_text()
    assert "Measured 2026-01-02, here." in page
    assert "| the gate | 90 s |" in page


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
    top-level directory, each sub-directory under it, each module (``x.py``) under the
    directory whose lines name it (continuation lines, indented deeper, included)."""
    block = page.split("## Architecture", 1)[1].split("```", 2)[1]
    missing: list[str] = []
    top = here = ROOT
    indent = 0
    for line in block.splitlines():
        found = re.match(r"^([\w/]+/)", line)
        if found:  # harness/, scenarios/, proto/stigma/v1/ ...
            top = here = ROOT / found.group(1)
            if not top.is_dir():
                missing.append(found.group(1))
            continue
        depth = len(line) - len(line.lstrip())
        sub = re.match(r"^\s+([\w]+/)\s", line)
        if sub:  # a directory under it: its modules are named on its lines
            here, indent = top / sub.group(1), depth
            if not here.is_dir():
                missing.append(f"{here.relative_to(ROOT)}/")
        elif depth <= indent:  # a line of the top directory's own modules
            here, indent = top, depth
        for module in re.findall(r"\b\w+\.py\b", line):
            if not any(here.rglob(module)):
                missing.append(f"{here.relative_to(ROOT)}/.../{module}")
    return missing


def test_the_architecture_names_only_modules_that_exist() -> None:
    page = (ROOT / "docs" / "index.md").read_text()
    assert architecture_gaps(page) == [], "docs/index.md names what does not exist"
    # and a renamed module would be caught
    assert architecture_gaps(page.replace("topology.py", "topolgy.py")) == [
        "harness/stack/.../topolgy.py"
    ]
    # and a module named under the wrong directory
    assert architecture_gaps(page.replace("network.py, tamper.py", "driver.py, tamper.py")) == [
        "harness/links/.../driver.py"
    ]
