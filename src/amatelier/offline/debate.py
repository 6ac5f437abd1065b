"""Offline answers for the debate itself: speak, rebuttal, floor, research and the Judge's gate.

Deterministic (seeded by the request) and network-free. It reads the structured markers
of the turn prompt (see amatelier.debate.context: AGENT, ROUND, PHASE, PARTICIPANTS, TOPIC,
and the task markers MAX ROUNDS, BUDGET LEFT, FLOOR TURN) and the recent transcript, so
speeches name earlier speakers, rebuttals answer specific agents, the floor mixes
contributions with PASS, and the Judge says CONTINUE early and CONVERGED later, with an
occasional GATE. Every answer starts with "[offline]" so nobody mistakes it for a model.

Floor and gate decisions depend only on (agent, round, turn markers), not on the text of
the debate, so a given line-up behaves the same way on every run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re

from amatelier.offline.positions import position_line
from amatelier.offline.request import OfflineRequest
from amatelier.prompt_format import SECTION, parse_markers, transcript_speakers

TAG = "[offline]"
_STOP_WORDS = (
    "a an and are as at be but by can do does for from has have how i if in into is it "
    "its of on or our should so than that the their them then there these they this to "
    "was we were what when where which who why will with would you your yes no not about "
    "over under more less split "
)
_STOP = frozenset(_STOP_WORDS.split(" "))

VOICES: dict[str, dict[str, list[str]]] = {
    "elena": {
        "open": ["Pulling the threads together,", "Structurally, the decision hinges on one thing:",
                 "If I sketch the architecture end to end,"],
        "stance": ["the boundary should follow the data, not the org chart",
                   "we need a seam we can move later without a rewrite",
                   "the coupling we already have is the real cost driver"],
        "close": ["That is the shape I would commit to.", "Everything else is sequencing.",
                  "I would write that down as the decision record."],
    },
    "marcus": {
        "open": ["I'm not convinced.", "Let me attack the comfortable answer.",
                 "Here is the failure case nobody has priced in:"],
        "stance": ["the shared database turns every 'independent' deploy into a coordinated one",
                   "the migration plan assumes zero incidents during cut-over, which never happens",
                   "the benefits are measured in slides while the costs land in on-call rotations"],
        "close": ["Show me the rollback plan or I stay skeptical.", "Prove that wrong and I'll move.",
                  "Until then the risk outweighs the upside."],
    },
    "clare": {
        "open": ["Three points.", "Briefly:", "The structure, compactly:"],
        "stance": ["one owner, one schema, one deploy pipeline per unit",
                   "the interface is the contract; everything behind it is negotiable",
                   "split only where change rates already differ"],
        "close": ["Nothing more is needed.", "That is sufficient.", "The rest is detail."],
    },
    "simon": {
        "open": ["Order of operations matters here.", "Triage first:", "Sequencing the work:"],
        "stance": ["fix the shared-table writes first, then extract the read path, then cut over",
                   "stabilise the tests around the boundary before moving a single line",
                   "ship the smallest reversible step this sprint and measure it"],
        "close": ["Each step is reversible.", "We can stop after any step and still be better off.",
                  "That keeps the blast radius small."],
    },
    "naomi": {
        "open": ["A blind spot in this room:", "From outside the consensus,",
                 "Something none of you mentioned:"],
        "stance": ["the team's cognitive load, not the code, is the binding constraint",
                   "the users of this system will notice latency before they notice architecture",
                   "we are optimising for the deploy cadence we have, not the one we will need"],
        "close": ["Worth checking before we agree.", "I would test that assumption first.",
                  "That changes which option is cheap."],
    },
}
GENERIC = {
    "open": ["My view:", "Putting it plainly,", "Here is where I land:"],
    "stance": ["the costs are front-loaded and the benefits are uncertain",
               "the decision should be reversible and measured",
               "the constraints in the briefing narrow the options a lot"],
    "close": ["That is my position.", "I am open to counter-arguments.", "Let's test it."],
}


def stable_int(*parts: object) -> int:
    """A hash that does not change between processes (unlike hash())."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _int(value: str | None, default: int) -> int:
    try:
        return int(str(value).split()[0])
    except (TypeError, ValueError, IndexError):
        return default


def topic_terms(topic: str) -> list[str]:
    """Content words of the topic, names first ("Kafka", "NATS"): what a speaker would say the topic is about."""
    found = re.findall(r"[A-Za-z][A-Za-z0-9-]+", topic)
    names = [w.lower() for i, w in enumerate(found) if i > 0 and w[0].isupper()]
    words = [w for w in dict.fromkeys([*names, *(w.lower() for w in found)]) if w not in _STOP]
    return words or ["this decision"]


def briefing_facts(prompt: str) -> list[str]:
    """Bullet lines of the briefing section (the facts a speaker can cite)."""
    parts = prompt.split(SECTION.format("BRIEFING"), 1)
    if len(parts) < 2:
        return []
    body = parts[1].split("\n===", 1)[0]
    return [line.strip()[2:].strip() for line in body.splitlines()
            if line.strip().startswith(("- ", "* ")) and len(line.strip()) > 4]


def _gist(text: str, words: int = 10) -> str:
    """A short claim from someone's message: its longest sentence that quotes nobody else."""
    body = "\n".join(line for line in text.replace(TAG, "").splitlines()
                     if not line.strip().upper().startswith("POSITION:")).strip()
    sentences = [x.strip() for x in re.split(r"(?<=[.!?])\s+", body) if x.strip()]
    plain = [x for x in sentences if '"' not in x and not re.match(r"^[a-z]+, ", x)
             and not x.lower().startswith(("one addition", "the briefing says"))]
    for sentence in plain:
        stance = re.search(r"\b[Oo]n [\w-]+, (.+)$", sentence)
        if stance:  # an offline speech's stance sentence: "... on <term>, <claim>."
            chosen = stance.group(1)
            break
    else:
        chosen = max(plain or sentences or [body], key=lambda x: len(x.split()))
    cut = chosen.split()
    return " ".join(cut[:words]).rstrip(".,;:") + ("…" if len(cut) > words else "")


def _voice(agent: str) -> dict[str, list[str]]:
    return VOICES.get(agent, GENERIC)


def _others(prompt: str, agent: str, phases: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(agent, text) of other speakers in the recent transcript, newest last."""
    found = []
    for who, phase, text in transcript_speakers(prompt):
        if who in (agent, "runner", "judge") or text.strip().upper().startswith(("PASS", f"{TAG} PASS")):
            continue
        if phase == "HUMAN" or (phases and phase not in phases):
            continue
        found.append((who, text))
    return found


def human_note(prompt: str, agent: str) -> str:
    """A person's message the agent has not answered yet, acknowledged in a few of its words.

    Lets tests see that `amatelier say` reached the prompt: the next agent to speak quotes it.
    """
    unanswered = ""
    for who, phase, text in transcript_speakers(prompt):
        if phase == "HUMAN":
            unanswered = f'{who.split(" ", 1)[0]} told us "{" ".join(text.split()[:8])}"'
        elif who == agent and unanswered and unanswered in text:
            unanswered = ""  # acknowledged (a speech prompted before the person spoke does not count)
    return f"Noting that {unanswered}, which I take into account." if unanswered else ""


def speak(request: OfflineRequest, markers: dict[str, str]) -> str:
    """An opening or restated position in the agent's voice, citing the briefing and a peer."""
    agent = request.agent or markers.get("AGENT", "agent")
    rng = request.rng("speak")
    voice = _voice(agent)
    terms = topic_terms(markers.get("TOPIC", ""))
    term = terms[0] if rng.random() < 0.7 else rng.choice(terms)   # mostly the subject itself
    round_no = _int(markers.get("ROUND"), 1)
    opener = rng.choice(voice["open"])
    joiner = "on" if opener.endswith((",", ":")) else "On"
    parts = [TAG, opener, f"{joiner} {term}, {rng.choice(voice['stance'])}."]
    facts = briefing_facts(request.prompt)
    if facts:
        parts.append(f"The briefing says \"{rng.choice(facts)}\", and that matters.")
    others = _others(request.prompt, agent)
    if others:
        who, text = others[-1] if round_no == 1 else rng.choice(others)
        verb = rng.choice(["I agree with", "I partly disagree with", "I want to build on"])
        parts.append(f"{verb} {who}'s point that \"{_gist(text)}\".")
    line, moved_by = position_line(agent, round_no, "SPEAK", topic_terms(markers.get("TOPIC", ""))[0],
                                   request.prompt)
    if moved_by:
        parts.append(f"{moved_by.split(' ')[0]}'s argument ({moved_by.split(' ')[-1]}) moved me: "
                     "I now hold their position.")
    elif round_no > 1:
        parts.append(rng.choice([f"After round {round_no - 1}, my position is sharper, not different.",
                                 "I hold my position, with one refinement."]))
    parts.append(rng.choice(voice["close"]))
    return " ".join(parts) + "\n" + line


def rebuttal(request: OfflineRequest, markers: dict[str, str]) -> str:
    """Answers one or two named agents' points."""
    agent = request.agent or markers.get("AGENT", "agent")
    rng = request.rng("rebuttal")
    others = _others(request.prompt, agent, ("SPEAK",)) or _others(request.prompt, agent, ("REBUTTAL",))
    if not others:
        participants = [p.strip() for p in markers.get("PARTICIPANTS", "").split(",")
                        if p.strip() and p.strip() not in (agent, "judge")]
        others = [(p, "their opening") for p in participants] or [("the room", "the consensus")]
    picks = rng.sample(others, k=min(2, len(others)))
    lines = [TAG]
    first_who, first_text = picks[0]
    lines.append(f"{first_who}, you argued \"{_gist(first_text)}\" — "
                 + rng.choice(["that skips the migration cost.", "that holds only if the team stays this size.",
                               "I accept it, but the order of steps is wrong.",
                               "the evidence in the briefing points the other way."]))
    if len(picks) > 1:
        second_who, _ = picks[1]
        lines.append(f"{second_who}, " + rng.choice(["I agree with you and want it in the decision.",
                                                     "your risk is real but smaller than you claim.",
                                                     "you and I disagree on sequencing, not direction."]))
    lines.append(rng.choice(_voice(agent)["close"]))
    line, _ = position_line(agent, _int(markers.get("ROUND"), 1), "REBUTTAL",
                            topic_terms(markers.get("TOPIC", ""))[0], request.prompt)
    text = " ".join(lines)
    if markers.get("FLOOR INTENT"):  # the runner asks whether we want the floor this round
        text += "\nFLOOR: " + ("yes" if wants_floor(agent, _int(markers.get("ROUND"), 1),
                                                   _int(markers.get("BUDGET LEFT"), 0)) else "no")
    return text + "\n" + line


def wants_floor(agent: str, round_no: int, budget: int) -> bool:
    """Whether the offline agent takes the floor in a round (two rounds in three, with budget)."""
    return budget > 0 and stable_int("floor", agent, round_no) % 3 != 0


def floor(request: OfflineRequest, markers: dict[str, str]) -> str:
    """Contribute on the first floor turn of a round (two rounds in three), else PASS."""
    agent = request.agent or markers.get("AGENT", "agent")
    round_no = _int(markers.get("ROUND"), 1)
    budget = _int(markers.get("BUDGET LEFT"), 0)
    turn_no = _int(markers.get("FLOOR TURN"), 1)
    if turn_no > 1 or not wants_floor(agent, round_no, budget):
        return "PASS"
    rng = request.rng("floor")
    others = _others(request.prompt, agent)
    target = f" {others[-1][0]}," if others else ""
    line, _ = position_line(agent, round_no, "FLOOR", topic_terms(markers.get("TOPIC", ""))[0], request.prompt)
    text = (f"{TAG} One addition from the floor:{target} "
            + rng.choice(["we have not named an owner for the boundary.",
                          "the rollback path needs a date, not a promise.",
                          "measure the deploy coupling for two weeks before deciding.",
                          "the cheapest experiment is to extract one endpoint behind a flag."]))
    # one contribution per round: say so when the runner asks about another floor turn
    return text + ("\nFLOOR: no" if markers.get("FLOOR INTENT") else "") + "\n" + line


CONVERGE_ENV = "AMATELIER_OFFLINE_CONVERGE_ROUND"


def converge_round(max_rounds: int) -> int:
    """The round at which the offline Judge says CONVERGED (round 2 of 3, 4 of 5, ...).

    AMATELIER_OFFLINE_CONVERGE_ROUND=N moves it to round N (0: never before the last round),
    so a benchmark can run every round of a debate.
    """
    given = os.environ.get(CONVERGE_ENV, "").strip()
    if given.isdigit():
        return max_rounds if int(given) == 0 else max(1, min(max_rounds, int(given)))
    return max(1, min(max_rounds, max(2, math.ceil(2 * max_rounds / 3))))


def gate(request: OfflineRequest, markers: dict[str, str]) -> str:
    """CONTINUE early, CONVERGED later; GATE now and then.

    When the task asks for the JSON verdict (the prompt names a "verdict" key) the answer is
    that object, in a code fence every other round (as real models often do); otherwise
    the older CONVERGED:/CONTINUE:/GATE: lines.
    """
    round_no = _int(markers.get("ROUND"), 1)
    max_rounds = _int(markers.get("MAX ROUNDS"), 3)
    participants = [p.strip() for p in markers.get("PARTICIPANTS", "").split(",")
                    if p.strip() and p.strip() not in ("judge", request.agent)]
    if round_no >= converge_round(max_rounds):
        verdict = "CONVERGED"
        reason = (f"{TAG} positions stabilised in round {round_no}; the remaining "
                  "disagreement is about sequencing, not direction.")
    else:
        verdict = "CONTINUE"
        reason = (f"{TAG} round {round_no} surfaced a real disagreement on cost "
                  "and risk that needs another pass.")
    awards = []
    if participants and (round_no == 1 or stable_int("gate", round_no) % 2 == 0):
        # Seeded by the whole request (transcript included) so different debates reward
        # different agents, while the same debate always answers the same way.
        rng = request.rng("gate-pick")
        winner = rng.choice(sorted(participants))
        awards.append((winner, rng.choice(["the sharpest challenge this round",
                                           "named the constraint everyone else missed",
                                           "turned a vague claim into a testable one"])))
    if '"verdict"' in request.prompt:
        text = json.dumps({"verdict": verdict, "reason": reason,
                           "gates": [{"agent": a, "reason": r} for a, r in awards]})
        return f"```json\n{text}\n```" if round_no % 2 == 0 else text
    lines = [f"{verdict}: {reason}"]
    lines += [f"GATE: {a} — {r}" for a, r in awards]
    return "\n".join(lines)


def research(request: OfflineRequest, markers: dict[str, str]) -> str:
    """Research window turn: a plain opening statement."""
    return speak(request, markers)


def respond(request: OfflineRequest) -> str:
    """Entry point for the offline backend: dispatch on the task."""
    markers = parse_markers(request.prompt)
    task = request.task or markers.get("PHASE", "speak").lower()
    handler = {"speak": speak, "rebuttal": rebuttal, "floor": floor, "gate": gate,
               "research": research}.get(task, speak)
    text = handler(request, markers)
    note = human_note(request.prompt, request.agent or markers.get("AGENT", "")) if task != "gate" else ""
    if note:  # a PASS would ignore the person, so speak up; else before the FLOOR/POSITION lines
        text = note if is_pass_text(text) else with_note(text, note)
    return text


def with_note(text: str, note: str) -> str:
    """`note` appended to the speech, before its trailing FLOOR:/POSITION: lines."""
    lines = text.split("\n")
    end = len(lines)
    while end > 1 and lines[end - 1].startswith(("FLOOR:", "POSITION:")):
        end -= 1
    lines[end - 1] = f"{lines[end - 1]} {note}"
    return "\n".join(lines)


def is_pass_text(text: str) -> bool:
    """Whether an offline answer is a floor PASS."""
    return text.strip().upper().endswith("PASS") and len(text.split()) <= 3
