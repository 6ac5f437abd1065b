"""Real processes buying at the same moment can never spend more sparks than there are."""

from __future__ import annotations

import multiprocessing
import queue

from tests.helpers import economy_workers
from tests.helpers.economy_support import grant, ledger_rows

from amatelier.economy import ledger, store

pytest_plugins = ["tests.helpers.economy_fixtures"]


def _race(workspace, agent: str, item: str, processes: int, attempts: int) -> list[str]:
    """Start `processes` buyers together (barrier), each trying `attempts` purchases; all answers."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    rendezvous = ctx.Barrier(processes)
    results = ctx.Queue()
    children = [ctx.Process(target=economy_workers.buy_many,
                            args=(str(workspace), agent, item, attempts, barrier, results, rendezvous))
                for _ in range(processes)]
    for child in children:
        child.start()
    outcomes = []
    try:
        for _ in children:
            outcomes.append(results.get(timeout=120))
    except queue.Empty as exc:
        raise AssertionError(f"only {len(outcomes)} of {processes} buyers reported") from exc
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert len({pid for pid, _ in outcomes}) == processes
    return [answer for _, answers in outcomes for answer in answers]


def test_a_balance_for_one_purchase_buys_exactly_one(econ_db, econ_ws) -> None:
    grant(econ_db, "elena", 6)                    # exactly one 6-spark boost
    answers = _race(econ_ws, "elena", "extra-floor-turns", processes=4, attempts=2)
    bought = [a for a in answers if a != "refused"]
    assert len(bought) == 1 and answers.count("refused") == 7
    assert ledger.balance(econ_db, "elena") == 0
    assert [r["ref"] for r in ledger_rows(econ_db, category="purchase")] == bought


def test_many_buyers_stop_exactly_at_the_balance(econ_db, econ_ws) -> None:
    grant(econ_db, "elena", 6 * 5 + 5)           # room for exactly five 6-spark boosts
    answers = _race(econ_ws, "elena", "extra-floor-turns", processes=4, attempts=4)
    bought = [a for a in answers if a != "refused"]
    assert len(bought) == 5 and len(set(bought)) == 5
    assert ledger.balance(econ_db, "elena") == 5
    assert sorted(r["ref"] for r in ledger_rows(econ_db, category="purchase")) == sorted(bought)
    state = store.sync_ledger(econ_db)["purchases"]
    assert sorted(state) == sorted(bought) and all(e["status"] == "pending" for e in state.values())


def test_concurrent_first_speaker_bids_allow_one_per_agent(econ_db, econ_ws) -> None:
    grant(econ_db, "marcus", 100)
    answers = _race(econ_ws, "marcus", "first-speaker", processes=3, attempts=1)
    bought = [a for a in answers if not a.startswith("refused")]
    assert len(bought) == 1
    assert sorted(a for a in answers if a != bought[0]) == ["refused: marcus already holds a first-speaker bid"] * 2
    assert [r["ref"] for r in ledger_rows(econ_db, category="purchase")] == bought
    assert ledger.balance(econ_db, "marcus") == 96
