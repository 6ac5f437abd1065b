"""What a person sees: the runner's progress line, watch's renderings, the offline delay knob."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from amatelier import watch
from amatelier.backends import offline
from amatelier.debate import progress
from amatelier.debate.runner import instructions


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=120, color_system="standard"), buffer


def _plain(renderable) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


# --------------------------------------------------------------------------- progress line


def test_progress_line_names_round_phase_speaker_and_seconds():
    line = progress.describe(rt_id="ab12", round=2, max_rounds=3, phase="SPEAK", speaker="elena", speaker_s=4.7)
    assert line == "ab12 · round 2/3 · SPEAK · elena is speaking… 4s"
    assert progress.describe(round=1, max_rounds=3, phase="GATE", speaker="judge") == \
        "round 1/3 · GATE · judge is deciding…"
    assert progress.describe(rt_id="ab12") == "ab12 · setting up"
    assert progress.describe(rt_id="ab12", round=3, max_rounds=3, stage="scoring") == "ab12 · judge scoring"


def test_progress_announces_how_to_watch_and_clears_itself():
    console, buffer = _console()
    display = progress.RunnerProgress("split the monolith?", console=console)
    display.started("ab12cd34")
    display.update(round=1, max_rounds=2, phase="SPEAK", speaker="marcus")
    display.stage("scoring")
    display.stop()
    display.stop()  # idempotent: the CLI and the runner may both stop it
    out = buffer.getvalue()
    assert "roundtable ab12cd34" in out and "amatelier watch --rt ab12cd34" in out


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(("out_tty", "err_tty", "shown"), [(True, True, True), (False, True, False),
                                                          (True, False, False)])
def test_progress_is_off_unless_both_streams_are_terminals(monkeypatch, out_tty, err_tty, shown):
    monkeypatch.setattr(progress.sys, "stdout", _Stream(out_tty))
    monkeypatch.setattr(progress.sys, "stderr", _Stream(err_tty))
    assert progress.wanted() is shown


# --------------------------------------------------------------------------- watch renderings


def _watcher() -> watch.RichWatcher:
    console, _ = _console()
    return watch.RichWatcher(conn=None, rt={"id": "x"}, console=console)


def test_phase_rule_keeps_the_budget_line():
    text = _plain(_watcher().render({"kind": "phase", "agent": "runner", "content":
                                     "ROUND 2: begin\nBUDGET STATUS: elena 2/3, marcus 3/3"}))
    assert "ROUND 2: begin" in text and "BUDGET STATUS: elena 2/3, marcus 3/3" in text


def test_floor_pass_is_one_short_line_and_alerts_stand_out():
    w = _watcher()
    assert _plain(w.render({"kind": "speech", "agent": "clare", "phase": "FLOOR", "round": 1,
                            "content": "PASS"})).strip() == "clare passes"
    alert = _plain(w.render({"kind": "system", "agent": "runner", "content": "marcus did not respond (x)"}))
    calm = _plain(w.render({"kind": "system", "agent": "runner", "content": "SPEAKING ORDER: a, b"}))
    assert "⚠ marcus did not respond" in alert and "⚠" not in calm


def test_judge_panel_has_no_trailing_blank_line():
    text = _plain(_watcher().render({"kind": "judge", "agent": "judge", "round": 1, "phase": "GATE",
                                     "content": "CONTINUE: open\nGATE: elena — sharp"}))
    inner = [line for line in text.splitlines() if line.startswith("│")]
    assert len(inner) == 2 and "GATE: elena" in inner[-1]


def test_plain_lines_indent_continuations_and_flag_trouble():
    judge = watch.plain_line({"kind": "judge", "agent": "judge", "content": "CONTINUE: x\nGATE: elena — y"})
    assert judge == "[judge] >> CONTINUE: x\n    GATE: elena — y"
    assert watch.plain_line({"kind": "system", "agent": "runner",
                             "content": "elena did not respond (timeout)"}).startswith("[runner] !!")
    assert watch.plain_line({"kind": "turn", "agent": "runner", "content": "YOUR TURN: a — SPEAK"}) is None


def test_speaking_line_counts_seconds_and_names_the_gate():
    assert watch.speaking_line(None) == "waiting…"
    assert watch.speaking_line({"agent": "marcus", "phase": "SPEAK", "requested_at": 100.0}, now=112.4) == \
        "marcus is speaking… (SPEAK · 12s)"
    assert watch.speaking_line({"agent": "judge", "phase": "GATE", "requested_at": 100.0}, now=100.2) == \
        "judge is deciding… (GATE · 0s)"


# --------------------------------------------------------------------------- prompts


@pytest.mark.parametrize("phase", ["SPEAK", "REBUTTAL", "GATE", "FLOOR"])
def test_instruction_prose_never_reads_as_a_marker_or_a_signal(phase):
    from amatelier.debate.signals import judge_signal_lines

    text = instructions(phase, round=2, max_rounds=2, budget_left=1, floor_turn=1, agents=["elena"])
    markers, _, prose = text.partition("\n\n")
    assert markers.splitlines()[0] == "MAX ROUNDS: 2"
    assert prose.startswith("Round 2 of 2 · ") and judge_signal_lines(prose) == []
    if phase == "FLOOR":
        assert prose.endswith("PASS")
    if phase == "GATE":
        # the gate answers one JSON verdict (judging.prompts); the prose names both verdicts
        assert '"verdict": "CONVERGED" | "CONTINUE"' in prose and '"gates": [' in prose


# --------------------------------------------------------------------------- offline delay knob


@pytest.mark.parametrize(("value", "seconds"), [("250", 0.25), ("", 0.0), ("junk", 0.0), ("-5", 0.0)])
def test_offline_delay_is_read_from_the_environment(monkeypatch, value, seconds):
    monkeypatch.setenv(offline.DELAY_ENV, value)
    assert offline.delay_seconds() == seconds


def test_offline_backend_pauses_only_when_asked(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(offline.time, "sleep", slept.append)
    monkeypatch.delenv(offline.DELAY_ENV, raising=False)
    backend = offline.OfflineBackend({})
    backend.complete(system="", prompt="AGENT: elena\nPHASE: FLOOR", task="floor", agent="elena")
    monkeypatch.setenv(offline.DELAY_ENV, "40")
    backend.complete(system="", prompt="AGENT: elena\nPHASE: FLOOR", task="floor", agent="elena")
    assert slept == [0.04]


def test_spend_text_names_total_limit_agents_and_unpriced_calls() -> None:
    from amatelier.chat.spend import CostSoFar
    from amatelier.watch import spend_text

    assert spend_text(CostSoFar(None, {}, 0)) == "$0.0000 spent"
    assert spend_text(CostSoFar(None, {}, 2)) == "cost unknown + 2 unpriced call(s)"
    line = spend_text(CostSoFar(0.0123, {"marcus": 0.005, "elena": 0.0073}, 1, limit_usd=0.02))
    assert line == "$0.0123 spent of $0.0200 (elena $0.0073, marcus $0.0050) + 1 unpriced call(s)"
