"""Token hygiene: no service log may hold a task token, in any encoding people use.

A task token is a capability: whoever reads it from a log can complete or fail the
activity it names. The harness sees every token handed to Stigma (its StartAgent
relay), so after each scenario it scans the services' logs for each of them as raw bytes, Base64
(standard and URL-safe, with or without padding) and hex (lower and upper case).

Cost: a scenario with a thousand agents hands out a thousand tokens of a few hundred
bytes, and a log can be megabytes, so neither "every needle against every log" nor a
regex alternation of thousands of literals (Python's ``re`` tries each branch at each
position) will do. Instead the needles are indexed by short grams taken at the first
``STRIDE`` offsets of each needle, and the log is sampled every ``STRIDE`` bytes: any
occurrence of a needle at least ``MIN_TOKEN`` long covers one sampled gram at one of
those offsets, so one dictionary lookup per ``STRIDE`` bytes finds every candidate, and
``bytes.startswith`` confirms it. Index entries per token: encodings x ``STRIDE``.

Tokens shorter than ``MIN_TOKEN`` bytes are not looked for (no Temporal server mints
one, and a needle that short matches log text by chance: the truncated-token
corruption class makes such stubs), nor longer than the contract's 8192 bytes (Stigma
refuses those at StartAgent, so they are never live).
"""

from __future__ import annotations

import base64
import pathlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.tokens import fingerprint

CHECKER = "no_token_in_logs"
GRAM = 12
MIN_TOKEN = 32
MAX_TOKEN = 8192
# Every needle is at least MIN_TOKEN long (raw is the shortest encoding), so sampling the
# text every STRIDE bytes puts a whole gram inside any occurrence.
STRIDE = MIN_TOKEN - GRAM + 1


def encodings(token: bytes) -> dict[str, bytes]:
    """The token as people write it to logs. Unpadded Base64 is a prefix of the padded
    form, so it finds both."""
    std = base64.b64encode(token).rstrip(b"=")
    url = base64.urlsafe_b64encode(token).rstrip(b"=")
    found = {
        "raw": token,
        "base64": std,
        "base64url": url,
        "hex": token.hex().encode(),
        "HEX": token.hex().upper().encode(),
    }
    # Same bytes under two names (no + or / in the token's Base64): keep one.
    if url == std:
        del found["base64url"]
    return found


@dataclass(frozen=True)
class Hit:
    """A token found in a log: where, how encoded, and whose (by fingerprint only)."""

    path: pathlib.Path
    line: int
    encoding: str
    token_fp: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: token {self.token_fp} written as {self.encoding}"


class Needles:
    """Every encoding of every token added so far, indexed for one pass over a text."""

    def __init__(self) -> None:
        self._needles: list[tuple[bytes, str, str]] = []  # (needle, encoding, token fp)
        self._seen: set[bytes] = set()
        self._index: dict[bytes, list[tuple[int, int]]] = {}  # gram -> (needle no., offset)
        self.longest = 0
        self.tokens = 0
        self.skipped = 0  # outside MIN_TOKEN..MAX_TOKEN

    def add(self, tokens: Iterable[bytes]) -> None:
        for token in tokens:
            if token in self._seen:
                continue
            self._seen.add(token)
            if not MIN_TOKEN <= len(token) <= MAX_TOKEN:
                self.skipped += 1
                continue
            self.tokens += 1
            fp = fingerprint(token)
            for name, needle in encodings(token).items():
                number = len(self._needles)
                self._needles.append((needle, name, fp))
                self.longest = max(self.longest, len(needle))
                for offset in range(STRIDE):
                    self._index.setdefault(needle[offset : offset + GRAM], []).append(
                        (number, offset)
                    )

    def find(self, data: bytes, start: int = 0) -> list[tuple[int, str, str]]:
        """(position, encoding, token fp) of every needle occurring in ``data`` at or
        after ``start``; one dictionary lookup per STRIDE bytes."""
        found: dict[int, tuple[int, str, str]] = {}
        index, needles = self._index, self._needles
        if not index:
            return []
        for i in range(start, len(data) - GRAM + 1, STRIDE):
            candidates = index.get(data[i : i + GRAM])
            if candidates is None:
                continue
            for number, offset in candidates:
                at = i - offset
                needle, name, fp = needles[number]
                if at >= start and data.startswith(needle, at):
                    # One report per place: raw and hex can both start there only if
                    # they are the same bytes, so the first name is as good as any.
                    found.setdefault(at, (at, name, fp))
        return sorted(found.values())

    def redact(self, text: str) -> str:
        """``text`` with every token in it replaced by its fingerprint: a failure report
        shows the services' log tails, and must not pass on a leak it reports."""
        data = text.encode("utf-8", "surrogateescape")
        found = self.find(data)
        if not found:
            return text
        out, last = [], 0
        for at, name, fp in found:
            if at < last:
                continue
            length = next(len(n) for n, e, f in self._needles if e == name and f == fp)
            out += [data[last:at], f"<token sha256:{fp}>".encode()]
            last = at + length
            if name.startswith("base64"):
                while data[last : last + 1] == b"=" and last - at < length + 2:
                    last += 1  # the padding goes with it
        out.append(data[last:])
        return b"".join(out).decode("utf-8", "surrogateescape")


@dataclass
class ScanReport:
    """What one scan covered (for the history, the record and the report)."""

    tokens: int
    logs: int
    bytes: int
    seconds: float
    skipped_tokens: int
    hits: list[Hit] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "tokens": self.tokens,
            "logs": self.logs,
            "token_x_logs": self.tokens * self.logs,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 4),
            "skipped_tokens": self.skipped_tokens,
            "hits": len(self.hits),
        }


class LogScanner:
    """One per stack: its tokens' needles, and how far each of its logs was scanned, so a
    scenario scans only what was written since the last one (each byte once, give or
    take an overlap of one needle's length for a token written across the boundary)."""

    def __init__(self) -> None:
        self.needles = Needles()
        self._scanned: dict[pathlib.Path, int] = {}
        self._reported: set[tuple[pathlib.Path, int]] = set()

    def scan(self, tokens: Iterable[bytes], logs: Iterable[pathlib.Path]) -> ScanReport:
        began = time.perf_counter()
        self.needles.add(tokens)
        paths = [p for p in logs if p.exists()]
        hits: list[Hit] = []
        scanned = 0
        for path in paths:
            data = path.read_bytes()
            done = self._scanned.get(path, 0)
            # A needle written across the last scan's end is found now.
            start = max(0, done - self.needles.longest + 1) if done else 0
            scanned += len(data) - start
            for at, name, fp in self.needles.find(data, start):
                if (path, at) in self._reported:
                    continue
                self._reported.add((path, at))
                hits.append(Hit(path, data.count(b"\n", 0, at) + 1, name, fp))
            self._scanned[path] = len(data)
        # Tokens added after a log was scanned were not looked for in its earlier part:
        # a log keeps its tokens' needles from the first scan on, and a token is handed
        # out before any service can log it, so the earlier part cannot hold it.
        return ScanReport(
            self.needles.tokens,
            len(paths),
            scanned,
            time.perf_counter() - began,
            self.needles.skipped,
            hits,
        )


KEY = "token_hygiene"  # history.measurements[KEY]


def summary(reports: Iterable[ScanReport]) -> dict[str, object]:
    """One scenario's scans (one per stack it ran on), added up for its record."""
    done = list(reports)
    return {
        "stacks": len(done),
        "tokens": sum(r.tokens for r in done),
        "logs": sum(r.logs for r in done),
        "token_x_logs": sum(r.tokens * r.logs for r in done),
        "bytes": sum(r.bytes for r in done),
        "seconds": round(sum(r.seconds for r in done), 4),
        "skipped_tokens": sum(r.skipped_tokens for r in done),
        "hits": sum(len(r.hits) for r in done),
    }
