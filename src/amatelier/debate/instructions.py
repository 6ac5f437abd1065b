"""The task text of each turn: markers for the parser, then a short paragraph for the model."""

from __future__ import annotations

from amatelier.debate.positions import FLOOR_POSITION_INSTRUCTION, POSITION_INSTRUCTION
from amatelier.judging.prompts import gate_instructions

# One paragraph per phase, for a real model: what to do, how long, and the exact reply form
# where the runner parses it. `{where}` is "Round r of n".
PHASE_TEXT: dict[str, str] = {
    "SPEAK": ("{where} · SPEAK. State your position on the topic in your own voice, in at most "
              "~200 words. Be concrete: cite the briefing where it supports you, and answer other "
              "agents by name where you agree or disagree."),
    "REBUTTAL": ("{where} · REBUTTAL. Answer the strongest points made this round, naming the agents "
                 "you answer: rebut what you think is wrong and say why, support what is right. At "
                 "most ~150 words. Do not repeat your opening."),
    "FLOOR": ("{where} · OPEN FLOOR. You asked for the floor: add something new that would change the "
              "decision (a missed risk, a fact, a better option), in at most ~100 words; it costs 1 "
              "budget. " + FLOOR_POSITION_INSTRUCTION + " If you have nothing new after all, reply "
              "with exactly one word: PASS"),
    "RESEARCH": ("Research window before the debate: give a short opening statement and, if you need "
                 "facts from the registered files, ask with [[request: ...]] tags."),
}


# The floor is opened only to agents who ask for it at the end of a turn, so nobody is called
# just to answer PASS (debate.signals.floor_intent reads the closing lines). The reply form
# stays mid-sentence, so a model quoting its instructions cannot ask by accident.
FLOOR_ASK = ("Also say whether you want the open floor after the Judge's gate (a short extra "
             "contribution that costs 1 budget; you have {budget} left): on a line of its own just "
             "before the POSITION line, write `FLOOR: yes` or `FLOOR: no`.")
FLOOR_AGAIN = ("If you speak and want one more floor turn after this one, put a line `FLOOR: yes` "
               "just before your POSITION line; otherwise `FLOOR: no`.")
OPENING_TEXT = ("This is an independent opening: the others write theirs at the same time and you "
                "will not see them before you answer, so state your own position.")


def _extras(phase: str, *, round: int, max_rounds: int, agents: list[str] | None,
            budget_left: int | None = None, floor_intent: bool = False,
            independent: bool = False) -> list[str]:
    """Sentences a phase adds in some rounds (later rounds, the last round, the gate's roster)."""
    last = round >= max_rounds
    extra: list[str] = []
    if independent and phase == "SPEAK":
        extra.append(OPENING_TEXT)
    if phase == "SPEAK":
        if round > 1:
            extra.append("Say whether your position moved since your last speech, and why.")
        if last and max_rounds > 1:
            extra.append("This is the last round: end with your final position in one sentence.")
    if phase in ("SPEAK", "REBUTTAL"):
        extra.append(POSITION_INSTRUCTION)
    if floor_intent and phase == "REBUTTAL":
        extra.append(FLOOR_ASK.format(budget=budget_left or 0))
    if floor_intent and phase == "FLOOR":
        extra.append(FLOOR_AGAIN)
    return extra


def instructions(phase: str, *, round: int, max_rounds: int, budget_left: int | None = None,
                 floor_turn: int | None = None, agents: list[str] | None = None,
                 floor_intent: bool = False, independent: bool = False) -> str:
    """Task text for a turn: `KEY: value` markers first (see debate.context), then prose.

    The gate's task (its verdict format included) comes from judging.prompts: the Judge's
    output contracts live with the Judge. `floor_intent` asks for a closing `FLOOR: yes|no`
    line (REBUTTAL, FLOOR); `independent` marks a round-1 opening written without seeing the
    others (`OPENING: independent`).
    """
    if phase == "GATE":
        return gate_instructions(round=round, max_rounds=max_rounds, agents=agents)
    if phase not in PHASE_TEXT:
        raise KeyError(phase)
    markers = [f"MAX ROUNDS: {max_rounds}"]
    if budget_left is not None:
        markers.append(f"BUDGET LEFT: {budget_left}")
    if floor_turn is not None:
        markers.append(f"FLOOR TURN: {floor_turn}")
    if floor_intent:
        markers.append("FLOOR INTENT: ask")
    if independent:
        markers.append("OPENING: independent")
    prose = " ".join([PHASE_TEXT[phase].format(where=f"Round {round} of {max_rounds}"),
                      *_extras(phase, round=round, max_rounds=max_rounds, agents=agents,
                               budget_left=budget_left, floor_intent=floor_intent,
                               independent=independent)])
    return "\n".join(markers) + "\n\n" + prose


def budget_status(budgets: dict[str, int], start: dict[str, int]) -> str:
    """The `BUDGET STATUS: elena 2/3, ...` line posted at each round start."""
    return "BUDGET STATUS: " + ", ".join(f"{a} {budgets.get(a, 0)}/{start.get(a, 0)}" for a in start)
