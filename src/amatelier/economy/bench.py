"""Relegation and the bench: who is on watch, who sits out, and who decided.

After `competition.relegation.consecutive_net_negative` (3) net-negative roundtables in
a row a worker is on relegation watch. The decision belongs to the agent: in its next
debrief it chooses the bench (it stops being seated and earns
`relegation.bench_income` sparks per roundtable) or retirement (its state is archived by
`economy.retirement`, never deleted). There is no "stay": an agent on watch that makes no
choice, or any other, is benched. The user can bench and unbench by hand too
(`amatelier bench`), and retire or restore (`amatelier team`).

The `bench` table says who sits out now; `bench_log` keeps every decision with its
reason and its source (`cli` or `debrief`). The runner reads the bench read-only while
planning, so planning a roundtable still writes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from amatelier.economy import ledger
from amatelier.economy import rules as spark_rules
from amatelier.economy.ledger import EconomyError
from amatelier.economy.retirement import OPTIONS, relegation_decision

CHOICES = OPTIONS   # what an agent on watch is offered: ("bench", "retire")


# --------------------------------------------------------------------------- reading


def get_bench(conn: sqlite3.Connection, agent: str) -> dict[str, Any] | None:
    """The agent's bench row ({agent, reason, benched_at}) or None when it is seated."""
    row = conn.execute("SELECT agent, reason, benched_at FROM bench WHERE agent = ?", (agent,)).fetchone()
    return dict(row) if row else None


def list_bench(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every benched agent with the reason and time it was benched."""
    return [dict(r) for r in conn.execute("SELECT agent, reason, benched_at FROM bench ORDER BY agent")]


def history(conn: sqlite3.Connection, agent: str | None = None) -> list[dict[str, Any]]:
    """Bench decisions, newest first: {agent, action, reason, source, rt_id, created_at}."""
    sql = "SELECT agent, action, reason, source, rt_id, created_at FROM bench_log"
    params: tuple[Any, ...] = ()
    if agent is not None:
        sql += " WHERE agent = ?"
        params = (agent,)
    return [dict(r) for r in conn.execute(sql + " ORDER BY id DESC", params)]


def relegation_status(conn: sqlite3.Connection, agent: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Where the agent stands: `benched`, `at risk` (on relegation watch) or `active`.

    `negative_streak` counts the latest net-negative roundtables in a row;
    `threshold` is how many put an agent on watch.
    """
    nets = ledger.net_history(conn, agent)
    benched = get_bench(conn, agent)
    at_risk = spark_rules.relegation_at_risk(nets, config)
    status = "benched" if benched else ("at risk" if at_risk else "active")
    relegation = spark_rules.competition(config)["relegation"]
    return {"agent": agent, "status": status, "at_risk": at_risk,
            "negative_streak": spark_rules.negative_streak(nets),
            "threshold": int(relegation.get("consecutive_net_negative", 3)),
            "bench_income": spark_rules.bench_income(config),
            "benched_at": benched["benched_at"] if benched else None,
            "reason": benched["reason"] if benched else None}


def watch_list(conn: sqlite3.Connection, agents: Iterable[str], config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """relegation_status of every listed agent that is benched or at risk."""
    rows = [relegation_status(conn, agent, config) for agent in agents]
    return [row for row in rows if row["status"] != "active"]


def read_benched(db_path: Path | None = None) -> list[str]:
    """Benched agents, read without creating or migrating anything (no database: nobody)."""
    from amatelier import paths
    from amatelier.chat.db import connect

    path = Path(db_path) if db_path is not None else paths.user_db_path()
    if not path.is_file():
        return []
    try:
        conn = connect(path, readonly=True)
    except sqlite3.Error:
        return []
    try:
        return ledger.benched_agents(conn)
    except sqlite3.OperationalError:  # an old database without the economy tables
        return []
    finally:
        conn.close()


def seat_workers(workers: Sequence[str], benched: Iterable[str], *,
                 explicit: bool) -> tuple[list[str], list[str]]:
    """Who sits at the table, and one note about the bench (pure).

    Benched agents are left out of the default roster; a roster the user named
    (--workers) is kept as given, with a note that benched agents play anyway.
    """
    on_bench = [w for w in workers if w in set(benched)]
    if not on_bench:
        return list(workers), []
    names = ", ".join(on_bench)
    if explicit:
        return list(workers), [f"{names} {'is' if len(on_bench) == 1 else 'are'} on the bench but "
                               f"named in --workers, so {'it plays' if len(on_bench) == 1 else 'they play'}"]
    seated = [w for w in workers if w not in on_bench]
    how = f"amatelier bench {on_bench[0]} --off seats it again" if len(on_bench) == 1 else \
        "amatelier bench NAME --off seats one again"
    return seated, [f"benched, left out: {names} ({how})"]


# --------------------------------------------------------------------------- writing


def _log(conn: sqlite3.Connection, agent: str, action: str, reason: str, source: str,
         rt_id: str | None) -> None:
    conn.execute("INSERT INTO bench_log (agent, action, reason, source, rt_id, created_at)"
                 " VALUES (?, ?, ?, ?, ?, ?)", (agent, action, reason, source, rt_id, ledger.now()))


def bench(conn: sqlite3.Connection, agent: str, reason: str = "", *, source: str = "cli",
          rt_id: str | None = None) -> dict[str, Any]:
    """Put an agent on the bench (EconomyError when it already is); returns its bench row."""
    with ledger.atomic(conn):
        current = get_bench(conn, agent)
        if current is not None:
            raise EconomyError(f"{agent} is already on the bench (since {current['benched_at']}"
                               + (f": {current['reason']}" if current["reason"] else "") + ")")
        ledger.bench_agent(conn, agent, reason)
        _log(conn, agent, "bench", reason, source, rt_id)
        return get_bench(conn, agent) or {}


def unbench(conn: sqlite3.Connection, agent: str, reason: str = "", *, source: str = "cli") -> dict[str, Any]:
    """Seat a benched agent again (EconomyError when it is not benched); returns the old bench row."""
    with ledger.atomic(conn):
        current = get_bench(conn, agent)
        if current is None:
            raise EconomyError(f"{agent} is not on the bench")
        ledger.release_bench(conn, agent)
        _log(conn, agent, "unbench", reason, source, None)
        return current


def apply_relegation_choice(conn: sqlite3.Connection, agent: str, choice: str | None, config: Mapping[str, Any], *,
                            rt_id: str | None = None, note: str = "") -> dict[str, Any]:
    """Carry out the agent's relegation choice from its debrief (only while it is on watch).

    `retire` is returned as status `retiring`: the debrief archives the agent once its
    session is written (economy.retirement.retire_agent). Anything else — `bench`, no
    choice, `stay`, a typo — benches it. Returns {choice, status, negative_streak}.
    """
    standing = relegation_status(conn, agent, config)
    result = {"choice": choice, "negative_streak": standing["negative_streak"]}
    if standing["status"] == "benched":
        return {**result, "status": "already benched"}
    decision = relegation_decision(choice, standing["at_risk"])
    if decision is None:
        return {**result, "status": "ignored: not on relegation watch"}
    if decision == "retire":
        return {**result, "status": "retiring"}
    streak = standing["negative_streak"]
    if choice == "bench":
        reason = f"chose the bench after {streak} net-negative roundtables in a row"
    elif not choice:
        reason = f"no choice made after {streak} net-negative roundtables in a row: benched"
    else:
        reason = f"{choice!r} is not an option (bench or retire) after {streak} net-negative roundtables: benched"
    bench(conn, agent, (reason + (f": {note}" if note else ""))[:500], source="debrief", rt_id=rt_id)
    return {**result, "status": "benched"}
