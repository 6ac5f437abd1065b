"""Positions as data: the `POSITION: ... | CONFIDENCE: ... | MOVED BY: ...` line of a turn.

Every worker turn (SPEAK, REBUTTAL, FLOOR) ends with one machine-readable line, e.g.::

    POSITION: split only the billing service, behind a flag | CONFIDENCE: 70 | MOVED BY: clare #41

Models drift, so parse_position() is lenient: any case, markdown decoration (`**Position:**`,
`- `, `> `), `=` or `-` instead of `:`, fields on the following lines instead of after `|`,
a percentage or a 0-1 fraction for the confidence, `clare (#41)`, `#41 clare`, `msg 41` or
`none` for MOVED BY. The message keeps its text (no data is lost, and the others read each
other's stated positions); visible_text() drops the line where a person reads the message.
A turn without the line is stored as missing: the previous position carries on.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

POSITION_PHASES = ("SPEAK", "REBUTTAL", "FLOOR")
_DECOR = r"[\s>*_`#\-•]*"
_KEY_POSITION = re.compile(rf"^{_DECOR}(?:final\s+)?position{_DECOR}\s*[:=\-–—]\s*(.*)$", re.I)
_KEY_FIELD = re.compile(rf"^{_DECOR}(?:(confidence|conf)\b{_DECOR}\s*[:=\-–—]|(moved[\s_\-]*by)\b{_DECOR}\s*[:=\-–—]?)"
                        r"\s*(.*)$", re.I)
# Inside a `|`-separated POSITION line the separator after a key may be missing too.
_PART_FIELD = re.compile(rf"^{_DECOR}(?:(confidence|conf)\b{_DECOR}\s*[:=\-–—]?|(moved[\s_\-]*by)\b{_DECOR}\s*[:=\-–—]?)"
                         r"\s*(.*)$", re.I)
_NONE_WORDS = frozenset({"none", "nobody", "no one", "noone", "n/a", "na", "-", "—", "nothing", "no",
                         "null", "self", "myself", "unchanged", "not moved", "no change"})
_WORD = re.compile(r"[a-z][a-z0-9_-]*")
_ID = re.compile(r"(?:#|\bmsg[-\s#]*|\bmessage[-\s#]*|\bid[-\s#]*)(\d{1,12})\b", re.I)
_BARE_ID = re.compile(r"\b(\d{1,12})\b")
_STANCE_CAP = 500
_LEVELS = {"very high": 90, "high": 80, "medium": 60, "moderate": 60, "mid": 60, "low": 30, "very low": 15}


@dataclass(frozen=True)
class Position:
    """One parsed POSITION line."""

    stance: str
    confidence: int | None = None        # 0-100
    moved_by: str | None = None          # agent credited with the move (None = none)
    moved_by_message: int | None = None  # message id credited
    raw: str = ""


def _clean(value: str) -> str:
    return " ".join(value.replace("**", "").replace("__", "").replace("`", "").split()).strip(" *_|")


def parse_confidence(value: str) -> int | None:
    """`80`, `80%`, `0.8`, `80/100`, `high` -> 0..100; None when unreadable."""
    text = _clean(value).lower()
    if not text:
        return None
    for word, level in _LEVELS.items():
        if text.startswith(word):
            return level
    match = re.search(r"(\d+(?:\.\d+)?)\s*(%|/\s*100|/\s*10\b|/\s*5\b)?", text)
    if not match:
        return None
    number = float(match.group(1))
    unit = (match.group(2) or "").replace(" ", "")
    if unit == "/10":
        number *= 10
    elif unit == "/5":
        number *= 20
    elif not unit and number <= 1.0 and "." in match.group(1):
        number *= 100
    return int(round(max(0.0, min(100.0, number))))


def parse_moved_by(value: str, participants: list[str] | None = None) -> tuple[str | None, int | None]:
    """(agent, message id) named in a MOVED BY field; (None, None) for none."""
    text = _clean(value)
    lowered = text.lower().strip(" .;,")
    if not lowered or lowered in _NONE_WORDS or lowered.split(" ")[0] in ("none", "nobody", "n/a"):
        return None, None
    match = _ID.search(text) or _BARE_ID.search(text)
    message_id = int(match.group(1)) if match else None
    agent = None
    words = _WORD.findall(lowered)
    known = [p.lower() for p in participants or []]
    for word in words:
        if known and word in known:
            agent = word
            break
    if agent is None and not known:
        skip = {"msg", "message", "id", "by", "the", "and", "point", "argument", "s"}
        agent = next((w for w in words if w not in skip and w not in _NONE_WORDS), None)
    return agent, message_id


def _find_position_line(lines: list[str]) -> int | None:
    for index in range(len(lines) - 1, -1, -1):
        if _KEY_POSITION.match(lines[index]):
            return index
    return None


def parse_position(text: str, participants: list[str] | None = None) -> tuple[Position | None, list[int]]:
    """The last POSITION line of a message and the line numbers it (and its fields) took.

    Returns (None, []) when the message has no position line or an empty stance.
    """
    lines = (text or "").splitlines()
    start = _find_position_line(lines)
    if start is None:
        return None, []
    used = [start]
    head = _KEY_POSITION.match(lines[start]).group(1)  # type: ignore[union-attr]
    parts = [p for p in re.split(r"\s*\|\s*", head)]
    for follow in range(start + 1, min(len(lines), start + 4)):  # fields written on the next lines
        line = lines[follow]
        if not line.strip():
            continue
        if _KEY_FIELD.match(line):
            parts += re.split(r"\s*\|\s*", line.strip())
            used.append(follow)
        else:
            break
    stance_bits: list[str] = []
    confidence: int | None = None
    moved: tuple[str | None, int | None] = (None, None)
    for index, part in enumerate(parts):
        field = _PART_FIELD.match(part) if index else None  # the first part is always the stance
        if field:
            if field.group(1):
                confidence = parse_confidence(field.group(3))
            else:
                moved = parse_moved_by(field.group(3), participants)
        elif part.strip():
            stance_bits.append(part)
    stance = _clean(" | ".join(b for b in stance_bits if _clean(b)))[:_STANCE_CAP]
    if not stance:
        return None, []
    raw = " ".join(lines[i].strip() for i in used)
    return Position(stance=stance, confidence=confidence, moved_by=moved[0], moved_by_message=moved[1],
                    raw=raw[:2000]), used


def visible_text(text: str) -> str:
    """The message as a person reads it: without the POSITION line (and its field lines)."""
    position, used = parse_position(text)
    if position is None:
        return text
    lines = [line for i, line in enumerate((text or "").splitlines()) if i not in used]
    return "\n".join(lines).rstrip()


def normalize(stance: str) -> str:
    """Lower-cased words of a stance, for comparing positions."""
    return " ".join(_WORD.findall((stance or "").lower()))


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of two stances' word sets (1.0 for two empty stances)."""
    left, right = set(normalize(a).split()), set(normalize(b).split())
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


SAME_STANCE = 0.6


def same_stance(a: str | None, b: str | None) -> bool:
    """Whether two stances say the same thing (identical words or mostly the same words)."""
    if a is None or b is None:
        return a is b
    return normalize(a) == normalize(b) or similarity(a, b) >= SAME_STANCE


# --------------------------------------------------------------------------- storage


def store_position(conn: sqlite3.Connection, *, rt_id: str, message_id: int, agent: str,
                   round_no: int | None, phase: str | None, position: Position | None) -> None:
    """Record a turn's position (or that it had none). Idempotent per message."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if position is None:
        values = (None, None, None, None, None, 1)
    else:
        values = (position.stance, position.confidence, position.moved_by, position.moved_by_message,
                  position.raw, 0)
    conn.execute(
        "INSERT OR IGNORE INTO positions (rt_id, message_id, agent, round, phase, stance, confidence,"
        " moved_by, moved_by_message, raw, missing, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (rt_id, int(message_id), agent, round_no, phase, *values, stamp),
    )


def record_turn_position(conn: sqlite3.Connection, *, rt_id: str, message_id: int, agent: str,
                         round_no: int | None, phase: str | None, text: str,
                         participants: list[str] | None = None) -> Position | None:
    """Parse a posted turn's text and store its position; PASS turns on the floor store nothing."""
    if (phase or "").upper() not in POSITION_PHASES:
        return None
    body = (text or "").strip()
    if (phase or "").upper() == "FLOOR" and re.sub(r"^\[offline\]\s*", "", body).upper().startswith("PASS"):
        return None
    position, _ = parse_position(body, participants)
    if position is not None and position.moved_by_message is not None:
        row = conn.execute("SELECT agent FROM messages WHERE id = ? AND rt_id = ?",
                           (position.moved_by_message, rt_id)).fetchone()
        if row is None:  # not a message of this roundtable: keep the credit, drop the bad id
            position = Position(position.stance, position.confidence, position.moved_by, None, position.raw)
        elif position.moved_by is None:  # `MOVED BY: #41`: the author of message 41
            position = Position(position.stance, position.confidence, str(row[0]),
                                position.moved_by_message, position.raw)
    store_position(conn, rt_id=rt_id, message_id=message_id, agent=agent, round_no=round_no,
                   phase=phase, position=position)
    return position


def load_positions(conn: sqlite3.Connection, rt_id: str) -> list[dict[str, Any]]:
    """Every stored position row of a roundtable, in message order."""
    cursor = conn.execute(
        "SELECT message_id, agent, round, phase, stance, confidence, moved_by, moved_by_message, raw, missing"
        " FROM positions WHERE rt_id = ? ORDER BY message_id", (rt_id,))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


#: The sentence every SPEAK, REBUTTAL and FLOOR instruction ends with (see runner.instructions).
#: The reply form stays mid-sentence, so a model quoting its instructions never posts it by accident.
POSITION_INSTRUCTION = (
    "End your message with one last line in the form `POSITION: <your answer to the topic in one "
    "sentence> | CONFIDENCE: <0-100> | MOVED BY: <agent #message-id that changed your mind, or none>`.")
FLOOR_POSITION_INSTRUCTION = "If you speak, " + POSITION_INSTRUCTION[0].lower() + POSITION_INSTRUCTION[1:]
