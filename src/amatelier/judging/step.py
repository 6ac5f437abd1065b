"""The after-debate step `scoring`: the jury scores every worker, before the economy settles.

Scores go to the `scores` table (the economy pays from there) and the digest's `judging`
section to `judging_results`, in one transaction. Running the step again for a roundtable
already scored asks no model anything and returns the stored section.
"""

from __future__ import annotations

import logging
from typing import Any

from amatelier.judging import panel, store
from amatelier.judging.scoring import load_scores, persist_scores
from amatelier.state import RoundtableState

log = logging.getLogger("amatelier.judging.step")


def score(state: RoundtableState, digest: dict[str, Any]) -> dict[str, Any]:
    """Score the roundtable's workers with the configured jury; returns `{"judging": ...}` for the digest."""
    from amatelier.chat.db import transaction
    from amatelier.chat.messages import transcript

    conn, rt_id = state.conn, state.rt_id
    missing = [w for w in state.workers if w not in load_scores(conn, rt_id)]
    if not missing:
        stored = store.load_judging(conn, rt_id)
        return {"judging": stored} if stored else {}
    outcome = panel.run_jury(conn, rt_id, missing, config=state.config, topic=state.topic, judge=state.judge,
                             messages=transcript(conn, rt_id), audit_forced=bool(getattr(state, "audit_judge", False)))
    with transaction(conn):
        persist_scores(conn, rt_id, outcome.scores)
        store.save_judging(conn, rt_id, outcome.judging)
    state.notes.setdefault("judging", {})["repaired"] = outcome.repaired
    return {"judging": outcome.judging}
