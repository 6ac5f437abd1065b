"""The Markdown export: the same content as the HTML page, with tables instead of charts.

Citations are links to the message anchors (`[#41](#msg-41)`); each message heading carries
an explicit `<a id="msg-41"></a>` so the links work in renderers that do not make ids from
headings. Text from models is kept as written, except that lines which would break the
document's structure (headings, fences) are indented into the quote.
"""

from __future__ import annotations

from typing import Any

from amatelier.debate.export_data import AXES, ExportData
from amatelier.debate.export_reliability import reliability_md
from amatelier.debate.position_changes import who_moved_line
from amatelier.debate.positions import visible_text


def _cites(ids: Any) -> str:
    return " ".join(f"[#{i}](#msg-{i})" for i in ids or [] if isinstance(i, int) and not isinstance(i, bool))


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def _bullets(items: list[str], empty: str) -> list[str]:
    return [f"- {item}" for item in items] if items else [f"_{empty}_"]


def decision_md(decision: dict[str, Any]) -> list[str]:
    """The decision block."""
    conf = decision.get("confidence")
    how = "synthesized by the chair" if decision.get("synthesized") else "built from the declared positions"
    lines = ["## Decision", "", f"**RECOMMENDATION:** {_one_line(decision.get('recommendation'))}", "",
             f"**OUTCOME:** {decision.get('outcome')} · **CONFIDENCE:** "
             + (f"{conf:.2f}" if isinstance(conf, (int, float)) else "?")
             + f" · _{how}; stopped: {_one_line(decision.get('stop_reason'))}"
             + ("; partial_" if decision.get("partial") else "_"), "",
             _one_line(decision.get("rationale")), "", "### Why", ""]
    lines += _bullets([f"[{a.get('side')}] {_one_line(a.get('claim'))} — **{a.get('by')}** {_cites(a.get('cites'))}"
                       for a in decision.get("arguments") or []], "No arguments recorded.")
    lines += ["", "### Dissent", ""]
    lines += _bullets([f"**{d.get('agent')}**: {_one_line(d.get('position'))} {_cites(d.get('cites'))}"
                       for d in decision.get("dissent") or []], "None.")
    lines += ["", "### Who moved", ""]
    lines += _bullets([f"{who_moved_line(c)} {_cites(c.get('cites'))}" for c in decision.get("position_changes") or []],
                      "Nobody changed position.")
    for title, key, empty in (("Open questions", "open_questions", "None."), ("Risks", "risks", "None named."),
                              ("Next steps", "next_steps", "None named.")):
        lines += ["", f"### {title}", ""]
        lines += _bullets([_one_line(x) for x in decision.get(key) or []], empty)
    lines += ["", "### Evidence", ""]
    lines += _bullets([f"{_one_line(e.get('lookup'))}" + (f" `{e['path']}`" if e.get("path") else "")
                       + f" {_cites(e.get('cites'))}" for e in decision.get("evidence") or []],
                      "No Steward lookups were used.")
    return lines


def stats_md(data: ExportData) -> list[str]:
    """Position timeline, scores, speaking share, tokens and cost as tables."""
    rounds = data.rounds()
    timeline = data.timeline()
    lines = ["## Positions by round", "", "| agent | " + " | ".join(f"r{r}" for r in rounds) + " |",
             "|---|" + "---|" * len(rounds)]
    for agent in data.workers:
        cells = []
        for r in rounds:
            entry = timeline.get(agent, {}).get(str(r))
            if entry is None:
                cells.append("—")
            else:
                mark = "**▲** " if entry.get("changed") else ""
                cells.append(f"{mark}{_one_line(entry['stance'])[:90]} [#{entry['message_id']}](#msg-{entry['message_id']})")
        lines.append(f"| {agent} | " + " | ".join(cells) + " |")
    lines += ["", "## Scores", ""]
    if data.scores:
        lines += ["| agent | " + " | ".join(AXES) + " | total |", "|---|" + "---|" * (len(AXES) + 1)]
        for agent, entry in data.scores.items():
            if entry.get("unscored_reason"):
                lines.append(f"| {agent} | " + " | ".join("—" for _ in AXES) + f" | unscored: {_one_line(entry['unscored_reason'])} |")
            else:
                lines.append(f"| {agent} | " + " | ".join(str(entry.get(a)) for a in AXES) + f" | {entry.get('total')} |")
    else:
        lines.append("_Not scored._")
    share = data.speaking_share()
    total_chars = sum(share.values()) or 1
    lines += ["", "## Speaking share", "", "| speaker | characters | share |", "|---|---|---|"]
    lines += [f"| {a} | {n:,} | {100.0 * n / total_chars:.0f}% |" for a, n in share.items()]
    lines += ["", "## Tokens and cost", "", "| agent | calls | tokens in | tokens out | cost |", "|---|---|---|---|---|"]
    for agent, entry in data.usage.items():
        cost = f"${entry['cost_usd']:.4f}" if entry["cost_usd"] is not None else "—"
        lines.append(f"| {agent} | {entry['calls']} | {entry['input_tokens']:,} | {entry['output_tokens']:,} | {cost} |")
    total = data.totals()
    cost = f"${total['cost_usd']:.4f}" if total["cost_usd"] is not None else "—"
    lines.append(f"| **total** | {total['calls']} | {total['input_tokens']:,} | {total['output_tokens']:,} | {cost} |")
    return lines


def _quote(text: str) -> list[str]:
    return [f"> {line}" if line.strip() else ">" for line in text.splitlines()] or [">"]


def transcript_md(data: ExportData) -> list[str]:
    """Every message under its own anchor."""
    positions = {int(p["message_id"]): p for p in data.positions}
    lines = ["## Transcript", ""]
    for message in data.messages:
        mid = int(message["id"])
        where = " ".join(x for x in (f"r{message['round']}" if message.get("round") is not None else "",
                                     str(message.get("phase") or "")) if x)
        lines.append(f'<a id="msg-{mid}"></a>')
        lines.append(f"**#{mid} {message['agent']}** {where} · {message.get('kind')}")
        lines += _quote(visible_text(str(message.get("content") or "")))
        position = positions.get(mid)
        if position is not None and not position.get("missing"):
            moved = f" · moved by {position['moved_by']}" if position.get("moved_by") else ""
            lines.append(f"> _Position: {_one_line(position['stance'])}"
                         + (f" · confidence {position['confidence']}" if position.get("confidence") is not None else "")
                         + f"{moved}_")
        lines.append("")
    return lines


def render_md(data: ExportData) -> str:
    """The whole Markdown document."""
    rt = data.rt
    head = [f"# {_one_line(rt.get('topic')) or '(no topic)'}", "",
            f"Roundtable `{data.rt_id}` · {rt.get('created_at') or ''} · {rt.get('status')}"
            + (f" ({rt['cut_reason']})" if rt.get("cut_reason") else "")
            + f" · {len(data.workers)} agents · {len(data.rounds())} rounds · {len(data.messages)} messages", ""]
    return "\n".join([*head, *decision_md(data.decision), "", *stats_md(data), "", *reliability_md(data.reliability),
                      "", *transcript_md(data)]) + "\n"
