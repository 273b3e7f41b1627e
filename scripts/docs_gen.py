"""Regenerate the generated parts of the docs site from the code they describe.

    python scripts/docs_gen.py           rewrite every generated region in docs/
    python scripts/docs_gen.py --check   exit 1 naming each stale region (what the
                                         unit test tests/unit/test_docs.py runs)

A region sits between ``<!-- gen:NAME:begin -->`` and ``<!-- gen:NAME:end -->`` in a
page (the contract keeps README's ``<!-- contract:begin/end -->`` markers and
scripts/contract_docs.py). What each region is made from:

- ``docs/reference/contract.md``: ``harness.contract.markdown()``;
- ``docs/reference/cli.md``: the options of every command, read from the argparse
  parsers themselves (``harness.certify``, ``harness.measure.bench``, ``harness.load.run``,
  ``handshake report`` / ``doctor``) and from the pytest plugin's ``pytest_addoption``,
  with the environment's ``HANDSHAKE_*`` / ``LOAD_*`` / ``TEMPORAL_*`` variables
  cleared so the defaults are the shipped ones; and the config file's keys, from the
  settings registry ``harness/setting_names.py``;
- ``docs/reference/report.md``: the report model, ``harness/report/model.py``;
- ``docs/reference/observability.md``: the alert rules of
  ``reports/observability/alerts.yml``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pathlib
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DOCS = ROOT / "docs"
ENV_PREFIXES = ("HANDSHAKE_", "LOAD_", "TEMPORAL_")


def begin(name: str) -> str:
    return f"<!-- gen:{name}:begin -->"


def end(name: str) -> str:
    return f"<!-- gen:{name}:end -->"


@contextlib.contextmanager
def shipped_defaults() -> Iterator[None]:
    """Without the caller's HANDSHAKE_* / LOAD_* / TEMPORAL_* variables (defaults read them)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
    for k in saved:
        del os.environ[k]
    try:
        yield
    finally:
        os.environ.update(saved)


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


def capture_parser(build: Callable[[], Any]) -> argparse.ArgumentParser:
    """The parser a ``main()`` builds, taken at its ``parse_args`` (nothing after it runs)."""
    original = argparse.ArgumentParser.parse_args

    def grab(self: argparse.ArgumentParser, *a: Any, **kw: Any) -> Any:
        raise _Captured(self)

    argparse.ArgumentParser.parse_args = grab  # type: ignore[assignment,method-assign]
    try:
        build()
    except _Captured as got:
        return got.parser
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
    raise RuntimeError(f"{build!r} never parsed its arguments")


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(value: object) -> str:
    if value is None or value is argparse.SUPPRESS or value in ("", [], [""]):
        return ""
    if isinstance(value, list):
        value = ",".join(map(str, value))
    return f"`{_cell(value)}`"


ENV_RE = re.compile(r"\b(?:HANDSHAKE|LOAD|TEMPORAL)_[A-Z0-9_]+\b")
SENTINEL = "7777"


def env_candidates() -> list[str]:
    """Every HANDSHAKE_* / LOAD_* / TEMPORAL_* name the harness's code mentions."""
    names: set[str] = set()
    for path in (ROOT / "harness").rglob("*.py"):
        names.update(ENV_RE.findall(path.read_text()))
    return sorted(names)


def _defaults(read: Callable[[], dict[str, object]], var: str) -> dict[str, object] | None:
    os.environ[var] = SENTINEL
    try:
        # A deprecated name set on purpose here: its notice is the user's, not the docs'.
        with contextlib.redirect_stderr(io.StringIO()):
            return read()
    except Exception:  # a variable this command parses differently: not its own
        return None
    finally:
        del os.environ[var]


def env_by_option(read: Callable[[], dict[str, object]]) -> dict[str, list[str]]:
    """Which variables set which option's default: set each to a sentinel, see what moves."""
    with shipped_defaults():
        base = read()
        found: dict[str, list[str]] = {}
        for var in env_candidates():
            now = _defaults(read, var)
            for key, value in (now or {}).items():
                if value != base.get(key):
                    found.setdefault(key, []).append(var)
    return found


def _env_cell(help_text: str, found: list[str]) -> str:
    names = [*found, *ENV_RE.findall(help_text)]
    return ", ".join(f"`{n}`" for n in dict.fromkeys(names))


def parser_table(build: Callable[[], Any]) -> str:
    with shipped_defaults():
        parser = capture_parser(build)

    def read() -> dict[str, object]:
        got = capture_parser(build)
        return {a.dest: a.default for a in got._actions}

    envs = env_by_option(read)
    rows = ["| option | default | environment | meaning |", "|---|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.dest}`"
        if action.choices:
            name += " (" + " \\| ".join(f"`{c}`" for c in action.choices if c != "") + ")"
        help_text = action.help or ""
        if help_text == argparse.SUPPRESS:  # an old spelling (harness.settings.Deprecated)
            help_text = f"deprecated: use `{getattr(action, 'use', '?')}`"
        rows.append(
            f"| {name} | {_default(action.default)} "
            f"| {_env_cell(help_text, envs.get(action.dest, []))} | {_cell(help_text)} |"
        )
    return "\n".join(rows)


class _Group:
    """Stands in for pytest's option group: records ``addoption`` calls."""

    def __init__(self) -> None:
        self.options: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def addoption(self, *names: str, **kw: Any) -> None:
        self.options.append((names, kw))


class _Parser:
    def __init__(self) -> None:
        self.group = _Group()

    def getgroup(self, *_: Any, **__: Any) -> _Group:
        return self.group

    def addini(self, *_: Any, **__: Any) -> None:
        pass


def pytest_options_table() -> str:
    from harness import pytest_plugin

    def record() -> _Parser:
        fake = _Parser()
        pytest_plugin.pytest_addoption(fake)  # type: ignore[arg-type]
        return fake

    def read() -> dict[str, object]:
        return {names[0]: kw.get("default") for names, kw in record().group.options}

    envs = env_by_option(read)
    with shipped_defaults():
        fake = record()
    rows = ["| option | default | environment | meaning |", "|---|---|---|---|"]
    for names, kw in fake.group.options:
        name = ", ".join(f"`{n}`" for n in names)
        help_text = kw.get("help", "")
        rows.append(
            f"| {name} | {_default(kw.get('default'))} "
            f"| {_env_cell(help_text, envs.get(names[0], []))} "
            f"| {_cell(help_text)} |"
        )
    return "\n".join(rows)


def _cli_parsers() -> list[tuple[str, Callable[[], Any]]]:
    from harness import certify, cli, settings
    from harness.load import run
    from harness.measure import bench

    return [
        ("handshake certify (python -m harness.certify, make certify)", lambda: certify.main([])),
        ("handshake bench (python -m harness.measure.bench, make bench)", lambda: bench.main([])),
        (
            "handshake load (python -m harness.load.run, make load)",
            lambda: run.parse_args([], settings.environ()),
        ),
        ("handshake report", lambda: cli.COMMANDS["report"][0]([])),
        ("handshake up", lambda: cli.COMMANDS["up"][0]([])),
        ("handshake target", lambda: cli.COMMANDS["target"][0]([])),
    ]


def cli_reference() -> str:
    out = [
        "### handshake gate (pytest options, group `handshake`)",
        "",
        "`handshake gate` passes every argument to pytest; these are the harness's own.",
        "",
        pytest_options_table(),
        "",
    ]
    for title, build in _cli_parsers():
        out += [f"### {title}", "", parser_table(build), ""]
    return "\n".join(out).rstrip() + "\n"


def config_keys() -> str:
    """The keys a [tool.handshake] table or a handshake.toml may hold: the registry's
    settings the file can set (harness/setting_names.py; the file is checked against it)."""
    from harness import setting_names

    rows = ["| key | value | environment | meaning |", "|---|---|---|---|"]
    for s in setting_names.SETTINGS:
        if s.in_file:
            kind = setting_names.KIND_TEXT[s.kind] + (", a secret" if s.secret else "")
            # The harness's name first; the Temporal CLI's names apply when it is unset.
            env = ", ".join(f"`{n}`" for n in (s.env, *s.temporal_envs))
            meaning = s.help
            if s.alias_of is not None:
                new = setting_names.BY_ENV[s.alias_of]
                meaning = f"{s.help}; write `{new.name}` (`{new.env}`)"
            rows.append(f"| `{s.name}` | {kind} | {env} | {_cell(meaning)} |")
    unread = ", ".join(f"`{n}`" for n in setting_names.CLI_NAMES_UNREAD)
    rows += [
        "",
        f"Temporal CLI variables the harness does not read: {unread}. When one is set, the "
        "run's sources line names it as not read.",
    ]
    return "\n".join(rows) + "\n"


def report_fields() -> str:
    """The field reference, from the report model (harness/report/model.py) through the
    JSON Schema it generates: the same source as harness/report/schemas/."""
    from harness.report.model import field_reference

    files = (
        "Files next to certification.json: certification.md, certification.html "
        "(self-contained: verdict, scenario grid with reproduce commands, latency plots as "
        "inline SVG, fault timeline, environment; harness/report/templates/), junit-<target>.xml "
        "per target, and bench.json (the raw figures of the budget run) when there were "
        "some. The JSON Schema: harness/report/schemas/certification.schema.json (in the package)."
    )
    return field_reference() + "\n" + files + "\n"


def alerts_table() -> str:
    """One row per rule of reports/observability/alerts.yml."""
    text = (ROOT / "reports" / "observability" / "alerts.yml").read_text()
    rows = ["| alert | for | severity | summary | runbook |", "|---|---|---|---|---|"]
    for rule in re.split(r"\n\s*- alert: ", text)[1:]:
        name = rule.split("\n", 1)[0].strip()

        def field(key: str, rule: str = rule) -> str:
            m = re.search(rf"^\s*{key}:\s*(.+)$", rule, re.M)
            return m.group(1).strip().strip('"') if m else ""

        book = field("runbook_url")
        link = f"[{pathlib.Path(book).stem}](../operations/runbooks/{pathlib.Path(book).name})"
        rows.append(
            f"| `{name}` | {field('for')} | {field('severity')} "
            f"| {_cell(field('summary'))} | {link if book else ''} |"
        )
    return "\n".join(rows) + "\n"


def regions() -> dict[pathlib.Path, dict[str, Callable[[], str]]]:
    return {
        DOCS / "reference" / "cli.md": {"cli": cli_reference, "config-keys": config_keys},
        DOCS / "reference" / "report.md": {"report-fields": report_fields},
        DOCS / "reference" / "observability.md": {"alerts": alerts_table},
    }


def _contract_page() -> tuple[pathlib.Path, str, str]:
    from harness import contract

    sys.path.insert(0, str(ROOT / "scripts"))
    import contract_docs

    return DOCS / "reference" / "contract.md", contract_docs.BEGIN, contract.markdown().strip()


def replace(text: str, b: str, e: str, body: str) -> str:
    if b not in text or e not in text:
        raise ValueError(f"no {b} ... {e} markers")
    head, rest = text.split(b, 1)
    _, tail = rest.split(e, 1)
    return f"{head}{b}\n{body.strip()}\n{e}{tail}"


def expected() -> dict[pathlib.Path, str]:
    """Every generated page as it should be."""
    pages: dict[pathlib.Path, str] = {}
    for path, gens in regions().items():
        text = path.read_text()
        for name, make in gens.items():
            text = replace(text, begin(name), end(name), make())
        pages[path] = text
    path, b, body = _contract_page()
    pages[path] = replace(path.read_text(), b, b.replace("begin", "end"), body)
    return pages


def stale() -> list[pathlib.Path]:
    return [p for p, text in expected().items() if p.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/docs_gen.py", description=__doc__)
    p.add_argument("--check", action="store_true", help="only say which pages are stale")
    args = p.parse_args(argv)
    if args.check:
        old = stale()
        for path in old:
            print(f"{path.relative_to(ROOT)}: stale, run `make docs-gen`", file=sys.stderr)
        return 1 if old else 0
    for path, text in expected().items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"docs_gen: wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
