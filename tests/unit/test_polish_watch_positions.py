"""`amatelier watch` shows a turn's POSITION line as a short readable note, never raw."""

from __future__ import annotations

import io

from rich.console import Console
from rich.panel import Panel
from tests.helpers.decision_fixtures import SPLIT, STAY, seed_roundtable

from amatelier import watch

RAW = "Cut-over risk is priced now.\nPOSITION: split billing first | CONFIDENCE: 70 | MOVED BY: clare #41"


def _speech(content: str, phase: str = "REBUTTAL") -> dict:
    return {"kind": "speech", "agent": "marcus", "phase": phase, "round": 2, "content": content}


def test_the_plain_line_drops_the_raw_position_line_and_adds_a_readable_note():
    line = watch.plain_line(_speech(RAW))
    assert "POSITION:" not in line and "CONFIDENCE:" not in line and "MOVED BY:" not in line
    assert line == ("[marcus] Cut-over risk is priced now.\n"
                    "    — position: split billing first (confidence 70, moved by clare #41)")


def test_lenient_forms_are_read_by_the_debate_parser():
    line = watch.plain_line(_speech(f"Risk first.\n**Position:** {STAY} | confidence: 0.8 | moved by: none"))
    assert line.endswith(f"— position: {STAY} (confidence 80)") and "**Position" not in line
    fields_below = watch.plain_line(_speech(f"Three points.\nposition - {SPLIT}\nConfidence: 65%", "SPEAK"))
    assert fields_below.endswith(f"— position: {SPLIT} (confidence 65)") and "Confidence:" not in fields_below


def test_messages_without_a_position_or_outside_the_turn_phases_are_unchanged():
    assert watch.plain_line(_speech("No line here.")) == "[marcus] No line here."
    judge = {"kind": "judge", "agent": "judge", "phase": "GATE", "round": 1, "content": "CONTINUE: POSITION: x"}
    assert watch.plain_line(judge) == "[judge] >> CONTINUE: POSITION: x"
    assert watch.split_position({**_speech(RAW), "phase": "RESEARCH"}) == (RAW, None)


def test_the_rich_panel_shows_the_speech_and_a_dim_note():
    console = Console(file=io.StringIO(), width=120, color_system=None)
    panel = watch.RichWatcher(conn=None, rt={"id": "x"}, console=console).render(_speech(RAW))
    assert isinstance(panel, Panel)
    text = panel.renderable
    assert text.plain == ("Cut-over risk is priced now.\n"
                          "position: split billing first (confidence 70, moved by clare #41)")
    note_start = text.plain.index("position:")
    dim = [span for span in text.spans if span.style == "dim"]
    assert len(dim) == 1 and dim[0].start <= note_start + 1 and dim[0].end == len(text.plain)
    console.print(panel)
    shown = console.file.getvalue()
    assert "POSITION:" not in shown and "moved by clare #41" in shown


def test_a_position_only_turn_is_just_the_note():
    text = watch.RichWatcher(conn=None, rt={"id": "x"}).render(_speech("POSITION: wait | CONFIDENCE: 50")).renderable
    assert text.plain == "position: wait (confidence 50)"


def test_watch_once_over_a_real_roundtable_never_prints_a_raw_position_line():
    seed = seed_roundtable()
    lines: list[str] = []
    rt = watch.pick_roundtable(seed.conn, seed.rt_id)
    assert watch.plain_watch(seed.conn, rt, from_start=True, once=True, out=lines.append) == 0
    text = "\n".join(lines)
    assert "POSITION:" not in text and "**Position:**" not in text and "MOVED BY" not in text
    assert f"— position: {SPLIT} (confidence 60, moved by clare #{seed.ids['clare1']})" in text
    assert f"— position: {STAY} (confidence 80)" in text
    assert "I have nothing to add to my position." in text  # a turn without the line reads as written
