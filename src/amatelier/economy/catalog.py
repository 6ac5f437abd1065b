"""The store's catalog and skill delivery: what can be bought and how a bought skill arrives.

Split from economy.store (purchases, boosts, requests), which re-exports these names.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from amatelier import atomicio, paths
from amatelier.economy import ledger
from amatelier.economy.ledger import EconomyError

log = logging.getLogger(__name__)


KINDS = {"services": "service", "skills": "skill", "boosts": "boost", "tiers": "tier"}


class StoreError(EconomyError):
    """A store request that was refused; nothing was written."""


class UnknownItem(StoreError):
    pass


def _request_entry(agent: str, text: str, *, kind: str = "public", item_id: str | None = None,
                   purchase_id: str | None = None) -> dict[str, Any]:
    return {"id": "r" + uuid.uuid4().hex[:8], "agent": agent, "kind": kind, "text": text[:2000],
            "item": item_id, "purchase": purchase_id, "status": "open", "rt_count": 0,
            "created_at": ledger.now()}


# --------------------------------------------------------------------------- catalog


def user_catalog_path() -> Path:
    """Items the admin listed (curated or bulletin-board skills), layered over the bundled catalog."""
    return paths.user_store_dir() / "catalog.json"


def user_templates_dir() -> Path:
    return paths.user_store_dir() / "templates"


def bundled_templates_dir() -> Path:
    return paths.bundled_store_catalog().parent / "templates"


def load_catalog() -> dict[str, Any]:
    """The bundled catalog with the user's listed items added to their categories."""
    catalog = json.loads(paths.bundled_store_catalog().read_text(encoding="utf-8"))
    try:
        extra = atomicio.read_json(user_catalog_path(), {"items": []})
    except ValueError as exc:   # the admin's layer is hand-editable: say which file and where
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise StoreError(f"{user_catalog_path()} is not valid JSON{where}; fix it or move it away") from None
    for item in extra.get("items", []) if isinstance(extra, dict) else []:
        category = item.get("category", "skills")
        if category in catalog["categories"] and item.get("id"):
            catalog["categories"][category]["items"].append({**item, "source": "user"})
    return catalog


def iter_items(catalog: Mapping[str, Any] | None = None) -> Iterator[tuple[dict[str, Any], str]]:
    catalog = catalog or load_catalog()
    for key, category in catalog["categories"].items():
        for item in category.get("items", []):
            yield item, key


def find_item(item_id: str, catalog: Mapping[str, Any] | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """Find an item by id across all categories: (item, category_key) or (None, None)."""
    wanted = (item_id or "").strip().lower()
    for item, key in iter_items(catalog):
        if item["id"].lower() == wanted:
            return item, key
    return None, None


def catalog_rows(catalog: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Flat rows (id, name, category, kind, price, description) for tables and --json."""
    rows = []
    for item, key in iter_items(catalog):
        rows.append({"id": item["id"], "name": item.get("name", item["id"]), "category": key,
                     "kind": KINDS.get(key, key), "price": int(item["price"]),
                     "description": item.get("description", "")})
    return rows


def list_catalog(catalog: Mapping[str, Any] | None = None) -> str:
    """The catalog as readable text (for prompts and plain output)."""
    catalog = catalog or load_catalog()
    lines = []
    for key, category in catalog["categories"].items():
        lines.append(f"## {category.get('label', key)}")
        for item in category.get("items", []):
            lines.append(f"- {item['id']} ({item['price']} sparks): {item.get('name', '')} - {item.get('description', '')}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def what_can_afford(conn: sqlite3.Connection, agent: str) -> list[dict[str, Any]]:
    """Catalog rows whose price the agent's current balance covers."""
    available = ledger.balance(conn, agent)
    return [row for row in catalog_rows() if row["price"] <= available]


# --------------------------------------------------------------------------- delivery


def _template_text(item: Mapping[str, Any]) -> str:
    name = item.get("template") or f"{item['id']}.md"
    for directory in ((user_templates_dir(), bundled_templates_dir()) if item.get("source") == "user"
                      else (bundled_templates_dir(), user_templates_dir())):
        candidate = directory / name
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    return f"# Skill: {item.get('name', item['id'])}\n\n{item.get('description', '')}\n"


def render_skill(item: Mapping[str, Any], agent: str, acquired_at: str, body: str | None = None) -> str:
    text = body if body is not None else _template_text(item)
    for key, value in {"agent": agent, "acquired_at": acquired_at, "item_id": item["id"],
                       "name": item.get("name", item["id"])}.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def skill_path(agent: str, item_id: str) -> Path:
    return paths.user_agent_dir(agent) / "skills" / f"{item_id}.md"


def deliver_skill(agent: str, item_id: str, acquired_at: str | None = None) -> Path:
    """Write (or rewrite) a catalog skill's file into the agent's skills/ from its template."""
    item, category = find_item(item_id)
    if item is None or KINDS.get(category or "") != "skill":
        raise UnknownItem(f"unknown skill '{item_id}'")
    path = skill_path(agent, item["id"])
    atomicio.write_text_atomic(path, render_skill(item, agent, acquired_at or ledger.now()))
    return path


def _set_worker_model(agent: str, model: str) -> None:
    """Tier unlock: record the agent's new model in the user config override."""
    path = paths.user_config_override()
    with atomicio.file_lock(path):
        override = atomicio.read_json(path, {})
        workers = override.setdefault("team", {}).setdefault("workers", {})
        workers.setdefault(agent, {})["model"] = model
        atomicio.write_json_atomic(path, override)


def _deliver(entry: dict[str, Any], data: dict[str, Any]) -> None:
    if entry.get("status") == "refunded":
        return
    item, _ = find_item(entry.get("item") or "")
    kind = entry.get("kind")
    if kind == "skill" and entry.get("status") == "owned":
        if item is not None:
            deliver_skill(entry["agent"], item["id"], entry["purchased_at"])
        else:   # the item left the catalog after it was bought: deliver what we know
            atomicio.write_text_atomic(skill_path(entry["agent"], entry["item"]), render_skill(
                {"id": entry["item"], "name": entry["item"]}, entry["agent"], entry["purchased_at"]))
    elif kind == "tier" and item is not None:
        _set_worker_model(entry["agent"], item["tier"]["to"])
    elif kind == "service" and not any(r.get("purchase") == entry["id"] for r in data["requests"]):
        data["requests"].append(_request_entry(entry["agent"], f"private skill request ({entry['id']})",
                                               kind="private", purchase_id=entry["id"]))


def _deliver_pending(data: dict[str, Any]) -> None:
    for entry in data["purchases"].values():
        if entry.get("delivered"):
            continue
        try:
            _deliver(entry, data)
        except (OSError, ValueError) as exc:
            log.warning("delivery of purchase %s failed (will retry): %s", entry.get("id"), exc)
            continue
        entry["delivered"] = True
