"""Parse the therapist's fenced JSON outcome blocks, leniently.

A therapist reply ends with one or more fenced ```json blocks carrying
behavioral_deltas, memory_updates, session_summary, goals and store_request (plus the
optional emerging_traits and, for an agent on relegation watch, relegation_choice). Models are sloppy: they split the keys over several blocks,
truncate the last one, or write broken JSON. Every usable block counts, a malformed block
is skipped without losing the others, unknown keys are ignored. Pure functions only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

DELTA_ACTIONS = ("add", "remove", "confirm")
MEMORY_KINDS = ("lessons", "beliefs", "episodes")
DEFAULT_GOAL_HORIZON = 3
MAX_GOAL_HORIZON = 20
MAX_TEXT = 400  # one behaviour, lesson or goal; longer items are trimmed
RELEGATION_CHOICES = ("bench", "stay", "retire")
# Words a model may use for each choice; a phrase naming two different choices counts as none.
_CHOICE_WORDS = {"bench": "bench", "benched": "bench", "sit out": "bench", "stay": "stay",
                 "remain": "stay", "keep playing": "stay", "retire": "retire", "delete": "retire",
                 "deletion": "retire"}

# ``` or ```json (any case) opening a fence; the closing fence is optional (truncated output).
_FENCE = re.compile(r"```[ \t]*(?P<lang>[A-Za-z0-9_-]*)[ \t]*\r?\n(?P<body>.*?)(?:```|\Z)", re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


@dataclass
class Outcomes:
    """Everything a session decided, merged over all blocks."""

    behavioral_deltas: list[dict[str, str]] = field(default_factory=list)
    lessons: list[str] = field(default_factory=list)
    beliefs: list[str] = field(default_factory=list)
    episodes: list[str] = field(default_factory=list)
    session_summary: str | None = None
    goals: list[dict[str, Any]] = field(default_factory=list)
    store_request: dict[str, str] | None = None
    emerging_traits: list[dict[str, str]] = field(default_factory=list)
    relegation_choice: str | None = None
    blocks_found: int = 0
    blocks_skipped: int = 0

    def is_empty(self) -> bool:
        return not (self.behavioral_deltas or self.lessons or self.beliefs or self.episodes
                    or self.session_summary or self.goals or self.store_request
                    or self.emerging_traits or self.relegation_choice)

    def to_dict(self) -> dict[str, Any]:
        return {
            "behavioral_deltas": list(self.behavioral_deltas),
            "memory_updates": {"lessons": list(self.lessons), "beliefs": list(self.beliefs),
                               "episodes": list(self.episodes)},
            "session_summary": self.session_summary,
            "goals": list(self.goals),
            "store_request": self.store_request,
            "emerging_traits": list(self.emerging_traits),
            "relegation_choice": self.relegation_choice,
            "blocks_found": self.blocks_found,
            "blocks_skipped": self.blocks_skipped,
        }


def _clean_text(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    text = " ".join(value.split())
    return text[:MAX_TEXT].rstrip()


def _loads_lenient(body: str) -> Any:
    """json.loads, then once more without trailing commas (a common model slip)."""
    try:
        return json.loads(body)
    except ValueError:
        pass
    return json.loads(_TRAILING_COMMA.sub(r"\1", body))


def extract_json_blocks(text: str) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects in fenced blocks of `text`, and how many fenced blocks were skipped.

    A fence tagged with another language (```python) is not an outcome block and is not
    counted. An untagged fence counts only when its body looks like an object.
    """
    blocks: list[dict[str, Any]] = []
    skipped = 0
    for match in _FENCE.finditer(text or ""):
        lang = match.group("lang").lower()
        body = match.group("body").strip()
        if lang not in ("json", "") or (lang == "" and not body.startswith("{")):
            continue
        try:
            data = _loads_lenient(body)
        except ValueError:
            skipped += 1
            continue
        if isinstance(data, dict):
            blocks.append(data)
        else:
            skipped += 1
    return blocks, skipped


def _parse_delta(item: Any) -> dict[str, str] | None:
    if not isinstance(item, dict):
        return None
    action = str(item.get("action", "")).strip().lower()
    behavior = _clean_text(item.get("behavior") or item.get("behaviour") or item.get("text"))
    if action not in DELTA_ACTIONS or not behavior:
        return None
    return {"action": action, "behavior": behavior, "reason": _clean_text(item.get("reason"))}


def _text_items(value: Any, *keys: str) -> list[str]:
    """A list of strings from a string, a list of strings, or a list of {key: text} dicts."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        if isinstance(item, dict):
            item = next((item[k] for k in keys if isinstance(item.get(k), str)), "")
        text = _clean_text(item)
        if text:
            out.append(text)
    return out


def _parse_goal(item: Any) -> dict[str, Any] | None:
    if isinstance(item, str):
        item = {"goal": item}
    if not isinstance(item, dict):
        return None
    goal = _clean_text(item.get("goal") or item.get("text"))
    if not goal:
        return None
    try:
        horizon = int(item.get("horizon_rts", DEFAULT_GOAL_HORIZON))
    except (TypeError, ValueError, OverflowError):
        horizon = DEFAULT_GOAL_HORIZON
    return {"goal": goal, "horizon_rts": max(1, min(MAX_GOAL_HORIZON, horizon))}


def _parse_store_request(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    item_id = value.get("item_id") or value.get("item")
    if not isinstance(item_id, str) or not item_id.strip():
        return None
    return {"item_id": item_id.strip(), "reason": _clean_text(value.get("reason"))}


def _parse_trait(item: Any) -> dict[str, str] | None:
    if not isinstance(item, dict):
        return None
    trait = _clean_text(item.get("trait") or item.get("name"))
    if not trait:
        return None
    return {"trait": trait, "note": _clean_text(item.get("note") or item.get("evidence"))}


def parse_relegation_choice(value: Any) -> str | None:
    """`bench`, `stay` or `retire` from a string ("Bench", "I'll sit out") or {choice: ...}; else None."""
    if isinstance(value, dict):
        value = value.get("choice") or value.get("decision") or value.get("option")
    if not isinstance(value, str):
        return None
    text = " ".join(value.lower().split()).strip(" .!\"'")
    if text in RELEGATION_CHOICES:
        return text
    hits = {choice for word, choice in _CHOICE_WORDS.items() if re.search(rf"\b{word}\b", text)}
    return hits.pop() if len(hits) == 1 else None


def _items(value: Any) -> list[Any]:
    """A block field that should be a list: one object counts as a list of one; anything else is ignored."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    return []


def _merge_block(out: Outcomes, block: dict[str, Any]) -> None:
    for item in _items(block.get("behavioral_deltas")):
        delta = _parse_delta(item)
        if delta and delta not in out.behavioral_deltas:
            out.behavioral_deltas.append(delta)
    memory = block.get("memory_updates")
    if isinstance(memory, dict):
        for kind, keys in (("lessons", ("lesson", "text")), ("beliefs", ("belief", "text")),
                           ("episodes", ("episode", "text"))):
            target = getattr(out, kind)
            for text in _text_items(memory.get(kind), *keys):
                if text not in target:
                    target.append(text)
    summary = block.get("session_summary")
    if isinstance(summary, dict):
        summary = summary.get("summary") or summary.get("text")
    summary_text = " ".join(summary.split()) if isinstance(summary, str) else ""
    if summary_text:
        out.session_summary = summary_text[:2000]
    goals = block.get("goals")
    for item in [goals] if isinstance(goals, str) else _items(goals):
        goal = _parse_goal(item)
        if goal and all(g["goal"] != goal["goal"] for g in out.goals):
            out.goals.append(goal)
    if "store_request" in block:
        request = _parse_store_request(block.get("store_request"))
        if request:
            out.store_request = request
    choice = parse_relegation_choice(block.get("relegation_choice", block.get("relegation")))
    if choice:
        out.relegation_choice = choice
    for item in _items(block.get("emerging_traits") or block.get("trait_adjustments")):
        trait = _parse_trait(item)
        if trait:
            out.emerging_traits.append(trait)


def parse_outcomes(*texts: str) -> Outcomes:
    """Merge the outcome blocks of one or more replies; later blocks refine earlier ones."""
    out = Outcomes()
    for text in texts:
        blocks, skipped = extract_json_blocks(text)
        out.blocks_found += len(blocks)
        out.blocks_skipped += skipped
        for block in blocks:
            _merge_block(out, block)
    return out


def parse_store_request(text: str) -> dict[str, str] | None:
    """Only the store_request of a reply (the interviewed agent may ask for a purchase)."""
    return parse_outcomes(text).store_request


def strip_blocks(text: str) -> str:
    """The prose of a reply without its fenced blocks (for transcripts and summaries)."""
    return _FENCE.sub("", text or "").strip()
