"""Relegation as specified: after the watch an agent takes the bench or retires.

After `competition.relegation.consecutive_net_negative` (3) net-negative roundtables in a
row the options are the *bench* (sit out, passive income) or *retirement* (the spec's
"deletion"), and the agent decides. "stay" is not an option; an agent that does not
choose is benched. Retiring never deletes anything: the agent's whole state directory is
moved to `agents/.retired/<name>-<date>/` (with a `retirement.json` beside it), the agent
leaves the default team, and `amatelier team restore NAME` moves it back. The ledger,
scores and bench history stay in the database untouched.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from amatelier import atomicio, paths

OPTIONS = ("bench", "retire")
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")
REGISTRY = "registry.json"


class RetirementError(ValueError):
    """A retirement or restore that cannot be done as asked (one line, for the user)."""


# --------------------------------------------------------------------------- the decision (pure)


def relegation_decision(choice: str | None, on_watch: bool) -> str | None:
    """What an agent's relegation answer means: "bench", "retire", or None (not on watch).

    Anything but an explicit "retire" (no answer, "stay", a typo) benches the agent: the
    rule forces a choice, and not choosing is choosing the bench.
    """
    if not on_watch:
        return None
    return "retire" if str(choice or "").strip().lower() == "retire" else "bench"


def archive_name(agent: str, day: _dt.date, taken: Iterable[str]) -> str:
    """`<name>-<YYYY-MM-DD>`, or with `-2`, `-3`... when that folder already exists (pure)."""
    used = set(taken)
    base = f"{agent}-{day.isoformat()}"
    if base not in used:
        return base
    n = 2
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"


def without_retired(workers: Sequence[str], retired: Iterable[str], *,
                    explicit: bool) -> tuple[list[str], list[str]]:
    """The roster with retired agents left out of the default team, and one note (pure).

    A roster the user named (--workers) may not include a retired agent: its state is
    archived, so RetirementError says how to restore it.
    """
    gone = [w for w in workers if w in set(retired)]
    if not gone:
        return list(workers), []
    if explicit:
        raise RetirementError(f"{gone[0]} is retired (amatelier team restore {gone[0]} brings it back)")
    return [w for w in workers if w not in gone], [f"retired, left out: {', '.join(gone)}"]


# --------------------------------------------------------------------------- files


def retired_dir() -> Path:
    """agents/.retired: archived agent states and the registry of who is retired."""
    return paths.user_agents_dir() / ".retired"


def _registry_path() -> Path:
    return retired_dir() / REGISTRY


def _read_registry() -> dict[str, Any]:
    try:
        data = atomicio.read_json(_registry_path(), {})
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    data.setdefault("retired", {})
    data.setdefault("history", [])
    return data


def retired_agents() -> dict[str, dict[str, Any]]:
    """{name: {archive, retired_at, rt_id, reason}} for every agent retired now."""
    retired = _read_registry()["retired"]
    return {k: v for k, v in retired.items() if isinstance(v, dict)}


def _check_name(agent: str) -> str:
    name = (agent or "").strip().lower()
    if not NAME.fullmatch(name):
        raise RetirementError(f"not an agent name: {agent!r}")
    return name


def retire_agent(agent: str, *, rt_id: str | None = None, reason: str = "",
                 facts: Mapping[str, Any] | None = None, today: _dt.date | None = None) -> dict[str, Any]:
    """Archive the agent's whole state under agents/.retired/<name>-<date>/ (a move, never a delete).

    `facts` (e.g. its spark balance and negative streak) go into retirement.json. Returns
    the registry entry. RetirementError when the agent is already retired or has no state.
    """
    name = _check_name(agent)
    live = paths.user_agent_dir(name)
    base = retired_dir()
    base.mkdir(parents=True, exist_ok=True)
    with atomicio.file_lock(_registry_path()):
        registry = _read_registry()
        if name in registry["retired"]:
            raise RetirementError(f"{name} is already retired ({registry['retired'][name].get('archive')})")
        if not live.is_dir():
            raise RetirementError(f"{name} has no state at {live} to archive")
        now = _dt.datetime.now(_dt.UTC)
        folder = archive_name(name, today or now.date(), (p.name for p in base.iterdir()))
        target = base / folder
        os.replace(live, target)   # one rename: the state is either live or archived, never half
        entry = {"agent": name, "archive": folder, "retired_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "rt_id": rt_id, "reason": reason[:500]}
        atomicio.write_json_atomic(target / "retirement.json", {**entry, **dict(facts or {})})
        registry["retired"][name] = entry
        registry["history"].append({**entry, "action": "retire"})
        atomicio.write_json_atomic(_registry_path(), registry)
    return entry


def restore_agent(agent: str) -> dict[str, Any]:
    """Move a retired agent's archived state back to agents/<name>/ and seat it in the team again.

    A live folder that appeared meanwhile (e.g. re-seeded) is set aside under .retired/,
    not overwritten. Returns {agent, archive, restored_at, set_aside}.
    """
    name = _check_name(agent)
    with atomicio.file_lock(_registry_path()):
        registry = _read_registry()
        entry = registry["retired"].get(name)
        if not isinstance(entry, dict):
            known = ", ".join(sorted(registry["retired"])) or "none"
            raise RetirementError(f"{name} is not retired (retired agents: {known})")
        source = retired_dir() / str(entry.get("archive", ""))
        if not entry.get("archive") or not source.is_dir() or source.parent != retired_dir():
            raise RetirementError(f"the archive of {name} is missing ({source}); nothing was changed")
        live = paths.user_agent_dir(name)
        set_aside = None
        now = _dt.datetime.now(_dt.UTC)
        if live.exists():
            stamp = now.strftime("%Y%m%dT%H%M%SZ")
            aside = retired_dir() / archive_name(f"{name}-replaced-{stamp}", now.date(),
                                                 (p.name for p in retired_dir().iterdir()))
            os.replace(live, aside)
            set_aside = aside.name
        os.replace(source, live)
        restored = {"agent": name, "archive": entry["archive"], "restored_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "set_aside": set_aside}
        del registry["retired"][name]
        registry["history"].append({**restored, "action": "restore"})
        atomicio.write_json_atomic(_registry_path(), registry)
    return restored
