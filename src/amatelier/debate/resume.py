"""Resuming a roundtable: what it needs saved at open, and whether a given one can go on.

`params_of` is what the runner saves once the speaking order is known (chat.run_params);
`resumable` checks a roundtable id the user gave and returns its row and saved plan, or says in
one line why it cannot be resumed; `plan_from_params` rebuilds the Plan and options from it, so
the resumed debate keeps its workers, models, order, budgets and limits.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from amatelier.chat import roundtables, run_params
from amatelier.debate.planning import Plan, RunOptions
from amatelier.errors import UserError
from amatelier.state import RoundtableState

PARAMS_VERSION = 1
AGENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
TEXT_KEYS = ("topic", "briefing_path", "briefing_text", "mode", "judge")
NUMBER_KEYS = ("max_rounds", "budget_per_agent", "speaker_timeout_s")


def params_of(state: RoundtableState, plan: Plan, opts: RunOptions,
              models: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The plan to save at open (JSON-safe)."""
    return {
        "version": PARAMS_VERSION, "topic": state.topic, "briefing_path": str(state.briefing_path),
        "briefing_text": state.briefing_text, "launch_dir": str(state.launch_dir), "mode": state.mode,
        "workers": list(state.workers), "judge": state.judge, "max_rounds": state.max_rounds,
        "budget_per_agent": state.budget_per_agent, "budget_start": dict(state.budget_start),
        "speaking_order": list(state.speaking_order), "speaker_timeout_s": state.speaker_timeout_s,
        "skip_post": state.skip_post, "pause_for_human": opts.pause_for_human, "models": models,
        "audit_judge": state.audit_judge,
        "warnings": list(plan.warnings),
    }


def resumable(conn: sqlite3.Connection, rt_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The roundtable and its saved plan; UserError (one line) when it cannot be resumed."""
    rt = roundtables.get_roundtable(conn, rt_id)
    if rt is None:
        raise UserError(f"no roundtable with id {rt_id} (`amatelier search` or the digests under "
                        "<user data>/roundtable-server/ list them)")
    if rt["status"] == roundtables.CLOSED:
        raise UserError(f"roundtable {rt_id} already finished; nothing to resume "
                        f"(`amatelier export {rt_id}` shows it)")
    if rt["status"] == roundtables.OPEN:
        raise UserError(f"roundtable {rt_id} is still running (runner pid {rt.get('runner_pid')}); "
                        f"follow it with `amatelier watch --rt {rt_id}`")
    if rt.get("persona_set"):
        batch = f"`amatelier batch resume {rt['batch_id']}`" if rt.get("batch_id") else "a new --benchmark run"
        raise UserError(f"roundtable {rt_id} is a benchmark run; it is not resumed, {batch} runs it again")
    params = run_params.load(conn, rt_id)
    if not params or not params.get("speaking_order"):
        raise UserError(f"roundtable {rt_id} cannot be resumed: it was cut before its debate began "
                        "(no speaking order was saved); start a new one")
    problem = params_problem(params)
    if problem:
        raise UserError(f"roundtable {rt_id} cannot be resumed: its saved run parameters are damaged "
                        f"({problem}); start a new one")
    return rt, params


def params_problem(params: dict[str, Any]) -> str | None:
    """What is wrong with a saved plan (a damaged or hand-edited row), or None when it is usable."""
    for key in TEXT_KEYS:
        if not isinstance(params.get(key), str):
            return f"{key} is missing or not text"
    for key in NUMBER_KEYS:
        value = params.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            return f"{key} is missing or not a number"
    names = [params.get("judge"), *(params.get("workers") or [None]), *(params.get("speaking_order") or [])]
    if not isinstance(params.get("workers"), list) or not isinstance(params.get("speaking_order"), list) \
            or not all(isinstance(n, str) and AGENT_NAME.match(n) for n in names):
        return "workers, judge or speaking_order is not a list of agent names"
    if not set(params["speaking_order"]) <= set(params["workers"]):
        return "speaking_order names an agent that is not seated"
    budgets = params.get("budget_start") or {}
    if not isinstance(budgets, dict) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                for v in budgets.values()):
        return "budget_start is not a table of whole numbers"
    models = params.get("models") or {}
    if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()) \
            or not isinstance(params.get("warnings") or [], list):
        return "models or warnings has the wrong shape"
    return None


def plan_from_params(params: dict[str, Any], config: dict[str, Any]) -> tuple[Plan, RunOptions]:
    """The Plan and options of the original run, from its saved params."""
    opts = RunOptions(topic=str(params["topic"]), briefing=str(params["briefing_path"]),
                      workers=list(params["workers"]), max_rounds=int(params["max_rounds"]),
                      budget=int(params["budget_per_agent"]),
                      speaker_timeout=float(params["speaker_timeout_s"]),
                      skip_post=bool(params.get("skip_post")),
                      launch_dir=Path(params.get("launch_dir") or Path.cwd()),
                      pause_for_human=params.get("pause_for_human"),
                      audit_judge=bool(params.get("audit_judge")))
    plan = Plan(config=config, mode=str(params["mode"]), workers=list(params["workers"]),
                judge=str(params["judge"]), briefing_path=Path(params["briefing_path"]),
                briefing_text=str(params["briefing_text"]), max_rounds=int(params["max_rounds"]),
                budget=int(params["budget_per_agent"]), speaker_timeout=float(params["speaker_timeout_s"]),
                warnings=list(params.get("warnings") or []))
    return plan, opts


def model_drift(saved: dict[str, dict[str, str]], now: dict[str, dict[str, str]]) -> list[str]:
    """Agents whose backend or model differs from the original run (a config change since)."""
    return [f"{agent}: was {was.get('backend')}/{was.get('model')}, now "
            f"{now.get(agent, {}).get('backend')}/{now.get(agent, {}).get('model')}"
            for agent, was in sorted(saved.items())
            if now.get(agent) and (now[agent].get("model"), now[agent].get("backend"))
            != (was.get("model"), was.get("backend"))]
