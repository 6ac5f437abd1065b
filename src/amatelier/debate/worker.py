"""The one worker loop, for every backend: `python -m amatelier.engine.worker --rt ID --agent NAME`.

A worker waits for a pending turn addressed to its agent, claims it, assembles the prompt
(persona, memory, skills, briefing, transcript window), calls the agent's backend through
call_and_record (so the call lands in llm_calls), then posts the answer and marks the turn
done in one transaction. It talks to the runner only through the database, and exits when
the roundtable is closed or cut or when its parent runner is gone.

Test-only fault hook: AMATELIER_TEST_FAULT="agent:turn_no:crash|hang[,...]" makes the first
incarnation (--generation 0) of that agent's worker exit abruptly (crash) or stop answering
(hang) when it claims its turn_no-th turn of the roundtable (1-based). Restarted workers
(generation >= 1) ignore it, so a test can watch the runner recover.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import sqlite3
import sys
import time
from typing import Any

from amatelier import paths
from amatelier.chat import messages as msgs
from amatelier.chat import roundtables, turns
from amatelier.chat.db import connect
from amatelier.chat.waiting import ChangeWaiter

FAULT_ENV = "AMATELIER_TEST_FAULT"
IDLE_CHECK_S = 0.25

PHASE_TASKS = {"SPEAK": "speak", "REBUTTAL": "rebuttal", "FLOOR": "floor", "GATE": "gate",
               "RESEARCH": "research"}


def log(agent: str, text: str) -> None:
    """One timestamped line to the worker's log (stderr)."""
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp} [{agent}] {text}", file=sys.stderr, flush=True)


def parse_fault(value: str | None, agent: str) -> dict[int, str]:
    """{turn_no: 'crash'|'hang'} for this agent from AMATELIER_TEST_FAULT."""
    faults: dict[int, str] = {}
    for item in (value or "").split(","):
        parts = item.strip().split(":")
        if len(parts) != 3 or parts[0] != agent or parts[2] not in ("crash", "hang"):
            continue
        try:
            faults[int(parts[1])] = parts[2]
        except ValueError:
            continue
    return faults


def task_for(phase: str) -> str:
    """The backend task for a turn phase (SPEAK -> speak, GATE -> gate, ...)."""
    return PHASE_TASKS.get(phase.upper(), phase.lower())


class Worker:
    """State of one worker process; `run()` is the loop."""

    def __init__(self, rt_id: str, agent: str, *, generation: int = 0,
                 parent_pid: int | None = None, conn: sqlite3.Connection | None = None) -> None:
        from amatelier.config import load_config

        self.rt_id = rt_id
        self.agent = agent
        self.generation = generation
        self.parent_pid = parent_pid if parent_pid is not None else os.getppid()
        self.conn = conn or connect()
        self.config = load_config()
        self.faults = parse_fault(os.environ.get(FAULT_ENV), agent) if generation == 0 else {}
        self._backend = None
        self._expected_ppid = os.getppid()  # the runner, or the fork server it started
        self._split_ids: list[int] = []  # last message in full of each earlier prompt of this agent
        self._rt: dict[str, Any] | None = None
        self._briefing: str | None = None
        self._system: str | None = None

    # ------------------------------------------------------------------ pieces

    @property
    def backend(self):
        """The agent's backend, made on first use (Naomi: Gemini unless offline)."""
        if self._backend is None:
            from amatelier.llm_backend import backend_for_agent

            self._backend = backend_for_agent(self.agent, self.config)
        return self._backend

    def parent_alive(self) -> bool:
        """Whether the runner that started this worker is still there."""
        return os.getppid() == self._expected_ppid and roundtables.pid_alive(self.parent_pid)

    def roundtable(self) -> dict[str, Any] | None:
        """The roundtable row (cached)."""
        if self._rt is None:
            self._rt = roundtables.get_roundtable(self.conn, self.rt_id)
        return self._rt

    def briefing(self) -> str:
        """The briefing text posted at the start (cached)."""
        if self._briefing is None:
            row = self.conn.execute(
                "SELECT content FROM messages WHERE rt_id = ? AND kind = 'briefing' ORDER BY id LIMIT 1",
                (self.rt_id,),
            ).fetchone()
            text = row[0] if row else ""
            self._briefing = text.split("\n", 1)[1].strip() if text.startswith("BRIEFING:") else text
        return self._briefing

    def models(self) -> list[str]:
        """The model this agent runs on: its role token and the id the backend resolves it to.

        Picks an installed agent's persona variant (amatelier.persona_files); a backend that
        cannot be made yet leaves the role token alone.
        """
        from amatelier.config import worker_model

        token = worker_model(self.config, self.agent)
        try:
            resolved = self.backend.resolve_model(token)
        except Exception:  # noqa: BLE001 - the persona must still build; the turn reports the backend
            resolved = token
        return list(dict.fromkeys([token, resolved]))

    def judge_name(self) -> str:
        return str(self.config.get("team", {}).get("judge", {}).get("name", "judge"))

    def kind(self) -> str:
        """Message kind for this agent's answers: judge for the Judge, else speech."""
        return "judge" if self.agent == self.judge_name() else "speech"

    def build(self, turn: dict[str, Any]) -> tuple[str, str]:
        """(system, prompt) for a turn; the persona part is built once per worker."""
        system, layout = self.build_layout(turn)
        return system, layout.text

    def cache_points(self, layout: Any) -> list[int]:
        """Where the stable prefixes of this prompt end: the briefing, the transcript as each of
        this agent's earlier turns saw it (the latest one's cache entry is read; splitting at all
        of them keeps the blocks identical), and the transcript now (written for the next turn)."""
        points = [layout.briefing_end]
        points += [layout.message_ends[i] for i in self._split_ids if i in layout.message_ends]
        points.append(layout.transcript_end)
        return sorted(set(points))

    def build_layout(self, turn: dict[str, Any]) -> tuple[str, Any]:
        """(system, prompt layout) for a turn."""
        from amatelier.debate.context import TurnContext, layout_prompt
        from amatelier.prompt_format import parse_markers

        rt = self.roundtable() or {}
        settings = self.config.get("roundtable", {})
        history = msgs.transcript(self.conn, self.rt_id)
        if history:
            msgs.set_cursor(self.conn, self.rt_id, self.agent, history[-1]["id"])
        ctx = TurnContext(
            agent=self.agent, round=int(turn["round"]), phase=str(turn["phase"]),
            topic=str(rt.get("topic", "")),
            participants=[p for p in rt.get("participants", []) if p != self.judge_name()],
            briefing=self.briefing(), messages=history, instructions=str(turn["instructions"] or ""),
            recent_messages=int(settings.get("transcript_recent_messages", 24)),
            index_chars=int(settings.get("transcript_index_chars", 4000)),
            hide_round_speeches=parse_markers("=== YOUR TASK ===\n" + str(turn["instructions"] or ""))
            .get("OPENING", "").lower() == "independent",
            precedents=next((str(m["content"]) for m in history if m.get("kind") == "precedents"), ""),
        )
        if self._system is None:  # persona, memory and skills do not change during a roundtable
            self._system = self.system()
        return self._system, layout_prompt(ctx)

    def system(self) -> str:
        """The system prompt: the bundled seed persona on a `seed` benchmark run, else the agent's own.

        A seed worker reads only the shipped CLAUDE.md and IDENTITY.md (no memory, no skills);
        the Judge always reads its own persona, so both persona sets are measured alike.
        """
        from amatelier.debate.context import build_system
        from amatelier.judging.prompts import judge_system

        if self.kind() == "judge":   # its persona without output contracts: each task brings its own
            return judge_system(self.agent)
        rt = self.roundtable() or {}
        seed = rt.get("persona_set") == "seed" and self.kind() == "speech"
        return build_system(self.agent, self.config, models=self.models(),
                            agent_dir=paths.bundled_agent_dir(self.agent) if seed else None)

    def warm_up(self) -> None:
        """While idle before the first turn: import what a turn needs and build the persona."""
        import importlib

        importlib.import_module("amatelier.chat.llm_calls")
        with contextlib.suppress(Exception):
            if self._system is None:
                self._system = self.system()
            if self.backend.name == "offline":
                importlib.import_module("amatelier.offline.debate")
            client = getattr(self.backend, "client", None)
            if callable(client):  # build the SDK client now (a no-op import when forked warm)
                client()

    # ------------------------------------------------------------------ one turn

    def _turn_number(self, turn: dict[str, Any]) -> int:
        row = self.conn.execute(
            "SELECT COUNT(*) FROM turns WHERE rt_id = ? AND agent = ? AND id <= ?",
            (self.rt_id, self.agent, turn["id"]),
        ).fetchone()
        return int(row[0])

    def _apply_fault(self, turn: dict[str, Any]) -> None:
        if not self.faults:
            return
        fault = self.faults.get(self._turn_number(turn))
        if fault == "crash":
            log(self.agent, f"test fault: crashing on turn {turn['id']}")
            os._exit(3)
        if fault == "hang":
            log(self.agent, f"test fault: hanging on turn {turn['id']}")
            while self.parent_alive():
                time.sleep(0.1)
            os._exit(4)

    def handle(self, turn: dict[str, Any]) -> int | None:
        """Answer one claimed turn; returns the posted message id (None if failed or late)."""
        from amatelier.backends.base import LLMCallError
        from amatelier.chat.llm_calls import call_and_record
        from amatelier.config import worker_model

        self._apply_fault(turn)
        try:
            system, layout = self.build_layout(turn)
            prompt = layout.text
            backend = self.backend
        except Exception as exc:  # noqa: BLE001 - a bad persona file or backend must not kill the worker
            log(self.agent, f"turn {turn['id']} could not be prepared: {type(exc).__name__}: {exc}")
            turns.fail(self.conn, turn["id"], f"{type(exc).__name__}: {exc}")
            return None
        task = task_for(turn["phase"])
        llm = self.config.get("llm", {})
        extra: dict[str, Any] = {}
        if getattr(backend, "accepts_cache_points", False):
            extra["cache_points"] = self.cache_points(layout)
        try:
            completion = call_and_record(
                self.conn, backend, rt_id=self.rt_id, agent=self.agent, role=task,
                system=system, prompt=prompt, model=worker_model(self.config, self.agent),
                max_tokens=int(llm.get("max_tokens", 1024)), timeout=float(llm.get("timeout_s", 180)),
                **extra,
            )
        except LLMCallError as exc:
            log(self.agent, f"turn {turn['id']} failed: {exc}")
            turns.fail(self.conn, turn["id"], f"{getattr(exc, 'kind', 'other')}: {exc}")
            return None
        if layout.message_ends:  # the next turn reads the prefix this one wrote
            self._split_ids.append(max(layout.message_ends))
        text = (completion.text or "").strip()
        if not text:
            turns.fail(self.conn, turn["id"], "empty answer from the model")
            return None
        if task == "gate":  # the transcript shows the verdict as readable lines, whatever form it came in
            from amatelier.judging.verdict import readable_answer

            text = readable_answer(text)
        message_id = turns.complete(self.conn, turn, text, kind=self.kind(), also=self._position_recorder(turn, text))
        if message_id is None:
            log(self.agent, f"turn {turn['id']} was closed before the answer arrived; answer dropped")
        else:
            msgs.set_cursor(self.conn, self.rt_id, self.agent, message_id)
        return message_id

    def _position_recorder(self, turn: dict[str, Any], text: str) -> Any:
        """Stores a worker turn's POSITION line with its message (same transaction); never raises."""
        if self.kind() != "speech":
            return None

        def record(conn: sqlite3.Connection, message_id: int) -> None:
            from amatelier.debate.positions import record_turn_position

            try:
                participants = list((self.roundtable() or {}).get("participants", []))
                record_turn_position(conn, rt_id=self.rt_id, message_id=message_id, agent=self.agent,
                                     round_no=int(turn["round"]), phase=str(turn["phase"]), text=text,
                                     participants=participants)
            except (sqlite3.Error, ValueError, TypeError) as exc:  # the message matters more than its position
                log(self.agent, f"position of turn {turn['id']} not stored: {exc}")

        return record

    # ------------------------------------------------------------------ loop

    def run(self) -> int:
        """Claim and answer turns until the roundtable ends or the runner is gone."""
        if self.roundtable() is None:
            log(self.agent, f"no roundtable {self.rt_id}")
            return 2
        waiter = ChangeWaiter(self.conn)
        warmed = False
        pid = os.getpid()
        log(self.agent, f"worker up (pid {pid}, generation {self.generation})")
        while True:
            turn = turns.claim_next(self.conn, self.rt_id, self.agent, pid)
            if turn is not None:
                self.handle(turn)
                continue
            if not warmed:
                warmed = True
                self.warm_up()
                continue
            if roundtables.status(self.conn, self.rt_id) != roundtables.OPEN:
                log(self.agent, "roundtable is over; exiting")
                return 0
            if not self.parent_alive():
                log(self.agent, "runner is gone; exiting")
                return 0
            waiter.wait(IDLE_CHECK_S)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(143)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: run the worker loop; logs peak RSS at exit."""
    parser = argparse.ArgumentParser(prog="amatelier.engine.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--rt", required=True, help="roundtable id")
    parser.add_argument("--agent", required=True, help="agent name")
    parser.add_argument("--generation", type=int, default=0, help="0 on first launch, +1 per restart")
    parser.add_argument("--parent-pid", type=int, default=None, help="runner pid (default: parent)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    code = 1
    try:
        code = Worker(args.rt, args.agent, generation=args.generation, parent_pid=args.parent_pid).run()
    except KeyboardInterrupt:
        code = 130
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        log(args.agent, f"exit code={code} maxrss_kb={rss_kb}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
