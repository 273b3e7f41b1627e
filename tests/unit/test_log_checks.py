"""Log evidence is judged where a service gives it, and says "not checked" where not."""

from __future__ import annotations

import pathlib

from harness.judge import log_checks


def _log(tmp_path: pathlib.Path, text: str) -> list[pathlib.Path]:
    path = tmp_path / "stigma.1.log"
    path.write_text(text)
    return [path]


def test_a_named_fingerprint_passes_in_any_format(tmp_path: pathlib.Path) -> None:
    logs = _log(tmp_path, "2026-11-27 WARN token abc123def456 rejected by server\n")
    verdict = log_checks.fingerprint_logged(logs, "abc123def456", ["abc123def456"])
    assert verdict.status == "ok"


def test_a_service_that_names_other_tokens_but_not_this_one_is_violated(
    tmp_path: pathlib.Path,
) -> None:
    logs = _log(tmp_path, "delivered token=111111111111\n")
    verdict = log_checks.fingerprint_logged(logs, "abc123def456", ["111111111111"])
    assert verdict.status == "violated"


def test_logs_without_any_fingerprint_are_not_checked(tmp_path: pathlib.Path) -> None:
    logs = _log(tmp_path, "started\nstopped\n")
    verdict = log_checks.fingerprint_logged(logs, "abc123def456", ["111111111111"])
    assert verdict.status == "not_checked"
    assert verdict.missing is not None
    assert verdict.missing.area == "logs"
