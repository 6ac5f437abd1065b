"""Build a snapshot document: an agent's persona as it is now, plus what benchmarks say of it.

Reading only: persona files, behaviours, memory and skills from the agent's user-data dir,
its real (non-benchmark) score history from the database, and its runs from the batches
named. The comparison is computed from the runs included, by `stats.compare`, so anyone
can recompute it from the document alone.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from amatelier import __version__, paths
from amatelier.benchmarks import batch_store as store
from amatelier.benchmarks import stats
from amatelier.benchmarks.results import AXES, METHODOLOGY

SCHEMA_VERSION = 1
PERSONA_FILES = ("CLAUDE.md", "IDENTITY.md")
MEMORY_EXCERPT_CHARS = 1500
SCORE_HISTORY_LIMIT = 200


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical(data: Any) -> bytes:
    """The bytes a content hash is taken over: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_sha256(doc: dict[str, Any]) -> str:
    """sha256 of the document without its own `content_sha256` field."""
    return hashlib.sha256(canonical({k: v for k, v in doc.items() if k != "content_sha256"})).hexdigest()


def seed_version(agent: str) -> str:
    """`seed-<12 hex>`: which bundled seed persona the baseline is (hash of its files)."""
    digest = hashlib.sha256()
    for name in PERSONA_FILES:
        path = paths.bundled_agent_dir(agent) / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"")
    return f"seed-{digest.hexdigest()[:12]}"


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _read_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text) if text and text.strip() else {}
    except ValueError:
        return {}


def persona(agent_dir: Path) -> dict[str, Any]:
    """{file: {text, sha256}} for the persona files that exist."""
    found = {}
    for name in PERSONA_FILES:
        text = _read_text(agent_dir / name)
        if text is not None:
            found[name] = {"text": text, "sha256": sha256_text(text)}
    return found


def memory_summary(agent_dir: Path) -> dict[str, Any]:
    """What the agent remembers, summarised: MEMORY.md excerpt and hash, goals, counts."""
    text = _read_text(agent_dir / "MEMORY.md") or ""
    memory = _read_json(agent_dir / "MEMORY.json")
    memory = memory if isinstance(memory, dict) else {}
    goals = [g.get("goal") or g.get("text") for g in memory.get("goals", []) if isinstance(g, dict)
             and g.get("status") == "active"]
    return {
        "memory_md_sha256": sha256_text(text),
        "memory_md_chars": len(text),
        "memory_md_excerpt": text[:MEMORY_EXCERPT_CHARS],
        "active_goals": [str(g) for g in goals if g],
        "counts": {key: len(value) for key, value in sorted(memory.items()) if isinstance(value, list)},
    }


def skills_owned(agent_dir: Path) -> list[str]:
    memory = _read_json(agent_dir / "MEMORY.json")
    owned = memory.get("skills_owned", []) if isinstance(memory, dict) else []
    names = {str(s) for s in owned if isinstance(s, str)}
    skills = agent_dir / "skills"
    if skills.is_dir():
        names.update(p.stem for p in skills.glob("*.md"))
    return sorted(names)


def score_history(agent: str, limit: int = SCORE_HISTORY_LIMIT) -> list[dict[str, Any]]:
    """The agent's Judge scores from real roundtables, oldest first (benchmarks never write these)."""
    db_path = paths.user_db_path()
    if not db_path.is_file():
        return []
    from amatelier.chat.db import connect

    conn = connect(db_path, readonly=True)
    try:
        rows = conn.execute(
            "SELECT rt_id, novelty, accuracy, impact, challenge, total, created_at FROM scores "
            "WHERE agent = ? AND unscored_reason IS NULL ORDER BY id DESC LIMIT ?", (agent, limit)).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    return [dict(row) for row in reversed(rows)]


def agent_runs(agent: str, batch_ids: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(runs, test_suites): the agent's scored runs in the named batches, and their suites."""
    runs: list[dict[str, Any]] = []
    suites: dict[str, dict[str, Any]] = {}
    for batch_id in batch_ids:
        batch = store.load_batch(batch_id)
        suite = batch.get("suite") or {}
        suites.setdefault(str(suite.get("sha256") or suite.get("name")), {
            "name": suite.get("name"), "version": suite.get("version"), "sha256": suite.get("sha256"),
            "cases": suite.get("cases")})
        specs = store.run_specs(batch)
        for spec in specs:
            record = store.read_run(batch_id, spec.key) or {}
            result = record.get("result") or {}
            mine = (result.get("agents") or {}).get(agent)
            if record.get("status") != store.DONE or not isinstance(mine, dict) or not mine.get("scored"):
                continue
            telemetry = result.get("telemetry") or {}
            runs.append({
                "run_id": result.get("rt_id"),
                "batch_id": batch_id,
                "model": mine.get("model"),
                "persona_set": spec.persona_set,
                "suite": suite.get("name"),
                "case": spec.case,
                "repeat": spec.repeat,
                "overall_score": mine["overall_score"],
                "evaluations": {axis: mine["evaluations"][axis] for axis in AXES},
                "telemetry": {
                    "duration_ms": int(telemetry.get("duration_ms") or 0),
                    "tokens": {"input": int(telemetry.get("input_tokens") or 0),
                               "output": int(telemetry.get("output_tokens") or 0)},
                    "cost_usd": telemetry.get("cost_usd"),
                },
            })
    return runs, list(suites.values())


def build(agent: str, *, batch_ids: list[str], notes: str = "", number: int = 0,
          created_at: str | None = None) -> dict[str, Any]:
    """The snapshot document (without its number's file name), with its content hash."""
    agent_dir = paths.user_agent_dir(agent)
    runs, suites = agent_runs(agent, batch_ids)
    comparison = stats.compare(runs)
    version = seed_version(agent)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "agent": agent,
        "snapshot": number,
        "seed_version": version,
        "persona": persona(agent_dir),
        "behaviors": behaviors if isinstance(behaviors := _read_json(agent_dir / "behaviors.json"), dict) else {},
        "memory_summary": memory_summary(agent_dir),
        "skills_owned": skills_owned(agent_dir),
        "score_history": score_history(agent),
        "benchmarks": {
            "test_suites": suites,
            "scoring": {"methodology": METHODOLOGY, "comparison_targets": [stats.BASELINE, stats.SPECIALIST],
                        "axes": list(AXES)},
            "runs": runs,
            "comparison": comparison | {"statement": stats.statement(comparison)},
        },
        "snapshot_metadata": {
            "created_at": created_at or store.now_iso(),
            "minted_by": f"amatelier {__version__} snapshot mint",
            "template_version": version,
            "amatelier_version": __version__,
            "batches": list(batch_ids),
            "notes": notes,
        },
    }
    doc["content_sha256"] = content_sha256(doc)
    return doc
