"""A seat for a person: messages posted into a live roundtable with `amatelier say`.

A person's message is a message of kind `human` from a validated name. It never blocks the
debate (one INSERT; the runner and workers read it with everything else), every agent sees it in
its next prompt under a clear label, the Judge's gate and the decision chair see it too, and it is
never scored and never earns sparks (scoring and the ledger only know the roundtable's agents).
"""

from __future__ import annotations

import getpass
import re
import sqlite3
from typing import Any

from amatelier.chat import roundtables
from amatelier.chat.messages import HUMAN, post

NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
MAX_CHARS = 4000
# C0 controls but tab and newline, DEL and C1: terminal escapes a watcher's screen would obey
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
RESERVED = ("runner", "steward", "judge", "therapist", "admin", "system", "human", "you")


class HumanMessageRefused(ValueError):
    """Why a person's message was not posted (one line, for the CLI, MCP and HTTP)."""


def default_name() -> str:
    """The OS user name, lower-cased (validated like any other name)."""
    try:
        return getpass.getuser().strip().lower()
    except (OSError, KeyError):
        return "guest"


def check_name(name: str, taken: list[str]) -> str:
    """A valid speaker name for a person, or HumanMessageRefused naming the rule."""
    name = (name or "").strip().lower()
    if not NAME_RE.match(name):
        raise HumanMessageRefused(f"--as {name!r} is not a valid name: use 1-32 lower-case letters, digits, "
                                  "'.', '-' or '_', starting with a letter")
    if name in RESERVED or name in taken:
        raise HumanMessageRefused(f"--as {name!r} is an agent or engine name in this roundtable; "
                                  "pick a name that is yours")
    return name


def check_text(text: str) -> str:
    """The message text, stripped; refused when empty or too long."""
    text = (text or "").replace("\r\n", "\n").strip()
    if CONTROL.search(text):
        raise HumanMessageRefused("the message contains control characters (escape codes); send plain text")
    if not text:
        raise HumanMessageRefused("the message is empty")
    if len(text) > MAX_CHARS:
        raise HumanMessageRefused(f"the message is {len(text)} characters; at most {MAX_CHARS}")
    return text


def current_round(conn: sqlite3.Connection, rt_id: str) -> int | None:
    """The round the debate is in (the newest message's round)."""
    row = conn.execute("SELECT round FROM messages WHERE rt_id = ? AND round IS NOT NULL"
                       " ORDER BY id DESC LIMIT 1", (rt_id,)).fetchone()
    return int(row[0]) if row else None


def say(conn: sqlite3.Connection, rt_id: str | None, text: str, *, name: str | None = None,
        config: dict[str, Any] | None = None, agents: list[str] | None = None) -> dict[str, Any]:
    """Post a person's message into an open roundtable; returns {rt_id, message_id, name, round}."""
    policy = str(((config or {}).get("roundtable") or {}).get("human_messages", "allow")).lower()
    if policy == "deny":
        raise HumanMessageRefused("human messages are turned off (config roundtable.human_messages is "
                                  "'deny')")
    if rt_id:
        rt = roundtables.get_roundtable(conn, rt_id)
        if rt is None:
            raise HumanMessageRefused(f"no roundtable with id {rt_id}")
    else:
        rt = roundtables.latest_open(conn)
        if rt is None:
            raise HumanMessageRefused("no roundtable is running (start one, or give --rt ID)")
    taken = [*(rt.get("participants") or []), *(agents or [])]
    speaker = check_name(name or default_name(), taken)
    body = check_text(text)
    if rt["status"] != roundtables.OPEN or roundtables.runner_gone(rt):
        raise HumanMessageRefused(f"roundtable {rt['id']} is not running ({rt['status']}); "
                                  "only a live roundtable takes messages")
    round_no = current_round(conn, rt["id"])
    message_id = post(conn, rt["id"], speaker, body, kind=HUMAN, round=round_no, phase="HUMAN")
    return {"rt_id": rt["id"], "message_id": message_id, "name": speaker, "round": round_no}
