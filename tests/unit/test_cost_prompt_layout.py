"""The stable-prefix prompt layout: per-turn material last, cache points, a coarse window."""

from __future__ import annotations

from amatelier.debate.context import TurnContext, build_prompt, layout_prompt, window_start
from amatelier.prompt_format import parse_markers


def messages(n: int) -> list[dict]:
    return [{"id": i + 10, "agent": ["elena", "marcus"][i % 2], "kind": "speech", "round": 1 + i // 8,
             "phase": "SPEAK" if i % 8 < 4 else "REBUTTAL", "content": f"point {i}"} for i in range(n)]


def ctx(n: int, **kw) -> TurnContext:
    base = dict(agent="elena", round=2, phase="rebuttal", topic="split?", participants=["elena", "marcus"],
                briefing="## Context\n- fact", messages=messages(n),
                instructions="MAX ROUNDS: 3\nBUDGET LEFT: 2\n\nAnswer them.", recent_messages=24)
    base.update(kw)
    return TurnContext(**base)


def test_per_turn_material_comes_after_every_stable_part() -> None:
    layout = layout_prompt(ctx(6))
    text = layout.text
    task = text.index("=== YOUR TASK ===")
    assert text.index("ROUND: 2") > task and text.index("PHASE: REBUTTAL") > task
    assert "BUDGET LEFT" not in text[:task]
    assert layout.briefing_end < min(layout.message_ends.values()) <= layout.transcript_end <= task
    assert text[:layout.briefing_end].endswith("- fact\n")
    markers = parse_markers(text)
    assert (markers["ROUND"], markers["PHASE"], markers["BUDGET LEFT"]) == ("2", "REBUTTAL", "2")


def test_the_next_turn_extends_this_turns_prefix() -> None:
    now, later = layout_prompt(ctx(6)), layout_prompt(ctx(9, round=3, phase="speak"))
    cut = now.transcript_end
    assert later.text[:cut] == now.text[:cut]          # everything but the task is reused
    assert later.message_ends[15] == now.message_ends[15] == cut


def test_the_window_slides_in_whole_steps_and_stays_bounded() -> None:
    assert [window_start(n, 24) for n in (10, 24, 25, 47, 48, 71, 72)] == [0, 0, 0, 0, 24, 24, 48]
    assert window_start(12, 5, step=1) == 7
    for n in range(0, 200, 7):
        shown = n - window_start(n, 24)
        assert shown == n if n <= 24 else 24 <= shown < 48
    # between two moves the prefix before the newest messages never changes
    a, b = layout_prompt(ctx(30)), layout_prompt(ctx(40))
    assert b.text[:a.transcript_end] == a.text[:a.transcript_end]


def test_independent_openings_hide_this_rounds_other_speeches() -> None:
    prompt = build_prompt(ctx(3, round=1, phase="speak", hide_round_speeches=True))
    assert "point 1" not in prompt and "(nothing said yet)" in prompt
    assert "point 1" in build_prompt(ctx(3, round=1, phase="speak"))
