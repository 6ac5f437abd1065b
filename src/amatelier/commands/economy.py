"""CLI commands for the spark economy: leaderboard, sparks, store, venture, award-outcome, bench.

Every command has --json for scripts and a rich table for people. Bad input (an unknown
agent or item, too few sparks) is one line on stderr and exit 2, with nothing written.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import typer

from amatelier.commands.errors import UserError
from amatelier.commands.output import JSON_OPTION, emit
from amatelier.commands.output import print_json as _print_json

VENTURE_STATUSES = ("open", "succeeded", "failed", "skipped")


def _text(value: str) -> str:
    """An agent's words in a rich table: shown as written, never read as markup."""
    from rich.markup import escape

    return escape(value)


@contextlib.contextmanager
def _economy(*, readonly: bool = False) -> Iterator[tuple[sqlite3.Connection, dict[str, Any]]]:
    """An open database and the merged config; economy refusals become one-line user errors.

    `readonly` commands (balances, the leaderboard, the catalog, ventures) read over a
    read-only connection, so they work on a read-only workspace; before reading, anything
    left unsettled (an orphaned roundtable, a cut fee) is settled when the workspace allows.
    """
    from amatelier.chat.db import open_db, open_for_reading
    from amatelier.commands import leftovers
    from amatelier.config import load_config
    from amatelier.economy.ledger import EconomyError

    config = load_config()
    if readonly:
        conn = open_for_reading()
        if leftovers.settle_if_due(conn) is not None:  # balances shown never include a cut fee
            conn.close()
            conn = open_for_reading()
    else:
        conn = open_db()
        with contextlib.suppress(sqlite3.Error):
            leftovers.settle(conn)
    try:
        yield conn, config
    except EconomyError as exc:
        raise UserError(str(exc)) from None
    finally:
        try:
            _refresh_caches(conn, config)   # every economy command leaves the caches equal to the ledger
        finally:
            conn.close()


def _refresh_caches(conn: sqlite3.Connection, config: dict[str, Any]) -> None:
    """Rebuild metrics.json and the leaderboard snapshot from the ledger (a cache failure is not fatal)."""
    from amatelier.economy.caches import refresh_quietly

    refresh_quietly(conn, config)


def _console():
    from rich.console import Console

    return Console()


def _table(title: str, columns: list[tuple[str, str]]):
    from rich import box
    from rich.table import Table

    # No edge columns: every character goes to the cells, so the tables read at 80 columns.
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    return table


def _print(table, empty: str, console=None) -> None:
    """Print a table; an empty one says so in a caption instead of showing bare headers."""
    if not table.row_count and not table.caption:
        table.caption = empty
    (console or _console()).print(table)


def _signed(value: int) -> str:
    return f"{value:+d}" if value else "0"


# --------------------------------------------------------------------------- leaderboard / sparks


def leaderboard(as_json: bool = JSON_OPTION) -> None:
    """Rank the workers by spark balance, with their scoring record."""
    from amatelier.economy import ledger

    with _economy(readonly=True) as (conn, config):
        board = ledger.get_leaderboard(conn, config)
    if as_json:
        _print_json({"leaderboard": board})
        return
    table = _table("Leaderboard", [("#", "right"), ("agent", "left"), ("model", "left"), ("sparks", "right"),
                                   ("RTs", "right"), ("avg", "right"), ("last", "right"),
                                   ("10s", "right"), ("gates", "right"), ("flags", "right"), ("status", "left")])
    table.columns[-1].min_width = len("benched")  # the status must stay readable in 80 columns
    for row in board:
        table.add_row(str(row["rank"]), row["agent"], row["model"], str(row["sparks"]), str(row["rts"]),
                      "-" if row["avg_total"] is None else f"{row['avg_total']:.2f}",
                      "-" if row["last_total"] is None else str(row["last_total"]),
                      str(row["grand_insights"]), str(row["gates"]), str(row["flags"]), row["status"])
    if any(row["status"] != "active" for row in board):
        table.caption = ("at risk = on relegation watch (net-negative roundtables in a row); the agent chooses "
                         "bench or stay in its next debrief. benched = sits out (amatelier bench NAME --off)")
    _console().print(table)


def sparks(
    agent: str = typer.Argument(None, help="Show this agent's balance and history (default: every balance)."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="History rows to show for an agent."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Spark balances (the sum of the ledger), or one agent's balance and history."""
    from amatelier.economy import ledger

    with _economy(readonly=True) as (conn, config):
        if agent is None:
            data = ledger.get_spark_balances(conn, config)
            if as_json:
                _print_json({"balances": {a: v["balance"] for a, v in data.items()},
                             "open_ventures": {a: v["open_ventures"] for a, v in data.items() if v["open_ventures"]}})
                return
            table = _table("Spark balances", [("agent", "left"), ("sparks", "right"), ("open ventures", "left")])
            for name, value in data.items():
                table.add_row(name, str(value["balance"]), ", ".join(value["open_ventures"]) or "-")
            _console().print(table)
            return
        name = ledger.require_agent(config, agent, conn)
        rows = ledger.history(conn, name, limit)
        total = ledger.balance(conn, name)
    if as_json:
        _print_json({"agent": name, "balance": total, "history": rows})
        return
    table = _table(f"{name}: {total} sparks (latest {len(rows)} rows)",
                   [("when", "left"), ("rt", "left"), ("category", "left"), ("amount", "right"), ("reason", "left")])
    for row in rows:
        table.add_row(row["created_at"], row["rt_id"] or "-", row["category"], _signed(row["amount"]),
                      _text(str(row["reason"])))
    _print(table, f"no ledger rows for {name} yet")


# --------------------------------------------------------------------------- store

store_app = typer.Typer(help="The spark store: catalog, purchases, inventory, bulletin board.",
                        no_args_is_help=True)


@store_app.command("list")
def store_list(
    agent: str = typer.Option(None, "--agent", help="Mark what this agent can afford."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The store catalog: services, permanent skills, consumable boosts, tier unlocks."""
    from amatelier.economy import ledger, store

    with _economy(readonly=True) as (conn, config):
        rows = store.catalog_rows()
        funds = None
        if agent:
            agent = ledger.require_agent(config, agent, conn)
            funds = ledger.balance(conn, agent)
            for row in rows:
                row["affordable"] = row["price"] <= funds
    if as_json:
        _print_json({"items": rows, **({"agent": agent, "balance": funds} if agent else {})})
        return
    title = "Store" + (f" ({agent} has {funds} sparks)" if agent else "")
    columns = [("id", "left"), ("category", "left"), ("price", "right"), ("description", "left")]
    if agent:
        columns.append(("affordable", "left"))
    table = _table(title, columns)
    for row in rows:
        cells = [row["id"], row["category"], str(row["price"]), row["description"]]
        if agent:
            cells.append("yes" if row["affordable"] else "no")
        table.add_row(*cells)
    _console().print(table)


@store_app.command("buy")
def store_buy(
    agent: str = typer.Argument(..., help="The buyer."),
    item: str = typer.Argument(..., help="Store item id (see: amatelier store list)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Buy an item for an agent; refused (and nothing written) without enough sparks."""
    from amatelier.economy import store

    with _economy() as (conn, config):
        receipt = store.purchase(conn, agent, item, config)
    where = f"; delivered to {receipt['path']}" if receipt.get("path") else ""
    emit(receipt, f"{receipt['agent']} bought {receipt['item']} for {receipt['price']} sparks "
                  f"(purchase {receipt['purchase_id']}, balance now {receipt['balance']}){where}", as_json)


@store_app.command("inventory")
def store_inventory(
    agent: str = typer.Argument(..., help="Whose inventory."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Everything an agent owns or has pending, with its purchase history."""
    from amatelier.economy import ledger, store

    with _economy(readonly=True) as (conn, config):
        name = ledger.require_agent(config, agent, conn)
        inv = store.inventory(conn, name)
        inv["history"] = store.purchase_records(conn, name)
    if as_json:
        _print_json(inv)
        return
    console = _console()
    console.print(f"[bold]{name}[/bold]: {inv['balance']} sparks")
    table = _table("Owned and pending", [("item", "left"), ("kind", "left"), ("status", "left"), ("detail", "left")])
    for skill in inv["skills"]:
        table.add_row(skill["id"], "skill", "owned", skill["path"])
    for boost in inv["boosts"]:
        table.add_row(boost["item"], "boost", boost["status"], json.dumps(boost["effect"]))
    for tier in inv["tiers"]:
        table.add_row(tier["item"], "tier", "owned", "")
    for request in inv["requests"]:
        table.add_row(request["id"], f"{request['kind']} request", request["status"], _text(request["text"][:60]))
    _print(table, "nothing owned or pending", console)
    history = _table("Purchase history", [("when", "left"), ("item", "left"), ("price", "right"), ("status", "left")])
    for entry in inv["history"]:
        history.add_row(entry["purchased_at"], entry["item"], str(entry["price"]), entry["status"])
    _print(history, "no purchases yet", console)


@store_app.command("requests")
def store_requests(
    show_all: bool = typer.Option(False, "--all", help="Include fulfilled and expired requests."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The bulletin board: requests still waiting (open, or addressed in a debrief), with their age."""
    from amatelier.economy import store

    with _economy(readonly=True) as (conn, _config):
        requests = [r for r in store.list_requests(conn)
                    if show_all or r.get("status") in store.PENDING_REQUEST_STATUSES]
    if as_json:
        _print_json({"requests": requests})
        return
    table = _table("Bulletin board", [("id", "left"), ("agent", "left"), ("kind", "left"), ("status", "left"),
                                      ("age (RTs)", "right"), ("request", "left")])
    for request in requests:
        # Public requests expire after BULLETIN_EXPIRY_RTS roundtables; private ones wait for the admin.
        age = (f"{request.get('rt_count', 0)}/{store.BULLETIN_EXPIRY_RTS}" if request["kind"] == "public"
               else "-")
        table.add_row(request["id"], request["agent"], request["kind"], request["status"], age, _text(request["text"]))
    _print(table, "no requests on the board" + ("" if show_all else " (--all shows fulfilled and expired ones)"))


@store_app.command("request")
def store_request(
    agent: str = typer.Argument(..., help="Who asks."),
    text: str = typer.Argument(..., help="What they want."),
    private: bool = typer.Option(False, "--private", help="A private request to the admin."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Post a request to the bulletin board (public requests expire after 3 roundtables)."""
    from amatelier.economy import ledger, store

    with _economy() as (conn, config):
        name = ledger.require_agent(config, agent, conn)
        entry = store.submit_request(conn, name, text, kind="private" if private else "public")
    if as_json:
        _print_json(entry)
        return
    typer.echo(f"posted {entry['kind']} request {entry['id']} for {name}")


@store_app.command("retire")
def store_retire(
    agent: str = typer.Argument(..., help="The owner."),
    skill: str = typer.Argument(..., help="The skill id to retire."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Retire a permanent skill: its file is removed and it stops counting as owned."""
    from amatelier.economy import ledger, store

    with _economy() as (conn, config):
        name = ledger.require_agent(config, agent, conn)
        entry = store.retire_skill(conn, name, skill)
    if as_json:
        _print_json(entry)
        return
    typer.echo(f"{name} retired {skill}")


@store_app.command("fulfill")
def store_fulfill(
    request_id: str = typer.Argument(..., metavar="REQUEST", help="The request id (see: amatelier store requests)."),
    name: str = typer.Option(..., "--name", help="The skill's name."),
    body_file: str = typer.Option(..., "--body-file", help="Markdown file with the skill's text ('-' reads stdin)."),
    by: str = typer.Option("admin", "--by", help="Who wrote it (public requests: an agent or admin)."),
    price: int = typer.Option(15, "--price", min=1, help="Store price of a public request's skill."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Answer a request: a private one gives the skill to the requester; a public one lists it in the store."""
    import sys
    from pathlib import Path

    from amatelier.economy import ledger, store

    if body_file == "-":
        body = sys.stdin.read()
    else:
        try:
            body = Path(body_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {body_file}: {getattr(exc, 'strerror', None) or exc}") from None
    if not body.strip():
        raise UserError("the skill text is empty")
    if not name.strip():
        raise UserError("--name must not be empty")
    with _economy() as (conn, config):
        request = next((r for r in store.list_requests(conn) if r["id"] == request_id), None)
        if request is None:
            raise UserError(f"unknown request '{request_id}' (see: amatelier store requests --all)")
        if request["kind"] == "private":
            path = store.admin_apply_private_skill(conn, request_id, name.strip(), body)
            result = {"request": request_id, "kind": "private", "agent": request["agent"],
                      "item": f"private-{request_id}", "path": str(path)}
        else:
            author = by if by == "admin" else ledger.require_agent(config, by, conn)
            item = store.fulfill_request(conn, request_id, author, name.strip(), body, price)
            result = {"request": request_id, "kind": "public", "agent": request["agent"], "item": item["id"],
                      "price": item["price"], "by": author}
    if as_json:
        _print_json(result)
        return
    if result["kind"] == "private":
        typer.echo(f"{result['agent']} now owns {result['item']} ({result['path']})")
    else:
        typer.echo(f"{result['item']} is listed in the store for {result['price']} sparks "
                   f"(requested by {result['agent']}, written by {result['by']})")


# --------------------------------------------------------------------------- ventures and outcomes

# The tag is escaped: the help renderer reads [...] as rich markup and would drop it.
venture_app = typer.Typer(help="Spark-staking ventures that workers pitch with \\[\\[venture:<tier>: <claim>]] "
                               "tags in a roundtable.",
                          no_args_is_help=True)


@venture_app.command("list")
def venture_list(
    status: str = typer.Option(None, "--status", help="Only ventures with this status (open, succeeded, failed, skipped)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Ventures and their status, with why one was skipped (e.g. too few sparks for its stake).

    Workers pitch a venture in a roundtable with a \\[\\[venture:<tier>: <claim>]] tag (tiers: scout,
    venture, moonshot); the stake is taken when it is pitched, and `amatelier venture resolve`
    settles it.
    """
    from rich.markup import escape

    from amatelier.economy import ledger

    if status is not None and status not in VENTURE_STATUSES:
        raise UserError(f"unknown venture status '{status}' (choose {', '.join(VENTURE_STATUSES)})")
    with _economy(readonly=True) as (conn, _config):
        rows = ledger.list_ventures(conn, status=status)
    if as_json:
        _print_json({"ventures": rows})
        return
    table = _table("Ventures", [("id", "left"), ("agent", "left"), ("tier", "left"), ("stake", "right"),
                                ("x", "right"), ("status", "left"), ("why", "left"), ("rt", "left"),
                                ("claim", "left")])
    for row in rows:
        # claims and notes are the agents' own text: never read as rich markup
        table.add_row(row["id"], row["agent"], row["tier"], str(row["stake"]), f"{row['multiplier']:g}",
                      row["status"], escape(row.get("note") or "-"), row["rt_id"] or "-", escape(row["claim"]))
    _print(table, f"no {status} ventures" if status else
           escape("no ventures yet (workers pitch them with [[venture:<tier>: <claim>]] in a roundtable)"))


@venture_app.command("resolve")
def venture_resolve(
    venture_id: str = typer.Argument(..., metavar="ID", help="The venture id (see: amatelier venture list)."),
    success: bool = typer.Option(None, "--success/--fail", help="Whether the venture's claim came true."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Settle an open venture: --success pays stake x multiplier, --fail keeps the stake lost."""
    from amatelier.economy import ledger

    if success is None:
        raise UserError("say how the venture ended: --success or --fail")
    with _economy() as (conn, config):
        venture = ledger.resolve_venture(conn, venture_id, success, config)
        venture["balance"] = ledger.balance(conn, venture["agent"])
    if as_json:
        _print_json(venture)
        return
    if venture["status"] == "succeeded":
        typer.echo(f"venture {venture['id']} succeeded: {venture['agent']} earns {venture['payout']} sparks "
                   f"(balance {venture['balance']})")
    else:
        typer.echo(f"venture {venture['id']} failed: {venture['agent']}'s stake of {venture['stake']} is lost")


def award_outcome(
    rt_id: str = typer.Argument(..., metavar="RT", help="The roundtable whose proposal was implemented."),
    agent: str = typer.Argument(..., help="The agent whose proposal it was."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Pay the RT-outcome bonus (5 sparks) to an agent whose proposal you implemented."""
    from amatelier.economy import ledger

    with _economy() as (conn, config):
        name = ledger.require_agent(config, agent, conn)
        paid = ledger.award_rt_outcome_bonus(conn, rt_id, name, config)
        total = ledger.balance(conn, name)
    if as_json:
        _print_json({"rt_id": rt_id, "agent": name, "sparks": paid, "balance": total})
        return
    typer.echo(f"{name} earns {paid} sparks for the outcome of {rt_id} (balance {total})")


# --------------------------------------------------------------------------- relegation and the bench


def bench_command(
    agent: str = typer.Argument(None, help="The agent to bench (default: list the bench and the relegation watch)."),
    off: bool = typer.Option(False, "--off", help="Take the agent off the bench: it is seated again."),
    reason: str = typer.Option("", "--reason", help="Why (recorded in the bench log)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Bench an agent (it sits out and earns bench income each roundtable) or bring it back.

    Without AGENT: who is benched and who is on relegation watch. Deleting an agent is never automatic: remove it from team.default_workers in the workspace config.json.
    """
    from amatelier.economy import bench, ledger

    with _economy() as (conn, config):
        if agent is None:
            if off:
                raise UserError("--off needs an AGENT")
            watch = bench.watch_list(conn, ledger.spark_agents(config, conn), config)
            if as_json:
                _print_json({"bench": bench.list_bench(conn),
                             "relegation_watch": [w for w in watch if w["status"] == "at risk"],
                             "history": bench.history(conn)[:20]})
                return
            table = _table("Bench and relegation watch", [("agent", "left"), ("status", "left"),
                                                           ("since / streak", "left"), ("reason", "left")])
            for row in watch:
                since = row["benched_at"] if row["status"] == "benched" else f"{row['negative_streak']} net-negative RTs"
                table.add_row(row["agent"], row["status"], since, row["reason"] or "-")
            if not watch:
                table.caption = "nobody is benched or on relegation watch"
            _console().print(table)
            return
        name = ledger.require_agent(config, agent, conn)
        if off:
            bench.unbench(conn, name, reason)
        else:
            bench.bench(conn, name, reason)
        status = bench.relegation_status(conn, name, config)
    if as_json:
        _print_json({**status, "action": "unbench" if off else "bench"})
        return
    if off:
        typer.echo(f"{name} is off the bench and back in the default roster")
    else:
        typer.echo(f"{name} is on the bench: left out of the default roster, earning {status['bench_income']} "
                   "sparks per roundtable (amatelier bench " + name + " --off brings it back)")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the typer app."""
    app.command("bench")(bench_command)
    app.command("leaderboard")(leaderboard)
    app.command("sparks")(sparks)
    app.add_typer(store_app, name="store")
    app.add_typer(venture_app, name="venture")
    app.command("award-outcome")(award_outcome)
