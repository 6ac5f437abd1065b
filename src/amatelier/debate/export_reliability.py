"""The export's reliability section: can this roundtable's numbers be trusted?

The per-roundtable slice of `amatelier reliability` (judging.reliability.roundtable_reliability):
the jury's agreement (Krippendorff's alpha), the swap audit's flip rate, the correlation of
words with scores, self-family recusals, and per backend/model latency p50/p95, errors,
retries and breaker events. HTML gets a latency chart (inline SVG) and tables; Markdown the
same tables. Everything shown is escaped; nothing is fetched.
"""

from __future__ import annotations

from html import escape
from typing import Any

from amatelier.debate import export_svg


def _num(value: Any, digits: int = 2) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—"
    return f"{value:.{digits}f}"


def _ms(value: Any) -> str:
    return "—" if value is None else f"{float(value):,.0f} ms"


def judging_rows(rel: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) lines of the judging figures; [] when the roundtable was not scored."""
    judging = (rel or {}).get("judging")
    if not judging:
        return []
    seats = judging.get("seats") or []
    names = ", ".join(f"{s.get('model')} ({s.get('backend') or '?'})" for s in seats) or "—"
    if judging.get("audited"):
        flips = f"{_num(judging.get('flip_rate'))}"
        if judging.get("compared") is not None:
            flips += f" ({judging.get('flips')} of {judging.get('compared')} axis scores changed with the order reversed)"
    else:
        flips = "not audited (no swap re-score for this roundtable)"
    recusals = judging.get("recusals") or []
    recused = ", ".join(f"seat {r.get('seat')} for {r.get('agent')} ({r.get('family')})" for r in recusals)
    alpha = judging.get("alpha")
    return [
        ("jury", f"{len(seats)} seat(s): {names} · {judging.get('method') or '—'}"),
        ("agreement (Krippendorff's alpha, ordinal)", _num(alpha) if alpha is not None
         else "— (needs two or more seats that scored)"),
        ("swap flip rate", flips),
        ("length-score correlation (r, words vs total)", _num(judging.get("length_score_r"))),
        ("self-family recusals", f"{len(recusals)}" + (f": {recused}" if recused else "")),
    ]


def call_rows(rel: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per backend/model: label, calls, errors, retries, held, breaker events, p50, p95."""
    rows = []
    for entry in (rel or {}).get("calls") or []:
        latency = entry.get("latency_ms") or {}
        rows.append({"label": f"{entry.get('backend')} · {entry.get('model')}", "calls": entry.get("calls", 0),
                     "errors": entry.get("errors", 0), "retries": entry.get("retries") or 0,
                     "held": entry.get("held", 0), "breaker": entry.get("breaker_events", 0),
                     "p50": latency.get("p50"), "p95": latency.get("p95")})
    return rows


def _hedges(rel: dict[str, Any] | None) -> str | None:
    hedges = (rel or {}).get("hedges") or {}
    if not hedges.get("hedged"):
        return None
    saved = (hedges.get("saved_ms") or {}).get("total") or 0
    return (f"{hedges['hedged']} hedged call(s): the hedge won {hedges.get('hedge_won', 0)}, "
            f"the first request {hedges.get('primary_won', 0)}; {saved:,.0f} ms saved")


def reliability_html(rel: dict[str, Any] | None) -> str:
    """The HTML section (id `reliability`)."""
    parts = ['<section id="reliability"><h2>Reliability</h2>',
             '<p class="meta">Can these numbers be trusted? The jury\'s agreement and audits, and how the '
             "models answered in this roundtable (the same figures as <code>amatelier reliability</code>).</p>"]
    judging = judging_rows(rel)
    if judging:
        parts.append('<table class="usage rel-judging">' + "".join(
            f"<tr><td>{escape(label)}</td><td>{escape(value)}</td></tr>" for label, value in judging) + "</table>")
    else:
        parts.append('<p class="meta">The Judge did not score this roundtable: no agreement figures.</p>')
    rows = call_rows(rel)
    parts.append("<h3>Model calls</h3>")
    parts.append(export_svg.latency_bars(rows))
    cells = "".join(
        f"<tr><td>{escape(r['label'])}</td><td>{r['calls']}</td><td>{r['errors']}</td><td>{r['retries']}</td>"
        f"<td>{r['held']}</td><td>{r['breaker']}</td><td>{_ms(r['p50'])}</td><td>{_ms(r['p95'])}</td></tr>"
        for r in rows)
    parts.append('<table class="usage rel-calls"><tr><th>backend · model</th><th>calls</th><th>errors</th>'
                 "<th>retries</th><th>held</th><th>breaker</th><th>p50</th><th>p95</th></tr>" + cells + "</table>")
    hedges = _hedges(rel)
    if hedges:
        parts.append(f'<p class="meta">{escape(hedges)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def reliability_md(rel: dict[str, Any] | None) -> list[str]:
    """The Markdown section: the judging figures and the per-model table."""
    lines = ["## Reliability", ""]
    judging = judging_rows(rel)
    if judging:
        lines += ["| measure | value |", "|---|---|"] + [f"| {_cell(k)} | {_cell(v)} |" for k, v in judging]
    else:
        lines.append("_The Judge did not score this roundtable: no agreement figures._")
    lines += ["", "| backend · model | calls | errors | retries | held | breaker | p50 | p95 |",
              "|---|---|---|---|---|---|---|---|"]
    rows = call_rows(rel)
    lines += [f"| {_cell(r['label'])} | {r['calls']} | {r['errors']} | {r['retries']} | {r['held']} | {r['breaker']}"
              f" | {_ms(r['p50'])} | {_ms(r['p95'])} |" for r in rows]
    if not rows:
        lines.append("| _no model calls were recorded_ | | | | | | | |")
    hedges = _hedges(rel)
    if hedges:
        lines += ["", hedges]
    return lines
