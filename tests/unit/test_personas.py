"""The bundled persona seeds: every agent is present, distinct, and teaches the protocol.

The engine, the evolver and the parsers rely on words in these files (the evolver edits
named sections; workers must know `PASS` and `[[request:`; the Judge and the Therapist
must emit the formats their parsers read), so the files are checked like code.
"""

from __future__ import annotations

import itertools
import json
import re

import pytest

from amatelier import paths

AGENTS = (
    "elena",
    "marcus",
    "clare",
    "simon",
    "naomi",
    "judge",
    "therapist",
    "opus-admin",
    "opus-therapist",
    "haiku-assistant",
)
WORKERS = ("elena", "marcus", "clare", "simon", "naomi")
EVOLVER_SECTIONS = ("## Learned Behaviors", "## Emerging Traits", "## Skills Owned")


def _read(agent: str, name: str) -> str:
    return (paths.bundled_agent_dir(agent) / name).read_text(encoding="utf-8")


def _fenced_json_blocks(text: str) -> list[str]:
    return re.findall(r"```json\n(.*?)\n```", text, flags=re.DOTALL)


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize("filename", ["CLAUDE.md", "IDENTITY.md"])
def test_every_agent_has_both_seed_files(agent: str, filename: str) -> None:
    path = paths.bundled_agent_dir(agent) / filename
    assert path.is_file(), f"missing {path}"
    text = path.read_text(encoding="utf-8").strip()
    assert len(text.split()) >= 80, f"{agent}/{filename} is too thin to be a persona"
    assert text.startswith("# "), f"{agent}/{filename} should open with a title"


def test_bundled_agent_set_is_exactly_the_ten() -> None:
    found = {p.name for p in paths.bundled_agents_dir().iterdir() if p.is_dir()}
    assert found == set(AGENTS)


@pytest.mark.parametrize("filename", ["CLAUDE.md", "IDENTITY.md"])
def test_seeds_are_distinct(filename: str) -> None:
    texts = {agent: _read(agent, filename) for agent in AGENTS}
    for a, b in itertools.combinations(AGENTS, 2):
        assert texts[a] != texts[b], f"{a} and {b} share the same {filename}"
        # Distinct in substance, not only in the name: most lines must differ.
        lines_a = {line for line in texts[a].splitlines() if line.strip()}
        lines_b = {line for line in texts[b].splitlines() if line.strip()}
        shared = len(lines_a & lines_b) / max(1, min(len(lines_a), len(lines_b)))
        assert shared < 0.5, f"{a} and {b} {filename} share {shared:.0%} of their lines"


@pytest.mark.parametrize("agent", AGENTS)
def test_seed_sizes_stay_readable(agent: str) -> None:
    assert len(_read(agent, "CLAUDE.md").splitlines()) <= 120
    assert len(_read(agent, "IDENTITY.md").splitlines()) <= 40


@pytest.mark.parametrize("agent", AGENTS)
def test_identity_names_the_agent(agent: str) -> None:
    title = _read(agent, "IDENTITY.md").splitlines()[0].lower()
    assert agent.replace("-", " ") in title


@pytest.mark.parametrize("agent", WORKERS)
def test_worker_rules_teach_the_protocol(agent: str) -> None:
    text = _read(agent, "CLAUDE.md")
    for phase in ("SPEAK", "REBUTTAL", "FLOOR"):
        assert f"**{phase}.**" in text, f"{agent} lacks guidance for {phase}"
    assert "`PASS`" in text
    assert "[[request:" in text
    assert "[[venture:<tier>: <claim>]]" in text
    for tier in ("scout", "venture", "moonshot"):
        assert f"`{tier}`" in text
    for axis in ("novelty", "accuracy", "impact", "challenge"):
        assert axis in text
    for penalty in ("redundancy −3", "hallucination −5", "off_directive −5"):
        assert penalty in text
    assert "GATE:" in text
    assert f"YOUR TURN: {agent}" in text
    assert "~250 words per turn" in text


@pytest.mark.parametrize("agent", WORKERS)
def test_worker_has_each_evolver_section_once(agent: str) -> None:
    lines = _read(agent, "CLAUDE.md").splitlines()
    for heading in EVOLVER_SECTIONS:
        assert lines.count(heading) == 1, f"{agent}: {heading!r} must appear exactly once"
    # The evolver appends under these headings; they close the file, in this order.
    positions = [lines.index(h) for h in EVOLVER_SECTIONS]
    assert positions == sorted(positions)
    tail = [line for line in lines[positions[0] :] if line.startswith("## ")]
    assert tail == list(EVOLVER_SECTIONS)


def test_worker_entry_fee_matches_config_tier() -> None:
    config = json.loads(paths.bundled_config().read_text(encoding="utf-8"))
    fees = config["competition"]["entry_fees"]
    for agent in WORKERS:
        tier = config["team"]["workers"][agent]["model"]
        assert f"({tier}: {fees[tier]})" in _read(agent, "CLAUDE.md"), (
            f"{agent} should state its {tier} entry fee {fees[tier]}"
        )


def test_judge_persona_says_who_it_is_not_what_to_output() -> None:
    """Issue 13: the persona carries no output contract; each task prompt carries its own."""
    from amatelier.judging import prompts

    text = _read("judge", "CLAUDE.md")
    assert "impartial" in text.lower() or "take no side" in text
    assert prompts.strip_output_contracts(text) == text.strip()
    for contract in ("JSON", "CONVERGED:", "CONTINUE:", "GATE:", '{"scores"', "0/1/2/3/10"):
        assert contract not in text
    for rule in ("Never invent a quote", "order in", "Credit goes to whoever said it first"):
        assert rule in text


def test_judge_task_prompts_carry_the_rubric_and_the_formats() -> None:
    from amatelier.judging import prompts

    for axis in ("novelty", "accuracy", "impact", "challenge"):
        assert f"- {axis}:" in prompts.RUBRIC
    for penalty in ("redundancy", "hallucination", "off_directive"):
        assert f"- {penalty}:" in prompts.RUBRIC
    assert "A 10 without them counts as 3" in prompts.RUBRIC and "4-6" in prompts.RUBRIC
    assert '"verdict"' in prompts.GATE_FORMAT and "scores" not in prompts.GATE_FORMAT
    assert '{"scores"' in prompts.SCORE_FORMAT


def test_therapist_frameworks_and_outcome_block() -> None:
    text = _read("therapist", "CLAUDE.md")
    for framework in ("GROW", "AAR", "SBI", "OARS"):
        assert framework in text
    blocks = _fenced_json_blocks(text)
    assert len(blocks) == 1, "the therapist shows exactly one outcome block"
    outcome = json.loads(blocks[0])
    assert set(outcome) == {
        "behavioral_deltas",
        "memory_updates",
        "session_summary",
        "goals",
        "store_request",
    }
    assert outcome["behavioral_deltas"] and outcome["goals"], "the example shows a delta and a goal"
    for delta in outcome["behavioral_deltas"]:
        assert delta["action"] in {"add", "remove", "confirm"}
        assert delta["behavior"] and delta["reason"]
    assert set(outcome["memory_updates"]) == {"lessons", "beliefs", "episodes"}
    assert isinstance(outcome["session_summary"], str)
    for goal in outcome["goals"]:
        assert goal["goal"] and isinstance(goal["horizon_rts"], int)
    assert outcome["store_request"] is None
    assert '{"item_id": "<catalog id>", "reason": "..."}' in text
    assert "2-3 turns" in text


def test_haiku_assistant_is_marked_deprecated() -> None:
    for filename in ("CLAUDE.md", "IDENTITY.md"):
        text = _read("haiku-assistant", filename)
        assert "DEPRECATED since 0.2.0" in text
        assert "runner" in text


def test_non_workers_are_not_taught_to_compete() -> None:
    for agent in ("judge", "therapist", "opus-admin", "opus-therapist"):
        text = _read(agent, "CLAUDE.md")
        assert "## Learned Behaviors" not in text
        assert "[[venture:" not in text
        assert "`PASS`" not in text


def test_config_names_have_seeds() -> None:
    config = json.loads(paths.bundled_config().read_text(encoding="utf-8"))
    team = config["team"]
    names = set(team["workers"]) | {team[r]["name"] for r in ("judge", "therapist", "admin")}
    names |= set(team.get("deprecated", []))
    for name in names:
        assert (paths.bundled_agent_dir(name) / "CLAUDE.md").is_file(), name


def test_bootstrap_copies_every_seed(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(paths.WORKSPACE_ENV, str(tmp_path))
    paths.ensure_user_data()
    for agent in AGENTS:
        for filename in ("CLAUDE.md", "IDENTITY.md"):
            copied = paths.user_agent_dir(agent) / filename
            assert copied.read_text(encoding="utf-8") == _read(agent, filename)
