"""Posting and reading chat messages. Every writer goes through post()."""

from __future__ import annotations

import sqlite3
import time
from typing import Any


def utc_now() -> str:
    """The current UTC time as ISO-8601 with a Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def post(conn: sqlite3.Connection, rt_id: str, agent: str, content: str, *, kind: str = "chat",
         round: int | None = None, phase: str | None = None) -> int:
    """Append a message; returns its id. Use inside a transaction to pair it with other writes."""
    cur = conn.execute(
        "INSERT INTO messages (rt_id, agent, kind, round, phase, content, created_at, created_ts)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (rt_id, agent, kind, round, phase, content, utc_now(), time.time()),
    )
    return int(cur.lastrowid)


def transcript(conn: sqlite3.Connection, rt_id: str, *, after_id: int = 0) -> list[dict[str, Any]]:
    """All messages of a roundtable in order (optionally only those after a message id)."""
    rows = conn.execute(
        "SELECT id, rt_id, agent, kind, round, phase, content, created_at, created_ts"
        " FROM messages WHERE rt_id = ? AND id > ? ORDER BY id",
        (rt_id, after_id),
    ).fetchall()
    return [dict(row) for row in rows]


HUMAN = "human"   # a person's message posted with `amatelier say`: shown to agents, never scored


def last_id(conn: sqlite3.Connection, rt_id: str) -> int:
    """The id of the roundtable's newest message (0 when it has none)."""
    row = conn.execute("SELECT MAX(id) FROM messages WHERE rt_id = ?", (rt_id,)).fetchone()
    return int(row[0] or 0) if row else 0


def human_messages(conn: sqlite3.Connection, rt_id: str, *, after_id: int = 0) -> list[dict[str, Any]]:
    """Messages a person posted into the roundtable (kind `human`), oldest first."""
    rows = conn.execute(
        "SELECT id, rt_id, agent, kind, round, phase, content, created_at, created_ts FROM messages"
        " WHERE rt_id = ? AND kind = ? AND id > ? ORDER BY id", (rt_id, HUMAN, after_id)).fetchall()
    return [dict(row) for row in rows]


# Message kinds that carry an agent's contribution (as opposed to runner bookkeeping).
CONTRIBUTION_KINDS = ("speech", "judge")


def speak(conn: sqlite3.Connection, rt_id: str, agent: str, content: str, **kwargs: Any) -> int:
    """SPEC name for post(): append a message as `agent`."""
    return post(conn, rt_id, agent, content, **kwargs)


def last_message_id(conn: sqlite3.Connection, rt_id: str) -> int:
    """The newest message id of a roundtable (0 when empty)."""
    row = conn.execute("SELECT MAX(id) FROM messages WHERE rt_id = ?", (rt_id,)).fetchone()
    return int(row[0] or 0)


def get_cursor(conn: sqlite3.Connection, rt_id: str, agent: str) -> int:
    """The id of the last message `agent` has read in this roundtable (0 = nothing yet)."""
    row = conn.execute(
        "SELECT last_message_id FROM read_cursors WHERE rt_id = ? AND agent = ?", (rt_id, agent)
    ).fetchone()
    return int(row[0]) if row else 0


def set_cursor(conn: sqlite3.Connection, rt_id: str, agent: str, message_id: int) -> None:
    """Move `agent`'s read cursor forward (never backwards)."""
    conn.execute(
        "INSERT INTO read_cursors (rt_id, agent, last_message_id) VALUES (?, ?, ?)"
        " ON CONFLICT(rt_id, agent) DO UPDATE SET last_message_id ="
        " MAX(read_cursors.last_message_id, excluded.last_message_id)",
        (rt_id, agent, int(message_id)),
    )


def listen(conn: sqlite3.Connection, rt_id: str, agent: str) -> list[dict[str, Any]]:
    """Messages since `agent` last listened; advances its cursor past them."""
    new = transcript(conn, rt_id, after_id=get_cursor(conn, rt_id, agent))
    if new:
        set_cursor(conn, rt_id, agent, new[-1]["id"])
    return new


def get_message(conn: sqlite3.Connection, message_id: int) -> dict[str, Any] | None:
    """One message by id, or None."""
    row = conn.execute(
        "SELECT id, rt_id, agent, kind, round, phase, content, created_at, created_ts"
        " FROM messages WHERE id = ?",
        (message_id,),
    ).fetchone()
    return dict(row) if row else None


def count_messages(conn: sqlite3.Connection, rt_id: str) -> int:
    """How many messages a roundtable has."""
    return int(conn.execute("SELECT COUNT(*) FROM messages WHERE rt_id = ?", (rt_id,)).fetchone()[0])


def recall(conn: sqlite3.Connection, rt_id: str, *, agent: str | None = None,
           round: int | None = None, keyword: str | None = None,
           limit: int = 20) -> list[dict[str, Any]]:
    """Transcript segments filtered by speaker, round and/or a case-insensitive keyword."""
    sql = ("SELECT id, rt_id, agent, kind, round, phase, content, created_at, created_ts"
           " FROM messages WHERE rt_id = ?")
    args: list[Any] = [rt_id]
    if agent:
        sql += " AND agent = ?"
        args.append(agent)
    if round is not None:
        sql += " AND round = ?"
        args.append(round)
    if keyword:
        sql += " AND content LIKE ? ESCAPE '\\'"
        escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args.append(f"%{escaped}%")
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(max(1, int(limit)))
    rows = [dict(r) for r in conn.execute(sql, args).fetchall()]
    rows.reverse()
    return rows


def index_line(message: dict[str, Any], width: int = 100) -> str:
    """One compact line for a contribution: `#id r2 SPEAK elena: first words…`."""
    text = " ".join(str(message.get("content", "")).split())
    if len(text) > width:
        text = text[: width - 1].rstrip() + "…"
    where = []
    if message.get("round") is not None:
        where.append(f"r{message['round']}")
    if message.get("phase"):
        where.append(str(message["phase"]))
    tag = " ".join(where)
    return f"#{message['id']} {tag + ' ' if tag else ''}{message['agent']}: {text}"


def build_transcript_index(messages: list[dict[str, Any]], *, width: int = 100,
                           max_chars: int | None = None) -> str:
    """A compact one-line-per-contribution index of `messages` (agent speech and judge lines).

    With max_chars, the newest lines are kept and an ellipsis line says how many were dropped.
    """
    lines = [index_line(m, width) for m in messages if m.get("kind") in CONTRIBUTION_KINDS]
    full = "\n".join(lines)
    if max_chars is None or len(full) <= max_chars:
        return full
    room = max_chars - 48  # leave space for the "omitted" line
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    kept.reverse()
    dropped = len(lines) - len(kept)
    if dropped:
        kept.insert(0, f"(… {dropped} earlier contributions omitted)")
    return "\n".join(kept)
