"""The decide step of the after-debate pipeline: write the record, then the digest fields.

The runner calls decide() once the debate is over or cut (Ctrl-C, SIGTERM, health audit,
round limit, cost ceilings); digest_fields() gives the keys the digest carries. Both read
the positions from the database, so they work for any roundtable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from amatelier.debate import position_changes
from amatelier.debate.decision import stop_reason_for, write_decision
from amatelier.debate.positions import load_positions

CTRL_C_NOTE = "writing the decision from what was said (Ctrl-C again to skip)"


def positions_fields(conn: sqlite3.Connection, rt_id: str) -> dict[str, Any]:
    """`position_changes`, `positions` and `positions_missing` for the digest."""
    try:
        rows = load_positions(conn, rt_id)
    except sqlite3.OperationalError:
        rows = []
    summary = position_changes.summary(rows)
    return {"position_changes": summary["changes"], "positions": summary,
            "positions_missing": summary["missing"]}


def decide(state: Any, *, stop_reason: str, partial: bool, warn: Callable[[str], None] | None = None,
           backend: Any = None, ask_chair: bool = True) -> dict[str, Any]:
    """Write the decision record and return every digest key this step adds.

    After Ctrl-C it first prints the note that a second Ctrl-C skips the chair.
    """
    if warn is not None and stop_reason == "keyboard interrupt" and ask_chair:
        warn(f"amatelier: {CTRL_C_NOTE}")
    record = write_decision(state, stop_reason, partial, backend=backend, ask_chair=ask_chair,
                            log=(lambda text: warn(f"amatelier: {text}")) if warn else None)
    return {"decision": record, **positions_fields(state.conn, state.rt_id)}


def after_debate(state: Any, *, rounds_run: int, cut_reason: str | None,
                 warn: Callable[[str], None] | None = None, ask_chair: bool = True) -> dict[str, Any]:
    """The runner's decide step: the stop reason from how the debate ended, then decide()."""
    reason = stop_reason_for(converged=bool(state.converged), rounds_run=rounds_run,
                             max_rounds=int(state.max_rounds), cut_reason=cut_reason)
    return decide(state, stop_reason=reason, partial=cut_reason is not None, warn=warn, ask_chair=ask_chair)


def was_interrupted(fields: dict[str, Any]) -> bool:
    """Whether Ctrl-C or SIGTERM arrived while the chair wrote (the later steps are then skipped)."""
    decision = fields.get("decision") if isinstance(fields, dict) else None
    return bool(isinstance(decision, dict) and (decision.get("chair") or {}).get("interrupted"))


def export_page(state: Any) -> str:
    """Write `export-<rt_id>.html` (the self-contained page) next to the digest; returns its path."""
    from amatelier import paths
    from amatelier.atomicio import write_text_atomic
    from amatelier.chat import roundtables
    from amatelier.debate.export_data import load_export
    from amatelier.debate.export_html import render_html

    rt = roundtables.get_roundtable(state.conn, state.rt_id)
    if rt is None:
        raise LookupError(f"no roundtable {state.rt_id}")
    path = paths.user_digest_dir() / f"export-{state.rt_id}.html"
    write_text_atomic(path, render_html(load_export(state.conn, rt, judge=state.judge)))
    return str(path)
