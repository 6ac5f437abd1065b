"""Seams where the Steward joins a roundtable.

The runner's speak phase works on a queue: after each speech it calls after_speech();
True means the speaker asked for research and goes to the back of the queue. Before
each next speaker it calls poll(); when every remaining speaker is waiting it calls
intermission(); before REBUTTAL it calls drain().

What the runner provides (contract):

* ``setup(state)`` is called at step 6, before anything is posted; it reads
  ``state.briefing_text`` with ``state.launch_dir`` and keeps its per-RT objects in
  ``state.notes["steward"]``. It never posts (the RT row may not exist yet).
* ``state.notes["run_turn"]`` must be set before ``research_window(state)`` (step 15):
  a callable ``run_turn(agent, phase, instructions)`` that runs ONE turn for `agent`
  (posting the YOUR TURN line, waiting for the worker) and returns the message text the
  agent posted — a str, or an object with a ``.text`` attribute (the runner's
  TurnOutcome) — or None / text None when it timed out. The research window calls it
  with phase ``"RESEARCH"`` for each of ``state.workers`` in order; the worker maps that
  phase to backend task ``"research"``, which the offline backend answers in
  amatelier.offline.steward.
* ``turn_instructions(state, agent)`` (optional) returns one paragraph to append to an
  agent's SPEAK/FLOOR turn instructions: how to ask the Steward and the budget left.
  It is "" when the Steward is off.
* Results are posted as ``runner`` messages with ``kind="steward"`` and the current
  ``state.current_round`` / ``state.current_phase`` (round 0, phase "RESEARCH" inside
  the research window). The phase banners RESEARCH WINDOW and INTERMISSION are posted
  with ``kind="phase"``.
* Background lookups never touch the database; every post happens in the runner
  thread inside these functions.
"""

from __future__ import annotations

from typing import Any

from amatelier.chat import messages
from amatelier.chat.db import transaction
from amatelier.chat.llm_calls import record_completion
from amatelier.state import RoundtableState
from amatelier.steward import audit
from amatelier.steward.formatting import format_result
from amatelier.steward.lookups import describe_grammar
from amatelier.steward.registry import load_registered_files
from amatelier.steward.requests import parse_requests
from amatelier.steward.session import Steward
from amatelier.steward.task import StewardTask

NOTES_KEY = "steward"
RESEARCH_PHASE = "RESEARCH"
RUN_TURN_KEY = "run_turn"
MAX_TAGS_PER_TURN = 10      # tags past this in one message are ignored


def _steward(state: RoundtableState) -> Steward | None:
    steward = state.notes.get(NOTES_KEY)
    return steward if isinstance(steward, Steward) else None


def setup(state: RoundtableState) -> None:
    """Step 6: read the briefing's registered files; decide whether the Steward is on."""
    audit.install_from_env()
    # The briefing file itself is always readable as `briefing`: a long one is cut in every prompt.
    registry = load_registered_files(state.briefing_text, state.launch_dir).with_briefing(state.briefing_path)
    state.notes[NOTES_KEY] = Steward(registry, state.config, state.mode,
                                     agents=list(state.workers))


def registered_display(steward: Steward) -> list[str]:
    """The registered entries as agents should write them."""
    return list(steward.registry.entries)


def research_instructions(steward: Steward) -> str:
    """The RESEARCH WINDOW turn text: free budget, the registered files, the grammar."""
    files = "\n".join(f"- {entry}" for entry in registered_display(steward))
    free = steward.research_budget.per_agent
    return (
        f"RESEARCH WINDOW (round 0, before the debate). You may ask the Steward up to {free} "
        "free factual questions about the user's files by writing [[request: ...]] tags in "
        "your reply, one question per tag. The Steward can read ONLY these registered files "
        "(paths relative to the directory the roundtable was launched from); any other path "
        "is refused as out of scope.\n"
        f"REGISTERED FILES:\n{files}\n\n{describe_grammar()}\n"
        "Answers are posted as [Research result for <you>] messages before round 1 begins. "
        "Say in one or two lines what you want to verify, then the tags."
    )


def turn_instructions(state: RoundtableState, agent: str) -> str:
    """One paragraph for SPEAK/FLOOR turns: how to ask the Steward and the budget left."""
    steward = _steward(state)
    if steward is None or not steward.enabled:
        return ""
    left = steward.budget.remaining(agent)
    files = ", ".join(registered_display(steward))
    return (f"STEWARD: you may ground a claim in the user's files with [[request: ...]] "
            f"({left} request(s) left this roundtable; registered files: {files}). Forms: "
            "'read PATH', 'lines A-B of PATH', 'key a.b in PATH', 'grep TEXT in PATH', "
            "'list files', or a plain question. The answer is posted to the chat before your "
            "next turn.")


def _post(state: RoundtableState, text: str, *, kind: str, round_num: int | None = None,
          phase: str | None = None) -> None:
    messages.post(state.conn, state.rt_id, "runner", text, kind=kind,
                  round=state.current_round if round_num is None else round_num,
                  phase=state.current_phase if phase is None else phase)


def _inject(state: RoundtableState, steward: Steward, tasks: list[StewardTask]) -> int:
    """Post each finished task's result, log it and record its model calls (runner thread)."""
    for task in tasks:
        result = task.wait(0)
        text = format_result(task.agent, task.request, result,
                             max_chars=steward.max_output_chars + 500)
        with transaction(state.conn):
            messages.post(state.conn, state.rt_id, "runner", text, kind="steward",
                          round=task.round_num, phase=task.phase)
            for completion in result.usage:
                record_completion(state.conn, completion, rt_id=state.rt_id, agent=task.agent,
                                  role="steward")
        steward.log.record(task.agent, task.request, result, task.round_num,
                           phase=task.phase, free=task.free)
    return len(tasks)


def turn_text(outcome: object) -> str:
    """The message text of a run_turn() answer: a str, or an object with `.text` (None = no answer)."""
    if outcome is None:
        return ""
    if isinstance(outcome, str):
        return outcome
    text = getattr(outcome, "text", None)
    return text if isinstance(text, str) else ""


def research_window(state: RoundtableState) -> None:
    """Step 15: pre-debate round 0 (free requests), when files are registered."""
    steward = _steward(state)
    if steward is None or not steward.enabled:
        return
    run_turn = state.notes.get(RUN_TURN_KEY)
    if not callable(run_turn):
        _post(state, "RESEARCH WINDOW skipped: the runner gave no way to run a research turn.",
              kind="system", round_num=0, phase=RESEARCH_PHASE)
        return
    instructions = research_instructions(steward)
    _post(state, "--- RESEARCH WINDOW (round 0) ---\n" + instructions, kind="phase",
          round_num=0, phase=RESEARCH_PHASE)
    limit = steward.research_budget.per_agent
    for agent in state.workers:
        text = turn_text(run_turn(agent, RESEARCH_PHASE, instructions))
        requests = parse_requests(text)[:MAX_TAGS_PER_TURN]
        if requests:
            # Tags beyond the free allowance are answered with denied_budget.
            steward.submit(agent, requests, round_num=0, phase=RESEARCH_PHASE, free=True)
        _inject(state, steward, steward.take_ready())
    steward.wait_all()
    _inject(state, steward, steward.take_ready())
    answered = sum(1 for entry in steward.log.entries() if entry["phase"] == RESEARCH_PHASE)
    _post(state, f"RESEARCH WINDOW closed: {answered} research result(s) posted "
                 f"(up to {limit} free request(s) per agent).",
          kind="phase", round_num=0, phase=RESEARCH_PHASE)


def after_speech(state: RoundtableState, agent: str, text: str) -> bool:
    """Step 19: start lookups for [[request:]] tags; True if the speaker is deferred."""
    steward = _steward(state)
    requests = parse_requests(text or "")
    if steward is None or not requests:
        return False
    tasks = steward.submit(agent, requests[:MAX_TAGS_PER_TURN], round_num=state.current_round,
                           phase=state.current_phase)
    return any(task.started for task in tasks)


def waiting(state: RoundtableState, agent: str) -> bool:
    """Whether `agent` still waits on a lookup (the runner skips it until it is done)."""
    steward = _steward(state)
    return steward is not None and steward.waiting(agent)


def poll(state: RoundtableState) -> None:
    """Inject results of finished lookups into the chat."""
    steward = _steward(state)
    if steward is not None:
        _inject(state, steward, steward.take_ready())


def intermission(state: RoundtableState) -> None:
    """Every remaining speaker waits on a lookup: post INTERMISSION and wait for them."""
    steward = _steward(state)
    if steward is None:
        return
    pending = [task for task in steward.pending() if not task.done.is_set()]
    if pending:
        agents = ", ".join(dict.fromkeys(task.agent for task in pending))
        _post(state, f"--- INTERMISSION --- every remaining speaker is waiting on the Steward "
                     f"({len(pending)} lookup(s) for {agents}); the phase resumes when they "
                     "are answered.", kind="phase")
        steward.wait_all(pending)
    _inject(state, steward, steward.take_ready())


def drain(state: RoundtableState) -> None:
    """Before REBUTTAL: wait for and inject every pending result."""
    steward = _steward(state)
    if steward is None:
        return
    steward.wait_all()
    _inject(state, steward, steward.take_ready())


def digest_fields(state: RoundtableState) -> dict[str, Any]:
    """The steward log for the digest (empty when the Steward was off)."""
    steward = _steward(state)
    if steward is None:
        return {"steward_enabled": False, "steward_log": []}
    # A lookup asked for after the last drain (e.g. in the final FLOOR) still belongs in the
    # audit trail; the roundtable is over, so it is logged but not posted.
    for task in steward.pending():
        result = task.wait(task.seconds_left())
        task.injected = True
        steward.log.record(task.agent, task.request, result, task.round_num, phase=task.phase,
                           free=task.free)
    return {
        "steward_enabled": steward.enabled,
        "steward_log": steward.log.entries(),
        "steward_registered": list(steward.registry.entries),
        "steward_rejected": [{"entry": entry, "reason": reason}
                             for entry, reason in steward.registry.rejected],
        "steward_budget": steward.budget.status(),
    }
