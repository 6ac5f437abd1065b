"""Who moved whom: each agent's position per round and the turns where it changed.

Pure functions over the stored position rows (see debate.positions.load_positions), so the
graph is computed from what the agents declared, never guessed from prose. A row marked
missing keeps the previous position. A change is a stance that says something else than the
agent's previous one (debate.positions.same_stance); its edge points from the agent it
credited in MOVED BY (if any) to the agent that moved, with both message ids.
"""

from __future__ import annotations

from typing import Any

from amatelier.debate.positions import same_stance


def timeline(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{agent: {round: {stance, confidence, message_id, changed}}}: the last position of each round.

    A round in which an agent's only turns were missing carries its previous stance
    (`carried: true`); `changed` says the round's position differs from the previous round's.
    """
    result: dict[str, dict[str, dict[str, Any]]] = {}
    current: dict[str, dict[str, Any]] = {}
    for row in rows:
        agent = str(row["agent"])
        round_key = str(row.get("round") if row.get("round") is not None else 0)
        if row.get("missing") or not row.get("stance"):
            if agent in current and round_key not in result.get(agent, {}):
                result.setdefault(agent, {})[round_key] = {**current[agent], "carried": True}
            continue
        entry = {"stance": row["stance"], "confidence": row.get("confidence"),
                 "message_id": row["message_id"], "carried": False}
        current[agent] = entry
        result.setdefault(agent, {})[round_key] = entry
    for rounds in result.values():
        previous: str | None = None
        for key in sorted(rounds, key=int):
            stance = rounds[key]["stance"]
            rounds[key] = {**rounds[key], "changed": previous is not None and not same_stance(previous, stance)}
            previous = stance
    return result


def changes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every turn where an agent's stance changed, in message order.

    Each item: agent, round, from_round, from, to, moved_by, moved_by_message, message_id and
    cites (the changing message, then the credited one when it was named).
    """
    found: list[dict[str, Any]] = []
    last: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("missing") or not row.get("stance"):
            continue
        agent = str(row["agent"])
        before = last.get(agent)
        last[agent] = row
        if before is None or same_stance(before["stance"], row["stance"]):
            continue
        moved_by = row.get("moved_by")
        if moved_by == agent:
            moved_by = None
        moved_msg = row.get("moved_by_message") if moved_by is not None or row.get("moved_by_message") else None
        cites = [int(row["message_id"])]
        if moved_msg is not None and int(moved_msg) != cites[0]:
            cites.append(int(moved_msg))
        found.append({
            "agent": agent,
            "round": int(row.get("round") or 0),
            "from_round": int(before.get("round") or 0),
            "from": before["stance"],
            "to": row["stance"],
            "moved_by": moved_by,
            "moved_by_message": int(moved_msg) if moved_msg is not None else None,
            "message_id": int(row["message_id"]),
            "cites": cites,
        })
    return found


def edges(change_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The who-moved-whom graph: {from: credited agent, to: moved agent, message_id, moved_message, round}."""
    return [{"from": c["moved_by"], "to": c["agent"], "message_id": c["moved_by_message"],
             "moved_message": c["message_id"], "round": c["round"]}
            for c in change_list if c.get("moved_by")]


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The digest's view: timeline, changes, who-moved-whom edges and the count of missing lines."""
    change_list = changes(rows)
    return {
        "timeline": timeline(rows),
        "changes": change_list,
        "edges": edges(change_list),
        "missing": sum(1 for r in rows if r.get("missing")),
        "declared": sum(1 for r in rows if not r.get("missing") and r.get("stance")),
    }


def final_positions(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{agent: the agent's last declared position row}."""
    last: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row.get("missing") and row.get("stance"):
            last[str(row["agent"])] = row
    return last


def who_moved_line(change: dict[str, Any]) -> str:
    """`marcus r1→r2, moved by clare #41` (or `..., on its own`)."""
    head = f"{change['agent']} r{change.get('from_round', '?')}→r{change.get('round', '?')}"
    if change.get("moved_by"):
        ref = f" #{change['moved_by_message']}" if change.get("moved_by_message") else ""
        return f"{head}, moved by {change['moved_by']}{ref}"
    return f"{head}, on its own"
