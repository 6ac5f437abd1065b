"""Seams where the spark economy joins a roundtable.

Each function is called by the runner at the named workflow step. A failure inside a
seam is logged and recorded in state.notes["economy"]["errors"] and never propagates:
a broken store or an unreachable Judge must not take a finished roundtable down. Every
write is idempotent (ledger rows carry a ref), so calling a seam twice is harmless.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from amatelier.state import RoundtableState

log = logging.getLogger("amatelier.economy")


def _notes(state: RoundtableState) -> dict[str, Any]:
    return state.notes.setdefault("economy", {"errors": []})


@contextlib.contextmanager
def _guard(state: RoundtableState, step: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - a seam must never crash the runner
        if state.conn.in_transaction:
            with contextlib.suppress(Exception):
                state.conn.execute("ROLLBACK")
        log.exception("economy step '%s' failed for %s", step, state.rt_id)
        _notes(state)["errors"].append(f"{step}: {exc.__class__.__name__}: {exc}")


def before_open(state: RoundtableState) -> None:
    """Step 7: apply purchased boosts (e.g. extra floor turns) to state.budgets.

    Fills state.budgets / state.budget_start for every worker (base budget_per_agent plus
    any floor_budget boost); the runner should keep these values (setdefault), not reset them.
    """
    from amatelier.economy import store

    notes = _notes(state)
    for agent in state.workers:
        state.budgets.setdefault(agent, state.budget_per_agent)
        state.budget_start.setdefault(agent, state.budgets[agent])
    with _guard(state, "boosts"):
        effects = store.apply_boosts_for_rt(state.conn, state.workers, state.rt_id)
        notes["boosts"] = effects
        for agent, effect in effects.items():
            extra = int(effect.get("floor_budget", 0))
            if extra:
                state.budgets[agent] = state.budgets.get(agent, state.budget_per_agent) + extra
                state.budget_start[agent] = state.budget_start.get(agent, state.budget_per_agent) + extra


def on_open(state: RoundtableState) -> None:
    """Step 13: entry fees by tier, once the roundtable row exists.

    First, every configured worker without one gets its starter grant (economy.grants), and fees of earlier roundtables that were cut before scoring are refunded (the
    runner cuts orphaned roundtables just before it opens this one).
    """
    from amatelier.economy import grants, ledger

    with _guard(state, "starter grants"):
        paid = grants.ensure_starter_grants(state.conn, state.config)
        if paid:
            _notes(state)["starter_grants"] = paid
    with _guard(state, "cut-roundtable refunds"):
        refunded = ledger.refund_cut_fees(state.conn)
        if refunded:
            _notes(state)["cut_refunds"] = refunded
    with _guard(state, "entry fees"):
        _notes(state)["fees"] = ledger.charge_entry_fees(state.conn, state.rt_id, state.workers, state.config)


def on_resume(state: RoundtableState) -> None:
    """A resumed roundtable: fees its cut refunded are charged back (fees are never charged twice)."""
    from amatelier.economy import ledger

    with _guard(state, "fees charged back"):
        charged = ledger.charge_back_refunded_fees(state.conn, state.rt_id)
        if charged:
            _notes(state)["fees_charged_back"] = charged


def order_speakers(state: RoundtableState, order: list[str]) -> list[str]:
    """Step 16: first-speaker bids; returns the speaking order to use."""
    from amatelier.economy import store

    result = list(order)
    with _guard(state, "first speaker"):
        result, winner, refunded = store.resolve_first_speaker(state.conn, state.rt_id, order, state.config)
        if winner:
            _notes(state)["first_speaker"] = {"winner": winner, "refunded": refunded}
    return result


def judge_backend(state: RoundtableState) -> Any:
    """The backend the Judge scores with (the resolved mode; never Gemini)."""
    from amatelier.llm_backend import backend_for_agent

    return backend_for_agent(state.judge, state.config)


def _score(state: RoundtableState, messages: list[dict[str, Any]]) -> None:
    from amatelier.chat.db import transaction
    from amatelier.judging import scoring as judge

    existing = judge.load_scores(state.conn, state.rt_id)
    missing = [w for w in state.workers if w not in existing]
    if missing:
        try:
            backend = judge_backend(state)
        except Exception as exc:  # noqa: BLE001 - no backend means unscored, not a crash
            outcome = judge.ScoringOutcome(scores={w: judge.WorkerScore(agent=w, unscored_reason=(
                f"no judge backend: {exc}")) for w in missing})
        else:
            outcome = judge.judge_score(state.conn, state.rt_id, missing, backend=backend, config=state.config,
                                        topic=state.topic, judge=state.judge, messages=messages)
        _notes(state)["score_repaired"] = outcome.repaired
        with transaction(state.conn):
            judge.persist_scores(state.conn, state.rt_id, outcome.scores)
            _credit_scores(state)
    else:
        with transaction(state.conn):
            _credit_scores(state)


def _credit_scores(state: RoundtableState) -> None:
    """Score and penalty rows for every scored worker of this RT (idempotent)."""
    from amatelier.economy import ledger
    from amatelier.judging import scoring as judge

    for agent, entry in judge.load_scores(state.conn, state.rt_id).items():
        if "unscored" in entry:
            continue
        ledger.score_agent(state.conn, state.rt_id, agent, int(entry["total"]), entry["penalties"], state.config)


def _flag(state: RoundtableState) -> dict[str, str]:
    from amatelier.chat.db import transaction
    from amatelier.economy import variance
    from amatelier.judging import scoring as judge

    scored = {a: s for a, s in judge.load_scores(state.conn, state.rt_id).items() if "unscored" not in s}
    window = variance.settings(state.config)["window"]
    history = {agent: judge.score_history(state.conn, agent, window) for agent in scored}
    flags = variance.compute_variance_flags(scored, history, state.config)
    with transaction(state.conn):
        for agent, reason in flags.items():
            state.conn.execute("UPDATE scores SET is_flagged = 1, flag_reason = ? WHERE rt_id = ? AND agent = ?",
                               (reason, state.rt_id, agent))
    return flags


def after_close(state: RoundtableState, digest: dict[str, Any]) -> dict[str, Any]:
    """Steps 28-32: judge scoring, gate bonuses, variance flags, ventures, leaderboard.

    Returns fields to merge into the digest: scores, sparks_earned, gates, flags,
    ventures, bench_income, relegation_watch (and economy_errors when a step failed).
    """
    from amatelier.chat.messages import transcript
    from amatelier.economy import ledger
    from amatelier.judging import scoring as judge

    fields: dict[str, Any] = {}
    messages: list[dict[str, Any]] = []
    with _guard(state, "transcript"):
        messages = transcript(state.conn, state.rt_id)
    with _guard(state, "judge scoring"):
        _score(state, messages)
    with _guard(state, "gate bonuses"):
        fields["gates"] = ledger.award_gates_from_transcript(state.conn, state.rt_id, messages, state.judge,
                                                             state.workers, state.config)
    with _guard(state, "variance flags"):
        fields["flags"] = _flag(state)
    with _guard(state, "ventures"):
        fields["ventures"] = ledger.register_ventures_from_transcript(state.conn, state.rt_id, messages,
                                                                      state.workers, state.config)
    with _guard(state, "bench income"):
        # Paid for every closed roundtable (with --skip-post too); the RT id as ref pays it once.
        fields["bench_income"] = ledger.pay_bench_income(state.conn, state.rt_id, state.workers, state.config)
    with _guard(state, "leaderboard"):
        board = ledger.get_leaderboard(state.conn, state.config)
        ledger.save_leaderboard_snapshot(state.conn, state.config, state.rt_id, board)
        ledger.refresh_metrics(state.conn, state.config, board)
        fields["relegation_watch"] = {row["agent"]: row["negative_streak"] for row in board
                                      if row["status"] == "at risk" and row["agent"] in state.workers}
    with _guard(state, "digest"):
        scores = judge.load_scores(state.conn, state.rt_id)
        fields["scores"] = {w: scores.get(w, {"unscored": "no score recorded"}) for w in state.workers}
        earned = ledger.sparks_earned(state.conn, state.rt_id, state.workers)
        fields["sparks_earned"] = {w: n for w, n in earned.items() if w in state.workers}  # bench income: own field
    if _notes(state)["errors"]:
        fields["economy_errors"] = list(_notes(state)["errors"])
    return fields


def after_post(state: RoundtableState, digest: dict[str, Any]) -> None:
    """Steps 37-38: consume boosts, age bulletin-board requests (bench income is paid in after_close)."""
    from amatelier.economy import store

    notes = _notes(state)
    with _guard(state, "consume boosts"):
        notes["consumed_boosts"] = store.consume_boosts_after_rt(state.conn, state.workers, state.rt_id)
    with _guard(state, "bulletin board"):
        expiry = int(state.config.get("competition", {}).get("bulletin_expiry_rts", store.BULLETIN_EXPIRY_RTS))
        notes["expired_requests"] = store.age_bulletin_requests(state.conn, state.rt_id, expiry)
