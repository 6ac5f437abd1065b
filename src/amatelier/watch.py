"""`amatelier watch`: a read-only live tail of a roundtable. Zero LLM cost: SQLite reads only.

Rich view in a terminal (each agent its own colour, phase headers, Judge signals standing
out, an "<agent> is speaking…" line for the open turn); plain text when stdout is not a
terminal. Ends when the roundtable closes or is cut.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amatelier.chat import messages as msgs
from amatelier.chat import roundtables
from amatelier.chat.waiting import ChangeWaiter
from amatelier.engine.debate_signals import judge_signal_lines

PALETTE = ["cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan",
           "bright_magenta", "bright_green", "bright_blue"]
TAIL = 20
FIXED_COLOURS = {"elena": "cyan", "marcus": "red", "clare": "green", "simon": "yellow",
                 "naomi": "magenta", "judge": "bold white", "runner": "dim", "steward": "blue"}


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


def open_readonly(db_path: Path | None = None) -> sqlite3.Connection:
    """A read-only connection to the chat database (NoDatabase if none yet)."""
    from amatelier import paths
    from amatelier.chat.db import connect

    path = Path(db_path) if db_path else paths.user_db_path()
    if not path.is_file():
        raise NoDatabase(f"no roundtable database at {path} (run `amatelier roundtable ...` first)")
    return connect(path, readonly=True)


def pick_roundtable(conn: sqlite3.Connection, rt_id: str | None) -> dict[str, Any]:
    """The roundtable to watch: the given id, else the latest open, else the latest."""
    if rt_id:
        rt = roundtables.get_roundtable(conn, rt_id)
        if rt is None:
            raise LookupError(f"no roundtable with id {rt_id}")
        return rt
    rt = roundtables.latest_open(conn) or roundtables.latest(conn)
    if rt is None:
        raise LookupError("no roundtables yet (run `amatelier roundtable ...` first)")
    return rt


def open_turn(conn: sqlite3.Connection, rt_id: str) -> dict[str, Any] | None:
    """The turn currently waiting for an answer, if any."""
    row = conn.execute(
        "SELECT agent, phase, status FROM turns WHERE rt_id = ? AND status IN ('pending', 'claimed')"
        " ORDER BY id DESC LIMIT 1",
        (rt_id,),
    ).fetchone()
    return dict(row) if row else None


def tail_start(conn: sqlite3.Connection, rt_id: str, count: int = TAIL) -> int:
    """The message id after which the last `count` messages of this roundtable begin."""
    row = conn.execute("SELECT id FROM messages WHERE rt_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                       (rt_id, count)).fetchone()
    return int(row[0]) if row else 0


def plain_line(message: dict[str, Any]) -> str | None:
    """How one message reads in plain text (None: not shown)."""
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
    if message.get("agent") == "judge" or is_gate(content) and kind == "judge":
        prefix = "[judge] >>"
    return f"{prefix} {content}"


def plain_watch(conn: sqlite3.Connection, rt: dict[str, Any], *, from_start: bool, once: bool,
                out: Callable[[str], None] = print, poll_timeout: float = 0.5) -> int:
    """Degraded renderer for pipes and logs: one message per line, no colour."""
    rt_id = rt["id"]
    after = 0 if (from_start or once) else tail_start(conn, rt_id)
    out(f"roundtable {rt_id} · {rt.get('topic')} · {rt.get('status')}")
    waiter = ChangeWaiter(conn, max_sleep=0.05)
    while True:
        for message in msgs.transcript(conn, rt_id, after_id=after):
            after = message["id"]
            line = plain_line(message)
            if line is not None:
                out(line)
        state = roundtables.status(conn, rt_id)
        if once or state != roundtables.OPEN:
            if state != roundtables.OPEN:
                reason = roundtables.get_roundtable(conn, rt_id) or {}
                tail = f": {reason.get('cut_reason')}" if state == "cut" and reason.get("cut_reason") else ""
                out(f"— roundtable {state}{tail}")
            return 0
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
        from rich.panel import Panel
        from rich.rule import Rule
        from rich.text import Text

        kind = message.get("kind")
        agent = str(message.get("agent"))
        content = str(message.get("content", ""))
        if kind == "turn":
            return None
        if kind == "phase":
            lines = content.splitlines() or [""]
            return Rule(Text(lines[0].strip("- "), style="bold"), style="bright_black")
        if kind == "briefing":
            body = content.split("\n", 1)[1].strip() if "\n" in content else content
            return Panel(Text(body[:600] + ("…" if len(body) > 600 else "")), title="BRIEFING",
                         border_style="bright_black")
        if kind == "steward":
            return Panel(Text(content), title="steward", title_align="left", border_style="blue")
        if agent == "runner":
            return Text(f"  {content}", style="dim italic")
        if kind == "judge" or is_gate(content) and agent == "judge":
            text = Text()
            for line in content.splitlines():
                signals = judge_signal_lines(line)
                style = {"GATE": "bold black on yellow", "CONVERGED": "bold black on green",
                         "CONTINUE": "bold black on bright_blue"}.get(signals[0][0] if signals else "", "")
                text.append(line + "\n", style=style)
            return Panel(text, title=f"judge · r{message.get('round')}", border_style="bold yellow")
        header = Text(f"{agent}", style=f"bold {agent_color(agent)}")
        if message.get("phase"):
            header.append(f"  {message.get('phase')} r{message.get('round')}", style="bright_black")
        body = Text(content, style=agent_color(agent) if content.strip().upper() == "PASS" else "")
        return Panel(body, title=header, title_align="left", border_style=agent_color(agent))

    def run(self, *, from_start: bool, once: bool, poll_timeout: float = 0.5) -> int:
        """Tail the roundtable until it closes (or once)."""
        rt_id = self.rt["id"]
        after = 0 if (from_start or once) else tail_start(self.conn, rt_id)
        self.console.print(f"[bold]roundtable {rt_id}[/] · {self.rt.get('topic')} · "
                           f"[dim]{self.rt.get('status')}[/]")
        waiter = ChangeWaiter(self.conn, max_sleep=0.05)
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
                        rt = roundtables.get_roundtable(self.conn, rt_id) or {}
                        tail = f": {rt.get('cut_reason')}" if state == "cut" and rt.get("cut_reason") else ""
                        self.console.print(f"[bold]— roundtable {state}{tail}[/]")
                    return 0
                if status is not None:
                    turn = open_turn(self.conn, rt_id)
                    status.update(f"{turn['agent']} is speaking… ({turn['phase']})" if turn else "waiting…")
                waiter.wait(poll_timeout)
        finally:
            if status is not None:
                status.stop()


def run(rt_id: str | None = None, *, from_start: bool = False, once: bool = False,
        plain: bool | None = None) -> int:
    """Entry point for the CLI: pick the roundtable and tail it."""
    conn = open_readonly()
    try:
        rt = pick_roundtable(conn, rt_id)
        use_plain = (not sys.stdout.isatty()) if plain is None else plain
        if use_plain:
            return plain_watch(conn, rt, from_start=from_start, once=once,
                               out=lambda line: print(line, flush=True))
        return RichWatcher(conn, rt).run(from_start=from_start, once=once)
    finally:
        conn.close()

