"""The skill index and skill files: shared-skills/index.json, per-agent skills, novel concepts.

Split from learning.distiller (prompting, validation, the run), which re-exports these names.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import (
    file_lock,
    read_json,
    write_json_atomic,
    write_text_atomic,
)
from amatelier.learning.agent_memory import now_iso
from amatelier.learning.text import content_hash, words

log = logging.getLogger(__name__)


SKILL_FIELDS = ("title", "type", "agent", "pattern", "when_to_apply", "structural_category",
                "trigger_phase", "primary_actor", "problem_nature", "agent_dynamic", "tags",
                "one_liner")


def skill_hash(skill: dict[str, Any]) -> str:
    """Content hash of a skill (title + pattern), for deduplication."""
    return content_hash(skill.get("title", ""), skill.get("pattern", ""))


def _set_aside(path: Path) -> Path:
    """Move an unreadable state file out of the way (kept for a human), returning where it went."""
    keep = path.with_name(f"{path.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S}")
    with contextlib.suppress(OSError):
        path.replace(keep)
    return keep


@contextlib.contextmanager
def _locked_index() -> Iterator[dict[str, Any]]:
    """Read-modify-write shared-skills/index.json under its lock.

    A file that is not valid JSON is kept as index.json.corrupt-<time> and the index starts
    again, so one broken write does not stop every later roundtable from indexing skills.
    """
    path = paths.user_shared_skills_index()
    with file_lock(path):
        try:
            index = read_json(path, {"entries": []})
        except ValueError:
            keep = _set_aside(path)
            log.warning("shared-skills/index.json was not valid JSON (kept as %s); starting a new index", keep.name)
            index = {}
        if not isinstance(index, dict):
            index = {}
        if not isinstance(index.get("entries"), list):
            index["entries"] = []
        yield index
        write_json_atomic(path, index)


# --------------------------------------------------------------------------- index and files


def load_index() -> dict[str, Any]:
    """shared-skills/index.json as {"entries": [...]} (empty when missing or unreadable)."""
    try:
        data = read_json(paths.user_shared_skills_index(), {"entries": []})
    except ValueError:
        log.warning("shared-skills/index.json is not valid JSON; treating it as empty")
        data = {}
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        data = {"entries": []}
    return data


def save_index(index: dict[str, Any]) -> None:
    """Write shared-skills/index.json atomically under its lock."""
    path = paths.user_shared_skills_index()
    with file_lock(path):
        write_json_atomic(path, index)


def create_skill_entry(skill: dict[str, Any], rt_id: str, gate: dict[str, Any] | None = None,
                       index: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Create a structured skill entry. Returns None if it duplicates an indexed skill.

    Entries the gate flagged are kept, at priority "low".
    """
    digest = skill_hash(skill)
    entries = (index or {}).get("entries", [])
    if any(e.get("content_hash") == digest for e in entries if isinstance(e, dict)):
        return None
    gate = gate or {"verdict": "pass", "reasons": [], "by": "none"}
    entry = {key: skill.get(key) for key in SKILL_FIELDS}
    entry.update({
        "skill_id": f"{rt_id}-{digest[:8]}",
        "content_hash": digest,
        "rt_id": rt_id,
        "originator": skill.get("agent"),
        "created_at": now_iso(),
        "status": "pending",
        "priority": "low" if gate.get("verdict") == "flag" else "normal",
        "gate": gate,
    })
    return entry


def skill_markdown(entry: dict[str, Any]) -> str:
    """A skill entry as readable markdown (pending copies and promoted entries)."""
    lines = [f"# {entry['title']}", "",
             f"*{entry['type']} skill from roundtable {entry.get('rt_id')} "
             f"(originator: {entry.get('originator')}, status: {entry.get('status')}, "
             f"priority: {entry.get('priority')})*", "",
             f"**In one line:** {entry['one_liner']}", "",
             "## Pattern", "", entry["pattern"], "",
             "## When to apply", "", entry["when_to_apply"], ""]
    if entry.get("agent_dynamic"):
        lines += ["## Agent dynamic", "", entry["agent_dynamic"], ""]
    lines += [f"Category: {entry['structural_category']} · phase: {entry['trigger_phase']} · "
              f"actor: {entry['primary_actor']} · nature: {entry['problem_nature']}",
              f"Tags: {', '.join(entry.get('tags') or [])}"]
    if entry.get("gate", {}).get("reasons"):
        lines.append(f"Gate: {'; '.join(entry['gate']['reasons'])}")
    return "\n".join(lines) + "\n"


def _pending_dir(agent: str) -> Path:
    return paths.user_agent_dir(agent) / "skills" / "pending"


def save_skill_to_agent(agent: str, entry: dict[str, Any]) -> Path:
    """Save a skill to an agent's local skills directory (pending until promoted)."""
    path = _pending_dir(agent) / f"{entry['skill_id']}.md"
    write_text_atomic(path, skill_markdown(entry))
    return path


def _title_of(path: Path) -> str:
    try:
        first = path.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError):
        return path.stem
    return first.lstrip("# ").strip() or path.stem


def list_agent_skills(agent: str) -> list[dict[str, Any]]:
    """List all skills an agent has accumulated: owned (purchased/delivered) and pending."""
    base = paths.user_agent_dir(agent) / "skills"
    out = []
    for status, directory in (("owned", base), ("pending", base / "pending")):
        if directory.is_dir():
            for path in sorted(directory.glob("*.md")):
                out.append({"skill_id": path.stem, "title": _title_of(path), "status": status,
                            "path": str(path)})
    return out


def promote_to_shared(skill_id: str) -> dict[str, Any]:
    """Promote a skill to the shared skill store (shared-skills/entries/<id>.md)."""
    path = paths.user_shared_skills_index()
    with _locked_index() as index:
        entries = index["entries"]
        entry = next((e for e in entries if isinstance(e, dict) and e.get("skill_id") == skill_id), None)
        if entry is None:
            raise KeyError(f"no skill {skill_id!r} in {path}")
        entry["status"] = "promoted"
        entry["promoted_at"] = now_iso()
        target = paths.user_shared_skills_dir() / "entries" / f"{skill_id}.md"
        entry["path"] = str(target)
        write_text_atomic(target, skill_markdown(entry))
        promoted = dict(entry)
    return promoted


def search_shared_skills(query: str, limit: int = 10, include_pending: bool = True) -> list[dict[str, Any]]:
    """Simple keyword search against the shared skill index (promoted first on ties)."""
    terms = words(query)
    if not terms:
        return []
    scored = []
    for entry in load_index()["entries"]:
        if not isinstance(entry, dict) or (not include_pending and entry.get("status") != "promoted"):
            continue
        score = 3 * len(terms & words(entry.get("title", "")))
        score += 2 * len(terms & set(entry.get("tags") or []))
        score += len(terms & words(" ".join(str(entry.get(k, "")) for k in
                                            ("one_liner", "pattern", "when_to_apply"))))
        if score == 0:
            continue
        bonus = (1 if entry.get("status") == "promoted" else 0) - (1 if entry.get("priority") == "low" else 0)
        scored.append((score, bonus, entry))
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [entry for _, _, entry in scored[:limit]]


def append_novel_concepts(skills: list[dict[str, Any]], rt_id: str) -> int:
    """Append DERIVE skills to novel_concepts.json, skipping content-hash duplicates."""
    derive = [s for s in skills if s.get("type") == "DERIVE"]
    if not derive:
        return 0
    path = paths.user_novel_concepts()
    added = 0
    with file_lock(path):
        try:
            concepts = read_json(path, [])
        except ValueError:
            keep = _set_aside(path)
            log.warning("novel_concepts.json was not valid JSON (kept as %s); starting a new list", keep.name)
            concepts = []
        if not isinstance(concepts, list):
            concepts = []
        seen = {c.get("content_hash") for c in concepts if isinstance(c, dict)}
        for skill in derive:
            digest = skill_hash(skill)
            if digest in seen:
                continue
            seen.add(digest)
            concept = {key: skill.get(key) for key in SKILL_FIELDS if key != "type"}
            concept.update({"content_hash": digest, "rt_id": rt_id, "added_at": now_iso()})
            concepts.append(concept)
            added += 1
        if added:
            write_json_atomic(path, concepts)
    return added
