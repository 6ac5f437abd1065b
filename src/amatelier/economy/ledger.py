"""The spark ledger: every spark that moves is one append-only row in `spark_ledger`.

An agent's balance is SUM(amount) over its rows (spec invariant 8); nothing else holds
money. Rows carry a `ref` that makes each economic event happen at most once (the fee
for a roundtable, a gate line, a purchase, a venture payout), so a re-run hook or a
repeated command can never pay or charge twice. The arithmetic lives in spark_rules;
this module does the reading and writing, and keeps the caches (metrics.json,
benchmarks/leaderboard.json) that are rebuilt from it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from amatelier import atomicio, paths
from amatelier.chat.db import transaction
from amatelier.config import worker_model
from amatelier.economy import rules as spark_rules
from amatelier.economy.tags import parse_gates, parse_ventures

CATEGORIES = ("fee", "score", "penalty", "gate", "outcome", "purchase", "refund",
              "venture_stake", "venture_payout", "bench", "grant")


class EconomyError(ValueError):
    """A request the economy refuses (unknown agent, insufficient sparks, ...); nothing was written."""


class UnknownAgent(EconomyError):
    pass


class InsufficientSparks(EconomyError):
    def __init__(self, agent: str, balance: int, needed: int, what: str) -> None:
        super().__init__(f"{agent} has {balance} sparks; {what} costs {needed}")
        self.agent = agent
        self.balance = balance
        self.needed = needed


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@contextlib.contextmanager
def atomic(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE unless the caller already holds a transaction (then join it)."""
    if conn.in_transaction:
        yield conn
        return
    with transaction(conn):
        yield conn


# --------------------------------------------------------------------------- agents


def spark_agents(config: Mapping[str, Any], conn: sqlite3.Connection | None = None) -> list[str]:
    """Agents that hold sparks: the configured workers plus anyone already in the ledger."""
    names = set(config.get("team", {}).get("workers", {}))
    if conn is not None:
        names.update(row[0] for row in conn.execute("SELECT DISTINCT agent FROM spark_ledger"))
    return sorted(names)


def require_agent(config: Mapping[str, Any], agent: str, conn: sqlite3.Connection | None = None) -> str:
    """The canonical agent name, or UnknownAgent naming who does hold sparks."""
    known = spark_agents(config, conn)
    name = (agent or "").strip().lower()
    if name not in known:
        raise UnknownAgent(f"unknown agent '{agent}' (agents with sparks: {', '.join(known) or 'none'})")
    return name


# --------------------------------------------------------------------------- rows


def append(conn: sqlite3.Connection, agent: str, amount: int, category: str, *,
           rt_id: str | None = None, reason: str = "", ref: str | None = None,
           meta: Mapping[str, Any] | None = None) -> int | None:
    """Append one row; returns its id, or None when a row with this (category, agent, ref) exists."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown ledger category {category!r}")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("spark amounts are integers")
    cur = conn.execute(
        "INSERT INTO spark_ledger (agent, rt_id, amount, category, reason, ref, meta, created_at)"
        " SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE ? IS NULL OR NOT EXISTS ("
        "   SELECT 1 FROM spark_ledger WHERE category = ? AND agent = ? AND ref = ?)",
        (agent, rt_id, amount, category, reason, ref, json.dumps(dict(meta or {}), sort_keys=True),
         now(), ref, category, agent, ref),
    )
    return int(cur.lastrowid) if cur.rowcount == 1 else None


def has_row(conn: sqlite3.Connection, category: str, agent: str, ref: str) -> bool:
    row = conn.execute("SELECT 1 FROM spark_ledger WHERE category = ? AND agent = ? AND ref = ?",
                       (category, agent, ref)).fetchone()
    return row is not None


def balance(conn: sqlite3.Connection, agent: str) -> int:
    """Current balance: the sum of the agent's rows (0 for an agent with none)."""
    row = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM spark_ledger WHERE agent = ?", (agent,)).fetchone()
    return int(row[0])


def balances(conn: sqlite3.Connection, agents: Iterable[str] | None = None) -> dict[str, int]:
    """{agent: balance}; agents listed but absent from the ledger get 0."""
    result = {agent: 0 for agent in (agents or [])}
    for agent, total in conn.execute("SELECT agent, SUM(amount) FROM spark_ledger GROUP BY agent"):
        if agents is None or agent in result:
            result[agent] = int(total)
    return dict(sorted(result.items()))


def _row(row: sqlite3.Row) -> dict[str, Any]:
    item = dict(row)
    try:
        item["meta"] = json.loads(item.get("meta") or "{}")
    except ValueError:
        item["meta"] = {}
    return item


def history(conn: sqlite3.Connection, agent: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The agent's rows, newest first (all of them unless `limit`)."""
    sql = ("SELECT id, agent, rt_id, amount, category, reason, ref, meta, created_at FROM spark_ledger"
           " WHERE agent = ? ORDER BY id DESC")
    params: tuple[Any, ...] = (agent,)
    if limit is not None:
        sql += " LIMIT ?"
        params += (int(limit),)
    return [_row(row) for row in conn.execute(sql, params)]


def rt_rows(conn: sqlite3.Connection, rt_id: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT id, agent, rt_id, amount, category, reason, ref, meta, created_at"
                        " FROM spark_ledger WHERE rt_id = ? ORDER BY id", (rt_id,))
    return [_row(row) for row in rows]


def sparks_earned(conn: sqlite3.Connection, rt_id: str, agents: Iterable[str] | None = None) -> dict[str, int]:
    """Net sparks per agent from this roundtable's rows (fee, score, penalty, gate, stakes...)."""
    result = {agent: 0 for agent in (agents or [])}
    for agent, total in conn.execute("SELECT agent, SUM(amount) FROM spark_ledger WHERE rt_id = ? GROUP BY agent",
                                     (rt_id,)):
        result[agent] = int(total)
    return dict(sorted(result.items()))


# --------------------------------------------------------------------------- fees and scores


def deduct_entry_fee(conn: sqlite3.Connection, agent: str, rt_id: str, config: Mapping[str, Any]) -> int:
    """Charge the flat entry fee for the agent's tier once per roundtable; returns the fee charged (0 if already)."""
    model = worker_model(dict(config), agent)
    fee = spark_rules.entry_fee(config, model)
    tier = spark_rules.fee_tier(model)
    row = append(conn, agent, -fee, "fee", rt_id=rt_id, ref=rt_id,
                 reason=f"entry fee ({tier})", meta={"tier": tier, "model": model})
    return fee if row is not None else 0


def charge_entry_fees(conn: sqlite3.Connection, rt_id: str, workers: Sequence[str],
                      config: Mapping[str, Any]) -> dict[str, int]:
    """Entry fees for every worker in one transaction: all charged or none."""
    with atomic(conn):
        return {agent: deduct_entry_fee(conn, agent, rt_id, config) for agent in workers}


def fee_refund_ref(fee_ref: str) -> str:
    """The ref of the refund of a fee row (a roundtable's first fee has ref = its rt_id)."""
    return f"fee:{fee_ref}"


def charge_back_refunded_fees(conn: sqlite3.Connection, rt_id: str) -> dict[str, int]:
    """A resumed roundtable takes back the fees its cut refunded: one new `fee` row per refund.

    Never an edit: the refund stays in the ledger and a fee row with ref `re:<refund ref>`
    reverses it, so every agent has exactly one fee in effect for the roundtable. Returns
    {agent: sparks charged back now}.
    """
    due = ("SELECT r.agent, r.amount, r.ref FROM spark_ledger r WHERE r.rt_id = ? AND r.category = 'refund'"
           " AND r.ref LIKE 'fee:%' AND NOT EXISTS (SELECT 1 FROM spark_ledger f WHERE f.category = 'fee'"
           "   AND f.agent = r.agent AND f.ref = 're:' || r.ref) ORDER BY r.id")
    charged: dict[str, int] = {}
    if conn.execute(due, (rt_id,)).fetchone() is None:
        return charged
    with atomic(conn):
        for row in conn.execute(due, (rt_id,)).fetchall():
            amount = int(row["amount"])
            if amount > 0 and append(conn, row["agent"], -amount, "fee", rt_id=rt_id, ref=f"re:{row['ref']}",
                                     reason="entry fee charged back: the roundtable was resumed",
                                     meta={"reverses": row["ref"]}) is not None:
                charged[row["agent"]] = amount
    return charged


def refund_cut_fees(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Give back the entry fee of every roundtable that was cut before it was scored.

    A cut roundtable (Ctrl-C, a crashed runner, most workers dead) is never scored, so its
    fee would buy nothing: the crash must not cost sparks. One `refund` row per agent and
    roundtable (ref `fee:<rt_id>`), in one transaction; workers that do have a score row
    keep their fee. Returns {rt_id: {agent: sparks refunded}} for what was refunded now.
    """
    refunded: dict[str, dict[str, int]] = {}
    # Each fee row is refunded at most once: its refund's ref is `fee:<the fee row's ref>` (the
    # first fee of a roundtable has ref <rt_id>; a fee charged back on --resume has ref re:...).
    due = ("SELECT f.agent, f.rt_id, f.amount, COALESCE(f.ref, f.rt_id) AS fref FROM spark_ledger f"
           " JOIN roundtables r ON r.id = f.rt_id"
           " WHERE f.category = 'fee' AND r.status = 'cut'"
           " AND NOT EXISTS (SELECT 1 FROM scores s WHERE s.rt_id = f.rt_id AND s.agent = f.agent)"
           " AND NOT EXISTS (SELECT 1 FROM spark_ledger x WHERE x.category = 'refund' AND x.agent = f.agent"
           "   AND x.ref = 'fee:' || COALESCE(f.ref, f.rt_id)) ORDER BY f.id")
    if conn.execute(due).fetchone() is None:     # the usual case: no write transaction at all
        return refunded
    with atomic(conn):
        for row in conn.execute(due).fetchall():
            amount = -int(row["amount"])
            if amount <= 0:
                continue
            if append(conn, row["agent"], amount, "refund", rt_id=row["rt_id"], ref=fee_refund_ref(row["fref"]),
                      reason="entry fee back: the roundtable was cut before scoring",
                      meta={"fee": amount}) is not None:
                refunded.setdefault(row["rt_id"], {})[row["agent"]] = amount
    return refunded


def score_agent(conn: sqlite3.Connection, rt_id: str, agent: str, gross: int,
                penalties: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> spark_rules.ScoreSettlement:
    """Credit a worker's Judge score and its penalties (gross floored at 0; the fee is separate)."""
    kinds = [str(p.get("type")) for p in penalties]
    settlement = spark_rules.settle_score(gross, kinds, config)
    with atomic(conn):
        append(conn, agent, settlement.gross, "score", rt_id=rt_id, ref=rt_id,
               reason=f"judge score {settlement.gross}", meta={"gross": settlement.gross})
        if settlement.penalty_applied:
            listed = ", ".join(f"{kind} {value}" for kind, value in settlement.penalties)
            floored = " (floored at 0)" if settlement.penalty_applied != settlement.penalty_nominal else ""
            append(conn, agent, settlement.penalty_applied, "penalty", rt_id=rt_id, ref=rt_id,
                   reason=f"penalties: {listed}{floored}",
                   meta={"nominal": settlement.penalty_nominal, "types": kinds})
    return settlement


def award_gate_bonus(conn: sqlite3.Connection, rt_id: str, agent: str, reason: str, ref: str,
                     config: Mapping[str, Any]) -> int:
    """Pay one GATE signal unless this RT's cap is reached; returns the sparks paid (0 if not)."""
    with atomic(conn):
        if has_row(conn, "gate", agent, ref):
            return 0
        awarded = conn.execute("SELECT COUNT(*) FROM spark_ledger WHERE rt_id = ? AND category = 'gate'",
                               (rt_id,)).fetchone()[0]
        if spark_rules.gate_awards(int(awarded), 1, config) < 1:
            return 0
        sparks = spark_rules.gate_sparks(config)
        append(conn, agent, sparks, "gate", rt_id=rt_id, ref=ref, reason=f"GATE: {reason}"[:500])
        return sparks


def award_gates_from_transcript(conn: sqlite3.Connection, rt_id: str, messages: Sequence[Mapping[str, Any]],
                                judge: str, workers: Sequence[str], config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Step 29: pay every `GATE: <agent> — <reason>` line the Judge posted, up to the per-RT cap."""
    known = {w.lower(): w for w in workers}
    results: list[dict[str, Any]] = []
    with atomic(conn):
        for message in messages:
            if str(message.get("agent", "")).lower() != judge.lower():
                continue
            for signal in parse_gates(str(message.get("content", ""))):
                entry = {"agent": signal.agent, "reason": signal.reason, "message_id": message.get("id"),
                         "round": message.get("round"), "sparks": 0}
                agent = known.get(signal.agent)
                if agent is None:
                    entry["status"] = "unknown agent"
                else:
                    entry["agent"] = agent
                    ref = f"{rt_id}:{message.get('id')}:{signal.index}"
                    already = has_row(conn, "gate", agent, ref)
                    paid = award_gate_bonus(conn, rt_id, agent, signal.reason, ref, config)
                    if already:
                        entry["status"] = "awarded"
                        entry["sparks"] = spark_rules.gate_sparks(config)
                    else:
                        entry["status"] = "awarded" if paid else "cap reached"
                        entry["sparks"] = paid
                results.append(entry)
    return results


def _require_rt(conn: sqlite3.Connection, rt_id: str) -> sqlite3.Row:
    row = conn.execute("SELECT id, participants, status FROM roundtables WHERE id = ?", (rt_id,)).fetchone()
    if row is None:
        raise EconomyError(f"unknown roundtable '{rt_id}'")
    return row


def award_rt_outcome_bonus(conn: sqlite3.Connection, rt_id: str, agent: str,
                           config: Mapping[str, Any]) -> int:
    """Pay the RT-outcome bonus (the user implemented this agent's proposal); once per RT and agent."""
    rt = _require_rt(conn, rt_id)
    try:
        participants = [str(p).lower() for p in json.loads(rt["participants"] or "[]")]
    except ValueError:
        participants = []
    took_part = agent in participants or has_row(conn, "fee", agent, rt_id)
    if not took_part:
        raise EconomyError(f"{agent} did not take part in roundtable {rt_id}")
    sparks = spark_rules.outcome_bonus(config)
    with atomic(conn):
        if append(conn, agent, sparks, "outcome", rt_id=rt_id, ref=rt_id,
                  reason="RT outcome bonus: proposal implemented") is None:
            raise EconomyError(f"{agent} already received the outcome bonus for {rt_id}")
    return sparks


# --------------------------------------------------------------------------- ventures


def _venture_id(seed: str) -> str:
    return "v" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:7]


def _venture_dict(row: sqlite3.Row) -> dict[str, Any]:
    return dict(row)


def get_venture(conn: sqlite3.Connection, venture_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM ventures WHERE id = ?", (venture_id,)).fetchone()
    return _venture_dict(row) if row else None


def list_ventures(conn: sqlite3.Connection, *, status: str | None = None,
                  rt_id: str | None = None) -> list[dict[str, Any]]:
    sql, params = "SELECT * FROM ventures WHERE 1 = 1", []
    if status:
        sql += " AND status = ?"
        params.append(status)
    if rt_id:
        sql += " AND rt_id = ?"
        params.append(rt_id)
    return [_venture_dict(row) for row in conn.execute(sql + " ORDER BY created_at, id", params)]


def pitch_venture(conn: sqlite3.Connection, agent: str, tier: str, claim: str, config: Mapping[str, Any], *,
                  rt_id: str | None = None, message_id: int | None = None, index: int = 0,
                  venture_id: str | None = None) -> dict[str, Any]:
    """Register a venture and debit its stake, or record it as skipped when unaffordable.

    The balance check and the stake row share one transaction, so two pitches cannot
    overspend. Registering the same tag again returns the existing venture unchanged.
    """
    tier = tier.lower()
    if tier not in spark_rules.VENTURE_TIERS:
        raise EconomyError(f"unknown venture tier '{tier}' (choose scout, venture or moonshot)")
    stake, multiplier = spark_rules.venture_terms(config, tier)
    seed = f"{rt_id}:{message_id}:{index}" if message_id is not None else f"{agent}:{claim}:{time.time_ns()}"
    vid = venture_id or _venture_id(seed)
    with atomic(conn):
        existing = get_venture(conn, vid)
        if existing is not None:
            return existing
        available = balance(conn, agent)
        status, note = "open", None
        if available < stake:
            status, note = "skipped", f"insufficient sparks (balance {available} < stake {stake})"
        conn.execute(
            "INSERT INTO ventures (id, rt_id, agent, tier, claim, stake, multiplier, status, note,"
            " message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (vid, rt_id, agent, tier, claim[:1000], stake, multiplier, status, note, message_id, now()),
        )
        if status == "open":
            append(conn, agent, -stake, "venture_stake", rt_id=rt_id, ref=vid,
                   reason=f"{tier} stake: {claim[:200]}", meta={"venture": vid, "tier": tier})
        return get_venture(conn, vid) or {}


def register_ventures_from_transcript(conn: sqlite3.Connection, rt_id: str,
                                      messages: Sequence[Mapping[str, Any]], workers: Sequence[str],
                                      config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Step 31: every [[venture:<tier>: <claim>]] a worker wrote becomes a venture (once)."""
    known = {w.lower(): w for w in workers}
    found = []
    for message in messages:
        agent = known.get(str(message.get("agent", "")).lower())
        if agent is None:
            continue
        for tag in parse_ventures(str(message.get("content", ""))):
            found.append(pitch_venture(conn, agent, tag.tier, tag.claim, config, rt_id=rt_id,
                                       message_id=message.get("id"), index=tag.index))
    return found


def resolve_venture(conn: sqlite3.Connection, venture_id: str, success: bool,
                    config: Mapping[str, Any]) -> dict[str, Any]:
    """Settle an open venture: success pays stake x multiplier; failure keeps the stake lost."""
    with atomic(conn):
        venture = get_venture(conn, venture_id)
        if venture is None:
            raise EconomyError(f"unknown venture '{venture_id}'")
        if venture["status"] != "open":
            raise EconomyError(f"venture {venture_id} is {venture['status']}, not open")
        payout = spark_rules.venture_payout(int(venture["stake"]), float(venture["multiplier"])) if success else 0
        status = "succeeded" if success else "failed"
        if success:
            append(conn, venture["agent"], payout, "venture_payout", rt_id=venture["rt_id"], ref=venture_id,
                   reason=f"{venture['tier']} succeeded: {venture['claim'][:200]}",
                   meta={"venture": venture_id, "stake": venture["stake"], "multiplier": venture["multiplier"]})
        conn.execute("UPDATE ventures SET status = ?, payout = ?, resolved_at = ? WHERE id = ?",
                     (status, payout, now(), venture_id))
        return get_venture(conn, venture_id) or {}


# --------------------------------------------------------------------------- relegation and bench


def net_history(conn: sqlite3.Connection, agent: str) -> list[int]:
    """Per scored roundtable, oldest first: gross (score + penalties, floored; plus gates) - entry fee."""
    rows = conn.execute(
        "SELECT s.rt_id,"
        " (SELECT COALESCE(SUM(amount), 0) FROM spark_ledger l WHERE l.agent = s.agent AND l.rt_id = s.rt_id"
        "   AND l.category IN ('score', 'penalty', 'gate', 'fee')) AS net"
        " FROM scores s WHERE s.agent = ? AND s.unscored_reason IS NULL ORDER BY s.id",
        (agent,),
    )
    return [int(row["net"]) for row in rows]


def check_underperformers(conn: sqlite3.Connection, agents: Iterable[str],
                          config: Mapping[str, Any]) -> dict[str, int]:
    """{agent: negative streak} for agents on relegation watch (N net-negative RTs in a row)."""
    at_risk = {}
    for agent in agents:
        nets = net_history(conn, agent)
        if spark_rules.relegation_at_risk(nets, config):
            at_risk[agent] = spark_rules.negative_streak(nets)
    return at_risk


def bench_agent(conn: sqlite3.Connection, agent: str, reason: str = "") -> None:
    """The agent chose the bench: it sits out and earns bench income each roundtable."""
    conn.execute("INSERT INTO bench (agent, reason, benched_at) VALUES (?, ?, ?)"
                 " ON CONFLICT(agent) DO UPDATE SET reason = excluded.reason", (agent, reason, now()))


def release_bench(conn: sqlite3.Connection, agent: str) -> bool:
    return conn.execute("DELETE FROM bench WHERE agent = ?", (agent,)).rowcount == 1


def benched_agents(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT agent FROM bench ORDER BY agent")]


def pay_bench_income(conn: sqlite3.Connection, rt_id: str, participants: Iterable[str],
                     config: Mapping[str, Any]) -> dict[str, int]:
    """Bench income for every benched agent not taking part in this roundtable (once per RT)."""
    income = spark_rules.bench_income(config)
    taking_part = {p.lower() for p in participants}
    paid = {}
    with atomic(conn):
        for agent in benched_agents(conn):
            if agent in taking_part:
                continue
            if append(conn, agent, income, "bench", rt_id=rt_id, ref=rt_id, reason="bench income") is not None:
                paid[agent] = income
    return paid


# --------------------------------------------------------------------------- leaderboard and caches


def get_leaderboard(conn: sqlite3.Connection, config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Workers ranked by spark balance (then average score, then name), with their record."""
    agents = spark_agents(config, conn)
    all_balances = balances(conn, agents)
    benched = set(benched_agents(conn))
    at_risk = check_underperformers(conn, agents, config)
    from amatelier.economy.retirement import retired_agents

    retired = set(retired_agents())
    rows = []
    for agent in agents:
        stats = conn.execute(
            "SELECT COUNT(*) AS scored, AVG(total) AS avg_total,"
            " SUM((novelty = 10) + (accuracy = 10) + (impact = 10) + (challenge = 10)) AS grand,"
            " SUM(is_flagged) AS flags FROM scores WHERE agent = ? AND unscored_reason IS NULL",
            (agent,),
        ).fetchone()
        last = conn.execute("SELECT total FROM scores WHERE agent = ? AND unscored_reason IS NULL"
                            " ORDER BY id DESC LIMIT 1", (agent,)).fetchone()
        # earned: sparks that came in (refunds only give back what was paid, so they are
        # not earnings); spent: store purchases net of their refunds (fee refunds excluded).
        money = conn.execute(
            "SELECT COALESCE(SUM(CASE WHEN amount > 0 AND category != 'refund' THEN amount END), 0),"
            " COALESCE(SUM(CASE WHEN category = 'purchase' THEN -amount END), 0)"
            " - COALESCE(SUM(CASE WHEN category = 'refund' AND ref NOT LIKE 'fee:%' THEN amount END), 0),"
            " COUNT(DISTINCT CASE WHEN category = 'fee' THEN rt_id END),"
            " COALESCE(SUM(category = 'gate'), 0)"
            " FROM spark_ledger WHERE agent = ?", (agent,)).fetchone()
        status = ("retired" if agent in retired else "benched" if agent in benched
                  else "at risk" if agent in at_risk else "active")
        rows.append({
            "agent": agent,
            "model": worker_model(dict(config), agent),
            "sparks": all_balances.get(agent, 0),
            "earned": int(money[0]),
            "spent": int(money[1]),
            "rts": int(money[2]),
            "scored": int(stats["scored"] or 0),
            "avg_total": round(float(stats["avg_total"]), 2) if stats["avg_total"] is not None else None,
            "last_total": int(last[0]) if last else None,
            "grand_insights": int(stats["grand"] or 0),
            "gates": int(money[3]),
            "flags": int(stats["flags"] or 0),
            "status": status,
            "negative_streak": at_risk.get(agent, 0),
        })
    rows.sort(key=lambda r: (-r["sparks"], -(r["avg_total"] or 0.0), r["agent"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def get_spark_balances(conn: sqlite3.Connection, config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """{agent: {balance, open_ventures}} for every spark holder."""
    agents = spark_agents(config, conn)
    result = {agent: {"balance": amount, "open_ventures": []} for agent, amount in balances(conn, agents).items()}
    for venture in list_ventures(conn, status="open"):
        result.setdefault(venture["agent"], {"balance": balance(conn, venture["agent"]), "open_ventures": []})
        result[venture["agent"]]["open_ventures"].append(venture["id"])
    return result


def metrics_path(agent: str) -> Path:
    """agents/<name>/metrics.json: the agent's cached economy and analytics view."""
    return paths.user_agent_dir(agent) / "metrics.json"


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        metrics = atomicio.read_json(path, {})
    except ValueError:
        metrics = {}  # a torn or hand-broken cache: it is rebuilt from the ledger
    return metrics if isinstance(metrics, dict) else {}


def load_metrics(agent: str) -> dict[str, Any]:
    """The agent's metrics.json cache ({} when missing or unreadable); the ledger stays the truth."""
    return _read_metrics(metrics_path(agent))


def save_metrics(agent: str, metrics: Mapping[str, Any]) -> Path:
    """Replace the agent's metrics.json atomically, under its lock."""
    path = metrics_path(agent)
    with atomicio.file_lock(path):
        atomicio.write_json_atomic(path, dict(metrics))
    return path


def refresh_metrics(conn: sqlite3.Connection, config: Mapping[str, Any],
                    board: Sequence[Mapping[str, Any]] | None = None) -> list[Path]:
    """Rebuild each agent's metrics.json economy cache from the ledger (other keys are kept)."""
    from amatelier.economy.retirement import retired_agents

    board = board if board is not None else get_leaderboard(conn, config)
    retired = set(retired_agents())   # archived: a cache never brings a retired agent's folder back
    written = []
    for row in board:
        if row["agent"] in retired:
            continue
        path = metrics_path(row["agent"])
        with atomicio.file_lock(path):
            metrics = _read_metrics(path)
            metrics["sparks"] = row["sparks"]
            metrics["rank"] = row["rank"]
            metrics["economy"] = {**{k: v for k, v in row.items() if k != "agent"}, "updated_at": now()}
            atomicio.write_json_atomic(path, metrics)
        written.append(path)
    return written


def save_leaderboard_snapshot(conn: sqlite3.Connection, config: Mapping[str, Any],
                              rt_id: str | None = None,
                              board: Sequence[Mapping[str, Any]] | None = None) -> Path:
    """Step 32: write benchmarks/leaderboard.json (atomically) from the ledger."""
    board = board if board is not None else get_leaderboard(conn, config)
    path = paths.user_benchmarks_dir() / "leaderboard.json"
    atomicio.write_json_atomic(path, {"generated_at": now(), "rt_id": rt_id, "leaderboard": list(board)})
    return path
