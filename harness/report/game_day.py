"""A game day (harness/load/gameday.py) as Markdown and as an HTML fragment: one row
per window. The fragment uses the certification page's classes (``td.n`` for figures,
``.pass`` / ``.fail``; harness/report/templates/certification.html.j2) and escapes
every text it shows."""

from __future__ import annotations

import datetime
import html as _html

from harness.report.model import GameDay, GameDayWindow

HEADERS = (
    "window",
    "fault",
    "start",
    "stop",
    "handshakes/s",
    "error ratio",
    "overhead p50 / p99 ms",
    "time to recover",
    "steady again",
    "exactly once",
)


def _clock(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%H:%M:%S.%f")[:-3]


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _recover(w: GameDayWindow) -> str:
    if w.kind == "baseline":
        return "-"
    if w.time_to_recover_s is None:
        return w.recovery or "not recovered"
    return f"{w.time_to_recover_s:.2f} s"


def _steady(w: GameDayWindow, d: GameDay) -> str:
    """When the steady span that ended the recover period began (after the stop)."""
    if w.kind == "baseline" or not d.steady_s:
        return "-"  # the baseline, or a record whose recover periods were all held
    if w.steady_after_s is None:
        return f"not within {d.recover_s:g} s"
    return f"{w.steady_after_s:.2f} s"


def _cells(w: GameDayWindow, d: GameDay) -> list[str]:
    return [
        w.name,
        w.fault,
        _clock(w.start),
        _clock(w.stop),
        f"{_num(w.handshakes_per_s)} ({w.succeeded}/{w.handshakes})",
        _ratio(w.error_ratio),
        f"{_num(w.overhead_p50_ms, 1)} / {_num(w.overhead_p99_ms, 1)} (n={w.overhead_n})",
        _recover(w),
        _steady(w, d),
        f"{w.exactly_once.word} ({w.exactly_once.checked})",
    ]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _recover_period(d: GameDay) -> str:
    if not d.steady_s:
        return f"{d.recover_s:g} s to recover"
    return (
        f"up to {d.recover_s:g} s to recover (until the backlog drained and "
        f"{d.steady_s:g} s of handshakes succeeded)"
    )


def markdown(game_day: GameDay) -> str:
    d = game_day
    lines = [
        f"## Game day {d.run_id} on {d.target}",
        "",
        f"{d.rate_per_s:g} handshakes/s asked over {d.users} users; baseline {d.baseline_s:g} s, "
        f"each fault {d.window_s:g} s then {_recover_period(d)} (times UTC). "
        f"{d.workflows} handshake workflow(s) judged"
        + (f"; exactly once over the run: {d.exactly_once.word}" if d.exactly_once else "")
        + ".",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in _cells(w, d)) + " |" for w in d.windows]
    evidence = [
        f"- {w.name}: {_md_cell(line)}"
        for w in d.windows
        if not w.exactly_once.ok
        for line in w.exactly_once.evidence[:10]
    ]
    if evidence:
        lines += ["", "Exactly once violated:", *evidence]
    seen = [f"- {w.name} ({_md_cell(w.fault)}): {_md_cell(w.seen)}" for w in d.windows if w.seen]
    if seen:
        lines += ["", "Kills and pauses seen to land (the service's grpc.health.v1):", *seen]
    left = [f"{p}: {', '.join(t)}" for p, t in d.toxics_left.items()]
    if left or d.disabled_left:
        lines += ["", f"LEFT AFTER THE RUN: toxics {left or 'none'}, disabled {d.disabled_left}"]
    lines += [f"- {_md_cell(n)}" for n in d.notes]
    return "\n".join(lines) + "\n"


def html(game_day: GameDay) -> str:
    d = game_day
    e = _html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in HEADERS)
    rows = []
    numeric = {2, 3, 4, 5, 6, 7, 8}
    for w in d.windows:
        cells = _cells(w, d)
        tds = []
        for i, text in enumerate(cells):
            cls = ' class="n"' if i in numeric else ""
            if i == len(cells) - 1:
                cls = f' class="{"pass" if w.exactly_once.ok else "fail"}"'
            tds.append(f"<td{cls}>{e(text)}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    summary = (
        f"{d.rate_per_s:g} handshakes/s over {d.users} users; baseline {d.baseline_s:g} s, each "
        f"fault {d.window_s:g} s then {_recover_period(d)} (times UTC); "
        f"{d.workflows} handshake workflow(s) judged."
    )
    parts = [
        '<section id="game-day">',
        f"<h2>Game day {e(d.run_id)} on {e(d.target)}</h2>",
        f"<p>{e(summary)}</p>",
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
    ]
    seen = [f"<li>{e(w.name)} ({e(w.fault)}): {e(w.seen)}</li>" for w in d.windows if w.seen]
    if seen:
        parts.append(
            "<p>Kills and pauses seen to land (the service's grpc.health.v1):</p>"
            f"<ul>{''.join(seen)}</ul>"
        )
    if d.toxics_left or d.disabled_left:
        left = "; ".join(f"{p}: {', '.join(t)}" for p, t in d.toxics_left.items())
        parts.append(
            f'<p class="fail">Left after the run: toxics {e(left or "none")}, '
            f"disabled {e(', '.join(d.disabled_left) or 'none')}</p>"
        )
    if d.notes:
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in d.notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts) + "\n"
