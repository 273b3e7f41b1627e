"""The log scan finds every token in every common encoding, names it by fingerprint,
and reads each log once."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import random
import time
from collections.abc import Callable

import pytest

from harness.judge import log_checks
from harness.observe.token_scan import LogScanner, Needles, encodings
from harness.tokens import fingerprint

pytestmark = pytest.mark.unit


def _token(rng: random.Random, n: int = 180) -> bytes:
    # Shaped like a real server's token: a shared prefix (namespace, workflow) and
    # per-activity bytes, so that prefixes collide in the index.
    return b"\x0a$7c1e-namespace-id\x12\x1azig-plan-shared-prefix" + rng.randbytes(n)


@pytest.mark.parametrize(
    "write",
    [
        lambda t: t,
        lambda t: base64.b64encode(t),
        lambda t: base64.b64encode(t).rstrip(b"="),
        lambda t: base64.urlsafe_b64encode(t),
        lambda t: base64.urlsafe_b64encode(t).rstrip(b"="),
        lambda t: t.hex().encode(),
        lambda t: t.hex().upper().encode(),
    ],
    ids=["raw", "b64", "b64-nopad", "b64url", "b64url-nopad", "hex", "HEX"],
)
def test_each_encoding_is_found_with_file_and_line(
    write: Callable[[bytes], bytes], tmp_path: pathlib.Path
) -> None:
    rng = random.Random(1)
    token = _token(rng)
    log = tmp_path / "stigma.1.log"
    log.write_bytes(
        b"line one\nline two\n" + b'{"msg": "handing token", "token": "' + write(token) + b'"}\n'
    )
    report = LogScanner().scan([token, _token(rng)], [log])
    assert [(h.path, h.line, h.token_fp) for h in report.hits] == [(log, 3, fingerprint(token))]
    verdict = log_checks.no_raw_token([report])
    assert verdict.status == "violated"
    assert f"{log}:3" in verdict.evidence[0]
    # The report names the token by fingerprint, never by any encoding of it.
    text = json.dumps(verdict.evidence)
    assert not any(e.decode("latin-1") in text for e in encodings(token).values())


def test_a_token_at_any_offset_and_at_the_very_end_is_found(tmp_path: pathlib.Path) -> None:
    rng = random.Random(2)
    token = _token(rng, 40)
    needles = Needles()
    needles.add([token])
    for pad in range(0, 60):
        data = b"x" * pad + base64.b64encode(token)
        assert [f[0] for f in needles.find(data)] == [pad], pad


def test_clean_logs_and_fingerprints_pass(tmp_path: pathlib.Path) -> None:
    token = _token(random.Random(3))
    log = tmp_path / "zigflow.1.log"
    log.write_text(f'{{"event": "pending", "token_fp": "{fingerprint(token)}"}}\n' * 100)
    report = LogScanner().scan([token], [log])
    assert report.hits == []
    assert (report.tokens, report.logs) == (1, 1)
    assert log_checks.no_raw_token([report]).status == "ok"


def test_short_and_oversized_tokens_are_not_needles() -> None:
    needles = Needles()
    needles.add([b"", b"short", b"x" * 9000])
    assert (needles.tokens, needles.skipped) == (0, 3)
    assert needles.find(b"short" * 100) == []


def test_each_scan_reads_what_was_written_since_the_last_one(tmp_path: pathlib.Path) -> None:
    rng = random.Random(4)
    first, second = _token(rng), _token(rng)
    log = tmp_path / "stigma.1.log"
    log.write_bytes(b"start\n" + first.hex().encode() + b"\n")
    scanner = LogScanner()
    assert len(scanner.scan([first], [log]).hits) == 1
    with log.open("ab") as f:
        f.write(b"ok\n" + base64.b64encode(second) + b"\n")
    report = scanner.scan([second], [log])
    # The earlier hit is not reported again; the new one has its own line number.
    assert [(h.line, h.token_fp) for h in report.hits] == [(4, fingerprint(second))]
    assert report.bytes < log.stat().st_size


def test_cost_with_a_thousand_tokens_and_megabytes_of_logs(tmp_path: pathlib.Path) -> None:
    """Measured, and bounded loosely (shared CI machines): a 1000-agent scenario's
    tokens against 8 MB of JSON log lines, one of them leaking."""
    rng = random.Random(5)
    tokens = [_token(rng, 250) for _ in range(1000)]
    line = (
        json.dumps(
            {
                "ts": "2026-01-01T00:00:00Z",
                "event": "start_agent.ack",
                "workflow_id": "stigma-" + "a" * 60,
                "token_fp": "0123456789ab",
                "attempt": 1,
            }
        ).encode()
        + b"\n"
    )
    logs = []
    for i in range(4):
        log = tmp_path / f"svc.{i}.log"
        log.write_bytes(line * (2_000_000 // len(line)))
        logs.append(log)
    with logs[2].open("ab") as f:
        f.write(b"Log token (Base64): " + base64.b64encode(tokens[777]) + b"\n")
    began = time.perf_counter()
    report = LogScanner().scan(tokens, logs)
    took = time.perf_counter() - began
    assert [h.token_fp for h in report.hits] == [fingerprint(tokens[777])]
    mb = report.bytes / 1e6
    print(f"scan: {report.tokens} tokens x {report.logs} logs, {mb:.1f} MB in {took * 1e3:.0f} ms")
    assert took < (20.0 if os.environ.get("CI") else 10.0)


def test_log_tails_shown_on_failure_name_tokens_by_fingerprint_only() -> None:
    rng = random.Random(6)
    token = _token(rng)
    needles = Needles()
    needles.add([token])
    text = f"a\nLog token (Base64): {base64.b64encode(token).decode()}\nb {token.hex()} c\n"
    out = needles.redact(text)
    named = f"<token sha256:{fingerprint(token)}>"
    assert out == f"a\nLog token (Base64): {named}\nb {named} c\n"


def test_the_report_states_the_scan_its_count_and_its_hits() -> None:
    from harness.report import html as report_html
    from harness.report import report

    def scenario(sid: str, hits: int) -> dict[str, object]:
        scan = {"tokens": 3, "logs": 2, "token_x_logs": 6, "bytes": 1000, "seconds": 0.01}
        return {
            "id": sid,
            "target": "dev",
            "duration_s": 1.0,
            "outcome": "failed" if hits else "passed",
            "measurements": {"token_hygiene": {**scan, "hits": hits}},
            "checks": [
                {
                    "checker": "no_token_in_logs",
                    "ok": not hits,
                    "status": "violated" if hits else "ok",
                    "evidence": ["logs/x/stigma.1.log:7: token 0123456789ab written as base64"]
                    if hits
                    else [],
                }
            ],
        }

    scenarios = [
        scenario("a", 0),
        scenario("b", 1),
        {"id": "c", "target": "dev", "outcome": "passed", "duration_s": 1.0},
    ]
    scan = report.token_hygiene(scenarios)
    assert scan.scanned is True
    assert (scan.scenarios_scanned, scan.token_x_logs, scan.hits) == (2, 12, 1)
    assert scan.not_scanned == ["c"]
    assert scan.where == ["b: logs/x/stigma.1.log:7: token 0123456789ab written as base64"]
    line = report.token_hygiene_line(scan)
    assert "12 token x log pairs" in line
    assert "1 hit(s)" in line
    _, reasons = report.verdict(scenarios, {}, 100.0)
    assert line in reasons
    from tests.unit.test_report_html import synthetic_report

    page = report_html.render(synthetic_report() | {"token_hygiene": scan})
    assert 'id="token-hygiene"' in page
    assert "stigma.1.log:7" in page
