"""Skill distillation: turn a finished roundtable into 10-15 reusable skill candidates.

One model call (task `distill`) reads the transcript (capped at
distiller.transcript_cap_chars) and answers a JSON array of candidates with twelve
fields. Candidates are validated here (pure functions), passed through a judge gate
(deterministic heuristics, plus an optional `distill-gate` model call) that flags
redundant or vague entries — flagged entries are kept at lower priority — and stored:
shared-skills/index.json, a pending markdown per originating agent, and DERIVE entries
in novel_concepts.json (content-hash deduplicated).

Distillation must never hurt the roundtable it learns from: non-JSON output, a timeout or
any error is logged, yields an empty list, and leaves the roundtable's result untouched.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.learning.agent_memory import now_iso
from amatelier.learning.skill_index import (  # noqa: F401 - re-exported for distiller.<name> callers  # noqa: F401
    SKILL_FIELDS,
    _locked_index,
    _pending_dir,
    _set_aside,
    _title_of,
    append_novel_concepts,
    create_skill_entry,
    list_agent_skills,
    load_index,
    promote_to_shared,
    save_index,
    save_skill_to_agent,
    search_shared_skills,
    skill_hash,
    skill_markdown,
)
from amatelier.learning.text import clip, word_overlap, words

log = logging.getLogger(__name__)

SKILL_TYPES = ("CAPTURE", "FIX", "DERIVE")
TEXT_LIMITS = {"title": 120, "pattern": 1200, "when_to_apply": 600, "one_liner": 240,
               "agent_dynamic": 600, "structural_category": 60, "trigger_phase": 40,
               "primary_actor": 60, "problem_nature": 60}
SUGGESTED = {
    "structural_category": ("framing", "decomposition", "evidence", "challenge", "synthesis",
                            "sequencing", "risk", "process"),
    "trigger_phase": ("briefing", "speak", "rebuttal", "floor", "gate", "any"),
    "primary_actor": ("single-agent", "pair", "team", "judge"),
    "problem_nature": ("technical", "strategic", "process", "epistemic", "interpersonal"),
}
MAX_TAGS = 8
TEAM_ACTORS = ("team", "multiple", "all")
REDUNDANT_OVERLAP = 0.6
MIN_PATTERN_WORDS = 8
MIN_WHEN_WORDS = 4
DEFAULTS = {"transcript_cap_chars": 50000, "min_skills": 10, "max_skills": 15, "model": "sonnet",
            "gate_model": "haiku", "llm_gate": True, "timeout_s": 180, "max_tokens": 6000}

SYSTEM_PROMPT = (
    "You are the skill distiller of an AI roundtable team. You read a finished debate and "
    "extract reusable skills: techniques that worked (CAPTURE), anti-patterns and their "
    "corrections (FIX), and concepts synthesised from several agents' contributions "
    "(DERIVE). Be concrete: name the move, the situation that calls for it, and who made "
    "it. Answer with a JSON array only."
)
GATE_SYSTEM = (
    "You are the Judge reviewing distilled skill candidates. Flag a candidate when it is "
    "redundant with another candidate or an existing skill, or too vague to act on. "
    "Answer with a JSON array only."
)


@dataclass
class DistillResult:
    """What one distillation produced; `error` is set (and entries empty) on failure."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    novel_added: int = 0
    error: str | None = None

    @property
    def titles(self) -> list[str]:
        return [e["title"] for e in self.entries]

    def digest_fields(self) -> dict[str, Any]:
        """Fields merged into the roundtable digest."""
        out: dict[str, Any] = {
            "skills_distilled": len(self.entries),
            "skill_titles": self.titles,
            "skills_flagged": sum(1 for e in self.entries if e.get("priority") == "low"),
            "novel_concepts_added": self.novel_added,
        }
        if self.error:
            out["distill_error"] = self.error
        return out


def distiller_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """The distiller section of config with defaults filled in."""
    merged = dict(DEFAULTS)
    merged.update((config or {}).get("distiller", {}) or {})
    return merged


# --------------------------------------------------------------------------- prompt


def format_transcript(messages: list[dict[str, Any]], cap: int) -> str:
    """One line per message (turn-signal rows dropped), cut to `cap` characters.

    Over the cap, the opening (briefing and first speeches) and the end (where positions
    settle) are kept and the middle is elided with a marker.
    """
    lines = []
    for msg in messages:
        if msg.get("kind") == "turn":
            continue
        where = []
        if msg.get("round") is not None:
            where.append(f"R{msg['round']}")
        if msg.get("phase"):
            where.append(str(msg["phase"]))
        prefix = f"[{' '.join(where)}] " if where else ""
        # One message per entry: continuation lines are indented so speakers stay unambiguous.
        content = str(msg.get("content", "")).strip().replace("\n", "\n  ")
        lines.append(f"{prefix}{msg.get('agent', '?')}: {content}")
    text = "\n".join(lines)
    if len(text) <= cap:
        return text
    marker = "\n[... {n} characters omitted ...]\n"
    room = max(0, cap - len(marker.format(n=len(text))))
    head = room // 5
    tail = room - head
    omitted = len(text) - head - tail
    return text[:head] + marker.format(n=omitted) + (text[-tail:] if tail else "")


def build_distill_prompt(rt_id: str, topic: str, workers: list[str], transcript_text: str,
                         digest: dict[str, Any] | None = None, min_skills: int = 10,
                         max_skills: int = 15) -> str:
    """The distill prompt: markers (RT, TOPIC, WORKERS, MIN/MAX_SKILLS), schema, transcript."""
    digest = digest or {}
    fields = "\n".join([
        '  "title": short name of the skill',
        '  "type": "CAPTURE" | "FIX" | "DERIVE"',
        '  "agent": the worker who showed it (or "team")',
        '  "pattern": what to do, concretely (two or three sentences)',
        '  "when_to_apply": the situation that calls for it',
        f'  "structural_category": one of {", ".join(SUGGESTED["structural_category"])}',
        f'  "trigger_phase": one of {", ".join(SUGGESTED["trigger_phase"])}',
        f'  "primary_actor": one of {", ".join(SUGGESTED["primary_actor"])}',
        f'  "problem_nature": one of {", ".join(SUGGESTED["problem_nature"])}',
        '  "agent_dynamic": DERIVE only — which agents\' contributions combined, and how',
        '  "tags": list of 2-6 lowercase keywords',
        '  "one_liner": the skill in one sentence',
    ])
    meta = [f"RT: {rt_id}", f"TOPIC: {topic}", f"WORKERS: {', '.join(workers)}",
            f"MIN_SKILLS: {min_skills}", f"MAX_SKILLS: {max_skills}"]
    if digest.get("converged") is not None:
        meta.append(f"CONVERGED: {digest.get('converged')} ({digest.get('convergence_reason') or 'n/a'})")
    return (
        "\n".join(meta)
        + f"\n\nExtract {min_skills}-{max_skills} skill candidates from the roundtable below. "
        "Return a JSON array of objects with exactly these fields:\n{\n" + fields + "\n}\n"
        "At least two should be DERIVE. No prose outside the array.\n\n"
        "TRANSCRIPT:\n" + transcript_text + "\nEND TRANSCRIPT"
    )


# --------------------------------------------------------------------------- parsing and validation


def extract_json_array(text: str) -> list[Any] | None:
    """The JSON array in a model answer (first '[' to last ']'), or None when there is none."""
    text = text or ""
    start, end = text.find("["), text.rfind("]")
    if start >= 0 and end > start:
        try:
            data = json.loads(text[start:end + 1])
        except ValueError:
            data = None
        if isinstance(data, list):
            return data
        # Prose before the array may itself hold brackets ("[note] here are..."): decode
        # from each '[' in turn and take the first array of objects.
        decoder = json.JSONDecoder()
        for match in re.finditer(r"\[", text):
            try:
                data, _ = decoder.raw_decode(text, match.start())
            except ValueError:
                continue
            if isinstance(data, list) and (not data or any(isinstance(x, dict) for x in data)):
                return data
    # Some models wrap the array in an object: {"skills": [...]}
    start, end = text.find("{"), text.rfind("}")
    if start >= 0 and end > start:
        try:
            data = json.loads(text[start:end + 1])
        except ValueError:
            return None
        if isinstance(data, dict):
            for key in ("skills", "candidates", "items"):
                if isinstance(data.get(key), list):
                    return data[key]
    return None


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        value = re.split(r"[,;]", value)
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for tag in value:
        if isinstance(tag, str):
            slug = _slug(tag)
            if slug and slug not in out:
                out.append(slug)
    return out[:MAX_TAGS]


def _resolve_agent(value: Any, workers: list[str] | None) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    raw = value.strip().lower()
    if raw in TEAM_ACTORS:
        return "team"
    if not workers:
        return _slug(raw.split(",")[0]) or None
    known = [w.lower() for w in workers]
    for name in re.findall(r"[a-z][a-z0-9_-]*", raw):
        if name in known:
            return name
    return None


def validate_candidate(raw: Any, workers: list[str] | None = None) -> tuple[dict[str, Any] | None, list[str]]:
    """A normalised skill (all twelve fields) or None with the reasons it was refused."""
    if not isinstance(raw, dict):
        return None, ["not an object"]
    errors: list[str] = []
    skill: dict[str, Any] = {}
    for key in ("title", "pattern", "when_to_apply", "one_liner"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            errors.append(f"missing {key}")
        else:
            skill[key] = clip(value, TEXT_LIMITS[key])
    kind = str(raw.get("type", "")).strip().upper()
    if kind not in SKILL_TYPES:
        errors.append(f"type must be one of {', '.join(SKILL_TYPES)}")
    skill["type"] = kind
    agent = _resolve_agent(raw.get("agent"), workers)
    if agent is None:
        errors.append("missing or unknown agent")
    skill["agent"] = agent
    for key in ("structural_category", "trigger_phase", "primary_actor", "problem_nature"):
        value = raw.get(key)
        if not isinstance(value, str) or not _slug(value):
            errors.append(f"missing {key}")
        else:
            skill[key] = _slug(value)[: TEXT_LIMITS[key]]
    dynamic = raw.get("agent_dynamic")
    if kind == "DERIVE":
        if not isinstance(dynamic, str) or not dynamic.strip():
            errors.append("DERIVE needs agent_dynamic")
        else:
            skill["agent_dynamic"] = clip(dynamic, TEXT_LIMITS["agent_dynamic"])
    else:
        skill["agent_dynamic"] = None
    tags = _tags(raw.get("tags"))
    if not tags:
        errors.append("missing tags")
    skill["tags"] = tags
    if errors:
        return None, errors
    return {key: skill[key] for key in SKILL_FIELDS}, []


def validate_candidates(items: list[Any], workers: list[str] | None = None,
                        max_skills: int = 15) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(valid skills, at most max_skills; refused items with their reasons)."""
    valid, rejected = [], []
    for index, raw in enumerate(items):
        skill, errors = validate_candidate(raw, workers)
        if skill is None:
            rejected.append({"index": index, "errors": errors,
                             "title": raw.get("title") if isinstance(raw, dict) else None})
        elif len(valid) < max_skills:
            valid.append(skill)
    return valid, rejected


# --------------------------------------------------------------------------- judge gate


_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")


def _gist(skill: dict[str, Any]) -> str:
    """What a skill says, without the quotes it cites as evidence (they are not the skill)."""
    pattern = _QUOTED.sub(" ", skill.get("pattern", "") or "")
    return " ".join((skill.get("title", ""), skill.get("one_liner", ""), pattern))


def heuristic_gate(skill: dict[str, Any], existing: list[dict[str, Any]],
                   earlier: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Flag redundant (near-duplicate) or vague candidates; deterministic."""
    reasons = []
    for other in list(existing) + list(earlier or []):
        if word_overlap(_gist(skill), _gist(other)) >= REDUNDANT_OVERLAP:
            reasons.append(f"redundant with \"{clip(other.get('title', ''), 60)}\"")
            break
    if len(words(skill.get("pattern", ""))) < MIN_PATTERN_WORDS:
        reasons.append("vague: pattern too thin to act on")
    if len(words(skill.get("when_to_apply", ""))) < MIN_WHEN_WORDS:
        reasons.append("vague: no clear trigger situation")
    return {"verdict": "flag" if reasons else "pass", "reasons": reasons, "by": "heuristic"}


def build_gate_prompt(rt_id: str, skills: list[dict[str, Any]], existing_titles: list[str]) -> str:
    """The distill-gate prompt: existing titles and the candidates as JSON."""
    brief = [{"index": i, "title": s["title"], "type": s["type"], "one_liner": s["one_liner"],
              "pattern": s["pattern"], "when_to_apply": s["when_to_apply"]}
             for i, s in enumerate(skills)]
    return (
        f"RT: {rt_id}\nReview each candidate. Answer a JSON array with one object per "
        'candidate: {"index": <int>, "verdict": "pass" | "flag", "reason": "<short>"}.\n\n'
        "EXISTING SKILL TITLES:\n" + ("\n".join(f"- {t}" for t in existing_titles[-60:]) or "(none)")
        + "\n\nCANDIDATES:\n" + json.dumps(brief, ensure_ascii=False, indent=1) + "\nEND CANDIDATES"
    )


def parse_gate_answer(text: str, count: int) -> dict[int, dict[str, str]]:
    """index -> {verdict, reason} from a distill-gate answer; unusable items are ignored."""
    out: dict[int, dict[str, str]] = {}
    for item in extract_json_array(text) or []:
        if not isinstance(item, dict):
            continue
        try:
            index = int(item.get("index"))
        except (TypeError, ValueError):
            continue
        verdict = str(item.get("verdict", "")).lower()
        if 0 <= index < count and verdict in ("pass", "flag"):
            out[index] = {"verdict": verdict, "reason": clip(str(item.get("reason") or ""), 200)}
    return out


def judge_gate(skills: list[dict[str, Any]], existing: list[dict[str, Any]],
               llm_verdicts: dict[int, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """One gate verdict per skill: heuristic, then the Judge's flag (if any) added on top."""
    verdicts = []
    for index, skill in enumerate(skills):
        verdict = heuristic_gate(skill, existing, skills[:index])
        judged = (llm_verdicts or {}).get(index)
        if judged and judged["verdict"] == "flag":
            verdict["verdict"] = "flag"
            verdict["reasons"].append("judge: " + (judged["reason"] or "flagged"))
            verdict["by"] = "heuristic+judge"
        elif judged:
            verdict["by"] = "heuristic+judge"
        verdicts.append(verdict)
    return verdicts


# --------------------------------------------------------------------------- the run


def _log_failure(rt_id: str, kind: str, detail: str) -> None:
    message = f"distill {rt_id}: {kind}: {clip(detail, 300)}"
    log.warning(message)
    try:
        log_path = paths.user_logs_dir() / "distiller.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as handle:
            handle.write(f"{now_iso()} {message}\n")
    except OSError:
        pass


def _store(result: DistillResult, skills: list[dict[str, Any]], verdicts: list[dict[str, Any]],
           rt_id: str) -> None:
    with _locked_index() as index:
        for skill, verdict in zip(skills, verdicts, strict=True):
            entry = create_skill_entry(skill, rt_id, verdict, index)
            if entry is None:
                result.duplicates += 1
                continue
            index["entries"].append(entry)
            result.entries.append(entry)
    for entry in result.entries:
        if entry.get("originator") and entry["originator"] != "team":
            save_skill_to_agent(entry["originator"], entry)


def distill_roundtable(conn: sqlite3.Connection, rt_id: str, digest: dict[str, Any] | None = None,
                       *, backend: Any = None, config: dict[str, Any] | None = None,
                       messages: list[dict[str, Any]] | None = None) -> DistillResult:
    """Steps 34-35: distil, gate, index, and record novel concepts. Never raises."""
    from amatelier.backends.base import LLMCallError
    from amatelier.chat.llm_calls import call_and_record

    result = DistillResult()
    digest = digest or {}
    try:
        cfg = distiller_config(config)
        if messages is None:
            from amatelier.chat.messages import transcript

            messages = transcript(conn, rt_id)
        workers = list(digest.get("workers") or sorted(
            {m["agent"] for m in messages if m.get("kind") in ("speech", "chat")} - {"runner", "judge"}))
        text = format_transcript(messages, int(cfg["transcript_cap_chars"]))
        if not text.strip():
            result.error = "empty transcript"
            _log_failure(rt_id, "empty", "no messages to distil")
            return result
        if backend is None:
            from amatelier.llm_backend import get_backend

            backend = get_backend()
        prompt = build_distill_prompt(rt_id, str(digest.get("topic", "")), workers, text, digest,
                                      int(cfg["min_skills"]), int(cfg["max_skills"]))
        try:
            completion = call_and_record(conn, backend, rt_id=rt_id, agent="distiller", role="distill",
                                         system=SYSTEM_PROMPT, prompt=prompt, model=cfg["model"],
                                         max_tokens=int(cfg["max_tokens"]),
                                         timeout=float(cfg["timeout_s"]))
        except LLMCallError as exc:
            result.error = "timeout" if exc.kind == "timeout" else f"llm error ({exc.kind})"
            _log_failure(rt_id, result.error, str(exc))
            return result
        items = extract_json_array(completion.text)
        if items is None:
            result.error = "non-json"
            _log_failure(rt_id, "non-json", completion.text)
            return result
        skills, result.rejected = validate_candidates(items, workers, int(cfg["max_skills"]))
        if result.rejected:
            log.info("distill %s: %d candidates refused", rt_id, len(result.rejected))
        if not skills:
            result.error = "no valid skills"
            _log_failure(rt_id, "invalid", f"{len(items)} candidates, none valid")
            return result
        if len(skills) < int(cfg["min_skills"]):
            log.info("distill %s: only %d valid skills (wanted %s)", rt_id, len(skills), cfg["min_skills"])
        existing = load_index()["entries"]
        llm_verdicts = None
        if cfg.get("llm_gate"):
            try:
                gate = call_and_record(
                    conn, backend, rt_id=rt_id, agent="judge", role="distill-gate",
                    system=GATE_SYSTEM,
                    prompt=build_gate_prompt(rt_id, skills, [e.get("title", "") for e in existing
                                                             if isinstance(e, dict)]),
                    model=cfg["gate_model"], max_tokens=2000, timeout=float(cfg["timeout_s"]))
                llm_verdicts = parse_gate_answer(gate.text, len(skills))
            except LLMCallError as exc:
                _log_failure(rt_id, "gate skipped", str(exc))
        verdicts = judge_gate(skills, [e for e in existing if isinstance(e, dict)], llm_verdicts)
        _store(result, skills, verdicts, rt_id)
        result.novel_added = append_novel_concepts(skills, rt_id)
    except Exception as exc:  # distillation must never break the roundtable
        log.exception("distill %s failed", rt_id)
        _log_failure(rt_id, "error", repr(exc))
        result.error = f"error: {exc.__class__.__name__}"
        result.entries = result.entries if result.entries else []
    return result


def distill_one(digest: dict[str, Any] | Path | str, *, conn: sqlite3.Connection | None = None,
                backend: Any = None, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Distil one finished roundtable again from its digest (a digest dict, a path, or an rt_id).

    For a roundtable whose distillation failed or predates the distiller. Skills already
    in the index are skipped (content hash), so running it twice adds nothing. Returns the
    digest fields (skills_distilled, skill_titles, ...); the digest file is not changed.
    """
    if not isinstance(digest, dict):
        path = Path(digest)
        if not path.exists():
            path = paths.user_digest_dir() / f"digest-{digest}.json"
        try:
            digest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read digest {path}: {exc}") from None
    if not isinstance(digest, dict) or not isinstance(digest.get("rt_id"), str):
        raise ValueError("a digest is a JSON object with an rt_id")
    own = conn is None
    if own:
        from amatelier.chat.db import open_db

        conn = open_db()
    try:
        if config is None:
            from amatelier.config import load_config

            config = load_config()
        result = distill_roundtable(conn, digest["rt_id"], digest, backend=backend, config=config)
    finally:
        if own:
            conn.close()
    return {"rt_id": digest["rt_id"], "duplicates": result.duplicates, **result.digest_fields()}
