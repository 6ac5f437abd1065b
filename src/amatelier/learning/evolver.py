"""How an agent's persona changes: learned behaviours, emerging traits, skills owned.

Learned behaviours live in two places that are kept in step: a bullet in the
`## Learned Behaviors` section of the agent's user-data CLAUDE.md (what the model reads)
and an entry in behaviors.json (confidence and history). Every roundtable that does not
confirm a behaviour costs it DECAY_RATE confidence; below FADE_THRESHOLD it is pruned
from both places. A therapist confirmation resets it to 1.0. The bundled persona seed
is never touched: only the copy under the user-data dir evolves.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from amatelier import paths, seed_hashes
from amatelier.atomicio import file_lock, read_json, write_json_atomic, write_text_atomic
from amatelier.learning import agent_memory
from amatelier.learning.persona_history import write_persona_file
from amatelier.learning.text import best_match, clip, content_hash
from amatelier.persona_files import variant_persona_files

log = logging.getLogger(__name__)

DECAY_RATE = 0.05
FADE_THRESHOLD = 0.5
DUPLICATE_OVERLAP = 0.7    # >70% word overlap = the same behaviour
REMOVE_MATCH_OVERLAP = 0.5  # how close a "remove" must be to an existing behaviour
FADING_WARNING = 0.65
MAX_HISTORY = 50
MAX_BEHAVIOR_CHARS = 300

LEARNED_BEHAVIORS = "Learned Behaviors"
EMERGING_TRAITS = "Emerging Traits"
SKILLS_OWNED = "Skills Owned"

_PLACEHOLDER = re.compile(r"^[(_*\s]*(none|nothing|no \w+)( yet)?[\w\s,.-]*[)_*.\s]*$", re.I)


def _now() -> str:
    return agent_memory.now_iso()


# --------------------------------------------------------------------------- CLAUDE.md sections


def claude_md_path(agent: str) -> Path:
    """The agent's user-data CLAUDE.md (the copy the loop may edit)."""
    return paths.user_agent_dir(agent) / "CLAUDE.md"


def read_claude_md(agent: str) -> str:
    """The agent's user-data persona (seeded from the bundled copy on first use)."""
    path = claude_md_path(agent)
    if not path.exists():
        paths.seed_agent(agent)
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return f"# {agent}\n"


def write_claude_md(agent: str, text: str) -> None:
    """Atomically replace the user-data persona (never the bundled seed).

    The text it replaces is kept as agents/<name>/history/CLAUDE.md.<NNN> first, and the hash
    of what was written is recorded, so `refresh-seeds` can say the file was "evolved by the
    therapist" rather than "edited by you". An installed agent's per-model variants get the
    evolved sections too.
    """
    body = text if text.endswith("\n") else text + "\n"
    path = claude_md_path(agent)
    write_persona_file(path.parent, "CLAUDE.md", body)
    with contextlib.suppress(OSError, ValueError):  # the record is bookkeeping; the persona is written
        seed_hashes.note_evolved(path.parent, path.name, body.encode("utf-8"))
    _sync_variants(agent, body)


def _sync_variants(agent: str, text: str) -> None:
    """Carry the evolved sections into an installed agent's per-model persona variants."""
    for path in variant_persona_files(paths.user_agent_dir(agent)):
        try:
            variant = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        updated = variant
        for heading in (LEARNED_BEHAVIORS, EMERGING_TRAITS, SKILLS_OWNED):
            items = get_section_items(text, heading)
            if items or _section_bounds(updated.splitlines(), heading) is not None:
                updated = set_section_items(updated, heading, items)
        if updated != variant:
            write_text_atomic(path, updated)


def _section_bounds(lines: list[str], heading: str) -> tuple[int, int] | None:
    """(index of the heading line, index after the section's last line) or None."""
    wanted = heading.strip().lower()
    for index, line in enumerate(lines):
        if line.startswith("## ") and line[3:].strip().lower() == wanted:
            end = index + 1
            while end < len(lines) and not re.match(r"^#{1,2} ", lines[end]):
                end += 1
            return index, end
    return None


def get_section_items(text: str, heading: str) -> list[str]:
    """The bullet items of a `## heading` section (empty when there is no such section)."""
    lines = text.splitlines()
    bounds = _section_bounds(lines, heading)
    if bounds is None:
        return []
    items = []
    for line in lines[bounds[0] + 1:bounds[1]]:
        stripped = line.strip()
        if stripped.startswith(("- ", "* ")):
            item = stripped[2:].strip()
            if item and not _PLACEHOLDER.match(item):
                items.append(item)
    return items


def set_section_items(text: str, heading: str, items: list[str]) -> str:
    """`text` with the `## heading` section's bullets replaced by `items`.

    Prose lines in the section are kept (minus "none yet" placeholders); a missing
    section is appended at the end of the document.
    """
    lines = text.splitlines()
    bounds = _section_bounds(lines, heading)
    bullets = [f"- {item}" for item in items]
    if bounds is None:
        body = lines + ([""] if lines and lines[-1].strip() else [])
        body += [f"## {heading}", ""] + (bullets or ["- (none yet)"])
        return "\n".join(body) + "\n"
    start, end = bounds
    prose = []
    for line in lines[start + 1:end]:
        stripped = line.strip()
        if stripped.startswith(("- ", "* ")) or (stripped and _PLACEHOLDER.match(stripped)):
            continue
        prose.append(line)
    while prose and not prose[-1].strip():
        prose.pop()
    while prose and not prose[0].strip():
        prose.pop(0)
    new_section = [lines[start], ""] + (prose + [""] if prose else []) + (bullets or ["- (none yet)"])
    tail = lines[end:]
    if tail:
        new_section.append("")
    return "\n".join(lines[:start] + new_section + tail) + "\n"


# --------------------------------------------------------------------------- behaviors.json


def behaviors_path(agent: str) -> Path:
    """agents/<name>/behaviors.json."""
    return paths.user_agent_dir(agent) / "behaviors.json"


def _normalize_behaviors(data: Any) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    out = {
        "version": 1,
        "behaviors": [b for b in data.get("behaviors", []) if isinstance(b, dict) and b.get("text")],
        "pruned": [b for b in data.get("pruned", []) if isinstance(b, dict)],
        "removed": [b for b in data.get("removed", []) if isinstance(b, dict)],
        "decayed_rts": [r for r in data.get("decayed_rts", []) if isinstance(r, str)],
    }
    for key, value in data.items():
        out.setdefault(key, value)
    return out


def load_behaviors(agent: str) -> dict[str, Any]:
    """Load structured behavior metadata (an empty structure for a new agent)."""
    path = behaviors_path(agent)
    try:
        return _normalize_behaviors(read_json(path, {}))
    except ValueError:
        # Keep the unreadable file for a human before the next save replaces it.
        backup = path.with_name(f"behaviors.json.corrupt-{_now().replace(':', '')}")
        if not backup.exists():
            with contextlib.suppress(OSError):
                shutil.copy2(path, backup)
        log.warning("behaviors.json for %s is not valid JSON (copy kept as %s); treating it as empty",
                    agent, backup.name)
        return _normalize_behaviors({})


def save_behaviors(agent: str, data: dict[str, Any]) -> None:
    """Write behaviors.json atomically, history lists capped (call under the agent lock)."""
    data = _normalize_behaviors(data)
    for key in ("pruned", "removed", "decayed_rts"):
        data[key] = data[key][-MAX_HISTORY:]
    write_json_atomic(behaviors_path(agent), data)


def _agent_lock(agent: str):
    """One lock per agent for behaviors.json and CLAUDE.md edits (they change together)."""
    return file_lock(behaviors_path(agent))


def _texts(data: dict[str, Any]) -> list[str]:
    return [b["text"] for b in data["behaviors"]]


def _find(data: dict[str, Any], text: str, threshold: float) -> int:
    texts = _texts(data)
    if text in texts:
        return texts.index(text)
    index, overlap = best_match(text, texts)
    return index if overlap > threshold else -1


# --------------------------------------------------------------------------- behaviours


def _confirm(entry: dict[str, Any], rt_id: str | None) -> None:
    entry["confidence"] = 1.0
    entry["confirmations"] = int(entry.get("confirmations", 0)) + 1
    entry["last_confirmed_rt"] = rt_id
    entry["last_confirmed_at"] = _now()
    entry["updated_at"] = _now()


def confirm_behavior(agent: str, behavior: str, rt_id: str | None = None) -> bool:
    """Confirm a behavior was useful — resets confidence to 1.0 (fuzzy text match)."""
    with _agent_lock(agent):
        data = load_behaviors(agent)
        index = _find(data, behavior, REMOVE_MATCH_OVERLAP)
        if index < 0:
            return False
        _confirm(data["behaviors"][index], rt_id)
        save_behaviors(agent, data)
    return True


def add_learned_behavior(agent: str, behavior: str, rt_id: str | None = None,
                         reason: str = "", source: str = "therapist") -> bool:
    """Add a learned behavior to CLAUDE.md + behaviors.json. Skips duplicates (>70% word overlap)."""
    behavior = clip(behavior, MAX_BEHAVIOR_CHARS)
    if not behavior:
        return False
    with _agent_lock(agent):
        data = load_behaviors(agent)
        claude = read_claude_md(agent)
        section = get_section_items(claude, LEARNED_BEHAVIORS)
        existing = _texts(data) + section
        if behavior in existing or best_match(behavior, existing)[1] > DUPLICATE_OVERLAP:
            return False
        data["behaviors"].append({
            "id": "b-" + content_hash(behavior)[:8], "text": behavior, "confidence": 1.0,
            "status": "active", "added_rt": rt_id, "last_confirmed_rt": rt_id,
            "confirmations": 0, "reason": clip(reason, 300), "source": source,
            "created_at": _now(), "updated_at": _now(),
        })
        save_behaviors(agent, data)
        write_claude_md(agent, set_section_items(claude, LEARNED_BEHAVIORS, section + [behavior]))
    return True


def _drop_from_section(claude: str, text: str) -> str:
    items = get_section_items(claude, LEARNED_BEHAVIORS)
    if text in items:
        items.remove(text)
    else:
        index, overlap = best_match(text, items)
        if index < 0 or overlap <= DUPLICATE_OVERLAP:
            return claude
        items.pop(index)
    return set_section_items(claude, LEARNED_BEHAVIORS, items)


def remove_learned_behavior(agent: str, behavior: str, rt_id: str | None = None,
                            reason: str = "") -> bool:
    """Remove a learned behavior from CLAUDE.md + behaviors.json by fuzzy match."""
    with _agent_lock(agent):
        data = load_behaviors(agent)
        claude = read_claude_md(agent)
        index = _find(data, behavior, REMOVE_MATCH_OVERLAP)
        target = data["behaviors"].pop(index)["text"] if index >= 0 else None
        if target is None:
            items = get_section_items(claude, LEARNED_BEHAVIORS)
            pos, overlap = best_match(behavior, items)
            if pos < 0 or overlap <= REMOVE_MATCH_OVERLAP:
                return False
            target = items[pos]
        else:
            data["removed"].append({"text": target, "removed_rt": rt_id, "removed_at": _now(),
                                    "reason": clip(reason, 300)})
            save_behaviors(agent, data)
        write_claude_md(agent, _drop_from_section(claude, target))
    return True


def apply_behavior_delta(agent: str, delta: dict[str, str], rt_id: str | None = None) -> str:
    """Apply one therapist delta; returns added|confirmed|removed|not-found|invalid.

    Re-adding a behaviour the agent already has counts as confirming it.
    """
    action = (delta.get("action") or "").lower()
    text = delta.get("behavior") or ""
    reason = delta.get("reason") or ""
    if action == "add":
        if add_learned_behavior(agent, text, rt_id, reason):
            return "added"
        return "confirmed" if confirm_behavior(agent, text, rt_id) else "duplicate"
    if action == "confirm":
        return "confirmed" if confirm_behavior(agent, text, rt_id) else "not-found"
    if action == "remove":
        return "removed" if remove_learned_behavior(agent, text, rt_id, reason) else "not-found"
    return "invalid"


def decay_behaviors(agent: str, rt_id: str | None = None, rate: float = DECAY_RATE,
                    threshold: float = FADE_THRESHOLD) -> dict[str, Any]:
    """Apply decay to all behaviors for one RT cycle; prune those that fall below threshold.

    Behaviours added or confirmed during `rt_id` do not decay for it, and one roundtable
    decays an agent once even if called twice.
    """
    result: dict[str, Any] = {"decayed": 0, "pruned": []}
    with _agent_lock(agent):
        data = load_behaviors(agent)
        if rt_id and rt_id in data["decayed_rts"]:
            return result
        keep = []
        for entry in data["behaviors"]:
            if rt_id and rt_id in (entry.get("last_confirmed_rt"), entry.get("added_rt")):
                keep.append(entry)
                continue
            entry["confidence"] = round(float(entry.get("confidence", 1.0)) - rate, 4)
            entry["updated_at"] = _now()
            result["decayed"] += 1
            if entry["confidence"] < threshold:
                entry.update({"pruned_rt": rt_id, "pruned_at": _now()})
                data["pruned"].append(entry)
                result["pruned"].append(entry["text"])
            else:
                keep.append(entry)
        data["behaviors"] = keep
        if rt_id:
            data["decayed_rts"].append(rt_id)
        save_behaviors(agent, data)
        if result["pruned"]:
            claude = read_claude_md(agent)
            for text in result["pruned"]:
                claude = _drop_from_section(claude, text)
            write_claude_md(agent, claude)
    return result


def prune_faded_behaviors(agent: str, threshold: float = FADE_THRESHOLD) -> list[str]:
    """Prune behaviours already below `threshold` (e.g. after a manual edit); returns texts."""
    return decay_behaviors(agent, rt_id=None, rate=0.0, threshold=threshold)["pruned"]


def get_behavior_decay_summary(agent: str) -> str:
    """Build a summary string for Therapist injection."""
    data = load_behaviors(agent)
    if not data["behaviors"]:
        return "No learned behaviours yet."
    lines = []
    for entry in sorted(data["behaviors"], key=lambda b: b.get("confidence", 1.0)):
        conf = float(entry.get("confidence", 1.0))
        flag = " — FADING, confirm or let it go" if conf < FADING_WARNING else ""
        lines.append(f"- {entry['text']} (confidence {conf:.2f}, last confirmed "
                     f"{entry.get('last_confirmed_rt') or 'never'}){flag}")
    if data["pruned"]:
        lines.append(f"Recently faded out: {'; '.join(b['text'] for b in data['pruned'][-3:])}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- traits, memory


def update_emerging_trait(agent: str, trait: str, note: str = "") -> None:
    """Update the Emerging Traits section in an agent's CLAUDE.md (one line per trait)."""
    trait = clip(trait, 80)
    if not trait:
        return
    line = f"**{trait}**" + (f": {clip(note, 240)}" if note else "")
    with _agent_lock(agent):
        claude = read_claude_md(agent)
        items = get_section_items(claude, EMERGING_TRAITS)
        key = trait.lower()
        items = [i for i in items if not i.lower().startswith((f"**{key}**", key + ":"))]
        items.append(line)
        write_claude_md(agent, set_section_items(claude, EMERGING_TRAITS, items))


def append_to_memory(agent: str, text: str, rt_id: str | None = None) -> bool:
    """Dual-write: structured MEMORY.json (primary) + MEMORY.md (re-rendered mirror)."""
    return agent_memory.add_lesson(agent, text, rt_id)


# --------------------------------------------------------------------------- skills owned


def _table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                          (table,)).fetchone()
    if not exists:
        return []
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def catalog_items() -> list[dict[str, Any]]:
    """Store catalog items as {id, name, kind, price} (bundled + user catalog, any shape)."""
    raw: Any = None
    try:
        from amatelier.economy import store

        rows = getattr(store, "catalog_rows", None)
        if callable(rows):
            return [{"id": str(r.get("id")), "name": str(r.get("name") or ""),
                     "kind": str(r.get("kind") or ""), "price": r.get("price")} for r in rows()]
    except Exception:  # the store is optional for the learning loop
        raw = None
    try:
        raw = read_json(paths.bundled_store_catalog(), None)
    except ValueError:
        raw = None
    out: list[dict[str, Any]] = []
    groups: list[tuple[str, Any]] = []
    if isinstance(raw, dict) and isinstance(raw.get("categories"), dict):
        groups = [(key, cat.get("items", [])) for key, cat in raw["categories"].items() if isinstance(cat, dict)]
    elif isinstance(raw, dict):
        groups = [("", raw.get("items", []))]
    elif isinstance(raw, list):
        groups = [("", raw)]
    for key, items in groups:
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("id"):
                kind = str(item.get("kind") or item.get("type") or {"skills": "skill", "boosts": "boost",
                                                                    "tiers": "tier", "services": "service"}.get(key, key))
                out.append({"id": str(item["id"]), "name": str(item.get("name") or ""), "kind": kind,
                            "price": item.get("price", item.get("cost"))})
    return out


def _purchase_meta(meta: Any) -> dict[str, Any]:
    if isinstance(meta, str) and meta.strip().startswith("{"):
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = None
    return meta if isinstance(meta, dict) else {}


def _item_name(meta: dict[str, Any], reason: Any, ref: Any) -> str:
    """The store item of a purchase row: meta.item_id (or item/skill/name), else the reason."""
    for key in ("item_id", "item", "skill", "skill_id", "name"):
        if isinstance(meta.get(key), str) and meta[key].strip():
            return meta[key].strip()
    for value in (reason, ref):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def purchased_items(conn: sqlite3.Connection | None, agent: str) -> list[str]:
    """Item names of the agent's spark_ledger purchase rows ([] when there is no ledger).

    Only skills count (boosts, tiers and services are not owned skills); refunded purchases
    (a 'refund' row with the purchase's ref) are left out.
    """
    if conn is None:
        return []
    try:
        columns = _table_columns(conn, "spark_ledger")
        if not columns or "category" not in columns:
            return []
        agent_col = next((c for c in ("agent", "agent_name") if c in columns), None)
        if agent_col is None:
            return []
        pick = [c if c in columns else "NULL" for c in ("meta", "reason", "ref")]
        rows = conn.execute(
            f"SELECT category, {', '.join(pick)} FROM spark_ledger WHERE {agent_col} = ?"
            " AND category IN ('purchase', 'refund') ORDER BY rowid", (agent,)).fetchall()
    except sqlite3.Error as exc:
        log.warning("could not read purchases for %s: %s", agent, exc)
        return []
    refunded = {ref for category, _, _, ref in rows if category == "refund" and ref}
    kinds = {item["id"]: item["kind"] for item in catalog_items()} if rows else {}
    items: list[str] = []
    for category, raw_meta, reason, ref in rows:
        if category != "purchase" or (ref and ref in refunded):
            continue
        meta = _purchase_meta(raw_meta)
        name = _item_name(meta, reason, ref)
        kind = str(meta.get("kind") or kinds.get(name) or "skill")
        if name and kind == "skill" and name not in items:   # boosts and tiers are not skills
            items.append(name)
    return items


def retired_skills(conn: sqlite3.Connection | None, agent: str) -> set[str]:
    """Skills the agent retired in the store (and does not own again); empty without a store."""
    if conn is None:
        return set()
    try:
        from amatelier.economy import store

        data = store.load_ledger(conn)
    except Exception as exc:  # the store is optional for the learning loop
        log.debug("no store state for %s: %s", agent, exc)
        return set()
    entries = [*data["purchases"].values(), *data["grants"].values()]
    mine = [e for e in entries if e.get("agent") == agent and e.get("kind", "skill") == "skill"]
    owned = {e.get("item") for e in mine if e.get("status") == "owned"}
    return {str(e.get("item")) for e in mine if e.get("status") == "retired" and e.get("item") not in owned}


def skill_files(agent: str) -> list[str]:
    """Skill files delivered into agents/<name>/skills/ (pending distilled skills excluded)."""
    directory = paths.user_agent_dir(agent) / "skills"
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.md") if p.is_file())


def sync_skills_owned(agent: str, conn: sqlite3.Connection | None = None) -> list[str]:
    """Update MEMORY.json skills_owned and the `## Skills Owned` section of CLAUDE.md.

    Sources: spark_ledger purchase rows (when the ledger exists; skills retired in the
    store excluded) and the skill files in agents/<name>/skills/. Returns the owned skills.
    """
    retired = retired_skills(conn, agent)
    bought = [item for item in purchased_items(conn, agent) if item not in retired]
    owned = sorted(dict.fromkeys(bought + skill_files(agent)))
    agent_memory.set_skills_owned(agent, owned)
    with _agent_lock(agent):
        claude = read_claude_md(agent)
        if get_section_items(claude, SKILLS_OWNED) != owned:
            write_claude_md(agent, set_section_items(claude, SKILLS_OWNED, owned))
    return owned
