"""Helpers for learning-loop tests: a temp workspace, synthetic roundtables and digests."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from amatelier import paths
from amatelier.chat import messages as chat_messages
from amatelier.chat.db import open_db

WORKERS = ["elena", "marcus", "clare", "simon"]

SPEECHES = {
    "elena": "I propose we split billing into its own service with an event log, because the "
             "invoice reconciliation path already has clear ownership and lease expiry rules.",
    "marcus": "That split opens a replay attack on the event log: a stale lease token can be "
              "replayed after failover unless the consumer checks monotonic sequence numbers.",
    "clare": "Structurally, the dependency graph shows billing calls accounts synchronously in "
             "three places; decoupling needs an outbox table before any service boundary.",
    "simon": "Sequence it: first the outbox migration, then read-path extraction, then the write "
             "path behind a feature flag, with a rollback checkpoint after each step.",
}


def setup_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user-data dir in offline mode, with no provider keys (call from a fixture)."""
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    root = tmp_path / "ws"
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(root))
    monkeypatch.setenv("AMATELIER_MODE", "offline")
    from amatelier.llm_backend import get_backend

    get_backend.cache_clear()
    paths.ensure_user_data()
    return root


def make_roundtable(conn: sqlite3.Connection, rt_id: str, topic: str = "split the billing monolith?",
                    workers: list[str] | None = None, rounds: int = 2, variant: int = 0) -> None:
    """Insert a closed roundtable with a briefing, speeches per round and judge gates."""
    workers = workers or WORKERS
    conn.execute(
        "INSERT INTO roundtables (id, topic, participants, status, created_at, closed_at)"
        " VALUES (?, ?, ?, 'closed', '2026-01-01T00:00:00Z', '2026-01-01T00:10:00Z')",
        (rt_id, topic, json.dumps(workers)))
    chat_messages.post(conn, rt_id, "runner", f"BRIEFING:\n\nDecide: {topic}", kind="briefing")
    for rnd in range(1, rounds + 1):
        for phase in ("speak", "rebuttal"):
            for index, agent in enumerate(workers):
                chat_messages.post(conn, rt_id, "runner", f"YOUR TURN: {agent} — {phase.upper()}",
                                   kind="turn", round=rnd, phase=phase)
                peer = workers[(index + 1) % len(workers)]
                text = SPEECHES.get(agent, f"{agent} weighs the tradeoffs of the proposal carefully.")
                chat_messages.post(conn, rt_id, agent,
                                   f"Round {rnd} ({variant}): building on {peer}, {text}",
                                   kind="speech", round=rnd, phase=phase)
        chat_messages.post(conn, rt_id, "judge", "CONTINUE: the replay risk is unresolved.",
                           kind="judge", round=rnd, phase="gate")


def make_digest(rt_id: str, workers: list[str] | None = None, topic: str = "split the billing monolith?",
                scores: dict[str, Any] | None = None, ended_at: str = "2026-01-01T00:10:00Z") -> dict[str, Any]:
    workers = workers or WORKERS
    default_scores = {
        w: {"novelty": (i + 1) % 4, "accuracy": 2, "impact": i % 3, "challenge": 1,
            "total": (i + 1) % 4 + 2 + i % 3 + 1, "reason": f"{w} was solid"}
        for i, w in enumerate(workers)
    }
    return {
        "rt_id": rt_id, "topic": topic, "started_at": ended_at.replace(":10:", ":00:"),
        "ended_at": ended_at, "rounds": 2, "total_messages": 20,
        "contributions": {w: 4 for w in workers}, "final_positions": {w: SPEECHES.get(w, "") for w in workers},
        "converged": False, "convergence_reason": None,
        "judge_interventions": [{"round": 1, "text": "marcus, stay on the directive"}],
        "budget_usage": {w: {"spent": i % 3, "budget": 3} for i, w in enumerate(workers)},
        "stability_scores": {"2": {w: 0.4 + 0.1 * i for i, w in enumerate(workers)}},
        "workers": workers, "worker_models": {w: "sonnet" for w in workers}, "llm_usage": {},
        "scores": scores if scores is not None else default_scores,
        "sparks_earned": {w: 5 + i for i, w in enumerate(workers)},
    }


def write_digest(digest: dict[str, Any]) -> Path:
    path = paths.user_digest_dir() / f"digest-{digest['rt_id']}.json"
    path.write_text(json.dumps(digest), encoding="utf-8")
    return path


def db() -> sqlite3.Connection:
    return open_db()


class ScriptedBackend:
    """An LLMBackend stand-in: answers from a function of (task, agent, prompt, call number)."""

    name = "scripted"

    def __init__(self, answer) -> None:
        from amatelier.backends.offline import OfflineBackend

        self.answer = answer
        self.calls: list[dict[str, Any]] = []
        self._offline = OfflineBackend({})

    def offline(self, **kwargs: Any) -> str:
        return self._offline.complete(**kwargs).text

    def complete(self, system: str, prompt: str, model: str = "sonnet", max_tokens: int = 1024,
                 timeout: float = 120.0, *, task: str | None = None, agent: str | None = None):
        from amatelier.backends.base import Completion

        self.calls.append({"task": task, "agent": agent, "prompt": prompt, "system": system})
        text = self.answer(self, task=task, agent=agent, prompt=prompt, system=system, model=model,
                           n=len(self.calls))
        return Completion(text=text, backend=self.name, model=model)


def fail(kind: str = "timeout"):
    from amatelier.backends.base import LLMCallError

    raise LLMCallError(f"simulated {kind}", kind=kind, backend="scripted")


def cli_env(workspace: Path) -> dict[str, str]:
    """Environment for an `amatelier` subprocess: this workspace, offline, no provider keys."""
    import os

    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and not k.startswith("AMATELIER_")}
    env.update({"AMATELIER_WORKSPACE": str(workspace), "AMATELIER_MODE": "offline",
                "PYTHONIOENCODING": "utf-8"})
    return env


def run_amatelier(args: list[str], workspace: Path, timeout: float = 120, columns: int | None = None):
    """`amatelier ARGS` in a subprocess; `columns` sets the terminal width rich lays tables out for."""
    import subprocess
    import sys

    env = cli_env(workspace)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "amatelier", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def hook_state(conn: sqlite3.Connection, digest: dict[str, Any], skip_post: bool = False):
    """A RoundtableState for calling learning_hooks directly (as the runner would)."""
    from amatelier.config import load_config
    from amatelier.state import RoundtableState

    return RoundtableState(rt_id=digest["rt_id"], topic=digest["topic"], briefing_text="",
                           briefing_path=Path("briefing.md"), launch_dir=Path("."),
                           workers=list(digest["workers"]), judge="judge", config=load_config(),
                           conn=conn, mode="offline", max_rounds=2, budget_per_agent=3,
                           skip_post=skip_post)
