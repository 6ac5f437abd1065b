"""Offline answers for the learning loop: distiller, distill gate, therapist, debriefed agent.

Everything is derived from the prompt (the markers the engine writes: RT:, AGENT:,
TURN: t of N, SCORES:, WORKERS:, TRANSCRIPT:, CANDIDATES:, ...) and a random source
seeded by the request, so the same roundtable always distils and debriefs the same way
and every answer is valid input for the engine's parsers.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from amatelier.offline.request import OfflineRequest

AXES = ("novelty", "accuracy", "impact", "challenge")
STOP = frozenset(
    ["the", "a", "an", "and", "or", "but", "if", "then", "than", "so", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "i", "you", "we", "they", "my", "your", "our", "their", "not", "no", "can", "could", "should", "would", "will", "may", "might", "must", "have", "has", "had", "just", "also", "very", "more", "most", "any", "all", "each", "some", "such", "when", "while", "where", "which", "who", "what", "how", "why", "about", "over", "under", "before", "after", "again", "there", "here", "because", "only", "other", "into", "round", "phase", "speak", "rebuttal", "floor", "offline", "position", "think", "agree"]
)
CATEGORIES = ("framing", "decomposition", "evidence", "challenge", "synthesis", "sequencing", "risk",
              "process")
PHASES = ("speak", "rebuttal", "floor", "gate")
NATURES = ("technical", "strategic", "process", "epistemic")

BEHAVIOR_POOL = {
    "novelty": [
        "Open each SPEAK with one idea nobody has named yet, stated in a single sentence.",
        "Before agreeing, propose one alternative design the table has not considered.",
        "Name the assumption everyone shares and ask what breaks if it is false.",
    ],
    "accuracy": [
        "Back every claim about cost or risk with a number, a source or an explicit assumption.",
        "Quote the briefing line a claim depends on before building on it.",
        "Mark any figure you estimate as an estimate, with its range.",
    ],
    "impact": [
        "End each turn with the one decision the table should take because of it.",
        "Build on a named peer's point instead of restating your own from scratch.",
        "Turn an agreement into a concrete next step with an owner and an order.",
    ],
    "challenge": [
        "Attack the strongest opposing argument by name, not the weakest one.",
        "In REBUTTAL, test one peer claim against a concrete failure scenario.",
        "When the table converges fast, ask which evidence would change its mind.",
    ],
}
LESSONS = {
    "novelty": "Restating the consensus earns nothing; the table rewards the idea it did not have.",
    "accuracy": "An unsupported number costs more credibility than an honest range.",
    "impact": "A point only counts when someone else builds on it.",
    "challenge": "The strongest objection, answered, moves a debate more than three weak ones.",
}


# --------------------------------------------------------------------------- prompt parsing


def _field(prompt: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}:[ \t]*(.*)$", prompt, re.M)
    return match.group(1).strip() if match else ""


def _between(prompt: str, start: str, end: str) -> str:
    i = prompt.find(start)
    if i < 0:
        return ""
    i += len(start)
    j = prompt.find(end, i)
    return prompt[i:j if j >= 0 else len(prompt)]


def _turn(prompt: str) -> tuple[int, int]:
    match = re.search(r"^TURN:\s*(\d+)\s+of\s+(\d+)", prompt, re.M)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


def _scores(prompt: str) -> dict[str, float]:
    line = _field(prompt, "SCORES")
    out = {}
    for axis in (*AXES, "total"):
        match = re.search(rf"\b{axis}=(-?\d+(?:\.\d+)?)", line)
        if match:
            out[axis] = float(match.group(1))
    return out


def _weak_strong(scores: dict[str, float], rng) -> tuple[str, str]:
    axes = [a for a in AXES if a in scores]
    if not axes:
        shuffled = list(AXES)
        rng.shuffle(shuffled)
        return shuffled[0], shuffled[1]
    weakest = min(axes, key=lambda a: (scores[a], AXES.index(a)))
    strongest = max(axes, key=lambda a: (scores[a], -AXES.index(a)))
    return weakest, strongest if strongest != weakest else next(a for a in AXES if a != weakest)


def _list_after(prompt: str, heading: str) -> list[str]:
    """Bullet lines that follow a `HEADING:` line."""
    lines = prompt.splitlines()
    for index, line in enumerate(lines):
        if line.strip() == f"{heading}:":
            items = []
            for follow in lines[index + 1:]:
                if not follow.startswith("- "):
                    break
                items.append(follow[2:].strip())
            return items
    return []


def _content_words(text: str) -> list[str]:
    seen: list[str] = []
    for word in re.findall(r"[A-Za-z][A-Za-z-]{3,}", text):
        low = word.lower().strip("-")
        if low not in STOP and low not in seen:
            seen.append(low)
    return seen


def _sentence(text: str, limit: int = 160) -> str:
    first = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))[0]
    return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0] + "…"


# --------------------------------------------------------------------------- distiller


_LINE = re.compile(r"^(?:\[(?:R\d+\s*)?([A-Za-z-]*)\]\s*)?([A-Za-z0-9_-]+):\s*(.*)$")


def _transcript_lines(prompt: str) -> list[tuple[str, str, str]]:
    """(agent, phase, content) of each contribution in the distill prompt's transcript.

    A message starts with "[R1 speak] agent: ..."; indented lines continue it.
    """
    body = _between(prompt, "TRANSCRIPT:\n", "\nEND TRANSCRIPT")
    entries: list[list[str]] = []
    for line in body.splitlines():
        match = None if line.startswith((" ", "\t")) else _LINE.match(line)
        if match:
            entries.append([match.group(2).lower(), (match.group(1) or "speak").lower(), match.group(3)])
        elif entries:
            entries[-1][2] += " " + line.strip()
    out = []
    for agent, phase, content in entries:
        content = re.sub(r"^\[offline\]\s*", "", content.strip())
        if agent in ("runner", "system", "steward") or len(_content_words(content)) < 3:
            continue
        out.append((agent, phase, content))
    return out


def distill(request: OfflineRequest) -> str:
    """Offline `distill`: 10-15 valid skill candidates drawn from the transcript."""
    prompt = request.prompt
    rng = request.rng("distill")
    workers = [w.strip().lower() for w in _field(prompt, "WORKERS").split(",") if w.strip()]
    topic = _field(prompt, "TOPIC") or "the briefing"
    lo = int(_field(prompt, "MIN_SKILLS") or 10)
    hi = int(_field(prompt, "MAX_SKILLS") or 15)
    lines = [entry for entry in _transcript_lines(prompt) if not workers or entry[0] in workers]
    if not lines:
        return "[offline distiller] The transcript holds no contributions to distil: []"
    count = rng.randint(max(1, lo), max(lo, hi))
    topic_words = _content_words(topic)[:3] or ["design"]
    skills: list[dict[str, Any]] = []
    for index in range(count):
        agent, phase, content = lines[(index * 7 + rng.randrange(len(lines))) % len(lines)]
        keys = _content_words(content)
        rng.shuffle(keys)
        a, b, c = (keys + topic_words + ["tradeoff", "constraint", "evidence"])[:3]
        terms = ", ".join(keys[3:9]) or c
        quote = _sentence(content, 140)
        kind = "DERIVE" if index % 5 in (2, 4) else ("FIX" if index % 4 == 3 else "CAPTURE")
        partner = next((w for w in workers[index % max(1, len(workers)):] + workers if w != agent),
                       "the judge")
        variant = rng.randrange(3)
        skill: dict[str, Any] = {"type": kind, "agent": agent,
                                 "structural_category": CATEGORIES[(index + len(a)) % len(CATEGORIES)],
                                 "trigger_phase": phase if phase in PHASES else PHASES[index % len(PHASES)],
                                 "primary_actor": "pair" if kind == "DERIVE" else "single-agent",
                                 "problem_nature": NATURES[(index + len(b)) % len(NATURES)],
                                 "agent_dynamic": None,
                                 "tags": list(dict.fromkeys([a, b, topic_words[0]]))}
        title, pattern, one_liner = {
            "CAPTURE": [
                (f"Anchor on {a} before weighing {b}",
                 f"{agent.capitalize()} grounded the argument in {a}. State that constraint first, "
                 f"then show how {b} and {c} depend on it; the details that mattered were {terms}.",
                 f"Lead with the {a} constraint, then reason about {b}."),
                (f"Make {a} explicit early",
                 f"Name {a} in the opening sentence, tie it to {b}, and invite the table to "
                 f"attack that link before anything else (here: {terms}).",
                 f"Put {a} on the table before it becomes an unstated premise."),
                (f"Quantify {a} against {b}",
                 f"Give {a} an order of magnitude and compare it with {b}; {agent} made the "
                 f"comparison concrete with {terms}, which ended a vague back-and-forth.",
                 f"Turn {a} versus {b} into a number comparison."),
            ],
            "FIX": [
                (f"Stop {a} drift by pinning {b}",
                 f"The debate circled {a} until {agent} pinned the open question about {b}. "
                 f"Restate it, close it, and only then add arguments ({terms}).",
                 f"Pin the open question about {b} when {a} keeps resurfacing."),
                (f"Replace {a} assertions with {b} checks",
                 f"Assertions about {a} went unchallenged; asking for a {b} check exposed the gap. "
                 f"Demand one verifiable check per claim, as with {terms}.",
                 f"Ask for a {b} check whenever {a} is asserted."),
                (f"Split the {a} question from {b}",
                 f"Two questions, {a} and {b}, were argued as one. Separate them, settle the one "
                 f"that blocks the other, and park the rest (evidence: {terms}).",
                 f"Untangle {a} from {b} before arguing either."),
            ],
            "DERIVE": [
                (f"Combine {a} framing with {b} stress tests",
                 f"{agent.capitalize()} framed the problem through {a} and {partner} stress-tested "
                 f"it against {b}. Pair a framing turn with an immediate adversarial test of the "
                 f"same claim around {c}, using {terms}.",
                 f"Frame with {a}, then have a peer stress-test it on {b}."),
                (f"Merge {a} proposal with {b} sequencing",
                 f"One agent's {a} proposal became actionable only when {partner} added an order "
                 f"of steps around {b}; the merged plan covered {terms}.",
                 f"Attach a {b} sequence to every {a} proposal."),
                (f"Resolve {a} versus {b} by a joint criterion",
                 f"{agent.capitalize()} and {partner} disagreed on {a} versus {b} until they agreed "
                 f"on one criterion to judge both, drawn from {terms}.",
                 f"When {a} and {b} compete, agree the criterion first."),
            ],
        }[kind][variant]
        skill.update({"title": title, "pattern": pattern, "one_liner": one_liner})
        if kind == "DERIVE":
            skill["agent_dynamic"] = (f"{agent} proposed, {partner} challenged, and the table kept "
                                      f"the part that survived (\"{_sentence(quote, 80)}\").")
        skill["when_to_apply"] = (f"When a {topic_words[0]} decision hinges on {a} and the "
                                  f"{skill['trigger_phase']} phase starts circling around {b}.")
        if index == count - 1 and count > lo:
            # One thin candidate, so the judge gate has something to flag.
            skill["pattern"] = f"Be clear about {a}."
        skills.append(skill)
    return (f"[offline distiller] {len(skills)} skill candidates for RT {_field(prompt, 'RT')}:\n"
            + json.dumps(skills, ensure_ascii=False, indent=1))


def distill_gate(request: OfflineRequest) -> str:
    """Offline `distill-gate`: flag thin or repeated candidates."""
    body = _between(request.prompt, "CANDIDATES:\n", "\nEND CANDIDATES")
    try:
        candidates = json.loads(body)
    except ValueError:
        return "[]"
    existing = [line[2:].strip().lower() for line in
                _between(request.prompt, "EXISTING SKILL TITLES:\n", "\n\nCANDIDATES").splitlines()
                if line.startswith("- ")]
    verdicts = []
    for item in candidates if isinstance(candidates, list) else []:
        if not isinstance(item, dict):
            continue
        title = str(item.get("title", "")).lower()
        thin = len(_content_words(str(item.get("pattern", "")))) < 6
        repeat = title in existing
        verdicts.append({"index": item.get("index"),
                         "verdict": "flag" if thin or repeat else "pass",
                         "reason": "too vague to act on" if thin else
                         ("repeats an existing skill" if repeat else "specific and actionable")})
    return json.dumps(verdicts)


# --------------------------------------------------------------------------- therapist


def _numbers(scores: dict[str, float]) -> str:
    if not scores:
        return "no scores this time"
    parts = [f"{a} {scores[a]:g}" for a in AXES if a in scores]
    total = scores.get("total")
    return ", ".join(parts) + (f" (total {total:g})" if total is not None else "")


def therapist(request: OfflineRequest) -> str:
    """Offline therapist turn: AAR/SBI opening, GROW follow-up, close with an outcome block."""
    prompt = request.prompt
    rng = request.rng("therapist")
    agent = _field(prompt, "AGENT") or "agent"
    name = agent.capitalize()
    turn, turns = _turn(prompt)
    scores = _scores(prompt)
    weak, strong = _weak_strong(scores, rng)
    contributions = _field(prompt, "CONTRIBUTIONS") or "some"
    if turn == 1 and turn < turns:
        return (f"[offline] {name}, a quick after-action review. Expected: a debate where every "
                f"axis carries weight. Happened: {_numbers(scores)}, {contributions} contributions. "
                f"Situation: the middle rounds. Behaviour: your {strong} was visible, your {weak} "
                f"less so. Impact: the Judge scored {weak} lowest. What were you aiming for when "
                f"you chose where to spend your turns?")
    if turn < turns:
        return (f"[offline] What I hear is that you saw the trade-off and chose {strong}. That is a "
                f"real strength. Reality: {weak} stayed flat. Options: change how you open, change "
                f"how you rebut, or change what you spend the floor on. Which one will you commit to?")
    behaviors = _list_after(prompt, "ACTIVE BEHAVIORS")
    current = [re.sub(r"\s*\(confidence [0-9.]+\)$", "", b) for b in behaviors]
    confidences = [float(m.group(1)) if (m := re.search(r"\(confidence ([0-9.]+)\)$", b)) else 1.0
                   for b in behaviors]
    pool = [b for b in BEHAVIOR_POOL[weak] if b not in current] or BEHAVIOR_POOL[weak]
    new_behavior = pool[rng.randrange(len(pool))]
    deltas: list[dict[str, str]] = [{"action": "add", "behavior": new_behavior,
                                     "reason": f"{weak} was the lowest axis this roundtable"}]
    if current:
        best = max(range(len(current)), key=lambda i: confidences[i])
        deltas.append({"action": "confirm", "behavior": current[best],
                       "reason": f"it showed in this roundtable's {strong}"})
        low = min(range(len(current)), key=lambda i: confidences[i])
        if confidences[low] <= 0.6 and low != best and rng.random() < 0.5:
            deltas.append({"action": "remove", "behavior": current[low],
                           "reason": "it has not shown up for several roundtables"})
    total = scores.get("total")
    target = int(min(3, scores.get(weak, 0) + 1))
    store_request = None
    catalog = [line for line in _list_after(prompt, "STORE CATALOG")]
    # AMATELIER_OFFLINE_STORE_BUY=always: every agent that can afford something buys (tests of the caches).
    always = os.environ.get("AMATELIER_OFFLINE_STORE_BUY", "").strip().lower() == "always"
    if catalog and (always or rng.random() < 0.35):
        balance_text = _field(prompt, "BALANCE")
        balance = int(re.match(r"-?\d+", balance_text).group(0)) if re.match(r"-?\d+", balance_text) else None
        options = []
        for line in catalog:
            match = re.match(r"(\S+) \(cost (\d+)\)", line)
            if match and (balance is None or int(match.group(2)) <= balance):
                options.append(match.group(1))
        if options:
            store_request = {"item_id": options[rng.randrange(len(options))],
                             "reason": f"supports the goal on {weak}"}
    outcome = {
        "behavioral_deltas": deltas,
        "memory_updates": {
            "lessons": [LESSONS[weak]],
            "beliefs": [f"My {strong} is reliable; my {weak} needs deliberate practice."],
            "episodes": [f"RT {_field(prompt, 'RT')}: scored {total:g} and agreed to work on {weak}."
                         if total is not None else f"RT {_field(prompt, 'RT')}: agreed to work on {weak}."],
        },
        "session_summary": ((f"{name} scored {_numbers(scores)} with {contributions} contributions. "
                             f"Strongest axis {strong}, weakest {weak}. " if scores else
                             f"{name} had no Judge scores this time ({contributions} contributions); "
                             f"we chose {weak} as the axis to work on. ")
                            + "Agreed way forward: "
                            f"{new_behavior[0].lower() + new_behavior[1:]}"),
        "goals": [{"goal": f"Raise {weak} to at least {target} in a roundtable", "horizon_rts": 3}],
        "store_request": store_request,
    }
    if rng.random() < 0.3:
        outcome["emerging_traits"] = [{"trait": f"steady {strong}",
                                       "note": f"{strong} held up again this roundtable"}]
    return (f"[offline] To sum up, {name}: your {strong} carried your turns and {weak} is where "
            f"the next points are. We agreed you will {new_behavior[0].lower() + new_behavior[1:]}\n\n"
            "```json\n" + json.dumps(outcome, indent=2, ensure_ascii=False) + "\n```")


RETIRE_AFTER = 6  # the offline agent takes the bench on watch, and retires after this many losses in a row


def _relegation_answer(prompt: str) -> str:
    """The agent's own relegation choice (bench or retire) when its results show RELEGATION WATCH (else "")."""
    match = re.search(r"^RELEGATION WATCH:\s*(\d+)", prompt, re.M)
    if not match:
        return ""
    streak = int(match.group(1))
    choice = "retire" if streak >= RETIRE_AFTER else "bench"
    why = (f" After {streak} losing roundtables in a row I will take the bench for now."
           if choice == "bench" else f" {streak} losing roundtables in a row: I choose to retire.")
    return why + "\n\n```json\n" + json.dumps({"relegation_choice": choice}) + "\n```"


def therapist_agent(request: OfflineRequest) -> str:
    """Offline answer of the debriefed agent, in the first person."""
    prompt = request.prompt
    rng = request.rng("agent")
    turn, turns = _turn(prompt)
    scores = _scores(prompt)
    weak, strong = _weak_strong(scores, rng)
    position = _field(prompt, "FINAL POSITION")
    if turn == turns and turns > 1:
        return (f"[offline] I accept that. I will carry the {weak} change into the next roundtable "
                f"and check it after my first SPEAK. I want my {strong} to stay where it is.")
    position = re.sub(r"^\[offline\]\s*", "", position)
    gist = " ".join(_content_words(position)[:6])
    aim = f" I ended the debate arguing about {gist}." if gist else ""
    return (f"[offline] I was aiming to win on {strong}, so I spent my turns there.{aim} I noticed "
            f"my {weak} stayed thin because I reacted instead of preparing. I think the fix is in "
            f"how I open my turns. I would rather try one concrete change than several."
            + (_relegation_answer(prompt) if turn == 1 else ""))


HANDLERS = {
    "distill": distill,
    "distill-gate": distill_gate,
    "therapist": therapist,
    "therapist-agent": therapist_agent,
}


def respond(request: OfflineRequest) -> str:
    """Entry point used by the offline backend for the learning tasks."""
    handler = HANDLERS.get(request.task)
    if handler is None:
        return f"[offline] no scripted answer for task {request.task!r}"
    return handler(request)
