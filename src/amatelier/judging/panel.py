"""The scoring step with a jury: every seat scores, scores combine, the audits run.

`run_jury` is what the post-debate scoring step calls. With the default single seat it
makes exactly the calls a lone Judge made (plus the occasional sampled swap re-score).
The `judging` dict it returns is the digest's `judging` section and is stored in the
`judging_results` table for `amatelier reliability`:

    {"seats": [{"seat": 1, "model": "sonnet", "backend": "offline", "model_id": "offline-sonnet",
                "family": "anthropic", "order": ["clare", "elena", ...], "repaired": false,
                "scores": {"elena": {"novelty": 1, ..., "total": 5} | {"unscored": "why"}}}],
     "method": "single" | "median", "alpha": 0.62 | null,
     "self_family": {"elena": [1, 2]}, "recusals": [{"seat": 1, "agent": "elena", "family": "anthropic"}],
     "audit": {"audited": true, "reason": "--audit-judge" | "sampled" | null, "share": 0.2},
     "swap": {"seat": 1, "order": [...], "scores": {...}, "changed": [...], "compared": 20} | null,
     "flip_rate": 0.1 | null,
     "length_score": {"words": {"elena": 230}, "totals": {"elena": 5}, "r": 0.41 | null}}
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amatelier.judging import audit, jury
from amatelier.judging.scoring import WorkerScore, judge_score

log = logging.getLogger("amatelier.judging.panel")


@dataclass
class JuryOutcome:
    """Final scores per worker and the digest's `judging` section."""

    scores: dict[str, WorkerScore]
    judging: dict[str, Any] = field(default_factory=dict)
    repaired: bool = False


def _seat_backend(seat: jury.Seat, judge: str, config: Mapping[str, Any]) -> Any:
    """The seat's backend: its own mode when it names one, else the Judge's; offline mode keeps every seat offline."""
    from amatelier.llm_backend import backend_for_agent, make_backend

    default = backend_for_agent(judge, dict(config))
    if seat.backend and default.name != "offline":
        return make_backend(seat.backend, dict(config))
    return default


def validate_jury(config: Mapping[str, Any], mode: str, source: str = "config") -> list[jury.Seat]:
    """The seats, checked before a roundtable starts: a bad entry or a seat's unusable backend is one error.

    Raises ConfigError (malformed seat) or BackendUnavailable (a seat's mode cannot run here).
    """
    from amatelier.backends.base import BackendUnavailable
    from amatelier.llm_backend import BACKENDS

    seats = jury.seats_from_config(config, source)
    if mode == "offline":
        return seats
    for seat in seats:
        if seat.backend:
            available, how = BACKENDS[seat.backend].detect(dict(config))
            if not available:
                raise BackendUnavailable(f"{jury.JURY_KEY}[{seat.index}] uses {seat.backend}, which cannot run: {how}")
    return seats


def worker_families(workers: Sequence[str], config: Mapping[str, Any]) -> dict[str, str | None]:
    """Each worker's model family, from the model id its own backend resolves it to."""
    from amatelier.config import worker_model
    from amatelier.llm_backend import backend_for_agent

    families: dict[str, str | None] = {}
    for worker in workers:
        model = worker_model(dict(config), worker)
        with contextlib.suppress(Exception):  # an unavailable worker backend still has a model name
            model = backend_for_agent(worker, dict(config)).resolve_model(model)
        families[worker] = jury.model_family(model)
    return families


def _score_dicts(scores: Mapping[str, WorkerScore]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for agent, score in scores.items():
        if score.scored:
            out[agent] = {**{a: score.axes[a] for a in score.axes}, "total": score.total}
        else:
            out[agent] = {"unscored": score.unscored_reason}
    return out


def _seat_entry(result: jury.SeatResult, marks: Mapping[str, list[int]]) -> dict[str, Any]:
    entry = {"seat": result.seat.number, "model": result.seat.model, "backend": result.backend,
             "model_id": result.model_id, "family": result.family, "order": list(result.order),
             "repaired": result.repaired, "scores": _score_dicts(result.scores)}
    own = sorted(w for w, seats in marks.items() if result.seat.number in seats)
    if own:
        entry["self_family"] = own
    if result.error:
        entry["error"] = result.error
    return entry


def _run_seat(conn: sqlite3.Connection, rt_id: str, seat: jury.Seat, order: list[str], *,
              backend_for: Callable[[jury.Seat], Any], config: Mapping[str, Any], topic: str, judge: str,
              messages: Sequence[Mapping[str, Any]], role: str = "score") -> jury.SeatResult:
    result = jury.SeatResult(seat=seat, order=order, backend=seat.backend or "")
    try:
        backend = backend_for(seat)
    except Exception as exc:  # noqa: BLE001 - an unreachable seat leaves its workers to the others
        result.error = f"no backend for seat {seat.number}: {exc}"
        result.scores = {w: WorkerScore(agent=w, unscored_reason=result.error) for w in order}
        return result
    result.backend = getattr(backend, "name", result.backend)
    try:
        result.model_id = str(backend.resolve_model(seat.model))
    except Exception:  # noqa: BLE001
        result.model_id = seat.model
    result.family = jury.model_family(result.model_id)
    outcome = judge_score(conn, rt_id, order, backend=backend, model=seat.model, config=config, topic=topic,
                          judge=judge, messages=messages, role=role)
    result.scores = outcome.scores
    result.repaired = outcome.repaired
    return result


def _db_file(conn: sqlite3.Connection) -> str | None:
    for row in conn.execute("PRAGMA database_list"):
        if row[1] == "main" and row[2]:
            return str(row[2])
    return None


def _all_seats(conn: sqlite3.Connection, seats: Sequence[jury.Seat],
               one: Callable[[jury.Seat, sqlite3.Connection], jury.SeatResult]) -> list[jury.SeatResult]:
    """Every seat's result, in seat order. Two or more seats score at the same time, each on its own
    connection (their calls are independent; a jury should cost no more wall time than its slowest seat)."""
    path = _db_file(conn)
    if len(seats) < 2 or path is None:
        return [one(seat, conn) for seat in seats]
    from concurrent.futures import ThreadPoolExecutor

    from amatelier.chat.db import connect

    def run(seat: jury.Seat) -> jury.SeatResult:
        seat_conn = connect(Path(path))
        try:
            return one(seat, seat_conn)
        finally:
            seat_conn.close()

    with ThreadPoolExecutor(max_workers=min(len(seats), jury.MAX_SEATS), thread_name_prefix="jury") as pool:
        return list(pool.map(run, seats))


def run_jury(conn: sqlite3.Connection, rt_id: str, workers: Sequence[str], *, config: Mapping[str, Any],
             topic: str = "", judge: str = "judge", messages: Sequence[Mapping[str, Any]] = (),
             audit_forced: bool = False, backend_for: Callable[[jury.Seat], Any] | None = None,
             families: Mapping[str, str | None] | None = None) -> JuryOutcome:
    """Score `workers` with every seat, combine, measure agreement, run the audits."""
    workers = list(workers)
    seats = jury.seats_from_config(config)
    backend_for = backend_for or (lambda seat: _seat_backend(seat, judge, config))
    if families is None:
        families = worker_families(workers, config)
    def one(seat: jury.Seat, seat_conn: sqlite3.Connection) -> jury.SeatResult:
        return _run_seat(seat_conn, rt_id, seat, audit.seat_order(rt_id, seat.number, workers),
                         backend_for=backend_for, config=config, topic=topic, judge=judge, messages=messages)

    results = _all_seats(conn, seats, one)
    final, recusals = jury.combine(results, workers, families)
    marks = jury.self_family_marks(results, families)
    judging: dict[str, Any] = {
        "seats": [_seat_entry(r, marks) for r in results],
        "method": "single" if len(seats) == 1 else "median",
        "alpha": jury.krippendorff_alpha(results, workers),
        "self_family": marks,
        "recusals": recusals,
    }
    share = audit.swap_share(config)
    audited = audit.should_audit(rt_id, share, audit_forced)
    judging["audit"] = {"audited": audited, "share": share,
                        "reason": ("--audit-judge" if audit_forced else "sampled") if audited else None}
    judging["swap"] = None
    judging["flip_rate"] = None
    if audited and results and workers:
        first = results[0]
        reversed_order = list(reversed(first.order))
        swap = _run_seat(conn, rt_id, first.seat, reversed_order, backend_for=backend_for, config=config,
                         topic=topic, judge=judge, messages=messages, role="score-swap")
        rate, changed, compared = audit.flips(first.scores, swap.scores)
        judging["swap"] = {"seat": first.seat.number, "order": reversed_order, "scores": _score_dicts(swap.scores),
                           "changed": changed, "compared": compared}
        judging["flip_rate"] = rate
    judging["length_score"] = audit.length_score(audit.word_counts(messages, workers), final)
    return JuryOutcome(scores=final, judging=judging, repaired=any(r.repaired for r in results))
