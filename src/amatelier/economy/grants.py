"""The starter grant: sparks every worker gets once, so a newcomer is not locked out of the store.

Entry fees (5 haiku/flash, 8 sonnet, 15 opus) come before any score, and a first score can
be 0 (the gross is floored at 0, never below). Without a grant a new worker ends its first
roundtable in the red and `store buy` refuses it. The grant is sized so that, in the worst
case of a first roundtable (the highest fee of any configured worker, a score of 0), every
worker can still afford the cheapest store item:

    grant = cheapest store price + highest entry fee among the configured workers

With the bundled catalog and team that is 4 + 8 = 12. `competition.starter_grant` in the
config sets a fixed number instead (0 switches grants off). Each configured worker gets one
`grant` ledger row (ref `starter`) when the first roundtable of the workspace opens (or the
first one after the worker joined the team), before any fee; the ledger stays append-only
and a grant is never paid twice. A store catalog that cannot be read postpones the grants
to a later roundtable rather than failing this one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from amatelier.config import worker_model
from amatelier.economy import ledger
from amatelier.economy import rules as spark_rules

GRANT_REF = "starter"
AUTO = "auto"


def grant_size(config: Mapping[str, Any], prices: Iterable[int], fees: Iterable[int]) -> int:
    """The starter grant in sparks (pure): configured, or cheapest price + highest fee."""
    setting = (config.get("competition") or {}).get("starter_grant", AUTO)
    if setting != AUTO and setting is not None:
        return max(0, int(setting))
    prices, fees = [int(p) for p in prices if int(p) > 0], [int(f) for f in fees]
    return (min(prices) if prices else 0) + (max(fees) if fees else 0)


def configured_workers(config: Mapping[str, Any]) -> list[str]:
    return sorted((config.get("team") or {}).get("workers") or {})


def size_for(config: Mapping[str, Any]) -> int:
    """The grant for this config and the store catalog as `store list` shows it."""
    from amatelier.economy.store import catalog_rows

    workers = configured_workers(config)
    fees = [spark_rules.entry_fee(config, worker_model(dict(config), agent)) for agent in workers]
    return grant_size(config, (row["price"] for row in catalog_rows()), fees)


def missing(conn: sqlite3.Connection, config: Mapping[str, Any]) -> list[str]:
    """Configured workers without their starter grant yet (read-only)."""
    have = {row[0] for row in conn.execute(
        "SELECT agent FROM spark_ledger WHERE category = 'grant' AND ref = ?", (GRANT_REF,))}
    return [agent for agent in configured_workers(config) if agent not in have]


def ensure_starter_grants(conn: sqlite3.Connection, config: Mapping[str, Any]) -> dict[str, int]:
    """Pay the starter grant to every configured worker that has none; returns {agent: sparks}."""
    due = missing(conn, config)
    amount = size_for(config) if due else 0  # a broken user catalog raises StoreError: the seam logs it
    if not due or amount <= 0:
        return {}
    paid: dict[str, int] = {}
    with ledger.atomic(conn):
        for agent in due:
            row = ledger.append(conn, agent, amount, "grant", ref=GRANT_REF,
                                reason="starter grant: enough for the cheapest store item after a first "
                                       "roundtable", meta={"size": amount})
            if row is not None:
                paid[agent] = amount
    return paid
