"""Small inline SVG charts for the HTML export, drawn by hand.

Why hand-drawn SVG and not a charting library: the export must be one file that opens from
disk with no network, so a library would have to be inlined (Chart.js alone is ~200 KB,
Vega far more) and would need JavaScript to draw anything. These charts are a few boxes,
circles and labels; as static SVG they render before any script runs, print well, scale
without blur, cost a few KB, and their sizes are fixed in the markup (so a test can check
them). Every text comes from a model or a user and is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from amatelier.debate.positions import same_stance

PALETTE = ("#2f6fb0", "#d9822b", "#3a9a5b", "#a8479a", "#c23b3b", "#6b6bd6", "#8a6d3b", "#2b9aa0")
AXIS_COLORS = {"novelty": "#2f6fb0", "accuracy": "#3a9a5b", "impact": "#d9822b", "challenge": "#a8479a"}
WIDTH = 720
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _svg(height: int, body: list[str], label: str, width: int = WIDTH) -> str:
    return (f'<svg width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" {FONT}>'
            f"<title>{escape(label)}</title>" + "".join(body) + "</svg>")


def _short(text: str, width: int) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def stance_groups(timeline: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Distinct stances (same_stance merges rewordings), in first-seen order."""
    groups: list[str] = []
    for rounds in timeline.values():
        for key in sorted(rounds, key=int):
            stance = rounds[key]["stance"]
            if not any(same_stance(stance, g) for g in groups):
                groups.append(stance)
    return groups


def _group_of(stance: str, groups: list[str]) -> int:
    return next((i for i, g in enumerate(groups) if same_stance(stance, g)), 0)


def position_timeline(timeline: dict[str, dict[str, dict[str, Any]]], agents: list[str],
                      rounds: list[int]) -> str:
    """Agents (rows) × rounds (columns); colour = stance, a ring and ▲ mark a change."""
    groups = stance_groups(timeline)
    left, top, col, row = 110, 30, max(60, min(140, (WIDTH - 130) // max(1, len(rounds)))), 34
    legend_top = top + row * len(agents) + 16
    height = legend_top + 20 * max(1, len(groups)) + 10
    body = [f'<text x="{left + col * i + col // 2}" y="18" text-anchor="middle" font-weight="600">'
            f"round {r}</text>" for i, r in enumerate(rounds)]
    for j, agent in enumerate(agents):
        y = top + row * j + row // 2
        body.append(f'<text x="{left - 10}" y="{y + 4}" text-anchor="end">{escape(agent)}</text>')
        body.append(f'<line x1="{left}" y1="{y}" x2="{left + col * len(rounds)}" y2="{y}" '
                    'stroke="#ddd" stroke-width="2"/>')
        entries = timeline.get(agent, {})
        for i, round_no in enumerate(rounds):
            entry = entries.get(str(round_no))
            x = left + col * i + col // 2
            if entry is None:
                body.append(f'<circle cx="{x}" cy="{y}" r="5" fill="#fff" stroke="#bbb"><title>'
                            f"{escape(agent)} r{round_no}: no position</title></circle>")
                continue
            color = PALETTE[_group_of(entry["stance"], groups) % len(PALETTE)]
            tip = f"{agent} r{round_no} (#{entry['message_id']}): {entry['stance']}"
            if entry.get("confidence") is not None:
                tip += f" — confidence {entry['confidence']}"
            ring = ' stroke="#111" stroke-width="3"' if entry.get("changed") else ""
            body.append(f'<a href="#msg-{int(entry["message_id"])}"><circle cx="{x}" cy="{y}" r="10" '
                        f'fill="{color}"{ring}><title>{escape(tip)}</title></circle></a>')
            if entry.get("changed"):
                body.append(f'<text x="{x + 14}" y="{y - 6}" font-size="11" fill="#111">▲ moved</text>')
    for k, stance in enumerate(groups):
        y = legend_top + 20 * k
        body.append(f'<rect x="{left}" y="{y}" width="12" height="12" fill="{PALETTE[k % len(PALETTE)]}"/>')
        body.append(f'<text x="{left + 18}" y="{y + 10}">{escape(_short(stance, 95))}</text>')
    if not groups:
        body.append(f'<text x="{left}" y="{legend_top + 10}" fill="#666">no positions were declared</text>')
    return _svg(height, body, "Position timeline: agents by round; colour is the stance, a ring marks a change")


def score_bars(scores: dict[str, dict[str, Any]], agents: list[str]) -> str:
    """Per agent, one bar per axis on the 0-10 scale (10 = grand insight)."""
    axes = tuple(AXIS_COLORS)
    left, bar, gap = 110, 9, 12
    block = bar * len(axes) + gap
    rows = [a for a in agents if a in scores] or agents
    peak = max((int(scores[a].get(x) or 0) for a in rows if a in scores for x in axes), default=0)
    scale = (WIDTH - left - 60) / (10.0 if peak > 3 else 3.0)  # 0-3 fills the width; a 10 rescales
    height = 30 + block * max(1, len(rows)) + 10
    body = []
    for k, axis in enumerate(axes):
        body.append(f'<rect x="{left + k * 120}" y="4" width="10" height="10" fill="{AXIS_COLORS[axis]}"/>'
                    f'<text x="{left + k * 120 + 14}" y="13">{axis}</text>')
    for j, agent in enumerate(rows):
        y0 = 26 + block * j
        entry = scores.get(agent) or {}
        body.append(f'<text x="{left - 10}" y="{y0 + block // 2}" text-anchor="end">{escape(agent)}</text>')
        if entry.get("unscored_reason") or not entry:
            why = entry.get("unscored_reason") or "not scored"
            body.append(f'<text x="{left}" y="{y0 + block // 2}" fill="#666">{escape(_short(why, 80))}</text>')
            continue
        for k, axis in enumerate(axes):
            value = int(entry.get(axis) or 0)
            y = y0 + k * bar
            body.append(f'<rect x="{left}" y="{y}" width="{max(1.0, value * scale):.1f}" height="{bar - 2}" '
                        f'fill="{AXIS_COLORS[axis]}"><title>{escape(agent)} {axis}: {value}</title></rect>')
            body.append(f'<text x="{left + value * scale + 4:.1f}" y="{y + bar - 2}" font-size="9">{value}</text>')
    return _svg(height, body, "Judge scores per agent on the four axes (0-3, 10 = grand insight)")


def horizontal_bars(values: dict[str, float], *, label: str, unit: str = "",
                    notes: dict[str, str] | None = None) -> str:
    """One bar per key, scaled to the largest value, with the value (and a note) printed."""
    left, row = 110, 24
    top = max(values.values(), default=0) or 1
    scale = (WIDTH - left - 190) / top
    total = sum(values.values()) or 1
    body = []
    for j, (name, value) in enumerate(values.items()):
        y = 8 + row * j
        share = f" ({100.0 * value / total:.0f}%)" if unit == "%" else ""
        text = f"{value:,.0f}{'' if unit == '%' else unit}{share}"
        if notes and notes.get(name):
            text += f" · {notes[name]}"
        body.append(f'<text x="{left - 10}" y="{y + 14}" text-anchor="end">{escape(name)}</text>')
        body.append(f'<rect x="{left}" y="{y + 2}" width="{max(1.0, value * scale):.1f}" height="16" '
                    f'fill="#2f6fb0"><title>{escape(name)}: {escape(text)}</title></rect>')
        body.append(f'<text x="{left + value * scale + 6:.1f}" y="{y + 14}">{escape(text)}</text>')
    if not values:
        body.append(f'<text x="{left}" y="20" fill="#666">nothing recorded</text>')
    return _svg(16 + row * max(1, len(values)), body, label)


def latency_bars(rows: list[dict[str, Any]]) -> str:
    """Per backend/model, its p50 and p95 latency of successful calls (ms) as two bars."""
    left, row, bar = 230, 34, 12
    peak = max((float(r.get("p95") or r.get("p50") or 0.0) for r in rows), default=0.0) or 1.0
    scale = (WIDTH - left - 120) / peak
    body = [f'<rect x="{left}" y="4" width="10" height="10" fill="#9cc3e6"/><text x="{left + 14}" y="13">p50</text>',
            f'<rect x="{left + 60}" y="4" width="10" height="10" fill="#2f6fb0"/>'
            f'<text x="{left + 74}" y="13">p95</text>']
    for j, entry in enumerate(rows):
        y = 24 + row * j
        name = _short(str(entry.get("label") or ""), 34)
        body.append(f'<text x="{left - 10}" y="{y + bar + 3}" text-anchor="end">{escape(name)}</text>')
        for k, (key, colour) in enumerate((("p50", "#9cc3e6"), ("p95", "#2f6fb0"))):
            value = entry.get(key)
            top = y + k * (bar + 2)
            if value is None:
                body.append(f'<text x="{left}" y="{top + bar - 2}" font-size="10" fill="#666">{key}: no successful call</text>')
                continue
            width = max(1.0, float(value) * scale)
            body.append(f'<rect x="{left}" y="{top}" width="{width:.1f}" height="{bar}" fill="{colour}">'
                        f'<title>{escape(name)} {key}: {float(value):,.1f} ms</title></rect>')
            body.append(f'<text x="{left + width + 4:.1f}" y="{top + bar - 2}" font-size="10">{float(value):,.0f} ms</text>')
    if not rows:
        body.append(f'<text x="{left}" y="36" fill="#666">no model calls were recorded</text>')
    return _svg(30 + row * max(1, len(rows)), body, "Latency per backend and model: p50 and p95 of successful calls (ms)")
