"""Create batches and report on them: the functions behind `amatelier batch ...`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amatelier.benchmarks import batch_store as store
from amatelier.benchmarks import stats
from amatelier.benchmarks.driver import run_cost
from amatelier.benchmarks.ids import new_batch_id
from amatelier.benchmarks.suite import SuiteError, freeze, load_suite

MAX_REPEATS = 100
MAX_PARALLEL = 64
ENGINES = ("local", "ray")


@dataclass
class BatchRequest:
    """What `batch run` was asked for, before validation."""

    suite: str
    repeats: int = 1
    parallel: int = 2
    engine: str = "local"
    persona_sets: tuple[str, ...] = ("current",)
    workers: tuple[str, ...] | None = None
    max_rounds: int | None = None
    max_cost_usd: float | None = None


def parse_persona_sets(persona_set: str | None, compare: str | None) -> tuple[str, ...]:
    """`--persona-set X` or `--compare a,b` to the persona sets to run (ValueError when bad)."""
    if persona_set and compare:
        raise ValueError("give --persona-set or --compare, not both")
    raw = compare.split(",") if compare else [persona_set or "current"]
    sets: list[str] = []
    for name in (part.strip().lower() for part in raw):
        if name not in store.PERSONA_SETS:
            raise ValueError(f"unknown persona set {name!r} (use seed or current)")
        if name not in sets:
            sets.append(name)
    if compare and len(sets) < 2:
        raise ValueError("--compare needs two different persona sets, e.g. --compare seed,current")
    return tuple(sets)


def check_request(req: BatchRequest, known_workers: list[str]) -> None:
    """ValueError with one clear line for any option out of range."""
    if not 1 <= req.repeats <= MAX_REPEATS:
        raise ValueError(f"--repeats must be between 1 and {MAX_REPEATS} (got {req.repeats})")
    if not 1 <= req.parallel <= MAX_PARALLEL:
        raise ValueError(f"--parallel must be between 1 and {MAX_PARALLEL} (got {req.parallel})")
    if req.engine not in ENGINES:
        raise ValueError(f"--engine must be local or ray (got {req.engine!r})")
    if req.max_rounds is not None and not 1 <= req.max_rounds <= 20:
        raise ValueError(f"--max-rounds must be between 1 and 20 (got {req.max_rounds})")
    if req.max_cost_usd is not None and not req.max_cost_usd > 0:
        raise ValueError(f"--max-cost-usd must be more than 0 (got {req.max_cost_usd:g})")
    if req.workers is not None:
        if not req.workers:
            raise ValueError("--workers is empty")
        unknown = [w for w in req.workers if w not in known_workers]
        if unknown:
            raise ValueError(f"unknown worker {', '.join(map(repr, unknown))} "
                             f"(known agents: {', '.join(known_workers)})")


def create(req: BatchRequest, *, mode: str, known_workers: list[str]) -> str:
    """Check the request and the suite, freeze the suite into a new batch; returns its id.

    Raises ValueError (bad option) or SuiteError (bad suite) before anything is written.
    """
    check_request(req, known_workers)
    suite = load_suite(req.suite)
    for case in suite.cases:
        unknown = [w for w in (case.workers or ()) if w not in known_workers]
        if unknown and req.workers is None:
            raise SuiteError(f"case '{case.id}' names unknown worker {', '.join(map(repr, unknown))} "
                             f"(known agents: {', '.join(known_workers)})")
    batch_id = new_batch_id()
    specs = store.plan_runs([c.id for c in suite.cases], req.repeats, list(req.persona_sets))
    freeze(suite, store.suite_copy_dir(batch_id))
    load_suite(store.suite_copy_dir(batch_id))  # the copy a resume will read must load too
    summary = suite.summary() | {"source": str(suite.root)}
    options = {"repeats": req.repeats, "parallel": req.parallel, "engine": req.engine,
               "persona_sets": list(req.persona_sets),
               "workers": list(req.workers) if req.workers else None,
               "max_rounds": req.max_rounds, "max_cost_usd": req.max_cost_usd}
    store.create_batch(batch_id, suite_summary=summary, options=options, runs=specs, mode=mode)
    return batch_id


# --------------------------------------------------------------------------- reporting


def _case_kinds(batch_id: str) -> dict[str, str]:
    try:
        suite = load_suite(store.suite_copy_dir(batch_id))
    except SuiteError:
        return {}
    return {case.id: case.kind for case in suite.cases}


def team_runs(specs: list[store.RunSpec], runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One comparison row per finished run: the team's mean overall score."""
    rows = []
    for spec in specs:
        record = runs.get(spec.key) or {}
        score = (record.get("result") or {}).get("team_score")
        if record.get("status") == store.DONE and isinstance(score, (int, float)):
            rows.append({"case": spec.case, "persona_set": spec.persona_set, "overall_score": score,
                         "model": None})
    return rows


def agent_comparisons(specs: list[store.RunSpec], runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """{agent: baseline vs specialist numbers} over the agent's own scores in this batch."""
    per_agent: dict[str, list[dict[str, Any]]] = {}
    for spec in specs:
        record = runs.get(spec.key) or {}
        if record.get("status") != store.DONE:
            continue
        for agent, entry in ((record.get("result") or {}).get("agents") or {}).items():
            if isinstance(entry, dict) and entry.get("scored"):
                per_agent.setdefault(agent, []).append({"persona_set": spec.persona_set,
                                                        "overall_score": entry["overall_score"]})
    result = {}
    for agent, rows in sorted(per_agent.items()):
        numbers = stats.compare(rows)
        numbers.pop("models_compared", None)
        result[agent] = numbers | {"statement": stats.statement(numbers)}
    return result


def summarise(batch_id: str) -> dict[str, Any]:
    """Status, counts, cost, per-case rows and the seed-vs-current comparison of a batch."""
    batch = store.load_batch(batch_id)
    specs = store.run_specs(batch)
    runs = store.read_runs(batch_id, specs)
    tally = store.counts(specs, runs)
    kinds = _case_kinds(batch_id)
    cases: dict[tuple[str, str], dict[str, Any]] = {}
    for spec in specs:
        row = cases.setdefault((spec.case, spec.persona_set), {
            "case": spec.case, "kind": kinds.get(spec.case, ""), "persona_set": spec.persona_set,
            "runs": 0, "done": 0, "failed": 0, "scores": [], "rt_ids": [], "errors": []})
        record = runs.get(spec.key) or {}
        row["runs"] += 1
        if record.get("status") == store.DONE:
            row["done"] += 1
            result = record.get("result") or {}
            if isinstance(result.get("team_score"), (int, float)):
                row["scores"].append(result["team_score"])
            row["rt_ids"].append(record.get("rt_id"))
        elif record.get("status") == store.FAILED:
            row["failed"] += 1
            row["errors"].append(record.get("error"))
    for row in cases.values():
        row["mean_score"] = stats.mean(row.pop("scores"))
    cost = [run_cost(r) for r in runs.values()]
    drives = batch.get("drives") or []
    stopped = next((d.get("stopped") for d in reversed(drives) if d.get("stopped")), None)
    numbers = stats.compare(team_runs(specs, runs))
    numbers.pop("models_compared", None)
    return {
        "batch_id": batch_id,
        "status": store.batch_status(tally, driven=store.is_driven(batch_id)),
        "created_at": batch.get("created_at"),
        "mode": batch.get("mode"),
        "suite": batch.get("suite"),
        "options": batch.get("options"),
        "counts": tally,
        "cost_usd": round(sum(cost), 6),
        "stopped": stopped,
        "cases": list(cases.values()),
        "comparison": numbers | {"statement": stats.statement(numbers)},
        "agents": agent_comparisons(specs, runs),
    }
