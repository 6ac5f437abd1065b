"""Functions run in child processes by the economy tests (module level so `spawn` can pickle them)."""

from __future__ import annotations

import contextlib
import os
from typing import Any


def buy_many(workspace: str, agent: str, item: str, attempts: int, barrier: Any, results: Any,
             rendezvous: Any = None) -> None:
    """Wait for every sibling at the barrier, then try to buy `attempts` times; report each outcome.

    With `rendezvous`, the first balance read of each process then waits (briefly) for the
    others to read theirs too. A correct purchase holds the write lock while it reads, so
    the others cannot arrive and the wait just times out; a purchase that checked the
    balance outside its transaction would let every process read the same balance here
    and all of them would spend it.
    """
    os.environ["AMATELIER_WORKSPACE"] = workspace
    import threading

    from amatelier.chat.db import open_db
    from amatelier.config import load_config
    from amatelier.economy import ledger, store
    from amatelier.economy.ledger import EconomyError, InsufficientSparks

    if rendezvous is not None:
        original = ledger.balance
        first = [True]

        def balance_then_meet(conn: Any, who: str) -> int:
            value = original(conn, who)
            if first[0]:
                first[0] = False
                with contextlib.suppress(threading.BrokenBarrierError):
                    rendezvous.wait(timeout=1.0)
            return value

        ledger.balance = balance_then_meet

    conn = open_db()
    config = load_config()
    barrier.wait(timeout=60)
    outcomes = []
    for _ in range(attempts):
        try:
            outcomes.append(store.purchase(conn, agent, item, config)["purchase_id"])
        except InsufficientSparks:
            outcomes.append("refused")
        except EconomyError as exc:
            outcomes.append(f"refused: {exc}")
    conn.close()
    results.put((os.getpid(), outcomes))


def buy_then_die(workspace: str, agent: str, item: str) -> None:
    """Buy, but the process dies (os._exit) after the DB commit and before store/ledger.json is written."""
    os.environ["AMATELIER_WORKSPACE"] = workspace
    from amatelier.chat.db import open_db
    from amatelier.config import load_config
    from amatelier.economy import store

    def die(conn: Any, purchase_id: str) -> dict[str, Any]:
        os._exit(9)

    store._record_state = die
    conn = open_db()
    store.purchase(conn, agent, item, load_config())
    os._exit(0)     # not reached
