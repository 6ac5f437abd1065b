"""Offline answers for the Judge's post-roundtable scoring (tasks `score`, `score-repair`).

Deterministic per roundtable and worker: scores are mostly 0-3 with totals around 4-6,
now and then a grand insight (a 10 with the worker's own words quoted and a before/after
shift) or a redundancy penalty. About one roundtable in four gets a malformed first
answer (an out-of-scale value, a cut-off object, or a misnamed axis) so the engine's
repair path runs; the repair answer is always valid.

For the jury and its audits: the offline `sonnet` judge is the reference; a seat on any
other model deviates by one step on about one axis score in four (deterministically), so
a jury's agreement (Krippendorff's alpha) is a real number below 1. With
AMATELIER_OFFLINE_ORDER_BIAS=1 the judge favours whoever is listed first under WORKERS
(+1 on every axis below 3) and marks down whoever is listed last (-1 on every axis above 0),
so an order-swap audit must catch it; without it, the order changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re

from amatelier.offline.request import OfflineRequest

AXES = ("novelty", "accuracy", "impact", "challenge")
ORDER_BIAS_ENV = "AMATELIER_OFFLINE_ORDER_BIAS"
REFERENCE_MODEL = "sonnet"
SCORING_TASKS = ("score", "score-swap")
_HEADER = re.compile(r"^\[#(?P<id>\d+)[^\]]*\]\s+(?P<agent>[A-Za-z][\w-]*):\s?(?P<text>.*)$")


def _field(prompt: str, name: str) -> str:
    match = re.search(rf"^{name}:\s*(.*)$", prompt, re.MULTILINE)
    return match.group(1).strip() if match else ""


def parse_workers(prompt: str) -> list[str]:
    """Workers named on the prompt's `WORKERS:` line, else every speaker in the transcript."""
    listed = [w.strip() for w in _field(prompt, "WORKERS").split(",") if w.strip()]
    return listed or sorted(parse_transcript(prompt))


def parse_transcript(prompt: str) -> dict[str, list[str]]:
    """{agent: [message texts]} from the TRANSCRIPT block of a scoring prompt."""
    start = prompt.find("TRANSCRIPT:\n")
    end = prompt.find("END OF TRANSCRIPT", start)
    if start < 0:
        return {}
    body = prompt[start + len("TRANSCRIPT:\n"): end if end > 0 else None]
    said: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in body.splitlines():
        match = _HEADER.match(line)
        if match:
            current = said.setdefault(match.group("agent").lower(), [])
            current.append(match.group("text"))
        elif current is not None and current:
            current[-1] += "\n" + line
    return {agent: [text.strip() for text in texts] for agent, texts in said.items()}


def _seed(*parts: str) -> random.Random:
    digest = hashlib.sha256("\x1f".join(("offline-score", *parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _first_sentence(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(\s|$)", flat)
    sentence = match.group(1) if match else flat
    return sentence[:limit].strip()


def worker_score(rt_id: str, agent: str, messages: list[str]) -> dict:
    """The one valid score this offline Judge gives `agent` in roundtable `rt_id`."""
    rng = _seed(rt_id, agent)
    spoken = [m for m in messages if m.strip()]
    if not spoken:
        return {**{axis: 0 for axis in AXES}, "reason": f"{agent} made no contribution in the transcript.",
                "penalties": [], "grand_insight": None}
    axes = {axis: rng.choices((0, 1, 2, 3), weights=(15, 47, 30, 8))[0] for axis in AXES}
    grand_insight = None
    if rng.random() < 0.04:
        axis = rng.choice(AXES)
        axes[axis] = 10
        grand_insight = {
            "axis": axis,
            "quote": _first_sentence(rng.choice(spoken)),
            "before": "the group treated the question as a choice between the options on the table",
            "after": f"the group reframed it around {agent}'s point and dropped the original framing",
        }
    penalties = []
    if len(spoken) > 1 and rng.random() < 0.12:
        penalties.append({"type": "redundancy", "quote": _first_sentence(spoken[-1])})
    best = max(AXES, key=lambda a: (axes[a], a))
    weakest = min(AXES, key=lambda a: (axes[a], a))
    reason = (f"{agent} posted {len(spoken)} message(s); strongest on {best} ({axes[best]}), "
              f"weakest on {weakest} ({axes[weakest]}).")
    return {**axes, "reason": reason, "penalties": penalties, "grand_insight": grand_insight}


def order_bias_on() -> bool:
    """Whether the switchable order effect is on (AMATELIER_OFFLINE_ORDER_BIAS=1)."""
    return os.environ.get(ORDER_BIAS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def seat_variation(rt_id: str, agent: str, model: str, entry: dict) -> dict:
    """A non-reference model's view: about one axis score in four is one step off (0-3 only)."""
    if not model or model == REFERENCE_MODEL:
        return entry
    for axis in AXES:
        value = entry[axis]
        if value == 10:
            continue
        digest = hashlib.sha256(f"seat:{rt_id}:{agent}:{axis}:{model}".encode()).digest()
        if digest[0] % 4 == 0:
            step = 1 if digest[1] % 2 else -1
            if not 0 <= value + step <= 3:
                step = -step
            entry[axis] = value + step
    return entry


def order_bias(entry: dict, position: int, count: int) -> dict:
    """First listed: +1 on every axis below 3; last listed: -1 on every axis above 0."""
    if count < 2:
        return entry
    for axis in AXES:
        value = entry[axis]
        if value == 10:
            continue
        if position == 0 and value < 3:
            entry[axis] = value + 1
        elif position == count - 1 and value > 0:
            entry[axis] = value - 1
    return entry


def valid_answer(rt_id: str, workers: list[str], said: dict[str, list[str]], model: str = REFERENCE_MODEL) -> dict:
    biased = order_bias_on()
    scores = {}
    for position, worker in enumerate(workers):
        entry = seat_variation(rt_id, worker, model, worker_score(rt_id, worker, said.get(worker.lower(), [])))
        scores[worker] = order_bias(entry, position, len(workers)) if biased else entry
    return {"scores": scores}


def malformed_variant(rt_id: str) -> int | None:
    """Which malformed first answer this roundtable gets (about one in four), or None."""
    digest = hashlib.sha256(f"malformed:{rt_id}".encode()).digest()
    if digest[0] % 4 != 0:
        return None
    return digest[1] % 3


def malformed_answer(rt_id: str, workers: list[str], said: dict[str, list[str]], variant: int,
                     model: str = REFERENCE_MODEL) -> str:
    answer = valid_answer(rt_id, workers, said, model)
    victim = workers[0] if workers else "worker"
    entry = answer["scores"].get(victim, {})
    if variant == 0:
        entry["novelty"] = 5                       # outside the 0/1/2/3/10 scale
        return "Here are my scores.\n" + json.dumps(answer, indent=2)
    if variant == 1:
        text = json.dumps(answer, indent=2)
        return "```json\n" + text[: max(20, int(len(text) * 0.6))] + "\n```"   # cut off mid-object
    entry["net_impact"] = entry.pop("impact", 1)    # the axis is `impact`
    return json.dumps(answer)


def respond(request: OfflineRequest) -> str:
    prompt = request.prompt
    rt_id = _field(prompt, "RT") or hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:8]
    workers = parse_workers(prompt)
    said = parse_transcript(prompt)
    model = request.model or REFERENCE_MODEL
    if request.task in SCORING_TASKS:
        variant = malformed_variant(rt_id)
        if variant is not None:
            return malformed_answer(rt_id, workers, said, variant, model)
    text = json.dumps(valid_answer(rt_id, workers, said, model), indent=2)
    if request.task in SCORING_TASKS and hashlib.sha256(rt_id.encode()).digest()[2] % 2:
        return f"Scores for {rt_id} follow.\n```json\n{text}\n```"
    return text
