"""`amatelier watch`: a read-only live tail of a roundtable. Zero LLM cost: SQLite reads only.

Rich view in a terminal (each agent its own colour, phase headers, Judge signals standing
out, an "<agent> is speaking…" line for the open turn); plain text when stdout is not a
terminal. Ends when the roundtable closes or is cut.

Which roundtable: `--rt ID`; else the latest open one whose runner is alive. With no
roundtable running, a live watch says so and waits for the next one to open (so it can be
started before the roundtable), while `--once` shows the latest roundtable, finished or
not. A roundtable whose runner died (killed, machine crash) stays open in the database
until the next runner marks it cut; a live watch notices the dead runner, says so and
ends (exit 1) instead of waiting forever.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amatelier.chat import messages as msgs
from amatelier.chat import roundtables
from amatelier.chat.human import CONTROL
from amatelier.chat.waiting import ChangeWaiter
from amatelier.debate.positions import POSITION_PHASES, parse_position
from amatelier.debate.signals import is_pass, judge_signal_lines

PALETTE = ["cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan",
           "bright_magenta", "bright_green", "bright_blue"]
TAIL = 20
FIXED_COLOURS = {"elena": "cyan", "marcus": "red", "clare": "green", "simon": "yellow",
                 "naomi": "magenta", "judge": "bold white", "runner": "dim", "steward": "blue"}
SIGNAL_STYLES = {"GATE": "bold black on yellow", "CONVERGED": "bold black on green",
                 "CONTINUE": "bold black on bright_blue"}
# Runner lines a person should not miss (a silent agent, a restart, the roundtable cut).
ALERT_WORDS = ("did not respond", "restarted", "ROUNDTABLE CUT", "was down", "INTERMISSION")
WAIT_POLL_S = 0.5


class NoDatabase(RuntimeError):
    """There is no roundtable database yet (nothing has run in this workspace)."""


def agent_color(agent: str) -> str:
    """The agent's colour (fixed for the team, stable for others)."""
    if agent in FIXED_COLOURS:
        return FIXED_COLOURS[agent]
    return PALETTE[sum(agent.encode("utf-8")) % len(PALETTE)]


def is_gate(text: str) -> bool:
    """Whether a text holds a GATE / CONVERGED / CONTINUE line."""
    return bool(judge_signal_lines(text))


def is_alert(text: str) -> bool:
    """Whether a runner line reports trouble (silence, restart, cut) and should stand out."""
    return any(word in text for word in ALERT_WORDS)


def db_path() -> Path:
    """Where the chat database of the current workspace lives."""
    from amatelier import paths

    return paths.user_db_path()


def open_readonly(path: Path | None = None) -> sqlite3.Connection:
    """A read-only connection to the chat database (NoDatabase if none yet)."""
    from amatelier.chat.db import connect

    path = Path(path) if path else db_path()
    if not path.is_file():
        raise NoDatabase(f"no roundtable database at {path} (run `amatelier roundtable ...` first)")
    return connect(path, readonly=True)


def pick_roundtable(conn: sqlite3.Connection, rt_id: str | None) -> dict[str, Any]:
    """The roundtable to watch: the given id, else the latest open, else the latest."""
    return roundtables.pick(conn, rt_id, how_to_start="run `amatelier roundtable ...` first")


def live_open(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The newest open roundtable whose runner is still alive (not one left by a dead runner)."""
    for rt in roundtables.list_roundtables(conn, status_filter=roundtables.OPEN, limit=20):
        if not roundtables.runner_gone(rt):
            return rt
    return None


class RunnerWatch:
    """Notices, at most every `every_s` seconds, that a roundtable's runner died while open."""

    def __init__(self, conn: sqlite3.Connection, rt_id: str, every_s: float = 1.0) -> None:
        self.conn = conn
        self.rt_id = rt_id
        self.every_s = every_s
        self._next = 0.0

    def gone(self) -> dict[str, Any] | None:
        """The roundtable row when its runner is gone (checked now and then), else None."""
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + self.every_s
        rt = roundtables.get_roundtable(self.conn, self.rt_id)
        return rt if rt and rt.get("status") == roundtables.OPEN and roundtables.runner_gone(rt) else None


def abandoned_line(rt: dict[str, Any]) -> str:
    """The ending when a roundtable's runner died: it stays open until the next runner cuts it."""
    return (f"— roundtable abandoned: its runner (pid {rt.get('runner_pid')}) is gone; "
            "the next `amatelier roundtable` marks it cut")


def _ids(conn: sqlite3.Connection) -> set[str]:
    try:
        return {row[0] for row in conn.execute("SELECT id FROM roundtables")}
    except sqlite3.OperationalError:  # the first runner is still creating the tables
        return set()


def _newest_new(conn: sqlite3.Connection, known: set[str]) -> dict[str, Any] | None:
    """The newest roundtable not in `known`, preferring one still open."""
    try:
        fresh = [rt for rt in roundtables.list_roundtables(conn, limit=20) if rt["id"] not in known]
    except sqlite3.OperationalError:
        return None
    return next((rt for rt in fresh if rt.get("status") == roundtables.OPEN), fresh[0] if fresh else None)


def wait_for_new(path: Path, known: set[str], *, on_wait: Callable[[], Any] = lambda: None,
                 timeout: float | None = None) -> tuple[sqlite3.Connection, dict[str, Any]] | None:
    """Wait until a roundtable not in `known` appears in the database at `path`.

    The database may not exist yet. A roundtable that opens and closes between two looks is
    still found (it is new), so a quick run is never missed. Returns (read-only connection,
    roundtable), or None when `timeout` seconds pass first.
    """
    end = None if timeout is None else time.monotonic() + timeout
    conn: sqlite3.Connection | None = None
    waiter: ChangeWaiter | None = None
    while True:
        if conn is None and path.is_file():
            conn = open_readonly(path)
            waiter = ChangeWaiter(conn, max_sleep=0.05)
        if conn is not None:
            rt = _newest_new(conn, known)
            if rt is not None:
                return conn, rt
        on_wait()
        if end is not None and time.monotonic() >= end:
            if conn is not None:
                conn.close()
            return None
        pause = WAIT_POLL_S if end is None else max(0.0, min(WAIT_POLL_S, end - time.monotonic()))
        if waiter is not None:
            waiter.wait(pause)
        else:
            time.sleep(pause)  # no database file to watch yet: poll for it to appear


def spend_text(cost: Any) -> str:
    """`$0.0123 spent of $0.0200 (elena $0.0040, marcus $0.0051, ...)` from a spend.CostSoFar."""
    if cost.total_usd is None:
        text = "cost unknown" if cost.unpriced_calls else "$0.0000 spent"
    else:
        text = f"${cost.total_usd:.4f} spent"
    if cost.limit_usd is not None:
        text += f" of ${cost.limit_usd:.4f}"
    if cost.by_agent and (cost.total_usd or 0) > 0:
        text += " (" + ", ".join(f"{a} ${v:.4f}" for a, v in sorted(cost.by_agent.items())) + ")"
    if cost.unpriced_calls:
        text += f" + {cost.unpriced_calls} unpriced call(s)"
    return text


def spend_line(conn: sqlite3.Connection, rt_id: str) -> str:
    """The cost so far of a roundtable, one line; empty when it cannot be read."""
    from amatelier.chat import spend

    try:
        return spend_text(spend.cost_so_far(conn, rt_id))
    except sqlite3.Error:
        return ""


def open_turn(conn: sqlite3.Connection, rt_id: str) -> dict[str, Any] | None:
    """The turn currently waiting for an answer, if any (agent, phase, status, requested_at)."""
    row = conn.execute(
        "SELECT agent, phase, status, requested_at FROM turns WHERE rt_id = ? "
        "AND status IN ('pending', 'claimed') ORDER BY id DESC LIMIT 1",
        (rt_id,),
    ).fetchone()
    return dict(row) if row else None


def speaking_line(turn: dict[str, Any] | None, now: float | None = None) -> str:
    """The status line for the open turn: `marcus is speaking… (SPEAK · 12s)`."""
    if not turn:
        return "waiting…"
    doing = "is deciding…" if turn.get("phase") == "GATE" else "is speaking…"
    waited = max(0.0, (now if now is not None else time.time()) - float(turn.get("requested_at") or 0))
    seconds = f" · {int(waited)}s" if turn.get("requested_at") else ""
    return f"{turn['agent']} {doing} ({turn.get('phase')}{seconds})"


def tail_start(conn: sqlite3.Connection, rt_id: str, count: int = TAIL) -> int:
    """The message id after which the last `count` messages of this roundtable begin."""
    row = conn.execute("SELECT id FROM messages WHERE rt_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                       (rt_id, count)).fetchone()
    return int(row[0]) if row else 0


def ending_line(conn: sqlite3.Connection, rt_id: str) -> str:
    """`— roundtable closed (converged in round 2)` / `— roundtable cut: <reason>`."""
    rt = roundtables.get_roundtable(conn, rt_id) or {}
    state = rt.get("status")
    if state == "cut":
        return f"— roundtable cut: {rt.get('cut_reason')}" if rt.get("cut_reason") else "— roundtable cut"
    rows = conn.execute("SELECT content, round FROM messages WHERE rt_id = ? AND kind = 'judge' "
                        "ORDER BY id", (rt_id,)).fetchall()
    for row in reversed(rows):
        for signal, _ in judge_signal_lines(row["content"]):
            if signal == "CONVERGED":
                return f"— roundtable {state} (converged in round {row['round']})"
    last = conn.execute("SELECT MAX(round) FROM messages WHERE rt_id = ?", (rt_id,)).fetchone()[0]
    return f"— roundtable {state} (no convergence after {last or 0} round(s))"


def position_note(stance: str, confidence: int | None = None, moved_by: str | None = None,
                  moved_by_message: int | None = None) -> str:
    """`position: <stance> (confidence 70, moved by clare #41)` - a declared position, readable."""
    extra = []
    if confidence is not None:
        extra.append(f"confidence {confidence}")
    if moved_by or moved_by_message:
        ref = f" #{moved_by_message}" if moved_by_message else ""
        extra.append(f"moved by {moved_by or 'message'}{ref}")
    return f"position: {stance}" + (f" ({', '.join(extra)})" if extra else "")


def split_position(message: dict[str, Any]) -> tuple[str, str | None]:
    """(the speech without its POSITION line, the readable position note or None).

    Only an agent's turn (a speech in SPEAK, REBUTTAL or FLOOR) carries a POSITION line; any
    other message, or a speech without one, comes back unchanged with no note.
    """
    content = str(message.get("content", "")).strip()
    if message.get("kind") != "speech" or str(message.get("phase") or "").upper() not in POSITION_PHASES:
        return content, None
    position, used = parse_position(content)
    if position is None:
        return content, None
    speech = "\n".join(line for i, line in enumerate(content.splitlines()) if i not in used).rstrip()
    return speech, position_note(position.stance, position.confidence, position.moved_by,
                                 position.moved_by_message)


def plain_line(message: dict[str, Any]) -> str | None:
    """How one message reads in plain text (None: not shown); continuation lines are indented."""
    kind = message.get("kind")
    content = str(message.get("content", ""))
    if kind == "turn":
        return None
    if kind == "phase":
        return "\n" + content
    if kind == "briefing":
        first = content.split("\n", 1)
        return f"[runner] BRIEFING ({len(first[1]) if len(first) > 1 else 0} chars)"
    prefix = "[steward]" if kind == "steward" else f"[{message.get('agent')}]"
    if kind == "human":
        prefix = f"[{message.get('agent')} · you]"
    elif message.get("agent") == "judge" or is_gate(content) and kind == "judge":
        prefix = "[judge] >>"
    elif message.get("agent") == "runner" and is_alert(content):
        prefix = "[runner] !!"
    speech, note = split_position(message)
    text = f"{prefix} {speech}" + (f"\n— {note}" if note else "")
    return CONTROL.sub("?", text.replace("\n", "\n    "))  # a model's escape codes never reach the terminal


def plain_watch(conn: sqlite3.Connection, rt: dict[str, Any], *, from_start: bool, once: bool,
                out: Callable[[str], None] = print, poll_timeout: float = 0.5) -> int:
    """Degraded renderer for pipes and logs: one message per line, no colour."""
    rt_id = rt["id"]
    after = 0 if (from_start or once) else tail_start(conn, rt_id)
    out(f"roundtable {rt_id} · {rt.get('topic')} · {rt.get('status')}")
    waiter = ChangeWaiter(conn, max_sleep=0.05)
    runner = RunnerWatch(conn, rt_id)
    while True:
        for message in msgs.transcript(conn, rt_id, after_id=after):
            after = message["id"]
            line = plain_line(message)
            if line is not None:
                out(line)
        state = roundtables.status(conn, rt_id)
        if once or state != roundtables.OPEN:
            if state != roundtables.OPEN:
                out(ending_line(conn, rt_id))
            cost = spend_line(conn, rt_id)
            if cost:
                out(f"cost: {cost}")
            return 0
        dead = runner.gone()
        if dead is not None:
            out(abandoned_line(dead))
            return 1
        waiter.wait(poll_timeout)


class RichWatcher:
    """Colourful live tail: messages scroll, a status line shows who is speaking."""

    def __init__(self, conn: sqlite3.Connection, rt: dict[str, Any], console: Any = None) -> None:
        from rich.console import Console

        self.conn = conn
        self.rt = rt
        self.console = console or Console()

    def render(self, message: dict[str, Any]) -> Any:
        """The rich renderable for one message (None: not shown)."""
        from rich.console import Group
        from rich.panel import Panel
        from rich.rule import Rule
        from rich.text import Text

        kind = message.get("kind")
        agent = str(message.get("agent"))
        content = CONTROL.sub("?", str(message.get("content", ""))).strip()  # escape codes never reach the tty
        message = {**message, "content": content}
        if kind == "turn":
            return None
        if kind == "phase":
            lines = content.splitlines() or [""]
            rule = Rule(Text(lines[0].strip("- "), style="bold"), style="bright_black")
            rest = [line for line in lines[1:] if line.strip()]
            if not rest:
                return rule
            return Group(rule, Text("\n".join(rest), style="dim", justify="center"))
        if kind == "briefing":
            body = content.split("\n", 1)[1].strip() if "\n" in content else content
            return Panel(Text(body[:600] + ("…" if len(body) > 600 else "")), title="BRIEFING",
                         border_style="bright_black")
        if kind == "steward":
            return Panel(Text(content), title="steward", title_align="left", border_style="blue")
        if kind == "human":
            return Panel(Text(content), title=f"{agent} · a person at the table", title_align="left",
                         border_style="green")
        if agent == "runner":
            if is_alert(content):
                return Text(f"  ⚠ {content}", style="bold yellow")
            return Text(f"  {content}", style="dim italic")
        if kind == "judge" or is_gate(content) and agent == "judge":
            text = Text()
            lines = content.splitlines()
            for number, line in enumerate(lines):
                signals = judge_signal_lines(line)
                style = SIGNAL_STYLES.get(signals[0][0] if signals else "", "")
                text.append(line, style=style)
                if number < len(lines) - 1:
                    text.append("\n")
            return Panel(text, title=f"judge · r{message.get('round')}", title_align="left",
                         border_style="bold yellow")
        colour = agent_color(agent)
        if message.get("phase") == "FLOOR" and is_pass(content):
            return Text(f"  {agent} passes", style=colour)
        header = Text(f"{agent}", style=f"bold {colour}")
        if message.get("phase"):
            header.append(f"  {message.get('phase')} r{message.get('round')}", style="bright_black")
        speech, note = split_position(message)
        body = Text(speech)
        if note:
            body.append(("\n" if speech else "") + note, style="dim")
        return Panel(body, title=header, title_align="left", border_style=colour)

    def run(self, *, from_start: bool, once: bool, poll_timeout: float = 0.5) -> int:
        """Tail the roundtable until it closes (or once)."""
        rt_id = self.rt["id"]
        after = 0 if (from_start or once) else tail_start(self.conn, rt_id)
        from rich.markup import escape

        topic = escape(CONTROL.sub("?", str(self.rt.get("topic"))))  # a topic is text, never markup
        self.console.print(f"[bold]roundtable {rt_id}[/] · {topic} · "
                           f"[dim]{escape(str(self.rt.get('status')))}[/]", highlight=False)
        waiter = ChangeWaiter(self.conn, max_sleep=0.05)
        runner = RunnerWatch(self.conn, rt_id)
        status = None if once else self.console.status("waiting…", spinner="dots")
        if status is not None:
            status.start()
        try:
            while True:
                for message in msgs.transcript(self.conn, rt_id, after_id=after):
                    after = message["id"]
                    renderable = self.render(message)
                    if renderable is not None:
                        self.console.print(renderable)
                state = roundtables.status(self.conn, rt_id)
                if once or state != roundtables.OPEN:
                    if state != roundtables.OPEN:
                        style = "bold red" if state == "cut" else "bold"
                        self.console.print(f"[{style}]{ending_line(self.conn, rt_id)}[/]", highlight=False)
                    cost = spend_line(self.conn, rt_id)
                    if cost:
                        self.console.print(f"cost: {cost}", style="dim", highlight=False, markup=False)
                    return 0
                dead = runner.gone()
                if dead is not None:
                    self.console.print(abandoned_line(dead), style="bold red", highlight=False, markup=False)
                    return 1
                if status is not None:
                    cost = spend_line(self.conn, rt_id)
                    status.update(speaking_line(open_turn(self.conn, rt_id)) + (f" · {cost}" if cost else ""))
                waiter.wait(poll_timeout)
        finally:
            if status is not None:
                status.stop()


def _wait_for_next(use_plain: bool, known: set[str]) -> tuple[sqlite3.Connection, dict[str, Any]]:
    """No roundtable is running: say so (once) and wait for the next one to start."""
    path = db_path()
    note = (f"no roundtable is running (database: {path}); waiting for one to start… "
            "(Ctrl-C to stop; `amatelier watch --once` shows the latest finished one)")
    if use_plain:
        print(note, flush=True)
        found = wait_for_new(path, known)
    else:
        from rich.console import Console

        console = Console()
        with console.status(note, spinner="dots"):
            found = wait_for_new(path, known)
    if found is None:  # cannot happen without a timeout; keeps the type honest
        raise LookupError("no roundtable opened")
    return found


def run(rt_id: str | None = None, *, from_start: bool = False, once: bool = False,
        plain: bool | None = None) -> int:
    """Entry point for the CLI: pick the roundtable (or wait for one) and tail it."""
    use_plain = (not sys.stdout.isatty()) if plain is None else plain
    conn: sqlite3.Connection | None = None
    try:
        rt = None
        if not once and not rt_id:
            known: set[str] = set()
            try:
                conn = open_readonly()
                known = _ids(conn)  # before the look for an open one, so none can slip between
                rt = live_open(conn)
            except (NoDatabase, sqlite3.OperationalError):
                rt = None
            if rt is None:
                if conn is not None:
                    conn.close()
                conn, rt = _wait_for_next(use_plain, known)
                from_start = True  # a roundtable we waited for is shown from its first message
        else:
            conn = open_readonly()
            rt = pick_roundtable(conn, rt_id)
        if use_plain:
            return plain_watch(conn, rt, from_start=from_start, once=once,
                               out=lambda line: print(line, flush=True))
        return RichWatcher(conn, rt).run(from_start=from_start, once=once)
    finally:
        if conn is not None:
            conn.close()
