"""The roundtables the schema-conformance sweep validates: one real offline run per configuration.

Each builder runs `python -m amatelier ...` subprocesses in its own temp workspace and returns a
Run naming the roundtables whose artefacts must validate. Runs are small (2 workers, 1-2 rounds)
and each is built once per test module (see ConformanceRuns), so many assertions share one run.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests.helpers.roundtable_run import (
    AMATELIER,
    REPO,
    processes_with_args,
    roundtable_args,
    rows,
    rt_env,
    run_cli,
    start_cli,
    wait_for,
    write_config,
)

TWO = ("--workers", "elena,marcus")
GROUNDED = REPO / "examples" / "grounded"
STARTER = REPO / "examples" / "suites" / "starter"
JURY = {"judging": {"jury": [{"model": "sonnet"}, {"model": "opus"}]}}


@dataclass
class Run:
    """One configuration's outcome: its workspace, the roundtables it made, what the CLI printed."""

    name: str
    workspace: Path
    env: dict[str, str]
    rt_ids: list[str]
    printed: list[dict[str, Any]] = field(default_factory=list)   # digests printed on stdout (JSON mode)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rt_id(self) -> str:
        return self.rt_ids[-1]


def _finished(result: subprocess.CompletedProcess, *, codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    assert result.returncode in codes, result.stderr[-3000:]
    return json.loads(result.stdout)


def _roundtable(ws: Path, name: str, *args: str, env: dict[str, str] | None = None,
                topic: str = "split the monolith?", briefing: Path | str | None = None) -> Run:
    env = env or rt_env(ws)
    kwargs = {"briefing": briefing} if briefing is not None else {}
    digest = _finished(run_cli(roundtable_args(topic, *TWO, *args, **kwargs), env, timeout=300))
    return Run(name, ws, env, [digest["rt_id"]], [digest])


def plain(ws: Path) -> Run:
    """The default pipeline: debate, decision, scoring, settlement, distillation and the therapist."""
    return _roundtable(ws, "plain", "--max-rounds", "2")


def skip_post(ws: Path) -> Run:
    return _roundtable(ws, "skip_post", "--max-rounds", "1", "--skip-post")


def jury(ws: Path) -> Run:
    """A two-seat jury and the order-swap audit forced on."""
    write_config(ws, JURY)
    return _roundtable(ws, "jury", "--max-rounds", "1", "--skip-post", "--audit-judge")


MIXED_JURY = {"judging": {"jury": [{"model": "sonnet"}, {"model": "gpt-4o"}, {"model": "gemini-2.5-pro"}]}}


def mixed_jury(ws: Path) -> Run:
    """Three seats of three model families (the workers' own family recused) and a Judge biased by
    order, so the swap audit finds changed scores."""
    write_config(ws, MIXED_JURY)
    return _roundtable(ws, "mixed_jury", "--max-rounds", "1", "--skip-post", "--audit-judge",
                       env=rt_env(ws, AMATELIER_OFFLINE_ORDER_BIAS="1"))


def _live(ws: Path, *args: str, delay_ms: str = "200", **env_extra: str) -> tuple[subprocess.Popen, dict, str]:
    env = rt_env(ws, AMATELIER_OFFLINE_DELAY_MS=delay_ms, **env_extra)
    proc = start_cli(roundtable_args("split the monolith?", *TWO, *args), env)
    try:
        (first,) = wait_for(lambda: rows(ws, "SELECT rt_id FROM messages WHERE kind = 'speech' LIMIT 1"),
                            90, "a first speech")
    except BaseException:
        proc.kill()
        proc.communicate(timeout=30)
        raise
    return proc, env, first["rt_id"]


def sigint(ws: Path) -> Run:
    """Ctrl-C mid-debate: the run is cut, its transcript, decision and digest kept."""
    proc, env, rt_id = _live(ws, "--max-rounds", "2", "--skip-post")
    lines = ws / "runs" / rt_id / "telemetry.jsonl"     # mid-debate: after the runner recorded a turn
    wait_for(lambda: lines.is_file() and '"event_name":"turn"' in lines.read_text(encoding="utf-8"), 90, "a turn event")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err[-3000:]
    return Run("sigint", ws, env, [rt_id], [json.loads(out)])


def resumed(ws: Path) -> Run:
    """The runner killed (-9) in round 2, then `--resume` finishes the debate."""
    env = rt_env(ws, AMATELIER_OFFLINE_DELAY_MS="150")
    proc = start_cli(roundtable_args("split the monolith?", *TWO, "--max-rounds", "2", "--budget", "1"), env)
    try:
        wait_for(lambda: rows(ws, "SELECT 1 FROM turns WHERE round = 2 AND status = 'done'"), 120, "round 2")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    rt_id = rows(ws, "SELECT id FROM roundtables")[0]["id"]
    wait_for(lambda: not processes_with_args("amatelier.engine.worker", rt_id), 30, "orphaned workers to exit")
    digest = _finished(run_cli(["roundtable", "--resume", rt_id], rt_env(ws), timeout=300))
    return Run("resumed", ws, env, [rt_id], [digest])


def say(ws: Path) -> Run:
    """A person speaks into the live roundtable with `amatelier say`."""
    proc, env, rt_id = _live(ws, "--max-rounds", "2", "--skip-post")
    try:
        said = run_cli(["say", "Remember the billing team is only two people.", "--rt", rt_id, "--as", "dana",
                        "--json"], env)
        assert said.returncode == 0, said.stderr
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-3000:]
    return Run("say", ws, env, [rt_id], [json.loads(out)], {"said": json.loads(said.stdout)})


def precedents(ws: Path) -> Run:
    """A second roundtable on a related topic is shown the first one's decision."""
    env = rt_env(ws)
    first = _finished(run_cli(roundtable_args("adopt Kafka for events?", *TWO, "--max-rounds", "1", "--skip-post"),
                              env, timeout=300))
    second = _finished(run_cli(roundtable_args("replace Kafka with NATS for events?", *TWO, "--max-rounds", "1",
                                               "--skip-post"), env, timeout=300))
    return Run("precedents", ws, env, [first["rt_id"], second["rt_id"]], [first, second])


def benchmark(ws: Path) -> Run:
    """`amatelier batch run` on a one-case suite, then `amatelier snapshot mint` over that batch."""
    suite = ws.parent / f"{ws.name}-suite"
    (suite / "briefings").mkdir(parents=True)
    (suite / "briefings" / "b.md").write_text((STARTER / "briefings" / "free-tier.md").read_text(encoding="utf-8"),
                                              encoding="utf-8")
    cases = [{"id": "free-tier", "topic": "launch a free tier?", "briefing": "briefings/b.md", "rounds": 1,
              "workers": ["elena", "marcus"]}]
    (suite / "suite.json").write_text(json.dumps({"name": "tiny", "version": "1", "cases": cases}), encoding="utf-8")
    env = rt_env(ws)
    summary = _finished(run_cli(["batch", "run", str(suite), "--parallel", "1", "--json"], env, timeout=600))
    batch_id = summary["batch_id"]
    rt_ids = [r["id"] for r in rows(ws, "SELECT id FROM roundtables WHERE batch_id = ? ORDER BY id", batch_id)]
    assert rt_ids, "the batch ran no roundtable"
    minted = run_cli(["snapshot", "mint", "elena", "--batch", batch_id, "--notes", "conformance", "--json"], env)
    assert minted.returncode == 0, minted.stderr
    return Run("benchmark", ws, env, rt_ids, [], {"batch_id": batch_id, "minted": json.loads(minted.stdout)})


def steward_missing(ws: Path) -> Run:
    """examples/grounded/ with one more registered file that does not exist."""
    briefing = ws.parent / f"{ws.name}-briefing.md"
    text = (GROUNDED / "briefing.md").read_text(encoding="utf-8")
    briefing.write_text(text.rstrip("\n") + "\n- `examples/grounded/no-such-file.json` — gone\n", encoding="utf-8")
    return _roundtable(ws, "steward_missing", "--max-rounds", "1", "--skip-post", briefing=briefing)


def big_briefing(ws: Path) -> Run:
    """A 200 KB briefing: every prompt is cut, and the run warns."""
    briefing = ws.parent / f"{ws.name}-briefing.md"
    lines = ["# Briefing", "", "## Objective", "Decide whether to split the monolith.", "", "## Context"]
    lines += [f"fact {n:04d}: the service handles {n} requests per second at peak" for n in range(1, 3400)]
    briefing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert briefing.stat().st_size > 200_000
    return _roundtable(ws, "big_briefing", "--max-rounds", "1", "--skip-post", briefing=briefing,
                       topic="Should we split the monolith? " + "context " * 60)


@cache
def has_option(command: tuple[str, ...], option: str) -> bool:
    """Whether `amatelier <command> --help` lists `option` (features landing on main at different times)."""
    done = subprocess.run([*AMATELIER, *command, "--help"], capture_output=True, text=True, timeout=60,
                          cwd=str(REPO), env={**rt_env(REPO / ".no-workspace"), "COLUMNS": "200"})
    return option in done.stdout


def _against_fake_anthropic(ws: Path, name: str, *flag_sets: tuple[str, ...]) -> Run:
    """Roundtables on the real anthropic SDK against the fake Messages API (answers like the offline
    model, with usage): priced calls, cache counts and provider model ids in every artefact."""
    from tests.helpers.backends_config import FAST_RETRY
    from tests.helpers.fake_llm_servers import FakeAnthropic
    from tests.helpers.ux_scripted_replies import anthropic_reply

    write_config(ws, {"llm": {"retry": FAST_RETRY}})
    made = []
    with FakeAnthropic() as server:
        server.default = _with_a_venture(anthropic_reply(server))
        env = rt_env(ws, AMATELIER_MODE="anthropic-sdk", ANTHROPIC_API_KEY="sk-ant-conformance",
                     ANTHROPIC_BASE_URL=server.base_url)
        for flags in flag_sets:
            result = run_cli(roundtable_args("split the monolith?", *TWO, *flags), env, timeout=300)
            made.append(_finished(result, codes=(0, 1)))
    return Run(name, ws, rt_env(ws), [d["rt_id"] for d in made], made)


VENTURE = "\n[[venture: scout — checkout p95 falls below 500 ms within a month of the split]]"


def _with_a_venture(base: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Elena stakes a scout venture in her first speech (the economy's `ventures` in the digest)."""
    from tests.helpers.ux_scripted_replies import turn_agent

    def answer(request: Any) -> Any:
        reply = base(request)
        text = request.user_text()
        content = reply.body.get("content") if isinstance(reply.body, dict) else None
        if turn_agent(request) == "elena" and "PHASE: SPEAK" in text and content:
            content[0]["text"] += VENTURE
        return reply

    return answer


def faults(ws: Path) -> Run:
    """Marcus's worker crashes on its first turn (restarted); Elena hangs on her second (timed out)."""
    env = rt_env(ws, AMATELIER_TEST_FAULT="marcus:1:crash,elena:2:hang")
    digest = _finished(run_cli(roundtable_args("split the monolith?", *TWO, "--max-rounds", "1", "--skip-post",
                                               "--speaker-timeout", "3"), env, timeout=300), codes=(0, 1))
    return Run("faults", ws, env, [digest["rt_id"]], [digest])


def anthropic(ws: Path) -> Run:
    return _against_fake_anthropic(ws, "anthropic", ("--max-rounds", "1"))


def ceilings(ws: Path) -> Run:
    """Cost and token ceilings (#12): each run stops within its limit and says why."""
    return _against_fake_anthropic(ws, "ceilings", ("--max-rounds", "2", "--skip-post", "--max-cost-usd", "0.02"),
                                   ("--max-rounds", "2", "--skip-post", "--max-tokens", "20000"))


BUILDERS: dict[str, Callable[[Path], Run]] = {
    "plain": plain, "skip_post": skip_post, "jury": jury, "mixed_jury": mixed_jury, "sigint": sigint, "resumed": resumed, "say": say,
    "precedents": precedents, "benchmark": benchmark, "steward_missing": steward_missing,
    "big_briefing": big_briefing, "anthropic": anthropic, "faults": faults,
    "ceilings": ceilings,
}


class ConformanceRuns:
    """Builds each configuration on first use and hands the same Run to every later assertion."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._runs: dict[str, Run] = {}
        self._failed: dict[str, str] = {}

    def get(self, name: str) -> Run:
        if name in self._failed:
            raise AssertionError(f"the {name} run failed earlier: {self._failed[name]}")
        if name not in self._runs:
            try:
                self._runs[name] = BUILDERS[name](self.root / name)
            except BaseException as exc:
                self._failed[name] = str(exc)[:2000]
                raise
        return self._runs[name]
