"""Read the services' Prometheus endpoints: scrape over loopback HTTP, parse the text format.

Samples are keyed by (series name, sorted label pairs) so that two scrapes can be
subtracted: the services' counters are cumulative over a process's life, while a
scenario is judged on what happened during it.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterable, Mapping

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]


def parse(text: str) -> Samples:
    """Prometheus text exposition format (0.0.4) -> samples, by the reference parser
    (escapes in label values, exponents, NaN/+Inf, histogram and summary series).
    A malformed exposition raises ValueError naming the line: a service that exports
    garbage must not read as one that exports nothing."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples[(sample.name, labels)] = float(sample.value)
    return samples


def total(samples: Mapping[tuple[str, Labels], float], name: str, **match: str) -> float:
    """Sum of every series ``name`` whose labels include ``match``."""
    return sum(
        value
        for (n, labels), value in samples.items()
        if n == name and all((k, v) in labels for k, v in match.items())
    )


def delta(before: Samples, after: Samples) -> Samples:
    """after - before for every series in ``after`` (a new series counts from 0)."""
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def names(samples: Iterable[tuple[str, Labels]]) -> set[str]:
    return {name for name, _ in samples}


def _get(address: str, timeout_s: float) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=timeout_s) as reply:
        body: bytes = reply.read()
    return body.decode()


async def scrape(address: str, timeout_s: float = 5.0) -> Samples:
    """One scrape of ``host:port/metrics`` (blocking HTTP kept off the event loop)."""
    return parse(await asyncio.to_thread(_get, address, timeout_s))


def to_json(samples: Samples) -> list[dict[str, object]]:
    """A JSON-friendly form (for the history), dropping the SDK's own series."""
    return [
        {"name": n, "labels": dict(labels), "value": v}
        for (n, labels), v in sorted(samples.items())
        if not n.startswith("temporal_")
    ]


def from_json(items: Iterable[Mapping[str, object]]) -> Samples:
    out: Samples = {}
    for item in items:
        labels = item["labels"]
        assert isinstance(labels, dict)
        value = item["value"]
        assert isinstance(value, int | float)
        out[(str(item["name"]), tuple(sorted(labels.items())))] = float(value)
    return out
