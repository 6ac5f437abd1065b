"""The HTML export: one self-contained file (inline CSS and SVG, no network) a person reads.

Order: the decision (each citation links to its message anchor `#msg-<id>`), the position
timeline, who moved whom, per-agent score bars, speaking share, tokens and cost, reliability
(jury agreement, audits, latency and errors per model; debate.export_reliability), then the
full transcript in collapsible rounds with one anchor per message. All text is escaped;
the only script is a few inline lines that open a collapsed round when a link points into
it (the page reads fine without it).
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from amatelier.debate import export_svg
from amatelier.debate.export_data import ExportData
from amatelier.debate.export_reliability import reliability_html
from amatelier.debate.position_changes import who_moved_line
from amatelier.debate.positions import visible_text

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1b1b;background:#fafafa;line-height:1.45}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:1.5rem;margin:0 0 4px}h2{font-size:1.15rem;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;font-size:.9rem}.card{background:#fff;border:1px solid #e2e2e2;border-radius:8px;padding:14px 18px;margin:10px 0}
.rec{font-size:1.15rem;font-weight:600}.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:.8rem;margin-right:6px;background:#eef;color:#224}
.badge.partial{background:#fde8d8;color:#7a3a00}.badge.fallback{background:#eee;color:#444}
ul{margin:4px 0 4px 20px;padding:0}li{margin:3px 0}
a.cite{font-family:ui-monospace,monospace;font-size:.85em;text-decoration:none;background:#eef3fb;border-radius:4px;padding:0 4px;margin-left:2px}
a.cite:hover{background:#d7e4f7}.side{font-size:.75rem;text-transform:uppercase;color:#666;margin-right:4px}
details.round{background:#fff;border:1px solid #e2e2e2;border-radius:8px;margin:8px 0;padding:4px 12px}
details.round>summary{cursor:pointer;font-weight:600;padding:6px 0}
.msg{border-top:1px solid #f0f0f0;padding:8px 0;scroll-margin-top:12px}.msg:target{background:#fff7d6}
.msg .who{font-weight:600}.msg .where{color:#777;font-size:.8rem;margin-left:6px}
.msg .body{white-space:pre-wrap;margin-top:3px}.msg.aside{color:#777;font-size:.85rem;padding:3px 0}
.pos{font-size:.85rem;color:#333;background:#f4f7fb;border-left:3px solid #2f6fb0;padding:3px 8px;margin-top:5px}
svg{max-width:100%;height:auto;display:block}
table.usage{border-collapse:collapse;font-size:.9rem}table.usage td,table.usage th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
table.usage td:first-child,table.usage th:first-child{text-align:left}
"""

SCRIPT = """
function openTarget(){var id=location.hash.slice(1);if(!id)return;var el=document.getElementById(id);
if(!el)return;var d=el.closest('details');while(d){d.open=true;d=d.parentElement.closest('details');}
el.scrollIntoView({block:'start'});}
window.addEventListener('hashchange',openTarget);document.addEventListener('DOMContentLoaded',openTarget);
"""

ASIDE_KINDS = ("turn", "phase", "system")


def cite_links(ids: Any) -> str:
    """` #41 #52` as links to the message anchors."""
    links = []
    for value in ids or []:
        if isinstance(value, int) and not isinstance(value, bool):
            links.append(f'<a class="cite" href="#msg-{value}">#{value}</a>')
    return " ".join(links)


def _list(items: list[str], empty: str) -> str:
    if not items:
        return f"<p class=meta>{escape(empty)}</p>"
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def decision_section(decision: dict[str, Any], stored: bool) -> str:
    """The decision record, every citation a link."""
    conf = decision.get("confidence")
    badges = [f'<span class="badge">{escape(str(decision.get("outcome")))}</span>',
              f'<span class="badge">confidence {conf:.2f}</span>' if isinstance(conf, (int, float)) else ""]
    if decision.get("partial"):
        badges.append(f'<span class="badge partial">partial: {escape(str(decision.get("stop_reason")))}</span>')
    if not decision.get("synthesized"):
        note = "built from the declared positions" + ("" if stored else " (no record was stored)")
        badges.append(f'<span class="badge fallback">{escape(note)}</span>')
    arguments = [f'<span class="side">{escape(str(a.get("side")))}</span>{escape(str(a.get("claim")))} '
                 f'— <b>{escape(str(a.get("by")))}</b> {cite_links(a.get("cites"))}'
                 for a in decision.get("arguments") or []]
    dissent = [f'<b>{escape(str(d.get("agent")))}</b>: {escape(str(d.get("position")))} {cite_links(d.get("cites"))}'
               for d in decision.get("dissent") or []]
    moved = [f"{escape(who_moved_line(c).split(' #')[0])} {cite_links(c.get('cites'))}"
             for c in decision.get("position_changes") or []]
    evidence = [f"{escape(str(e.get('lookup')))}" + (f" <code>{escape(str(e['path']))}</code>" if e.get("path") else "")
                + f" {cite_links(e.get('cites'))}" for e in decision.get("evidence") or []]
    parts = [
        '<section id="decision"><h2>Decision</h2><div class="card">',
        f'<p class="rec">{escape(str(decision.get("recommendation")))}</p>',
        "<p>" + "".join(badges) + "</p>",
        f"<p>{escape(str(decision.get('rationale') or ''))}</p></div>",
        "<h3>Why</h3>", _list(arguments, "No arguments recorded."),
        "<h3>Dissent</h3>", _list(dissent, "None."),
        "<h3>Who moved</h3>", _list(moved, "Nobody changed position."),
        "<h3>Open questions</h3>", _list([escape(q) for q in decision.get("open_questions") or []], "None."),
        "<h3>Risks</h3>", _list([escape(r) for r in decision.get("risks") or []], "None named."),
        "<h3>Next steps</h3>", _list([escape(s) for s in decision.get("next_steps") or []], "None named."),
        "<h3>Evidence</h3>", _list(evidence, "No Steward lookups were used."),
        "</section>",
    ]
    return "\n".join(parts)


def _usage_table(data: ExportData) -> str:
    rows = []
    for agent, entry in data.usage.items():
        cost = f"${entry['cost_usd']:.4f}" if entry["cost_usd"] is not None else "—"
        rows.append(f"<tr><td>{escape(agent)}</td><td>{entry['calls']}</td><td>{entry['input_tokens']:,}</td>"
                    f"<td>{entry['output_tokens']:,}</td><td>{cost}</td></tr>")
    total = data.totals()
    cost = f"${total['cost_usd']:.4f}" if total["cost_usd"] is not None else "—"
    rows.append(f"<tr><th>total</th><th>{total['calls']}</th><th>{total['input_tokens']:,}</th>"
                f"<th>{total['output_tokens']:,}</th><th>{cost}</th></tr>")
    return ('<table class="usage"><tr><th>agent</th><th>calls</th><th>tokens in</th><th>tokens out</th>'
            "<th>cost</th></tr>" + "".join(rows) + "</table>")


def charts_section(data: ExportData) -> str:
    """Timeline, score bars, speaking share, tokens and cost."""
    share = {a: float(n) for a, n in data.speaking_share().items()}
    tokens = {a: float(u["input_tokens"] + u["output_tokens"]) for a, u in data.usage.items()}
    notes = {a: f"${u['cost_usd']:.4f}" for a, u in data.usage.items() if u["cost_usd"] is not None}
    return "\n".join([
        '<section id="positions"><h2>Positions by round</h2>',
        '<p class="meta">Each dot is the last position an agent declared in that round; the colour is the '
        "stance (legend below), a black ring and ▲ mark a change. Click a dot for its message.</p>",
        export_svg.position_timeline(data.timeline(), data.workers, data.rounds()), "</section>",
        '<section id="scores"><h2>Scores</h2>',
        export_svg.score_bars(data.scores, data.workers) if data.scores
        else '<p class="meta">Not scored (the Judge did not score this roundtable).</p>',
        "</section>",
        '<section id="share"><h2>Speaking share</h2><p class="meta">Characters written by each speaker.</p>',
        export_svg.horizontal_bars(share, label="Speaking share (characters)", unit="%"), "</section>",
        '<section id="usage"><h2>Tokens and cost</h2>',
        export_svg.horizontal_bars(tokens, label="Tokens per agent (in + out)", unit=" tok", notes=notes),
        _usage_table(data), "</section>",
    ])


def _message(message: dict[str, Any], positions: dict[int, dict[str, Any]], known: set[int]) -> str:
    mid = int(message["id"])
    where = " ".join(x for x in (f"r{message['round']}" if message.get("round") is not None else "",
                                 str(message.get("phase") or ""), f"#{mid}") if x)
    if message.get("kind") in ASIDE_KINDS:
        return (f'<div class="msg aside" id="msg-{mid}"><span class="where">{escape(where)}</span> '
                f"{escape(' '.join(str(message.get('content') or '').split())[:300])}</div>")
    text = visible_text(str(message.get("content") or ""))
    block = (f'<div class="msg" id="msg-{mid}"><span class="who">{escape(str(message["agent"]))}</span>'
             f'<span class="where">{escape(where)} · {escape(str(message.get("kind")))}</span>'
             f'<div class="body">{_linkify(escape(text), known)}</div>')
    position = positions.get(mid)
    if position is not None and not position.get("missing"):
        extra = f" · confidence {position['confidence']}" if position.get("confidence") is not None else ""
        if position.get("moved_by"):
            extra += f" · moved by {escape(str(position['moved_by']))}"
            if position.get("moved_by_message"):
                extra += " " + cite_links([int(position["moved_by_message"])])
        block += f'<div class="pos">Position: {escape(str(position["stance"]))}{extra}</div>'
    elif position is not None:
        block += '<div class="pos">No POSITION line (the previous position stands)</div>'
    return block + "</div>"


def _linkify(escaped: str, known: set[int]) -> str:
    """`#41` in a message becomes a link to message 41's anchor (only when 41 is on the page)."""
    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return f'<a class="cite" href="#msg-{number}">#{number}</a>' if number in known else match.group(0)

    return re.sub(r"(?<![\w&#])#(\d{1,9})\b", link, escaped)


def transcript_section(data: ExportData) -> str:
    """The full transcript, one collapsible block per round, an anchor per message."""
    positions = {int(p["message_id"]): p for p in data.positions}
    known = {int(m["id"]) for m in data.messages}
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    for message in data.messages:
        title = f"Round {message['round']}" if message.get("round") else "Before the debate"
        if not groups or groups[-1][0] != title:
            groups.append((title, []))
        groups[-1][1].append(message)
    parts = ['<section id="transcript"><h2>Transcript</h2>']
    for title, messages in groups:
        parts.append(f'<details class="round" open><summary>{escape(title)} ({len(messages)} messages)</summary>')
        parts += [_message(m, positions, known) for m in messages]
        parts.append("</details>")
    parts.append("</section>")
    return "\n".join(parts)


def render_html(data: ExportData) -> str:
    """The whole self-contained page."""
    rt = data.rt
    status = str(rt.get("status") or "")
    if rt.get("cut_reason"):
        status += f" ({rt['cut_reason']})"
    head = (f'<h1>{escape(str(rt.get("topic") or "(no topic)"))}</h1>'
            f'<p class="meta">Roundtable {escape(data.rt_id)} · {escape(str(rt.get("created_at") or ""))} · '
            f"{escape(status)} · {len(data.workers)} agents · {len(data.rounds())} rounds · "
            f"{len(data.messages)} messages</p>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>amatelier · {escape(str(rt.get('topic') or data.rt_id))[:120]}</title>",
        f"<style>{CSS}</style></head><body><main>",
        head, decision_section(data.decision, data.decision_stored), charts_section(data),
        reliability_html(data.reliability), transcript_section(data),
        '<p class="meta">Exported by amatelier. This file is self-contained: it loads nothing from the '
        "network.</p></main>",
        f"<script>{SCRIPT}</script></body></html>", ""])
