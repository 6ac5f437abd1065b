"""Post-roundtable Judge scoring (workflow step 28).

The Judge model reads the rubric and the full transcript and answers with one JSON
object: per worker, novelty / accuracy / impact / challenge on the 0/1/2/3/10 scale, a
reason, the penalties it found (each with the offending message quoted) and, for a 10,
the grand insight (quote plus the before/after shift). Parsing and validation are pure
functions. A malformed or out-of-scale answer gets exactly one repair request that says
what was wrong; a worker still invalid after it is recorded as unscored with the reason.
A score is never invented and a bad answer never crashes the roundtable.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from amatelier.judging import prompts
from amatelier.judging.grand_insight import check_grand_insight
from amatelier.judging.scale import (
    AXES,
    PENALTY_TYPES,
    SCALE,
    apply_grand_insight_rule,
    grand_insight_complete,
)

log = logging.getLogger("amatelier.economy.judge")

SCALE_TEXT = "{0, 1, 2, 3, 10}"
AXIS_ALIASES = {"net_impact": "impact", "influence": "impact"}
DEFAULT_TRANSCRIPT_CAP = prompts.DEFAULT_TRANSCRIPT_CAP
RUBRIC = prompts.RUBRIC
OUTPUT_FORMAT = prompts.SCORE_FORMAT


@dataclass
class WorkerScore:
    """One worker's validated score, or why there is none."""

    agent: str
    axes: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    penalties: list[dict[str, str]] = field(default_factory=list)
    grand_insight: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    unscored_reason: str | None = None
    grand_insight_rejected: dict[str, Any] | None = None   # a 10 whose quote is not in the transcript

    @property
    def scored(self) -> bool:
        return self.unscored_reason is None

    @property
    def total(self) -> int | None:
        return sum(self.axes[a] for a in AXES) if self.scored else None

    def to_dict(self) -> dict[str, Any]:
        if not self.scored:
            return {"unscored": self.unscored_reason}
        data: dict[str, Any] = {axis: self.axes[axis] for axis in AXES}
        data.update(total=self.total, reason=self.reason, penalties=self.penalties,
                    grand_insight=self.grand_insight)
        if self.notes:
            data["notes"] = self.notes
        if self.grand_insight_rejected:
            data["grand_insight_rejected"] = self.grand_insight_rejected
        return data


@dataclass
class ParseResult:
    """Valid scores by worker, and the exact problems that stop the others being used."""

    valid: dict[str, WorkerScore] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem_lines(self) -> list[str]:
        return [line for agent in sorted(self.problems) for line in self.problems[agent]]


# --------------------------------------------------------------------------- parsing (pure)


_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)


def extract_json_object(text: str) -> tuple[dict[str, Any] | None, str]:
    """Find the score object in a model answer, tolerating code fences and prose around it.

    Returns (object, "") or (None, what was wrong).
    """
    text = (text or "").strip()
    if not text:
        return None, "the answer was empty"
    candidates = [block.strip() for block in _FENCE.findall(text)] + [text]
    decoder = json.JSONDecoder()
    fallback: dict[str, Any] | None = None
    saw_brace = False
    for candidate in candidates:
        for start in [m.start() for m in re.finditer(r"\{", candidate)]:
            saw_brace = True
            try:
                obj, _ = decoder.raw_decode(candidate, start)
            except ValueError:
                continue
            if isinstance(obj, dict):
                if "scores" in obj:
                    return obj, ""
                fallback = fallback or obj
    if fallback is not None:
        return fallback, ""
    if not saw_brace:
        return None, "the answer contained no JSON object"
    return None, "the JSON object in the answer was malformed or cut off (it did not parse)"


def _axis_value(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return None


def _penalty_type(raw: Any) -> str:
    return re.sub(r"[\s-]+", "_", str(raw or "").strip().lower())


def validate_worker(agent: str, entry: Any) -> tuple[WorkerScore | None, list[str]]:
    """Check one worker's entry against the format; apply the grand-insight cap."""
    if not isinstance(entry, Mapping):
        return None, [f"{agent}: expected an object with novelty, accuracy, impact, challenge"]
    problems: list[str] = []
    axes: dict[str, int] = {}
    for alias, axis in AXIS_ALIASES.items():
        if alias in entry and axis not in entry:
            problems.append(f"{agent}: the axis is named '{axis}', not '{alias}'")
    for axis in AXES:
        if axis not in entry:
            if not any(alias in entry for alias, target in AXIS_ALIASES.items() if target == axis):
                problems.append(f"{agent}.{axis} is missing")
            continue
        value = _axis_value(entry[axis])
        if value is None:
            problems.append(f"{agent}.{axis} = {json.dumps(entry[axis])} is not an integer from {SCALE_TEXT}")
        elif value not in SCALE:
            problems.append(f"{agent}.{axis} = {value} is outside the scale {SCALE_TEXT}")
        else:
            axes[axis] = value

    reason = entry.get("reason", "")
    if reason is None:
        reason = ""
    if not isinstance(reason, str):
        problems.append(f"{agent}.reason must be a string")
        reason = ""

    penalties: list[dict[str, str]] = []
    raw_penalties = entry.get("penalties") or []
    if not isinstance(raw_penalties, list):
        problems.append(f"{agent}.penalties must be a list")
        raw_penalties = []
    for i, raw in enumerate(raw_penalties):
        if not isinstance(raw, Mapping):
            problems.append(f"{agent}.penalties[{i}] must be an object with type and quote")
            continue
        kind = _penalty_type(raw.get("type"))
        quote = raw.get("quote")
        if kind not in PENALTY_TYPES:
            problems.append(f"{agent}.penalties[{i}].type = {json.dumps(raw.get('type'))} is not one of "
                            + ", ".join(PENALTY_TYPES))
        elif not isinstance(quote, str) or not quote.strip():
            problems.append(f"{agent}.penalties[{i}] ({kind}) needs the offending message quoted in 'quote'")
        else:
            penalties.append({"type": kind, "quote": quote.strip()})

    grand_insight = entry.get("grand_insight")
    if grand_insight is not None and not isinstance(grand_insight, Mapping):
        grand_insight = None

    if problems:
        return None, problems
    adjusted, notes = apply_grand_insight_rule(axes, grand_insight)
    kept_insight = None
    if any(v == 10 for v in adjusted.values()) and grand_insight_complete(grand_insight):
        axis = next(a for a in AXES if adjusted[a] == 10)
        kept_insight = {"axis": axis, **{k: str(grand_insight[k]).strip() for k in ("quote", "before", "after")}}
    return WorkerScore(agent=agent, axes=adjusted, reason=reason.strip(), penalties=penalties,
                       grand_insight=kept_insight, notes=notes), []


def validate_scores(payload: Mapping[str, Any], workers: Sequence[str]) -> ParseResult:
    """Validate a parsed answer for the given workers (names matched case-insensitively)."""
    result = ParseResult()
    scores = payload.get("scores", payload)
    if isinstance(scores, list):   # [{"agent": "elena", ...}, ...] is read as a map too
        scores = {str(e.get("agent") or e.get("name")): e for e in scores
                  if isinstance(e, Mapping) and (e.get("agent") or e.get("name"))}
    if not isinstance(scores, Mapping):
        for agent in workers:
            result.problems[agent] = ["'scores' must be an object keyed by worker name"]
        return result
    by_name = {str(k).strip().lower(): v for k, v in scores.items()}
    for agent in workers:
        entry = by_name.get(agent.lower())
        if entry is None:
            result.problems[agent] = [f"no score for {agent}"]
            continue
        score, problems = validate_worker(agent, entry)
        if score is None:
            result.problems[agent] = problems
        else:
            result.valid[agent] = score
    return result


def parse_judge_output(text: str, workers: Sequence[str]) -> ParseResult:
    """Parse and validate a Judge answer; every worker ends up valid or with its problems."""
    payload, error = extract_json_object(text)
    if payload is None:
        return ParseResult(problems={agent: [error] for agent in workers})
    return validate_scores(payload, workers)


# --------------------------------------------------------------------------- prompts (judging.prompts)

# The scoring and repair prompts and the Judge's system prompt live in judging.prompts, with
# the gate's: one persona, one output contract per task. These names stay for callers.
format_transcript = prompts.format_transcript
build_scoring_prompt = prompts.scoring_prompt
build_repair_prompt = prompts.repair_prompt
judge_system_prompt = prompts.judge_system


# --------------------------------------------------------------------------- the call


@dataclass
class ScoringOutcome:
    scores: dict[str, WorkerScore]
    repaired: bool = False
    first_problems: list[str] = field(default_factory=list)


def _unscored(workers: Sequence[str], reason: str) -> dict[str, WorkerScore]:
    return {agent: WorkerScore(agent=agent, unscored_reason=reason) for agent in workers}


def check_quotes(scores: Mapping[str, WorkerScore], messages: Sequence[Mapping[str, Any]]) -> dict[str, WorkerScore]:
    """Every kept 10 must quote its agent's own words in this roundtable, else it is stored as 3.

    The rejection is kept on the score (`grand_insight_rejected`) and noted in its reason.
    """
    checked = {}
    for agent, score in scores.items():
        if score.scored and any(v == 10 for v in score.axes.values()):
            axes, kept, rejected = check_grand_insight(agent, score.axes, score.grand_insight, messages)
            if rejected:
                score = replace(score, axes=axes, grand_insight=None, grand_insight_rejected=rejected,
                                notes=[*score.notes, f"{rejected['axis']} 10 capped at 3: grand_insight_rejected "
                                                     f"({rejected['detail']})"])
            else:
                score = replace(score, grand_insight=kept)
        checked[agent] = score
    return checked


def judge_score(conn: sqlite3.Connection, rt_id: str, workers: Sequence[str], *, backend: Any,
                config: Mapping[str, Any], topic: str = "", judge: str = "judge",
                messages: Sequence[Mapping[str, Any]] | None = None, model: str | None = None,
                role: str = "score") -> ScoringOutcome:
    """Score the workers (see _judge_score_unchecked), then check every 10's quote against the transcript."""
    from amatelier.chat.messages import transcript

    messages = list(messages) if messages is not None else transcript(conn, rt_id)
    outcome = _judge_score_unchecked(conn, rt_id, workers, backend=backend, config=config, topic=topic,
                                     judge=judge, messages=messages, model=model, role=role)
    outcome.scores = check_quotes(outcome.scores, messages)
    return outcome


def _judge_score_unchecked(conn: sqlite3.Connection, rt_id: str, workers: Sequence[str], *, backend: Any,
                config: Mapping[str, Any], topic: str = "", judge: str = "judge",
                messages: Sequence[Mapping[str, Any]] | None = None, model: str | None = None,
                role: str = "score") -> ScoringOutcome:
    """Score the workers, presented in the order given, with one model: one call, at most one repair.

    Never raises for bad output. `model` defaults to `team.judge.model` (a jury seat passes
    its own); the first call is recorded in llm_calls under `role`, the repair as `<role>-repair`.
    """
    from amatelier.backends.base import LLMCallError
    from amatelier.chat.llm_calls import call_and_record
    from amatelier.chat.messages import transcript

    workers = list(workers)
    if not workers:
        return ScoringOutcome(scores={})
    messages = list(messages) if messages is not None else transcript(conn, rt_id)
    comp = config.get("competition", {})
    cap = int(comp.get("judge_transcript_cap_chars", DEFAULT_TRANSCRIPT_CAP))
    call = {
        "system": prompts.judge_system(judge),
        "model": model or config.get("team", {}).get("judge", {}).get("model", "sonnet"),
        "max_tokens": int(comp.get("judge_max_tokens", 4096)),
        "timeout": float(config.get("llm", {}).get("timeout_s", 180)),
    }
    try:
        first = call_and_record(conn, backend, rt_id=rt_id, agent=judge, role=role,
                                prompt=prompts.scoring_prompt(rt_id, topic, workers, messages, cap), **call)
    except LLMCallError as exc:
        log.warning("judge scoring call failed for %s: %s", rt_id, exc)
        return ScoringOutcome(scores=_unscored(workers, f"judge call failed: {exc}"))
    parsed = parse_judge_output(first.text, workers)
    scores: dict[str, WorkerScore] = dict(parsed.valid)
    if parsed.ok:
        return ScoringOutcome(scores={a: scores[a] for a in workers})

    to_fix = [agent for agent in workers if agent in parsed.problems]
    problems = parsed.problem_lines()
    log.info("judge answer for %s needs repair: %s", rt_id, "; ".join(problems))
    try:
        second = call_and_record(conn, backend, rt_id=rt_id, agent=judge, role=f"{role}-repair",
                                 prompt=prompts.repair_prompt(rt_id, topic, to_fix, first.text, problems,
                                                              messages, cap), **call)
    except LLMCallError as exc:
        for agent in to_fix:
            scores[agent] = WorkerScore(agent=agent, unscored_reason=(
                f"judge output invalid ({'; '.join(parsed.problems[agent])}) and the repair call failed: {exc}"))
        return ScoringOutcome(scores={a: scores[a] for a in workers}, repaired=True, first_problems=problems)
    repaired = parse_judge_output(second.text, to_fix)
    scores.update(repaired.valid)
    for agent, still in repaired.problems.items():
        scores[agent] = WorkerScore(agent=agent,
                                    unscored_reason="judge output invalid after one repair: " + "; ".join(still))
    return ScoringOutcome(scores={a: scores[a] for a in workers}, repaired=True, first_problems=problems)


# --------------------------------------------------------------------------- persistence


def persist_scores(conn: sqlite3.Connection, rt_id: str, scores: Mapping[str, WorkerScore]) -> list[str]:
    """Insert score rows (a worker already scored for this RT keeps its first row); returns agents inserted."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    inserted = []
    for agent, score in scores.items():
        axes = score.axes if score.scored else {}
        cur = conn.execute(
            "INSERT INTO scores (rt_id, agent, novelty, accuracy, impact, challenge, total, reason,"
            " penalties, grand_insight, unscored_reason, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(rt_id, agent) DO NOTHING",
            (rt_id, agent, axes.get("novelty"), axes.get("accuracy"), axes.get("impact"),
             axes.get("challenge"), score.total, score.reason + ("" if not score.notes else
                                                                   " [" + "; ".join(score.notes) + "]"),
             json.dumps(score.penalties), _insight_column(score), score.unscored_reason, stamp),
        )
        if cur.rowcount == 1:
            inserted.append(agent)
    return inserted


def _insight_column(score: WorkerScore) -> str | None:
    """The grand_insight column: the kept insight, or {"rejected": ...} for a capped 10, or NULL."""
    if score.grand_insight:
        return json.dumps(score.grand_insight)
    if score.grand_insight_rejected:
        return json.dumps({"rejected": score.grand_insight_rejected})
    return None


def load_scores(conn: sqlite3.Connection, rt_id: str) -> dict[str, dict[str, Any]]:
    """Stored scores for one roundtable as digest-ready dicts (axes+total+reason, or unscored)."""
    result = {}
    for row in conn.execute("SELECT * FROM scores WHERE rt_id = ? ORDER BY id", (rt_id,)):
        if row["unscored_reason"] is not None:
            result[row["agent"]] = {"unscored": row["unscored_reason"]}
            continue
        entry: dict[str, Any] = {axis: row[axis] for axis in AXES}
        insight = json.loads(row["grand_insight"]) if row["grand_insight"] else None
        rejected = insight.get("rejected") if isinstance(insight, dict) else None
        entry.update(total=row["total"], reason=row["reason"], penalties=json.loads(row["penalties"] or "[]"),
                     grand_insight=None if rejected else insight)
        if rejected:
            entry["grand_insight_rejected"] = rejected
        if row["is_flagged"]:
            entry["flag"] = row["flag_reason"]
        result[row["agent"]] = entry
    return result


def score_history(conn: sqlite3.Connection, agent: str, limit: int = 10) -> list[dict[str, int]]:
    """The agent's scored axes, oldest first, over its last `limit` scored roundtables."""
    rows = conn.execute(
        "SELECT novelty, accuracy, impact, challenge FROM scores WHERE agent = ? AND unscored_reason IS NULL"
        " ORDER BY id DESC LIMIT ?", (agent, limit)).fetchall()
    return [{axis: row[axis] for axis in AXES} for row in reversed(rows)]
