"""An agent's structured memory: MEMORY.json, and MEMORY.md as its readable mirror.

MEMORY.json holds goals (with rts_elapsed), first-person episodes, curated lessons,
beliefs, rolling session summaries, the skills the agent owns, a private diary and the
"last time you..." session bridge. The worker puts MEMORY.md into every prompt, so
MEMORY.md is regenerated from the JSON on every write and kept within MAX_RENDER_CHARS:
what matters most for the next roundtable (bridge, goals, lessons) is rendered first.

Every write is a locked read-modify-write (the runner and a standalone `amatelier
therapist` may touch the same agent), and both files are replaced atomically.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import file_lock, read_json, write_json_atomic, write_text_atomic
from amatelier.learning.text import best_match, clip, content_hash, word_overlap

log = logging.getLogger(__name__)

MEMORY_VERSION = 1
MAX_RECENT_SESSIONS = 5
MAX_EPISODES = 30
MAX_LESSONS = 40
MAX_BELIEFS = 20
MAX_DIARY = 60
MAX_CLOSED_GOALS = 20
MAX_AGED_RTS = 50
MAX_RENDER_CHARS = 4000
MAX_ITEM_CHARS = 300
DUPLICATE_OVERLAP = 0.7   # lessons/goals this similar to an existing one are not added again
BELIEF_OVERLAP = 0.5      # a belief this similar to an existing one updates it
GOAL_MATCH_OVERLAP = 0.3  # fuzzy match for update_goal_progress
MEMORY_MD_HEADER = "# Memory"


def now_iso() -> str:
    """UTC now as an ISO-8601 string (second precision); frozen in tests by freezegun."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- storage


def memory_path(agent: str) -> Path:
    """agents/<name>/MEMORY.json under the user-data dir."""
    return paths.user_agent_dir(agent) / "MEMORY.json"


def memory_md_path(agent: str) -> Path:
    """agents/<name>/MEMORY.md, the rendered mirror the worker reads."""
    return paths.user_agent_dir(agent) / "MEMORY.md"


def empty_memory() -> dict[str, Any]:
    """The structure of a new MEMORY.json."""
    return {
        "version": MEMORY_VERSION,
        "goals": [],
        "episodes": [],
        "lessons": [],
        "beliefs": [],
        "sessions": [],
        "skills_owned": [],
        "diary": [],
        "session_bridge": None,
        "goals_aged_rts": [],
    }


def normalize_memory(data: Any) -> dict[str, Any]:
    """Fill missing keys and drop wrongly-typed ones so callers never KeyError."""
    memory = empty_memory()
    if not isinstance(data, dict):
        return memory
    for key, default in memory.items():
        value = data.get(key, default)
        if isinstance(default, list):
            memory[key] = [v for v in value if v is not None] if isinstance(value, list) else []
        elif key == "session_bridge":
            memory[key] = value if isinstance(value, dict) else None
        else:
            memory[key] = value
    for key, value in data.items():       # keep fields other tools added
        memory.setdefault(key, value)
    memory["version"] = MEMORY_VERSION
    return memory


def _read(agent: str) -> dict[str, Any]:
    path = memory_path(agent)
    try:
        return normalize_memory(read_json(path, {}))
    except ValueError:
        # Keep the unreadable file for a human; start from an empty structure.
        backup = path.with_name(f"MEMORY.json.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        with contextlib.suppress(OSError):
            shutil.copy2(path, backup)
        log.warning("MEMORY.json for %s was not valid JSON; kept a copy at %s", agent, backup)
        return empty_memory()


def load_memory(agent: str) -> dict[str, Any]:
    """Load structured memory from MEMORY.json. Falls back to empty structure."""
    return _read(agent)


def _write(agent: str, memory: dict[str, Any]) -> None:
    memory = normalize_memory(memory)
    write_json_atomic(memory_path(agent), memory)
    write_text_atomic(memory_md_path(agent), render_memory(memory, agent=agent) + "\n")


def save_memory(agent: str, memory: dict[str, Any]) -> None:
    """Persist structured memory (and its MEMORY.md mirror) atomically, under the lock."""
    with file_lock(memory_path(agent)):
        _write(agent, memory)


@contextlib.contextmanager
def edit_memory(agent: str) -> Iterator[dict[str, Any]]:
    """Locked read-modify-write of MEMORY.json; MEMORY.md is re-rendered on exit."""
    path = memory_path(agent)
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        memory = _read(agent)
        yield memory
        _write(agent, memory)


# --------------------------------------------------------------------------- rendering


def _bullets(items: list[str]) -> list[str]:
    return [f"- {clip(item, MAX_ITEM_CHARS)}" for item in items if item]


def _goal_line(goal: dict[str, Any]) -> str:
    elapsed = int(goal.get("rts_elapsed", 0))
    horizon = int(goal.get("horizon_rts", 1))
    return f"{goal.get('goal', '')} (roundtables elapsed: {elapsed} of {horizon})"


def render_memory(memory: dict[str, Any] | str, agent: str | None = None,
                  max_chars: int = MAX_RENDER_CHARS) -> str:
    """Render structured memory as text for the agent's prompt, within `max_chars`.

    Sections go in priority order (bridge, goals, lessons, beliefs, sessions, skills,
    episodes); newest items first inside each; lines that would cross the bound are
    dropped, never half-written.
    """
    if isinstance(memory, str):
        agent = agent or memory
        memory = load_memory(memory)
    memory = normalize_memory(memory)
    title = f"{MEMORY_MD_HEADER} — {agent}" if agent else MEMORY_MD_HEADER
    bridge = memory.get("session_bridge") or {}
    active = [g for g in memory["goals"] if isinstance(g, dict) and g.get("status") == "active"]
    sections: list[tuple[str, list[str]]] = [
        ("Last time", [clip(bridge.get("text", ""), 800)] if bridge.get("text") else []),
        ("Active goals", _bullets([_goal_line(g) for g in active])),
        ("Lessons", _bullets([x.get("text", "") for x in reversed(memory["lessons"])
                              if isinstance(x, dict)])),
        ("Beliefs", _bullets([x.get("text", "") for x in reversed(memory["beliefs"])
                              if isinstance(x, dict)])),
        ("Recent sessions", _bullets([f"[{s.get('rt_id', '?')}] {s.get('summary', '')}"
                                      for s in reversed(memory["sessions"])
                                      if isinstance(s, dict)])),
        ("Skills owned", _bullets([str(s) for s in memory["skills_owned"]])),
        ("Episodes", _bullets([x.get("text", "") for x in reversed(memory["episodes"])
                               if isinstance(x, dict)])),
    ]
    out = clip(title, max_chars)
    for heading, lines in sections:
        if not lines:
            continue
        header = f"\n\n## {heading}\n"
        if len(out) + len(header) + len(lines[0]) > max_chars:
            continue
        out += header + lines[0]
        for line in lines[1:]:
            if len(out) + 1 + len(line) > max_chars:
                break
            out += "\n" + line
    if len(out) == len(clip(title, max_chars)):
        out = (out + "\n\n(no memories yet)")[:max_chars]
    return out


# --------------------------------------------------------------------------- session bridge


def bridge_text(memory: dict[str, Any]) -> str:
    """The "last time you..." paragraph built from the latest session and open goals."""
    memory = normalize_memory(memory)
    sessions = [s for s in memory["sessions"] if isinstance(s, dict)]
    if not sessions:
        return ""
    last = sessions[-1]
    topic = last.get("topic")
    where = f"roundtable {last.get('rt_id', '?')}" + (f" on \"{clip(topic, 80)}\"" if topic else "")
    parts = [f"Last time you took part in {where}. In the debrief: {clip(last.get('summary', ''), 400)}"]
    if not last.get("complete", True):
        parts.append("That debrief was cut short.")
    active = [g for g in memory["goals"] if isinstance(g, dict) and g.get("status") == "active"]
    if active:
        goals = "; ".join(clip(g.get("goal", ""), 120) for g in active[:3])
        parts.append(f"You set yourself: {goals}.")
    lessons = [x for x in memory["lessons"] if isinstance(x, dict)]
    if lessons:
        parts.append(f"Your latest lesson: {clip(lessons[-1].get('text', ''), 160)}")
    return " ".join(parts)


def generate_session_bridge(agent: str) -> str:
    """Generate a 'last time you...' bridge from the most recent session; stored in memory."""
    with edit_memory(agent) as memory:
        text = bridge_text(memory)
        if text:
            last = memory["sessions"][-1]
            memory["session_bridge"] = {"text": text, "from_rt": last.get("rt_id"),
                                        "generated_at": now_iso()}
        else:
            memory["session_bridge"] = None
    return text


# --------------------------------------------------------------------------- episodes, lessons, beliefs


def add_episode(agent: str, text: str, rt_id: str | None = None, source: str = "therapist") -> bool:
    """Add a first-person episodic memory (newest kept, oldest dropped past MAX_EPISODES)."""
    text = clip(text, MAX_ITEM_CHARS)
    if not text:
        return False
    with edit_memory(agent) as memory:
        if any(isinstance(e, dict) and e.get("text") == text for e in memory["episodes"]):
            return False
        memory["episodes"].append({"text": text, "rt_id": rt_id, "source": source,
                                   "created_at": now_iso()})
        memory["episodes"] = memory["episodes"][-MAX_EPISODES:]
    return True


_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_FIRST_PERSON = re.compile(r"^(i|i'm|i've|i'd|i'll|my|me)\b", re.I)


def episode_candidates(text: str, limit: int = 3) -> list[str]:
    """First-person sentences of an agent's own words that read like a memory."""
    found: list[str] = []
    for sentence in _SENTENCE.split(" ".join((text or "").split())):
        sentence = sentence.strip(" -*>\"'")
        if 25 <= len(sentence) <= MAX_ITEM_CHARS and _FIRST_PERSON.match(sentence) \
                and sentence not in found:
            found.append(sentence)
        if len(found) >= limit:
            break
    return found


def extract_episodes_from_therapist(agent: str, session_text: str, rt_id: str | None = None,
                                    limit: int = 3) -> list[str]:
    """Extract episodic memories from a therapist session (the agent's own answers)."""
    added = []
    for sentence in episode_candidates(session_text, limit):
        if add_episode(agent, sentence, rt_id, source="session"):
            added.append(sentence)
    return added


def add_lesson(agent: str, text: str, rt_id: str | None = None) -> bool:
    """Add a permanent curated lesson; near-duplicates (>70% word overlap) are skipped."""
    text = clip(text, MAX_ITEM_CHARS)
    if not text:
        return False
    with edit_memory(agent) as memory:
        existing = [x.get("text", "") for x in memory["lessons"] if isinstance(x, dict)]
        if text in existing or best_match(text, existing)[1] > DUPLICATE_OVERLAP:
            return False
        memory["lessons"].append({"text": text, "rt_id": rt_id, "created_at": now_iso()})
        memory["lessons"] = memory["lessons"][-MAX_LESSONS:]
    return True


def update_belief(agent: str, belief: str, confidence: float | None = None,
                  rt_id: str | None = None) -> str:
    """Add or update a belief. If a similar belief exists, update it. Returns added|updated."""
    belief = clip(belief, MAX_ITEM_CHARS)
    if not belief:
        return "skipped"
    with edit_memory(agent) as memory:
        beliefs = [b for b in memory["beliefs"] if isinstance(b, dict)]
        index, overlap = best_match(belief, [b.get("text", "") for b in beliefs])
        if index >= 0 and overlap >= BELIEF_OVERLAP:
            entry = beliefs[index]
            entry.update({"text": belief, "rt_id": rt_id, "updated_at": now_iso(),
                          "revisions": int(entry.get("revisions", 0)) + 1})
            if confidence is not None:
                entry["confidence"] = float(confidence)
            memory["beliefs"] = beliefs
            return "updated"
        beliefs.append({"text": belief, "confidence": 0.7 if confidence is None else float(confidence),
                        "rt_id": rt_id, "created_at": now_iso(), "updated_at": now_iso(),
                        "revisions": 0})
        memory["beliefs"] = beliefs[-MAX_BELIEFS:]
    return "added"


# --------------------------------------------------------------------------- goals


def add_goal(agent: str, goal: str, horizon_rts: int = 3, rt_id: str | None = None) -> dict[str, Any] | None:
    """Add an active goal with a timeline (in roundtables); near-duplicates are not re-added."""
    goal = clip(goal, MAX_ITEM_CHARS)
    if not goal:
        return None
    horizon = max(1, int(horizon_rts))
    with edit_memory(agent) as memory:
        active = [g for g in memory["goals"] if isinstance(g, dict) and g.get("status") == "active"]
        index, overlap = best_match(goal, [g.get("goal", "") for g in active])
        if index >= 0 and overlap > DUPLICATE_OVERLAP:
            return None
        entry = {"id": "g-" + content_hash(goal, rt_id or "")[:8], "goal": goal,
                 "horizon_rts": horizon, "rts_elapsed": 0, "status": "active",
                 "rt_id": rt_id, "created_at": now_iso(), "progress": []}
        memory["goals"].append(entry)
    return entry


def update_goal_progress(agent: str, goal_text: str, note: str = "",
                         completed: bool = False) -> bool:
    """Update progress on a goal by fuzzy matching the goal text."""
    with edit_memory(agent) as memory:
        active = [g for g in memory["goals"] if isinstance(g, dict) and g.get("status") == "active"]
        index, overlap = best_match(goal_text, [g.get("goal", "") for g in active])
        if index < 0 or overlap < GOAL_MATCH_OVERLAP:
            return False
        goal = active[index]
        if note:
            goal.setdefault("progress", []).append({"note": clip(note, MAX_ITEM_CHARS),
                                                    "at": now_iso()})
        if completed:
            goal["status"] = "completed"
            goal["closed_at"] = now_iso()
    return True


def _trim_closed_goals(goals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    closed = [g for g in goals if g.get("status") != "active"]
    drop = {id(g) for g in closed[:-MAX_CLOSED_GOALS]} if len(closed) > MAX_CLOSED_GOALS else set()
    return [g for g in goals if id(g) not in drop]


def age_goals(agent: str, rt_id: str | None = None) -> dict[str, Any]:
    """Increment rts_elapsed on all active goals. Called after each RT.

    A goal set during `rt_id`'s own debrief is not aged by that roundtable, and a given
    roundtable ages goals once even if called twice. Goals whose rts_elapsed reaches
    their horizon expire.
    """
    result: dict[str, Any] = {"aged": 0, "expired": []}
    with edit_memory(agent) as memory:
        if rt_id and rt_id in memory["goals_aged_rts"]:
            return result
        goals = [g for g in memory["goals"] if isinstance(g, dict)]
        for goal in goals:
            if goal.get("status") != "active" or (rt_id and goal.get("rt_id") == rt_id):
                continue
            goal["rts_elapsed"] = int(goal.get("rts_elapsed", 0)) + 1
            result["aged"] += 1
            if goal["rts_elapsed"] >= int(goal.get("horizon_rts", 1)):
                goal["status"] = "expired"
                goal["closed_at"] = now_iso()
                result["expired"].append(goal["goal"])
        memory["goals"] = _trim_closed_goals(goals)
        if rt_id:
            memory["goals_aged_rts"] = (memory["goals_aged_rts"] + [rt_id])[-MAX_AGED_RTS:]
    return result


def active_goals(agent: str) -> list[dict[str, Any]]:
    """The agent's goals still open."""
    return [g for g in load_memory(agent)["goals"]
            if isinstance(g, dict) and g.get("status") == "active"]


# --------------------------------------------------------------------------- sessions


def add_session_summary(agent: str, rt_id: str, summary: str, topic: str | None = None,
                        complete: bool = True) -> None:
    """Add a rolling session summary (keeps last MAX_RECENT_SESSIONS); one per roundtable."""
    summary = clip(summary, 1200)
    with edit_memory(agent) as memory:
        sessions = [s for s in memory["sessions"] if isinstance(s, dict) and s.get("rt_id") != rt_id]
        sessions.append({"rt_id": rt_id, "topic": topic, "summary": summary,
                         "complete": bool(complete), "date": now_iso()})
        memory["sessions"] = sessions[-MAX_RECENT_SESSIONS:]


append_session_summary = add_session_summary  # SPEC name


# --------------------------------------------------------------------------- diary


def write_diary_entry(agent: str, entry: str, topic: str | None = None,
                      rt_id: str | None = None) -> bool:
    """Agent writes a personal diary entry — their own private reflection."""
    entry = clip(entry, 2000)
    if not entry:
        return False
    with edit_memory(agent) as memory:
        memory["diary"].append({"date": now_iso(), "topic": topic, "rt_id": rt_id, "entry": entry})
        memory["diary"] = memory["diary"][-MAX_DIARY:]
    return True


def read_diary(agent: str, topic: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Read diary entries, optionally filtered by topic (case-insensitive substring)."""
    entries = [e for e in load_memory(agent)["diary"] if isinstance(e, dict)]
    if topic:
        needle = topic.lower()
        entries = [e for e in entries if needle in str(e.get("topic") or "").lower()
                   or needle in str(e.get("entry") or "").lower()]
    return entries[-limit:] if limit else entries


def diary_stats(agent: str) -> dict[str, Any]:
    """Get diary statistics for the therapist's case notes."""
    entries = read_diary(agent)
    topics: dict[str, int] = {}
    for entry in entries:
        key = str(entry.get("topic") or "untitled")
        topics[key] = topics.get(key, 0) + 1
    lengths = [len(str(e.get("entry", ""))) for e in entries]
    return {
        "entries": len(entries),
        "topics": topics,
        "first": entries[0]["date"] if entries else None,
        "last": entries[-1]["date"] if entries else None,
        "avg_length": round(sum(lengths) / len(lengths), 1) if lengths else 0.0,
    }


# --------------------------------------------------------------------------- skills, migration


def set_skills_owned(agent: str, skills: list[str]) -> bool:
    """Replace the skills_owned list; True when it changed."""
    with edit_memory(agent) as memory:
        before = list(memory["skills_owned"])
        memory["skills_owned"] = sorted(dict.fromkeys(s for s in skills if s))
        return before != memory["skills_owned"]


def migrate_from_memory_md(agent: str) -> int:
    """Migrate existing MEMORY.md content into the structured memory system.

    Only runs for an agent whose MEMORY.json was never structured and whose MEMORY.md has
    hand-written content: each bullet (or paragraph) becomes a lesson. Returns the count.
    """
    md = memory_md_path(agent)
    try:
        raw = read_json(memory_path(agent), {})
    except ValueError:
        raw = {}
    if isinstance(raw, dict) and raw.get("version"):
        return 0
    try:
        text = md.read_text(encoding="utf-8")
    except OSError:
        return 0
    if not text.strip() or text.lstrip().startswith(MEMORY_MD_HEADER):
        return 0
    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        items.append(line.lstrip("-*• ").strip())
    count = 0
    with edit_memory(agent) as memory:
        for item in items:
            text_item = clip(item, MAX_ITEM_CHARS)
            if text_item and all(word_overlap(text_item, x.get("text", "")) <= DUPLICATE_OVERLAP
                                 for x in memory["lessons"]):
                memory["lessons"].append({"text": text_item, "rt_id": None,
                                          "created_at": now_iso(), "source": "MEMORY.md"})
                count += 1
        memory["lessons"] = memory["lessons"][-MAX_LESSONS:]
    return count
