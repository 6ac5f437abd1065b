"""Prompt assembly: markers, the transcript window, and a size bound that does not grow."""

from __future__ import annotations

from amatelier.debate import context
from amatelier.debate.context import TurnContext, build_prompt, build_system, parse_markers


def _messages(n: int, size: int = 3000) -> list[dict]:
    out = [{"id": 1, "agent": "runner", "kind": "briefing", "round": None, "phase": None,
            "content": "BRIEFING:\n\nsecret briefing text"}]
    agents = ["elena", "marcus", "clare"]
    for i in range(n):
        out.append({"id": i + 2, "agent": agents[i % 3], "kind": "speech", "round": 1 + i // 10,
                    "phase": "SPEAK", "content": f"message {i} " + "x" * size})
        out.append({"id": 10_000 + i, "agent": "runner", "kind": "turn", "round": 1, "phase": "SPEAK",
                    "content": "YOUR TURN: elena — SPEAK"})
    return out


def _ctx(messages, **kw) -> TurnContext:
    base = dict(agent="elena", round=3, phase="speak", topic="split the monolith?",
                participants=["elena", "marcus", "clare"], briefing="## Context\n- fact one",
                messages=messages, instructions="MAX ROUNDS: 3\nBUDGET LEFT: 2\n\nSay something.",
                recent_messages=5, index_chars=800)
    base.update(kw)
    return TurnContext(**base)


def test_markers_are_parseable():
    prompt = build_prompt(_ctx(_messages(3)))
    markers = parse_markers(prompt)
    assert markers["AGENT"] == "elena" and markers["ROUND"] == "3" and markers["PHASE"] == "SPEAK"
    assert markers["PARTICIPANTS"] == "elena, marcus, clare"
    assert markers["MAX ROUNDS"] == "3" and markers["BUDGET LEFT"] == "2"


def test_recent_in_full_older_as_index_and_turn_lines_hidden():
    prompt = build_prompt(_ctx(_messages(12, size=50), slide_step=1))  # slide by one message
    recent = prompt.split("=== RECENT TRANSCRIPT ===")[1]
    assert recent.count("\n[#") == 5
    assert "message 11 " + "x" * 50 in recent
    index = prompt.split("=== EARLIER CONTRIBUTIONS (index) ===")[1].split("===")[0]
    assert "#2 r1 SPEAK elena: message 0" in index
    assert "YOUR TURN" not in prompt
    assert "secret briefing text" not in prompt.split("=== BRIEFING ===")[0]


def test_prompt_size_is_bounded_as_the_debate_grows():
    sizes = []
    for n in (10, 100, 1000):
        ctx = _ctx(_messages(n))
        prompt = build_prompt(ctx)
        assert len(prompt) <= context.max_prompt_chars(ctx)
        sizes.append(len(prompt))
    assert sizes[2] - sizes[1] < 300  # only id digits differ once the window is full
    assert "earlier contributions omitted" in build_prompt(_ctx(_messages(1000)))


def test_transcript_speakers_reads_recent_lines():
    prompt = build_prompt(_ctx(_messages(2, size=5)))
    assert [(a, p) for a, p, _ in context.transcript_speakers(prompt)] == [("elena", "SPEAK"),
                                                                         ("marcus", "SPEAK")]


def test_system_prompt_uses_persona_memory_and_skills_bounded(tmp_path):
    agent_dir = tmp_path / "elena"
    (agent_dir / "skills").mkdir(parents=True)
    (agent_dir / "CLAUDE.md").write_text("You are Elena.")
    (agent_dir / "IDENTITY.md").write_text("Architect.")
    (agent_dir / "MEMORY.md").write_text("remember " * 5000)
    for i in range(10):
        (agent_dir / "skills" / f"s{i}.md").write_text(f"skill {i} " + "y" * 3000)
    system = build_system("elena", {}, agent_dir=agent_dir)
    assert system.startswith("You are Elena.") and "Architect." in system
    assert "## Memory" in system and "## Skills you own" in system
    assert len(system) <= context.max_system_chars()


def test_system_prompt_falls_back_when_no_persona_exists(tmp_path):
    config = {"team": {"workers": {"elena": {"model": "sonnet", "role": "synthesis and architecture"}}}}
    system = build_system("elena", config, agent_dir=tmp_path / "missing")
    assert "You are elena, the synthesis and architecture" in system
