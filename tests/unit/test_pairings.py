"""Named pairings (harness.config.PAIRINGS): what each preset expands to, the errors
that name the make target of a missing program, and which pairings certify selects."""

from __future__ import annotations

import dataclasses
import pathlib

import pytest

from harness.certify import select_runs
from harness.config import PAIRINGS, REFERENCE_STIGMA, REFERENCE_ZIGFLOW, resolve_services
from harness.errors import ConfigError

pytestmark = pytest.mark.unit


@pytest.fixture
def all_built(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> pathlib.Path:
    """Every preset's program "built" (an executable file in tmp_path)."""
    for name, p in list(PAIRINGS.items()):
        sides = {}
        for side in ("zigflow", "stigma"):
            impl = getattr(p, side)
            if impl.binary is not None:
                fake = tmp_path / impl.binary.name
                fake.write_text("#!/bin/sh\n")
                fake.chmod(0o755)
                impl = dataclasses.replace(impl, binary=fake, command=(str(fake),))
            sides[side] = impl
        monkeypatch.setitem(PAIRINGS, name, dataclasses.replace(p, **sides))
    return tmp_path


def _unbuild(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, side: str) -> None:
    """The Java Stigma (or Go Zigflow) not built, in every pairing that uses it."""
    for name, p in list(PAIRINGS.items()):
        impl = getattr(p, side)
        if impl.binary is not None:
            gone = dataclasses.replace(impl, binary=tmp_path / "not-built")
            monkeypatch.setitem(PAIRINGS, name, dataclasses.replace(p, **{side: gone}))


def test_there_are_four_pairings_named_zigflow_dash_stigma() -> None:
    assert list(PAIRINGS) == ["python-python", "python-java", "go-python", "go-java"]


def test_a_preset_expands_to_both_commands_and_its_level(all_built: pathlib.Path) -> None:
    go_java = resolve_services("go-java", None, None, None)
    assert go_java.zigflow_cmd == [str(all_built / "zigflow-go")]
    assert go_java.stigma_cmd == [str(all_built / "stigma-java")]
    assert (go_java.zigflow_level, go_java.pairing) == ("activity", "go-java")
    python = resolve_services("python-python", None, None, None)
    assert (python.zigflow_cmd, python.stigma_cmd) == (REFERENCE_ZIGFLOW, REFERENCE_STIGMA)
    assert python.zigflow_level == "workflow"
    # the Python reference is also certified at activity level (make test does)
    assert resolve_services("python-java", None, None, "activity").zigflow_level == "activity"


def test_without_a_preset_the_commands_default_to_the_references() -> None:
    chosen = resolve_services(None, None, "java -jar s.jar --listen {stigma_listen}", None)
    assert chosen.zigflow_cmd == REFERENCE_ZIGFLOW
    assert chosen.stigma_cmd == ["java", "-jar", "s.jar", "--listen", "{stigma_listen}"]
    assert (chosen.zigflow_level, chosen.pairing) == ("workflow", None)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("nope", None, None, None), "expected one of python-python, python-java"),
        (("go-python", "/opt/zigflow", None, None), "not both"),
        (("go-python", None, None, "workflow"), "--zigflow-level activity"),
    ],
)
def test_bad_preset_choices_say_what_to_fix(
    all_built: pathlib.Path, args: tuple[str, str | None, str | None, str | None], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        resolve_services(*args)


def test_a_preset_whose_program_is_missing_names_its_make_target(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    _unbuild(monkeypatch, tmp_path, "stigma")
    with pytest.raises(ConfigError, match=r"--pairing go-java: .*not-built not built: run "
                       r"`make stigma-java`"):  # fmt: skip
        resolve_services("go-java", None, None, None)


def test_certify_selects_every_built_pairing_python_first_and_names_the_rest(
    monkeypatch: pytest.MonkeyPatch, all_built: pathlib.Path
) -> None:
    runs, skipped = select_runs(None, None, None, None, env={})
    assert [r.name for r in runs] == ["python-python", "python-java", "go-python", "go-java"]
    assert skipped == []
    go = runs[2]
    assert go.args == ("--pairing", "go-python", "--zigflow-level", "activity")
    assert (go.zigflow, go.stigma, go.zigflow_level) == ("go", "python", "activity")

    _unbuild(monkeypatch, all_built, "stigma")
    runs, skipped = select_runs(None, None, None, None, env={})
    assert [r.name for r in runs] == ["python-python", "go-python"]
    assert [s["name"] for s in skipped] == ["python-java", "go-java"]
    assert all("make stigma-java" in s["why"] for s in skipped)
    with pytest.raises(ConfigError, match="CI=true"):
        select_runs(None, None, None, None, env={"CI": "true"})
    with pytest.raises(ConfigError, match="make stigma-java"):
        select_runs("python-python,go-java", None, None, None, env={})


def test_certify_runs_custom_commands_as_one_pairing() -> None:
    runs, skipped = select_runs(None, "/opt/zigflow --q {zigflow_task_queue}", None, "activity")
    assert [(r.name, r.zigflow_level) for r in runs] == [("custom", "activity")]
    assert runs[0].args == (
        "--zigflow-level",
        "activity",
        "--zigflow-cmd",
        "/opt/zigflow --q {zigflow_task_queue}",
    )
    assert skipped == []
    with pytest.raises(ConfigError, match="not both"):
        select_runs("go-java", "/opt/zigflow", None, None)


class _Options:
    """The options pytest_configure reads, as a pytest.Config would give them."""

    def __init__(self, **given: str | None) -> None:
        self.given = {f"--{k.replace('_', '-')}": v for k, v in given.items()}

    def getoption(self, name: str, default: object = None) -> object:
        return self.given.get(name, default)


def test_the_gate_refuses_a_pairing_that_is_not_built_before_running_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    from harness import pytest_plugin

    _unbuild(monkeypatch, tmp_path, "zigflow")
    options = _Options(pairing="go-python", zigflow_cmd=None, stigma_cmd=None, zigflow_level=None)
    with pytest.raises(pytest.UsageError, match=r"not built: run `make zigflow-go`"):
        pytest_plugin.pytest_configure(options)  # type: ignore[arg-type]
