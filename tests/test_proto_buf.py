"""buf lint and buf breaking hold on the contract, and buf breaking has teeth: a copy of
the proto with a field renumbered fails it, with the rule's id (``--error-format
json``), both against the current schema and against the frozen pre-token one.

buf is built by ``make setup`` (``make buf``, Go module proxy); without it these skip,
except under CI=true, where setup is expected to have built it."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
from types import ModuleType

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUF = ROOT / ".bin" / "buf"
PROTO = pathlib.Path("proto/stigma/v1/stigma_service.proto")
# buf breaking's rule (category WIRE) for a field number that disappeared.
NUMBER_DELETED = "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED"


def _buf_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("buf_check", ROOT / "scripts" / "buf_check.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def buf() -> str:
    if not os.access(BUF, os.X_OK):
        message = f"{BUF.relative_to(ROOT)} not built: `make buf` (part of `make setup`, needs Go)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # CI runs make setup: missing means setup broke
        pytest.skip(message)
    return str(BUF)


def _workspace(dest: pathlib.Path, edit: tuple[str, str] | None = None) -> pathlib.Path:
    """A copy of buf.yaml and the v1 proto, optionally with one line edited."""
    (dest / PROTO.parent).mkdir(parents=True)
    shutil.copyfile(ROOT / "buf.yaml", dest / "buf.yaml")
    text = (ROOT / PROTO).read_text()
    if edit is not None:
        old, new = edit
        assert text.count(old) == 1, f"{old!r} is not once in {PROTO}"
        text = text.replace(old, new)
    (dest / PROTO).write_text(text)
    return dest


def test_lint_and_breaking_against_the_frozen_schema_pass(buf: str, tmp_path: pathlib.Path) -> None:
    check = _buf_check()
    assert check.lint(buf, ROOT) == (0, [])
    against = check.frozen_against(ROOT, tmp_path)
    assert check.breaking(buf, ROOT, against) == (0, [])


def test_renumbering_callback_token_fails_buf_breaking(buf: str, tmp_path: pathlib.Path) -> None:
    check = _buf_check()
    before = _workspace(tmp_path / "before")
    after = _workspace(
        tmp_path / "after", ("bytes callback_token = 3;", "bytes callback_token = 9;")
    )
    # A renumbered field still lints: only the comparison with what is deployed sees it.
    assert check.lint(buf, after) == (0, [])
    code, found = check.breaking(buf, after, before)
    assert code != 0
    assert {(f["type"], f["path"]) for f in found} >= {(NUMBER_DELETED, str(PROTO))}, found


def test_renumbering_a_pre_handshake_field_fails_against_the_frozen_schema(
    buf: str, tmp_path: pathlib.Path
) -> None:
    check = _buf_check()
    after = _workspace(tmp_path / "after", ("string agent_id = 1;", "string agent_id = 7;"))
    against = check.frozen_against(ROOT, tmp_path / "frozen")
    code, found = check.breaking(buf, after, against)
    assert code != 0
    assert NUMBER_DELETED in {f["type"] for f in found}, found
    # The frozen schema has no callback_token: that renumbering is caught against the
    # current schema (above), not here.
    after_token = _workspace(
        tmp_path / "after-token", ("bytes callback_token = 3;", "bytes callback_token = 9;")
    )
    assert check.breaking(buf, after_token, against) == (0, [])
