"""What an agent owns: skills bought, retired skills, purchase history and inventory views.

Split from economy.store (buying, boosts, requests), which re-exports these names.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from amatelier.economy import ledger
from amatelier.economy.catalog import (
    StoreError,
    find_item,
    skill_path,
)
from amatelier.economy.store_ledger import (
    PENDING_REQUEST_STATUSES,
    load_ledger,
    locked_ledger,
    sync_ledger,
)

# --------------------------------------------------------------------------- skills and inventory


def get_owned_skills(conn: sqlite3.Connection, agent: str) -> list[dict[str, Any]]:
    """Permanent skills the agent owns (bought or granted), excluding retired ones."""
    data = load_ledger(conn)
    owned = []
    for entry in data["purchases"].values():
        if entry["agent"] == agent and entry["kind"] == "skill" and entry["status"] == "owned":
            item, _ = find_item(entry["item"])
            owned.append({"id": entry["item"], "name": (item or {}).get("name", entry["item"]),
                          "source": "purchase", "purchase_id": entry["id"],
                          "acquired_at": entry["purchased_at"], "path": str(skill_path(agent, entry["item"]))})
    for grant in data["grants"].values():
        if grant["agent"] == agent and grant["status"] == "owned":
            owned.append({"id": grant["item"], "name": grant.get("name", grant["item"]), "source": "grant",
                          "acquired_at": grant["granted_at"], "path": str(skill_path(agent, grant["item"]))})
    return owned


def retire_skill(conn: sqlite3.Connection, agent: str, skill_id: str) -> dict[str, Any]:
    """Retire an owned skill: marked retired in store/ledger.json and its file removed."""
    with locked_ledger(conn) as data:
        target = None
        for entry in list(data["purchases"].values()) + list(data["grants"].values()):
            if entry["agent"] == agent and entry.get("item") == skill_id and entry.get("status") == "owned" \
                    and entry.get("kind", "skill") == "skill":
                target = entry
                break
        if target is None:
            raise StoreError(f"{agent} does not own skill '{skill_id}'")
        target.update(status="retired", retired_at=ledger.now())
        with contextlib.suppress(FileNotFoundError):
            skill_path(agent, skill_id).unlink()
    return dict(target)


def purchase_records(conn: sqlite3.Connection, agent: str | None = None) -> list[dict[str, Any]]:
    """Purchases (newest first) with their current state."""
    data = load_ledger(conn)
    rows = [dict(e) for e in data["purchases"].values() if agent is None or e["agent"] == agent]
    return sorted(rows, key=lambda e: (e["purchased_at"], e["id"]), reverse=True)


def purchase_history(conn: sqlite3.Connection, agent: str | None = None) -> str:
    """Purchase history as readable text."""
    lines = [f"{e['purchased_at']}  {e['agent']:8} {e['item']:24} {e['price']:>4}  {e['status']}"
             for e in purchase_records(conn, agent)]
    return "\n".join(lines) + ("\n" if lines else "")


def inventory(conn: sqlite3.Connection, agent: str) -> dict[str, Any]:
    """Everything the agent owns or has pending, plus its balance."""
    data = sync_ledger(conn)
    mine = [e for e in data["purchases"].values() if e["agent"] == agent]
    return {
        "agent": agent,
        "balance": ledger.balance(conn, agent),
        "skills": get_owned_skills(conn, agent),
        "boosts": [{"purchase_id": e["id"], "item": e["item"], "status": e["status"], "rt_id": e.get("rt_id"),
                    "effect": e.get("effect", {})}
                   for e in mine if e["kind"] == "boost" and e["status"] in ("pending", "active")],
        "tiers": [{"purchase_id": e["id"], "item": e["item"]} for e in mine
                  if e["kind"] == "tier" and e["status"] == "owned"],
        "retired": [e["item"] for e in mine if e["status"] == "retired"]
        + [g["item"] for g in data["grants"].values() if g["agent"] == agent and g["status"] == "retired"],
        "requests": [r for r in data["requests"] if r["agent"] == agent and r["status"] in PENDING_REQUEST_STATUSES],
    }
