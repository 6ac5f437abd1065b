"""Benchmark a whole roundtable: the engine alone (offline), or against fake providers.

    .venv/bin/python scripts/bench_roundtable.py [--runs 3] [--workers elena,marcus,clare,simon]
    .venv/bin/python scripts/bench_roundtable.py --fakes [--latency-ms 0] [--answers offline|echo]

Default mode runs the roundtable on the offline backend (answers instantly), so what is
measured is the engine: process start-up, turn handoffs through SQLite, context assembly.
It prints, per run and as the median over runs: wall time of the `amatelier roundtable`
command, turns, handoff latency p50/p95, engine overhead per turn and peak RSS per worker.
Targets on a 2-core machine: whole roundtable < 5 s; handoff p50 < 20 ms, p95 < 100 ms;
worker RSS < 80 MB.

`--fakes` runs the same roundtable, in the same invocation, offline and then with the real
SDKs against the fake providers in tests/helpers (Anthropic with its prompt-caching rules,
OpenAI-compatible with automatic prefix caching), each answering after `--latency-ms`.
The fakes answer like the offline model (`--answers offline`, the same debate as offline
mode) or echo the prompt back (`--answers echo`, as amatelier 0.5.1 was measured). For each
provider it prints: wall, offline wall, their ratio, the critical-path model time, the
engine's share of wall (wall minus model time), calls, prompt characters, cache-read share,
and the time one import of that SDK takes here, to check wall <= offline + import + 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BRIEFING = REPO / "examples" / "briefings" / "hello-world.md"
TOPIC = "split the monolith?"
SDK_IMPORT = {"anthropic-sdk": "import anthropic", "openai-compat": "import openai"}


def roundtable_cmd(workers: str, rounds: int, budget: int, briefing: Path = BRIEFING) -> list[str]:
    return [sys.executable, "-m", "amatelier", "roundtable", "--topic", TOPIC, "--briefing", str(briefing),
            "--workers", workers, "--max-rounds", str(rounds), "--budget", str(budget), "--skip-post"]


FULL_ROUNDS = {"AMATELIER_OFFLINE_CONVERGE_ROUND": "0"}  # --fakes: the Judge lets every round run


def clean_env(workspace: str, **extra: str) -> dict[str, str]:
    provider = ("ANTHROPIC_", "OPENAI_", "OPENROUTER_", "GEMINI_", "GOOGLE_")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AMATELIER_") and not k.startswith(provider)}
    env.update({"AMATELIER_WORKSPACE": workspace, **extra})
    return env


def run_once(workers: str, rounds: int, budget: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="amatelier-bench-") as workspace:
        env = clean_env(workspace, AMATELIER_MODE="offline")
        started = time.perf_counter()
        result = subprocess.run(roundtable_cmd(workers, rounds, budget), env=env, capture_output=True,
                                text=True, cwd=str(REPO))
        wall = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"roundtable failed ({result.returncode}):\n{result.stderr}")
        digest = json.loads(result.stdout)
        rss = {}
        for log in (Path(workspace) / "roundtable-server" / "logs").glob("*.log"):
            agent = log.stem.split("-", 1)[1]
            values = [int(v) for v in re.findall(r"maxrss_kb=(\d+)", log.read_text())]
            if values:
                rss[agent] = max(values) / 1024.0
        engine = digest["engine"]
        return {"wall_s": wall, "rounds": digest["rounds"], "turns": engine["turns"],
                "claim_p50": engine["handoff_claim_ms"]["p50"], "claim_p95": engine["handoff_claim_ms"]["p95"],
                "seen_p50": engine["handoff_seen_ms"]["p50"], "seen_p95": engine["handoff_seen_ms"]["p95"],
                "overhead_ms": engine["overhead_per_turn_ms"],
                "overhead_p50_ms": engine["overhead_per_turn_p50_ms"], "rss_mb": rss,
                "duration_s": digest.get("duration_s")}


def show(label: str, r: dict) -> None:
    rss = ", ".join(f"{a} {mb:.1f}" for a, mb in sorted(r["rss_mb"].items()))
    print(f"{label}: wall {r['wall_s']:.2f} s · rounds {r['rounds']} · turns {r['turns']} · "
          f"handoff claim p50 {r['claim_p50']:.1f} / p95 {r['claim_p95']:.1f} ms · "
          f"posted→seen p50 {r['seen_p50']:.1f} / p95 {r['seen_p95']:.1f} ms · "
          f"overhead/turn mean {r['overhead_ms']:.1f} / p50 {r['overhead_p50_ms']:.1f} ms")
    print(f"    peak RSS MB per worker: {rss}")


def engine_mode(args: argparse.Namespace) -> int:
    results = []
    for i in range(args.runs):
        result = run_once(args.workers, args.rounds, args.budget)
        show(f"run {i + 1}", result)
        results.append(result)
    med = {key: statistics.median(r[key] for r in results)
           for key in ("wall_s", "claim_p50", "claim_p95", "seen_p50", "seen_p95", "overhead_ms", "overhead_p50_ms")}
    peak = max(mb for r in results for mb in r["rss_mb"].values())
    print()
    print(f"median over {len(results)} runs ({args.workers}; max {args.rounds} rounds; budget {args.budget}):")
    print(f"  total wall time          {med['wall_s']:.2f} s          (target < 5 s)")
    print(f"  turns                    {results[-1]['turns']}")
    print(f"  handoff requested→claimed p50 {med['claim_p50']:.1f} ms, p95 {med['claim_p95']:.1f} ms"
          "  (target p50 < 20, p95 < 100)")
    print(f"  handoff posted→seen      p50 {med['seen_p50']:.1f} ms, p95 {med['seen_p95']:.1f} ms")
    print(f"  engine overhead per turn mean {med['overhead_ms']:.1f} ms, p50 {med['overhead_p50_ms']:.1f} ms"
          "  (mean includes worker start-up on first turns)")
    print(f"  peak worker RSS          {peak:.1f} MB      (target < 80 MB)")
    return 0


# --------------------------------------------------------------------------- fake providers


def import_seconds(statement: str, repeat: int = 3) -> float:
    """Median wall time of one fresh interpreter doing `statement`, less a bare interpreter."""
    def once(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - started
    bare = statistics.median(once("pass") for _ in range(repeat))
    return max(0.0, statistics.median(once(statement) for _ in range(repeat)) - bare)


def critical_model_seconds(conn: sqlite3.Connection, rt_id: str) -> float:
    """Time during which at least one model call of the roundtable was in flight.

    Each debate call is placed at the end of the turn it answered ([completed - latency,
    completed]); calls outside turns (scoring, distilling) ran one after another in the runner.
    """
    done = [dict(r) for r in conn.execute(
        "SELECT agent, completed_at FROM turns WHERE rt_id = ? AND status = 'done' ORDER BY id", (rt_id,))]
    calls = [dict(r) for r in conn.execute(
        "SELECT agent, role, latency_ms FROM llm_calls WHERE rt_id = ? AND status = 'ok' ORDER BY id", (rt_id,))]
    debate_roles = ("speak", "rebuttal", "floor", "gate", "research")
    by_agent: dict[str, list[float]] = {}
    for call in calls:
        if call["role"] in debate_roles:
            by_agent.setdefault(call["agent"], []).append(float(call["latency_ms"]) / 1000.0)
    intervals = []
    for turn in done:
        queue = by_agent.get(turn["agent"]) or []
        if queue and turn["completed_at"]:
            latency = queue.pop(0)
            intervals.append((turn["completed_at"] - latency, turn["completed_at"]))
    intervals.sort()
    total, end = 0.0, float("-inf")
    for start, stop in intervals:
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total + sum(float(c["latency_ms"]) / 1000.0 for c in calls if c["role"] not in debate_roles)


def measure(workspace: str, env: dict[str, str], args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    result = subprocess.run(roundtable_cmd(args.workers, args.rounds, args.budget, args.briefing), env=env,
                            capture_output=True, text=True, cwd=str(REPO))
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"roundtable failed ({result.returncode}):\n{result.stderr[-3000:]}")
    digest = json.loads(result.stdout)
    db = Path(workspace) / "roundtable-server" / "roundtable.db"
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rt_id = digest["rt_id"]
    row = conn.execute(
        "SELECT COUNT(*) calls, SUM(prompt_chars) chars, SUM(input_tokens) input, SUM(cache_read_tokens) reads,"
        " SUM(cost_usd) cost, SUM(CASE WHEN role IN ('speak','rebuttal','floor','gate','research')"
        " THEN prompt_chars ELSE 0 END) debate_chars FROM llm_calls WHERE rt_id = ?", (rt_id,)).fetchone()
    debate = conn.execute(
        "SELECT SUM(input_tokens), SUM(cache_read_tokens) FROM llm_calls WHERE rt_id = ? AND role IN"
        " ('speak','rebuttal','floor','gate','research')", (rt_id,)).fetchone()
    model_s = critical_model_seconds(conn, rt_id)
    conn.close()
    usage = digest.get("llm_usage") or {}
    return {"wall": wall, "model_s": model_s, "calls": row["calls"], "chars": row["chars"] or 0,
            "debate_chars": row["debate_chars"] or 0, "read_share": (row["reads"] or 0) / max(1, row["input"] or 1),
            "debate_share": (debate[1] or 0) / max(1, debate[0] or 1),
            "cost": row["cost"], "digest_cost": usage.get("cost_usd"), "rounds": digest.get("rounds"),
            "stop_reason": digest.get("stop_reason")}


def with_fake(kind: str, mode: str, args: argparse.Namespace) -> dict:
    server = subprocess.Popen([sys.executable, "-m", "tests.helpers.fake_serve", kind, "--latency-ms",
                               str(args.latency_ms), "--answers", args.answers],
                              cwd=str(REPO), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, **FULL_ROUNDS))
    try:
        info = json.loads(server.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="amatelier-bench-") as workspace:
            extra = {"AMATELIER_MODE": mode, **FULL_ROUNDS}
            if kind == "anthropic":
                extra.update(ANTHROPIC_API_KEY="sk-ant-bench", ANTHROPIC_BASE_URL=info["base_url"])
            else:
                extra.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=info["base_url"])
            return measure(workspace, clean_env(workspace, **extra), args)
    finally:
        server.stdin.close()
        server.wait(timeout=30)


def fakes_mode(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="amatelier-bench-") as workspace:
        offline = measure(workspace, clean_env(workspace, AMATELIER_MODE="offline", **FULL_ROUNDS), args)
    print(f"{args.workers}; max {args.rounds} rounds; budget {args.budget}; --skip-post; "
          f"fake latency {args.latency_ms:.0f} ms per call; answers: {args.answers}; "
          f"briefing {args.briefing.name} ({len(args.briefing.read_text(encoding='utf-8')):,} chars)")
    print(f"offline: wall {offline['wall']:.2f} s · calls {offline['calls']} · prompt chars "
          f"{offline['chars']:,} (debate {offline['debate_chars']:,}) · rounds {offline['rounds']}")
    for kind, mode in (("anthropic", "anthropic-sdk"), ("openai", "openai-compat")):
        got = with_fake(kind, mode, args)
        sdk = import_seconds(SDK_IMPORT[mode])
        engine = got["wall"] - got["model_s"]
        budget = offline["wall"] + sdk + 1.0
        print(f"{mode} vs fake {kind}:")
        print(f"  wall {got['wall']:.2f} s · offline wall {offline['wall']:.2f} s · ratio "
              f"{got['wall'] / offline['wall']:.2f} · one `{SDK_IMPORT[mode]}` {sdk:.2f} s · "
              f"offline + import + 1 s = {budget:.2f} s ({'within' if got['wall'] <= budget else 'OVER'})")
        print(f"  critical-path model time {got['model_s']:.2f} s · engine {engine:.2f} s "
              f"({engine / got['wall']:.0%} of wall; target <= import + 1.5 s = {sdk + 1.5:.2f} s)")
        print(f"  calls {got['calls']} · rounds {got['rounds']} · prompt chars {got['chars']:,} "
              f"(debate {got['debate_chars']:,}; target <= 511,000) · cache-read share "
              f"{got['read_share']:.1%} (debate turns {got['debate_share']:.1%}) · cost ${got['cost'] or 0:.4f} (digest ${got['digest_cost'] or 0:.4f})")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default="elena,marcus,clare,simon")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=3)
    parser.add_argument("--fakes", action="store_true", help="compare offline with the SDKs against fake providers")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fake provider time per call (--fakes)")
    parser.add_argument("--answers", choices=("offline", "echo"), default="offline",
                        help="how the fakes answer (--fakes)")
    parser.add_argument("--briefing", type=Path, default=BRIEFING,
                        help="briefing file (--fakes; default examples/briefings/hello-world.md)")
    args = parser.parse_args()
    return fakes_mode(args) if args.fakes else engine_mode(args)


if __name__ == "__main__":
    raise SystemExit(main())
