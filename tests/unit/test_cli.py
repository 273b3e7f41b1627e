"""The `handshake` command line: dispatch, messages that say what to fix, re-rendering."""

from __future__ import annotations

import json
import pathlib

import pytest

from harness import cli

pytestmark = pytest.mark.unit


def test_usage_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("gate", "certify", "bench", "load", "report", "doctor"):
        assert f"  {name}" in out


def test_an_unknown_command_says_which_exist(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["certfy"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'certfy'" in err
    assert "certify" in err


def test_the_gate_runs_the_shipped_scenarios_from_anywhere() -> None:
    cmd = cli.gate_command(["-k", "success"])
    assert cmd[cmd.index("pytest") + 1] == str(cli.scenarios_dir())
    assert (cli.scenarios_dir() / "test_success.py").is_file()
    assert "asyncio_mode=auto" in cmd  # no pyproject needed where it runs
    assert cmd[-2:] == ["-k", "success"]


def test_report_rerenders_from_json(tmp_path: pathlib.Path) -> None:
    from tests.unit.test_report_html import synthetic_report

    source = tmp_path / "certification.json"
    source.write_text(json.dumps(synthetic_report()))
    assert cli.main(["report", str(source), "--out", str(tmp_path / "again")]) == 0
    assert "Verdict: FAIL" in (tmp_path / "again" / "certification.html").read_text()
    assert (tmp_path / "again" / "certification.md").is_file()


def test_report_of_a_file_that_is_not_a_report_says_so(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "certification.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["report", str(bad)])
    assert exit_info.value.code == 2
    assert "not a readable certification.json" in capsys.readouterr().err
