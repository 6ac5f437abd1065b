"""What the MCP tools read: status, transcript pages, digests, lists, leaderboard and sparks.

Plain functions over a read-only SQLite connection and the digest directory, so they can be
tested without the `mcp` package. They return JSON-ready dicts and raise ToolFailure (one
line, meant for the model to read) for anything the caller can fix.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from amatelier.chat import messages as msgs
from amatelier.chat import roundtables

RT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TRANSCRIPT_DEFAULT_LIMIT = 50
TRANSCRIPT_MAX_LIMIT = 500
LIST_MAX_LIMIT = 200
HISTORY_LIMIT = 20


class ToolFailure(Exception):
    """A tool call the caller can fix (unknown id, not running, bad argument); one line."""


def one_line(text: object, width: int = 400) -> str:
    """Collapse whitespace so an error reads as one line (and stays short)."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def check_rt_id(rt_id: str) -> str:
    """The id, stripped; ToolFailure when it cannot be a roundtable id (it also names a file)."""
    value = (rt_id or "").strip()
    if not RT_ID.match(value):
        raise ToolFailure(f"not a roundtable id: {one_line(rt_id, 80)!r} (ids look like 1f3a9c0e; "
                          "see roundtable_list)")
    return value


def pick_roundtable(conn: sqlite3.Connection, rt_id: str | None) -> dict[str, Any]:
    """The roundtable a tool is about: the given id, else the latest open one, else the latest."""
    given = check_rt_id(rt_id) if rt_id is not None and str(rt_id).strip() else None
    try:
        return roundtables.pick(conn, given, how_to_start="start one with roundtable_start",
                                how_to_list="see roundtable_list")
    except LookupError as exc:
        raise ToolFailure(str(exc)) from None


def clamp(value: int | None, default: int, low: int, high: int, name: str) -> int:
    """An integer argument within bounds (ToolFailure outside them)."""
    if value is None:
        return default
    if value < low or value > high:
        raise ToolFailure(f"{name} must be between {low} and {high} (got {value})")
    return int(value)


# --------------------------------------------------------------------------- runner and digest


def runner_alive(rt: dict[str, Any]) -> bool | None:
    """Whether the roundtable's runner process still runs (None: it runs on another host)."""
    host = rt.get("runner_host")
    if host not in (None, roundtables.this_host()):
        return None
    return roundtables.pid_alive(rt.get("runner_pid"))


def digest_path(digest_dir: Path, rt_id: str) -> Path:
    """Where the runner writes this roundtable's digest."""
    return Path(digest_dir) / f"digest-{check_rt_id(rt_id)}.json"


def read_digest(digest_dir: Path, rt_id: str) -> dict[str, Any] | None:
    """The digest JSON (None while it does not exist yet). It is written atomically."""
    path = digest_path(digest_dir, rt_id)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ToolFailure(f"cannot read digest {path}: {one_line(exc)}") from None


def stage(rt: dict[str, Any], alive: bool | None, digest_ready: bool) -> str:
    """Where a roundtable is in its life, in one word.

    debating: open and its runner runs. orphaned: open but its runner is gone (the next
    runner marks it cut). finishing: closed or cut, the runner still writes the digest or
    runs scoring and the learning loop. done: closed or cut and the runner has exited.
    """
    if rt.get("status") == roundtables.OPEN:
        return "orphaned" if alive is False else "debating"
    if alive or (alive is None and not digest_ready):
        return "finishing"
    return "done"


# --------------------------------------------------------------------------- status


def _position(conn: sqlite3.Connection, rt_id: str) -> tuple[int | None, str | None]:
    row = conn.execute("SELECT MAX(round) FROM messages WHERE rt_id = ?", (rt_id,)).fetchone()
    round_no = int(row[0]) if row and row[0] is not None else None
    row = conn.execute("SELECT phase FROM messages WHERE rt_id = ? AND phase IS NOT NULL"
                       " ORDER BY id DESC LIMIT 1", (rt_id,)).fetchone()
    return round_no, (row[0] if row else None)


def _open_turn(conn: sqlite3.Connection, rt_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT agent, round, phase, status FROM turns WHERE rt_id = ? AND status IN ('pending', 'claimed')"
        " ORDER BY id DESC LIMIT 1", (rt_id,)).fetchone()
    return dict(row) if row else None


def status(conn: sqlite3.Connection, rt: dict[str, Any], digest_dir: Path) -> dict[str, Any]:
    """A roundtable's state: status and stage, round and phase, who is speaking, counts, cut reason."""
    rt_id = rt["id"]
    round_no, phase = _position(conn, rt_id)
    turn = _open_turn(conn, rt_id) if rt.get("status") == roundtables.OPEN else None
    alive = runner_alive(rt)
    ready = digest_path(digest_dir, rt_id).is_file()
    return {
        "rt_id": rt_id,
        "topic": rt.get("topic"),
        "status": rt.get("status"),
        "stage": stage(rt, alive, ready),
        "round": round_no,
        "phase": phase,
        "speaking": turn["agent"] if turn else None,
        "speaking_phase": turn["phase"] if turn else None,
        "participants": rt.get("participants", []),
        "message_count": msgs.count_messages(conn, rt_id),
        "last_message_id": msgs.last_message_id(conn, rt_id),
        "cut_reason": rt.get("cut_reason"),
        "created_at": rt.get("created_at"),
        "closed_at": rt.get("closed_at"),
        "runner_pid": rt.get("runner_pid"),
        "runner_alive": alive,
        "digest_ready": ready,
    }


# --------------------------------------------------------------------------- transcript


def transcript_page(conn: sqlite3.Connection, rt: dict[str, Any], *, since_id: int | None = None,
                    limit: int | None = None, include_turns: bool = False) -> dict[str, Any]:
    """Messages after `since_id`, oldest first, at most `limit`; `next_since_id` continues the walk.

    The `YOUR TURN: ...` lines the runner posts for the workers are left out unless asked for.
    """
    rt_id = rt["id"]
    after = clamp(since_id, 0, 0, 2**62, "since_id")
    count = clamp(limit, TRANSCRIPT_DEFAULT_LIMIT, 1, TRANSCRIPT_MAX_LIMIT, "limit")
    sql = ("SELECT id, agent, kind, round, phase, content, created_at FROM messages"
           " WHERE rt_id = ? AND id > ?" + ("" if include_turns else " AND kind != 'turn'")
           + " ORDER BY id LIMIT ?")
    rows = [dict(r) for r in conn.execute(sql, (rt_id, after, count + 1)).fetchall()]
    more = len(rows) > count
    rows = rows[:count]
    state = roundtables.status(conn, rt_id)
    return {
        "rt_id": rt_id,
        "status": state,
        "messages": rows,
        "next_since_id": rows[-1]["id"] if rows else after,
        "more": more,
        "open": state == roundtables.OPEN,
    }


# --------------------------------------------------------------------------- digest and list


def digest(conn: sqlite3.Connection, rt: dict[str, Any], digest_dir: Path) -> dict[str, Any]:
    """The digest when it exists; otherwise `ready: false` with a short status line."""
    rt_id = rt["id"]
    data = read_digest(digest_dir, rt_id)
    alive = runner_alive(rt)
    if data is None:
        info = status(conn, rt, digest_dir)
        if info["stage"] == "orphaned" or (info["stage"] == "done" and alive is False):
            note = "no digest: the runner stopped before writing one"
        elif info["stage"] == "finishing":
            note = "still running: the debate is over and the digest is being written"
        else:
            where = f"round {info['round']}" if info["round"] else "starting"
            if info["phase"]:
                where += f", {info['phase']}"
            if info["speaking"]:
                where += f", {info['speaking']} is speaking"
            note = f"still running: {where}"
        return {"rt_id": rt_id, "ready": False, "status": info["status"], "stage": info["stage"],
                "message": note}
    from amatelier.debate.summary import format_summary

    # The decision first: what a client (and the person behind it) reads before anything else.
    return {"rt_id": rt_id, "ready": True, "decision": data.get("decision"),
            "summary": format_summary(data, str(digest_path(digest_dir, rt_id))), "final": alive is not True,
            "path": str(digest_path(digest_dir, rt_id)), "digest": data}


def list_roundtables(conn: sqlite3.Connection, digest_dir: Path, limit: int | None = None) -> dict[str, Any]:
    """The newest roundtables with status, message count and whether a digest exists."""
    count = clamp(limit, 20, 1, LIST_MAX_LIMIT, "limit")
    items = []
    for rt in roundtables.list_roundtables(conn, limit=count):
        items.append({
            "rt_id": rt["id"],
            "topic": rt.get("topic"),
            "status": rt.get("status"),
            "cut_reason": rt.get("cut_reason"),
            "participants": rt.get("participants", []),
            "created_at": rt.get("created_at"),
            "closed_at": rt.get("closed_at"),
            "message_count": msgs.count_messages(conn, rt["id"]),
            "digest_ready": digest_path(digest_dir, rt["id"]).is_file(),
        })
    return {"roundtables": items}


# --------------------------------------------------------------------------- economy


def leaderboard(conn: sqlite3.Connection, config: dict[str, Any]) -> dict[str, Any]:
    """Workers ranked by spark balance, with their scoring record (as `amatelier leaderboard`)."""
    from amatelier.economy import ledger

    return {"leaderboard": ledger.get_leaderboard(conn, config)}


def sparks(conn: sqlite3.Connection, config: dict[str, Any], agent: str | None = None,
           limit: int | None = None) -> dict[str, Any]:
    """Every balance, or one agent's balance and latest ledger rows (as `amatelier sparks`)."""
    from amatelier.economy import ledger

    if agent is None or not agent.strip():
        data = ledger.get_spark_balances(conn, config)
        return {"balances": {a: v["balance"] for a, v in data.items()},
                "open_ventures": {a: v["open_ventures"] for a, v in data.items() if v["open_ventures"]}}
    try:
        name = ledger.require_agent(config, agent, conn)
    except ledger.EconomyError as exc:
        raise ToolFailure(str(exc)) from None
    rows = ledger.history(conn, name, clamp(limit, HISTORY_LIMIT, 1, 500, "limit"))
    return {"agent": name, "balance": ledger.balance(conn, name), "history": rows}


# --------------------------------------------------------------------------- search


def search(conn: sqlite3.Connection, query: str, *, rt_id: str | None = None, agent: str | None = None,
           kind: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """Full-text search over every roundtable (as `amatelier search --json`)."""
    from amatelier.search.query import SearchError, search_payload

    if rt_id is not None:
        rt_id = check_rt_id(rt_id)
    try:
        return search_payload(conn, query, rt_id=rt_id, agent=agent, kind=kind,
                              limit=clamp(limit, 10, 1, 200, "limit"))
    except SearchError as exc:
        raise ToolFailure(one_line(exc)) from None
