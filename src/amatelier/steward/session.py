"""One roundtable's Steward: its registry, budgets, pending lookups and log.

The runner's seams (amatelier.debate.steward_turns) drive it; it owns no database
connection, so background threads never touch SQLite: results are injected by the
runner thread when it polls.
"""

from __future__ import annotations

import threading
from typing import Any

from amatelier.backends.base import LLMBackend
from amatelier.steward.budget import StewardBudget
from amatelier.steward.log import StewardLog
from amatelier.steward.lookups import parse_lookup, try_deterministic
from amatelier.steward.registry import Registry
from amatelier.steward.result import StewardResult
from amatelier.steward.scope import BRIEFING_ALIASES
from amatelier.steward.subagent import spawn_steward_subagent
from amatelier.steward.task import StewardTask


class Steward:
    """Submits lookups as background tasks, hands back finished ones in submission order."""

    def __init__(self, registry: Registry, config: dict[str, Any], mode: str, *,
                 agents: list[str] | None = None, backend: LLMBackend | None = None) -> None:
        cfg = config.get("steward", {})
        self.registry = registry
        self.config = config
        self.mode = mode
        self.switched_on = bool(cfg.get("enabled", True))
        self.enabled = self.switched_on and registry.enabled
        self.timeout_s = float(cfg.get("timeout_s", 120))
        self.grace_s = float(cfg.get("wait_grace_s", 10))
        self.max_bytes = int(cfg.get("max_file_bytes", 1_000_000))
        self.max_output_chars = int(cfg.get("max_result_chars", 4000))
        self.budget = StewardBudget(int(cfg.get("budget_per_agent", 3)), agents)
        self.research_budget = StewardBudget(int(cfg.get("research_window_budget", 3)), agents)
        self.log = StewardLog()
        self.tasks: list[StewardTask] = []
        self._backend = backend
        self._backend_lock = threading.Lock()
        # Model lookups are heavy (a claude -p process, or API round trips): cap how many run at once.
        self._model_slots = threading.BoundedSemaphore(max(1, int(cfg.get("max_parallel", 3))))
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lookups

    def backend(self) -> LLMBackend | None:
        """The model backend for the subagent path, built once on first need."""
        with self._backend_lock:
            if self._backend is None and self.mode in ("offline", "anthropic-sdk", "openai-compat"):
                from amatelier.llm_backend import make_backend

                self._backend = make_backend(self.mode, self.config)
            return self._backend

    def lookup(self, request: str) -> StewardResult:
        """Deterministic first; the model path only when the grammar does not cover it."""
        found = try_deterministic(request, self.registry, max_bytes=self.max_bytes,
                                  max_output_chars=self.max_output_chars)
        if found is not None:
            return found
        try:
            backend = self.backend()
        except Exception as exc:
            return StewardResult("error", method=f"subagent:{self.mode}",
                                 output=f"no Steward model available: {exc}")
        with self._model_slots:
            result = spawn_steward_subagent(request, self.registry, mode=self.mode,
                                            config=self.config, backend=backend,
                                            timeout_s=self.timeout_s)
        if len(result.output) > self.max_output_chars:
            result.output = (result.output[:self.max_output_chars].rstrip()
                             + f"\n... [truncated at {self.max_output_chars} characters]")
        return result

    # ------------------------------------------------------------------ flow

    def submit(self, agent: str, requests: list[str], *, round_num: int | None,
               phase: str | None, free: bool = False) -> list[StewardTask]:
        """Start a task per request; refusals decided up front come back already done."""
        budget = self.research_budget if free else self.budget
        started: list[StewardTask] = []
        for request in requests:
            meta = dict(round_num=round_num, phase=phase, free=free, timeout_s=self.timeout_s,
                        grace_s=self.grace_s)
            if not self._answers(request):
                why = ("the Steward is switched off (config steward.enabled)" if not self.switched_on
                       else "no files are registered for this roundtable (briefing section "
                            "'## Steward-Registered Files'), so nothing can be looked up but the "
                            "briefing itself ([[request: lines A-B of briefing]])")
                task = StewardTask.finished(agent, request, StewardResult(
                    "out_of_scope", output=why, method="refused"), **meta)
            elif not budget.spend(agent):
                kind = "research-window" if free else "Steward"
                task = StewardTask.finished(agent, request, StewardResult(
                    "denied_budget", method="refused",
                    output=f"{agent} has used all {budget.per_agent} {kind} requests"), **meta)
            else:
                task = StewardTask(agent, request, lambda r=request: self.lookup(r), **meta)
            started.append(task)
        with self._lock:
            self.tasks.extend(started)
        return started

    def _answers(self, request: str) -> bool:
        """Whether a request is looked up: any, with files registered; else only the briefing's own lines."""
        if self.enabled:
            return True
        if not self.switched_on or self.registry.briefing is None:
            return False
        lookup = parse_lookup(request)
        return (lookup is not None and lookup.kind in ("read", "lines", "grep")
                and (lookup.path or "").strip("`'\"").lower() in BRIEFING_ALIASES)

    def waiting(self, agent: str) -> bool:
        """Whether a lookup `agent` asked for is still running."""
        with self._lock:
            return any(t.agent == agent and not t.done.is_set() for t in self.tasks)

    def pending(self) -> list[StewardTask]:
        """Tasks whose results have not been injected yet, in submission order."""
        with self._lock:
            return [t for t in self.tasks if not t.injected]

    def take_ready(self) -> list[StewardTask]:
        """Finished, not yet injected tasks (marked injected), in submission order.

        One agent's results keep the order it asked in: a finished task waits behind an
        earlier one of the same agent that is still running.
        """
        with self._lock:
            blocked: set[str] = set()
            ready: list[StewardTask] = []
            for task in self.tasks:
                if task.injected:
                    continue
                if task.agent in blocked or not task.done.is_set():
                    blocked.add(task.agent)
                    continue
                ready.append(task)
            for task in ready:
                task.injected = True
        return ready

    def wait_all(self, tasks: list[StewardTask] | None = None) -> None:
        """Block until every given (default: pending) task is done or past its deadline."""
        for task in tasks if tasks is not None else self.pending():
            task.wait(task.seconds_left())
