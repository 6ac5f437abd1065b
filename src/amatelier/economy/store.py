"""The spark store: catalog, purchases, delivery, boosts, first-speaker bids, bulletin board.

Money and state are kept apart on purpose. The spark_ledger table is the only record of
money: a purchase is one `purchase` row written in the same BEGIN IMMEDIATE transaction
as the balance check, so two processes buying at once can never overspend. The JSON
file store/ledger.json holds what the money bought (pending/active/consumed boosts,
owned and retired skills, requests on the bulletin board). It is rebuilt from the
database's purchase and refund rows every time it is opened, keyed by purchase id, so a
crash between the database commit and the JSON write loses nothing: the next open adds
the missing entry and finishes its delivery (skill file, tier change, private request).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from amatelier import atomicio
from amatelier.economy import ledger
from amatelier.economy import rules as spark_rules
from amatelier.economy.catalog import (  # noqa: F401 - re-exported for store.<name> callers  # noqa: F401
    KINDS,
    StoreError,
    UnknownItem,
    _deliver,
    _deliver_pending,
    _request_entry,
    _set_worker_model,
    _template_text,
    bundled_templates_dir,
    catalog_rows,
    deliver_skill,
    find_item,
    iter_items,
    list_catalog,
    load_catalog,
    render_skill,
    skill_path,
    user_catalog_path,
    user_templates_dir,
    what_can_afford,
)
from amatelier.economy.inventory import (  # noqa: F401 - re-exported for store.<name> callers
    get_owned_skills,
    inventory,
    purchase_history,
    purchase_records,
    retire_skill,
)
from amatelier.economy.ledger import EconomyError, InsufficientSparks
from amatelier.economy.store_ledger import (  # noqa: F401
    PENDING_REQUEST_STATUSES,
    _db_purchases,
    _initial_status,
    _normalise,
    empty_ledger,
    load_ledger,
    locked_ledger,
    reconcile,
    save_ledger,
    sync_ledger,
)

log = logging.getLogger(__name__)

BULLETIN_EXPIRY_RTS = 3
STALE_ACTIVE_S = 3600.0      # an 'active' boost whose roundtable never opened is freed after this
# --------------------------------------------------------------------------- purchases


def _active_count(conn: sqlite3.Connection, agent: str, item_id: str, data: Mapping[str, Any],
                  live_statuses: Sequence[str]) -> int:
    """Purchases of this item by this agent that are still live (not refunded/retired/consumed).

    Counted from the database rows (so a concurrent buyer's committed row is seen) with
    the JSON statuses applied on top.
    """
    count = 0
    rows = conn.execute(
        "SELECT p.ref FROM spark_ledger p WHERE p.category = 'purchase' AND p.agent = ?"
        " AND json_extract(p.meta, '$.item') = ? AND NOT EXISTS (SELECT 1 FROM spark_ledger r"
        "   WHERE r.category = 'refund' AND r.agent = p.agent AND r.ref = p.ref)", (agent, item_id))
    for (ref,) in rows:
        status = data["purchases"].get(ref, {}).get("status")
        if status is None or status in live_statuses:
            count += 1
    return count


def _current_tier(config: Mapping[str, Any], agent: str) -> str:
    from amatelier.config import worker_model

    return spark_rules.fee_tier(worker_model(dict(config), agent))


def _check_eligible(conn: sqlite3.Connection, config: Mapping[str, Any], agent: str,
                    item: Mapping[str, Any], kind: str, data: Mapping[str, Any]) -> None:
    item_id = item["id"]
    if kind == "skill":
        if _active_count(conn, agent, item_id, data, ("owned",)) or any(
                g.get("agent") == agent and g.get("item") == item_id and g.get("status") == "owned"
                for g in data["grants"].values()):
            raise StoreError(f"{agent} already owns {item_id}")
    elif kind == "boost" and item.get("effect", {}).get("first_speaker"):
        if _active_count(conn, agent, item_id, data, ("pending", "active")):
            raise StoreError(f"{agent} already holds a first-speaker bid")
    elif kind == "tier":
        backend = config.get("team", {}).get("workers", {}).get(agent, {}).get("backend", "default")
        if backend == "gemini":
            raise StoreError(f"{agent} runs on Gemini; tier unlocks are for Claude-tier workers")
        current = _current_tier(config, agent)
        if current != item["tier"]["from"]:
            raise StoreError(f"{item_id} promotes {item['tier']['from']} workers; {agent} is on {current}")
        undelivered = [e for e in data["purchases"].values() if e["agent"] == agent
                       and e.get("item") == item_id and e["status"] != "refunded" and not e.get("delivered")]
        if undelivered:
            raise StoreError(f"{agent} already bought {item_id} (delivery pending)")


def purchase(conn: sqlite3.Connection, agent: str, item_id: str, config: Mapping[str, Any], *,
             reason: str = "", keep: int = 0) -> dict[str, Any]:
    """Buy an item: balance check and the purchase row in one BEGIN IMMEDIATE transaction,
    then the purchase's state and delivery in store/ledger.json.

    `keep` sparks must stay on the balance afterwards (an agent's own purchases keep a
    reserve; see `agent_reserve`). Raises UnknownAgent, UnknownItem, StoreError or
    InsufficientSparks; in each case nothing is written.
    """
    agent = ledger.require_agent(config, agent, conn)
    item, category = find_item(item_id)
    if item is None or category is None:
        raise UnknownItem(f"unknown store item '{item_id}' (see: amatelier store list)")
    kind = KINDS.get(category, category)
    price = int(item["price"])
    purchase_id = "p" + uuid.uuid4().hex[:10]
    meta = {"item": item["id"], "kind": kind, "category": category, "effect": item.get("effect", {})}
    with ledger.atomic(conn):
        data = load_ledger(conn)
        _check_eligible(conn, config, agent, item, kind, data)
        available = ledger.balance(conn, agent)
        if available - max(0, keep) < price:
            refused = InsufficientSparks(agent, available, price, item["id"])
            if keep > 0:
                refused.args = (f"{agent} has {available} sparks and keeps {keep} in reserve for your own "
                                f"store buys; {item['id']} costs {price}",)
            raise refused
        ledger.append(conn, agent, -price, "purchase", ref=purchase_id,
                      reason=reason or f"bought {item['id']}", meta=meta)
    # The money has moved; from here on a crash is repaired by the next reconcile.
    try:
        entry = _record_state(conn, purchase_id)
    except OSError as exc:
        log.warning("purchase %s is paid but store/ledger.json could not be written (%s); "
                    "it will be delivered on the next store access", purchase_id, exc)
        entry = {"status": "paid", "delivered": False}
    return {"purchase_id": purchase_id, "agent": agent, "item": item["id"], "kind": kind, "price": price,
            "balance": ledger.balance(conn, agent), "status": entry.get("status"),
            "delivered": bool(entry.get("delivered")),
            "path": str(skill_path(agent, item["id"])) if kind == "skill" else None}


def _record_state(conn: sqlite3.Connection, purchase_id: str) -> dict[str, Any]:
    """Second step of a purchase: reconcile ledger.json (adds and delivers the entry)."""
    with locked_ledger(conn) as data:
        return dict(data["purchases"].get(purchase_id, {}))


def agent_reserve(config: Mapping[str, Any]) -> int:
    """Sparks an agent's own purchases (in a debrief) must leave: the cheapest item's price.

    It keeps the starter grant's promise (economy.grants): after its first roundtable every
    worker can still be bought the cheapest item by you. 0 when the grant is switched off.
    """
    if (config.get("competition") or {}).get("starter_grant", "auto") in (0, "0"):
        return 0
    prices = [row["price"] for row in catalog_rows() if row["price"] > 0]
    return min(prices) if prices else 0


def attempt_purchase(conn: sqlite3.Connection, agent: str, item_id: str,
                     config: Mapping[str, Any], *, keep: int = 0) -> dict[str, Any]:
    """purchase() that reports instead of raising: {"ok": True, ...receipt} or {"ok": False, "reason", "error"}."""
    try:
        return {"ok": True, **purchase(conn, agent, item_id, config, keep=keep)}
    except InsufficientSparks as exc:
        return {"ok": False, "reason": "insufficient_funds", "error": str(exc),
                "balance": exc.balance, "price": exc.needed}
    except UnknownItem as exc:
        return {"ok": False, "reason": "unknown_item", "error": str(exc)}
    except EconomyError as exc:
        return {"ok": False, "reason": "refused", "error": str(exc)}


def process_store_request(conn: sqlite3.Connection, agent: str, request: Mapping[str, Any],
                          config: Mapping[str, Any]) -> dict[str, Any]:
    """A therapist-session store_request: buy the item if affordable, else post it to the bulletin board.

    `request` is {"item": id} and/or {"request": free text}; the result says what happened.
    """
    item_id = str(request.get("item") or request.get("item_id") or "").strip()
    text = str(request.get("request") or request.get("text") or "").strip()
    if item_id:
        result = attempt_purchase(conn, agent, item_id, config, keep=agent_reserve(config))
        if result["ok"] or result["reason"] != "insufficient_funds":
            return {"action": "purchased" if result["ok"] else "refused", **result}
        posted = submit_request(conn, agent, text or f"wants {item_id} ({result['error']})", item_id=item_id)
        return {"action": "queued", "ok": False, "reason": "insufficient_funds", "request": posted}
    if text:
        kind = "private" if str(request.get("kind", "public")).lower() == "private" else "public"
        return {"action": "queued", "ok": True, "request": submit_request(conn, agent, text, kind=kind)}
    return {"action": "ignored", "ok": False, "reason": "empty request"}


def promote_tier(conn: sqlite3.Connection, agent: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Buy the tier unlock that applies to the agent's current tier."""
    agent = ledger.require_agent(config, agent, conn)
    tier = _current_tier(config, agent)
    for item, key in iter_items():
        if KINDS.get(key) == "tier" and item.get("tier", {}).get("from") == tier:
            return purchase(conn, agent, item["id"], config)
    raise StoreError(f"no tier unlock for {agent} on {tier}")


def refund(conn: sqlite3.Connection, purchase_id: str, reason: str) -> int:
    """Give a purchase's sparks back (a `refund` row, once) and mark its entry refunded."""
    row = conn.execute("SELECT agent, amount, meta FROM spark_ledger WHERE category = 'purchase' AND ref = ?",
                       (purchase_id,)).fetchone()
    if row is None:
        raise StoreError(f"unknown purchase '{purchase_id}'")
    amount = -int(row["amount"])
    with ledger.atomic(conn):
        paid = ledger.append(conn, row["agent"], amount, "refund", ref=purchase_id, reason=reason,
                             meta=json.loads(row["meta"] or "{}"))
    _record_state(conn, purchase_id)
    return amount if paid is not None else 0


# --------------------------------------------------------------------------- boosts


def _rt_status(conn: sqlite3.Connection, rt_id: str | None) -> str | None:
    if not rt_id:
        return None
    row = conn.execute("SELECT status FROM roundtables WHERE id = ?", (rt_id,)).fetchone()
    return row[0] if row else None


def _is_stale(conn: sqlite3.Connection, entry: Mapping[str, Any]) -> bool:
    """An active boost whose roundtable ended (or never opened) without consuming it."""
    status = _rt_status(conn, entry.get("rt_id"))
    if status is not None:
        return status != "open"
    return time.time() - float(entry.get("applied_ts", 0)) > STALE_ACTIVE_S


def get_pending_boosts(conn: sqlite3.Connection, agent: str) -> list[dict[str, Any]]:
    """Boosts the agent bought and has not used in a roundtable yet."""
    data = load_ledger(conn)
    return [dict(e) for e in data["purchases"].values()
            if e["agent"] == agent and e["kind"] == "boost" and e["status"] == "pending"]


def apply_boosts_for_rt(conn: sqlite3.Connection, workers: Sequence[str], rt_id: str) -> dict[str, dict[str, int]]:
    """Step 7: claim each worker's pending boosts for this roundtable; returns {agent: {effect: value}}.

    A boost is claimed (status active, rt_id) so a roundtable running at the same time
    cannot use it too; a boost left active by a roundtable that ended without consuming
    it (--skip-post, a crash) is claimed again.
    """
    effects: dict[str, dict[str, int]] = {}
    wanted = set(workers)
    with locked_ledger(conn) as data:
        for entry in data["purchases"].values():
            if entry["kind"] != "boost" or entry["agent"] not in wanted:
                continue
            claim = entry["status"] == "pending" or (
                entry["status"] == "active" and (entry.get("rt_id") == rt_id or _is_stale(conn, entry)))
            if not claim:
                continue
            entry.update(status="active", rt_id=rt_id, applied_ts=time.time())
            bucket = effects.setdefault(entry["agent"], {})
            for effect, value in (entry.get("effect") or {}).items():
                bucket[effect] = bucket.get(effect, 0) + int(value)
    return effects


def consume_boost(conn: sqlite3.Connection, purchase_id: str, rt_id: str | None = None) -> bool:
    """Mark one boost consumed (after its roundtable); True if it was consumed now."""
    with locked_ledger(conn) as data:
        entry = data["purchases"].get(purchase_id)
        if entry is None or entry["kind"] != "boost" or entry["status"] not in ("pending", "active"):
            return False
        entry.update(status="consumed", rt_id=rt_id or entry.get("rt_id"), consumed_at=ledger.now())
        return True


def consume_boosts_after_rt(conn: sqlite3.Connection, workers: Sequence[str], rt_id: str) -> list[str]:
    """Step 37: every boost claimed by this roundtable is consumed; returns their purchase ids."""
    consumed = []
    wanted = set(workers)
    with locked_ledger(conn) as data:
        for entry in data["purchases"].values():
            if (entry["kind"] == "boost" and entry["status"] == "active" and entry.get("rt_id") == rt_id
                    and entry["agent"] in wanted):
                entry.update(status="consumed", consumed_at=ledger.now())
                consumed.append(entry["id"])
    return consumed


def resolve_first_speaker(conn: sqlite3.Connection, rt_id: str, order: Sequence[str],
                          config: Mapping[str, Any]) -> tuple[list[str], str | None, list[str]]:
    """Step 16: the highest-ranked first-speaker bidder opens; the other bidders are refunded.

    Returns (speaking order, winner or None, refunded purchase ids).
    """
    data = load_ledger(conn)
    bids = [e for e in data["purchases"].values()
            if e["kind"] == "boost" and (e.get("effect") or {}).get("first_speaker")
            and e["status"] == "active" and e.get("rt_id") == rt_id and e["agent"] in order]
    if not bids:
        return list(order), None, []
    ranks = {row["agent"]: row["rank"] for row in ledger.get_leaderboard(conn, config)}
    bids.sort(key=lambda e: (ranks.get(e["agent"], 10**6), e["purchased_at"], e["id"]))
    winner = bids[0]["agent"]
    refunded = []
    for losing in bids[1:]:
        refund(conn, losing["id"], f"first-speaker bid lost to {winner} ({rt_id})")
        refunded.append(losing["id"])
    new_order = [winner] + [agent for agent in order if agent != winner]
    return new_order, winner, refunded


# --------------------------------------------------------------------------- bulletin board


def submit_request(conn: sqlite3.Connection, agent: str, text: str, *, kind: str = "public",
                   item_id: str | None = None) -> dict[str, Any]:
    """Post a public or private request to the bulletin board."""
    if kind not in ("public", "private"):
        raise StoreError("request kind must be public or private")
    if not text.strip():
        raise StoreError("a request needs text")
    entry = _request_entry(agent, text.strip(), kind=kind, item_id=item_id)
    with locked_ledger(conn) as data:
        data["requests"].append(entry)
    return entry


def list_requests(conn: sqlite3.Connection, status: str | None = None) -> list[dict[str, Any]]:
    return [dict(r) for r in load_ledger(conn)["requests"] if status is None or r.get("status") == status]


def get_open_requests(conn: sqlite3.Connection, kind: str | None = None) -> list[dict[str, Any]]:
    """Requests still waiting (open, or addressed in a debrief) with their board index, for the admin."""
    return [{"index": i, **r} for i, r in enumerate(load_ledger(conn)["requests"])
            if r.get("status") in PENDING_REQUEST_STATUSES and (kind is None or r.get("kind") == kind)]


def open_private_requests(conn: sqlite3.Connection, agent: str) -> list[dict[str, Any]]:
    """The agent's private requests no debrief has reviewed yet (status open)."""
    return [dict(r) for r in load_ledger(conn)["requests"]
            if r.get("agent") == agent and r.get("kind") == "private" and r.get("status") == "open"]


def mark_private_requests_addressed(conn: sqlite3.Connection, agent: str, rt_id: str,
                                    request_ids: Iterable[str] | None = None, *,
                                    note: str = "", session: str | None = None) -> list[dict[str, Any]]:
    """Therapist step 14: the agent's open private requests a debrief reviewed become `addressed`.

    Only open private requests of this agent change (all of them, or those in
    `request_ids`); each records the roundtable, the time, a note (the session summary)
    and the session file. The admin can still answer them. Returns the changed requests.
    """
    wanted = None if request_ids is None else set(request_ids)
    changed = []
    with locked_ledger(conn) as data:
        for request in data["requests"]:
            if (request.get("agent") != agent or request.get("kind") != "private"
                    or request.get("status") != "open" or (wanted is not None and request["id"] not in wanted)):
                continue
            request.update(status="addressed", addressed_rt=rt_id, addressed_at=ledger.now(),
                           addressed_note=note[:1000], addressed_session=session)
            changed.append(dict(request))
    return changed


def age_bulletin_requests(conn: sqlite3.Connection, rt_id: str,
                          expiry_rts: int = BULLETIN_EXPIRY_RTS) -> list[dict[str, Any]]:
    """Step 38: one roundtable older for every open public request; those reaching `expiry_rts` expire.

    Ageing the same roundtable twice is a no-op. Returns the requests that expired now.
    """
    expired = []
    with locked_ledger(conn) as data:
        if rt_id in data["aged_rts"]:
            return []
        data["aged_rts"] = (data["aged_rts"] + [rt_id])[-200:]
        for request in data["requests"]:
            if request.get("status") != "open" or request.get("kind") != "public":
                continue
            request["rt_count"] = int(request.get("rt_count", 0)) + 1
            if request["rt_count"] >= expiry_rts:
                request.update(status="expired", expired_at=ledger.now())
                expired.append(dict(request))
    return expired


def bulletin_board(conn: sqlite3.Connection) -> str:
    """Public requests with their age and status, as text."""
    lines = []
    for request in load_ledger(conn)["requests"]:
        if request.get("kind") != "public":
            continue
        lines.append(f"[{request['id']}] {request['status']:9} {request['agent']}: {request['text']}"
                     f" (RTs open: {request.get('rt_count', 0)}/{BULLETIN_EXPIRY_RTS})")
    return "\n".join(lines) + ("\n" if lines else "")


def _find_request(data: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    for request in data["requests"]:
        if request["id"] == request_id:
            return request
    raise StoreError(f"unknown request '{request_id}'")


def admin_list_skill(item_id: str, name: str, description: str, price: int, body: str, *,
                     listed_by: str = "admin") -> dict[str, Any]:
    """List a curated skill in the store (a user-catalog item with its template)."""
    if find_item(item_id)[0] is not None:
        raise StoreError(f"store item '{item_id}' already exists")
    if price <= 0:
        raise StoreError("price must be positive")
    template = f"{item_id}.md"
    atomicio.write_text_atomic(user_templates_dir() / template, body)
    item = {"id": item_id, "name": name, "price": int(price), "description": description,
            "template": template, "category": "skills", "listed_by": listed_by, "listed_at": ledger.now()}
    with atomicio.file_lock(user_catalog_path()):
        extra = atomicio.read_json(user_catalog_path(), {"items": []})
        extra.setdefault("items", []).append(item)
        atomicio.write_json_atomic(user_catalog_path(), extra)
    return item


def fulfill_request(conn: sqlite3.Connection, request_id: str, by_agent: str, name: str, body: str,
                    price: int = 15) -> dict[str, Any]:
    """An agent answers a public request with a skill, which is listed in the store."""
    data = load_ledger(conn)
    request = _find_request(data, request_id)
    if request.get("status") != "open" or request.get("kind") != "public":
        raise StoreError(f"request {request_id} is not an open public request")
    item_id = "skill-" + request_id
    item = admin_list_skill(item_id, name, f"Written by {by_agent} for {request['agent']}'s request",
                            price, body, listed_by=by_agent)
    with locked_ledger(conn) as locked:
        entry = _find_request(locked, request_id)
        entry.update(status="fulfilled", fulfilled_by=by_agent, item=item_id, fulfilled_at=ledger.now())
    return item


def admin_apply_private_skill(conn: sqlite3.Connection, request_id: str, name: str, body: str) -> Path:
    """The admin answers a private request by giving the skill straight to the requester."""
    with locked_ledger(conn) as data:
        request = _find_request(data, request_id)
        if request.get("kind") != "private" or request.get("status") not in PENDING_REQUEST_STATUSES:
            raise StoreError(f"request {request_id} is not an open private request")
        item_id = "private-" + request_id
        agent = request["agent"]
        item = {"id": item_id, "name": name}
        path = skill_path(agent, item_id)
        atomicio.write_text_atomic(path, render_skill(item, agent, ledger.now(), body=body))
        data["grants"][item_id] = {"id": item_id, "agent": agent, "item": item_id, "name": name,
                                   "status": "owned", "granted_at": ledger.now(), "request": request_id}
        request.update(status="fulfilled", fulfilled_by="admin", item=item_id, fulfilled_at=ledger.now())
    return path


