"""Is a decision record valid? The JSON Schema, then the citations against the roundtable.

The schema (docs/schemas/decision.schema.json, shipped in the wheel) is the contract other
programs read; validating against the very file keeps code and contract from drifting.
Citations are checked separately: the schema cannot know which message ids exist.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from amatelier import schemas

SCHEMA_VERSION = "1.0"


def schema_path() -> Path:
    """Where decision.schema.json lives (inside the package, or docs/ of a checkout)."""
    return schemas.bundled_schema_path("decision.schema.json")


@functools.lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The decision schema, parsed once per process."""
    return json.loads(schema_path().read_text(encoding="utf-8"))


def schema_problems(record: Any) -> list[str]:
    """Every way `record` breaks the schema, as `path: message` lines (empty when valid)."""
    return schemas.schema_problems(load_schema(), record, root="(record)", max_message=300)


def cited_ids(record: dict[str, Any]) -> list[tuple[str, int]]:
    """(where, id) for every message id the record cites."""
    found: list[tuple[str, int]] = []
    for key in ("arguments", "dissent", "position_changes", "evidence"):
        items = record.get(key)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            for cite in item.get("cites") or []:
                if isinstance(cite, int) and not isinstance(cite, bool):
                    found.append((f"{key}/{index}/cites", cite))
            moved = item.get("moved_by_message")
            if isinstance(moved, int) and not isinstance(moved, bool):
                found.append((f"{key}/{index}/moved_by_message", moved))
    return found


def citation_problems(record: dict[str, Any], message_ids: set[int], agents: set[str]) -> list[str]:
    """Citations to messages outside this roundtable, and arguments credited to nobody present."""
    problems = [f"{where}: message #{cite} is not in this roundtable"
                for where, cite in cited_ids(record) if cite not in message_ids]
    for key, field in (("arguments", "by"), ("dissent", "agent")):
        for index, item in enumerate(record.get(key) or []):
            if isinstance(item, dict) and isinstance(item.get(field), str) and agents \
                    and item[field].strip().lower() not in agents:
                problems.append(f"{key}/{index}/{field}: {item[field]!r} did not take part "
                                f"(participants: {', '.join(sorted(agents))})")
    return problems


def problems(record: Any, message_ids: set[int], agents: set[str]) -> list[str]:
    """Schema problems first; citations are only checked on a record of the right shape."""
    found = schema_problems(record)
    if found or not isinstance(record, dict):
        return found
    return citation_problems(record, message_ids, agents)
