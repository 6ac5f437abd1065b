"""MCP server: roundtable tools for Claude Code (optional extra `mcp`), over stdio.

Start it with `amatelier mcp` or `python -m amatelier.mcp.server`; register it with
`claude mcp add amatelier -- amatelier mcp`. Tools start a roundtable as a detached
process, follow it (status, transcript pages by `since_id`, digest), cut it, list past
roundtables and read the spark economy. Reads use read-only SQLite connections; every
database or process call runs in a worker thread so the event loop never waits on it.

The `mcp` package is imported only inside build_server(), so importing this module (or
amatelier) never needs the extra. The tools are defined inside build_server() with real
(not postponed) annotations, because the SDK reads their signatures to build the schemas.
"""

import contextlib
import functools
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from amatelier import __version__
from amatelier.mcp.tools import ToolFailure, one_line

if TYPE_CHECKING:
    from amatelier.mcp.launch import Launched, StartRequest

INSTALL_HINT = ("the MCP server needs the optional mcp package: install it from your amatelier checkout "
                "with pip install '.[mcp]' (or pip install mcp)")
START_TIMEOUT_S = 60.0
CUT_WAIT_S = 20.0
SERVER_NAME = "amatelier"
INSTRUCTIONS = """\
amatelier runs a roundtable: persona agents debate a topic from a briefing, a Judge gates \
and scores them, and a digest sums it up. Start one with roundtable_start (it returns the \
rt_id at once; the debate runs in the background). Follow it with roundtable_transcript, \
passing next_since_id from the previous call as since_id, and roundtable_status; when \
roundtable_digest says ready, read the digest (final positions, judge interventions, \
scores, cost). roundtable_cut stops a running roundtable with a reason. Tools that take an \
optional rt_id default to the latest open roundtable, else the latest one."""

log = logging.getLogger("amatelier.mcp")
_T = TypeVar("_T")


class MissingExtra(RuntimeError):
    """The `mcp` package is not installed."""


def available() -> bool:
    """Whether the `mcp` SDK can be imported (the `mcp` extra is installed)."""
    try:
        import mcp.server  # noqa: F401
    except ImportError:
        return False
    return True


def _sdk() -> tuple[type, type[Exception], type]:
    """(server class, ToolError, ToolAnnotations) for mcp 2.x (MCPServer) or 1.x (FastMCP)."""
    try:
        from mcp.types import ToolAnnotations
    except ImportError as exc:
        raise MissingExtra(INSTALL_HINT) from exc
    try:
        from mcp.server.mcpserver import MCPServer as Server
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        try:
            from mcp.server.fastmcp import FastMCP as Server
            from mcp.server.fastmcp.exceptions import ToolError
        except ImportError as exc:
            raise MissingExtra(INSTALL_HINT) from exc
    return Server, ToolError, ToolAnnotations


# --------------------------------------------------------------------------- database access


class Workspace:
    """The user-data paths and database the tools read, made ready once per server."""

    def __init__(self) -> None:
        self._ready = False
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """Create and migrate the workspace and database once, so read-only opens succeed."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            from amatelier.chat.db import open_db

            open_db().close()
            self._ready = True

    def reader(self) -> sqlite3.Connection:
        """A read-only connection to roundtable.db (works on a read-only workspace too)."""
        from amatelier.chat.db import open_for_reading

        return open_for_reading()

    def writer(self) -> sqlite3.Connection:
        """A read-write connection, used only to record a cut."""
        from amatelier.chat.db import connect

        self.ensure()
        return connect()

    def read(self, func: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `func` over a fresh read-only connection."""
        conn = self.reader()
        try:
            return func(conn)
        finally:
            conn.close()

    @staticmethod
    def digest_dir() -> Path:
        """Where the runner writes digest-<rt_id>.json."""
        from amatelier import paths

        return paths.user_digest_dir()

    @staticmethod
    def config() -> dict[str, Any]:
        """The merged config, read per call so edits apply without a restart."""
        from amatelier.config import load_config

        return load_config()


def _failure_message(exc: BaseException) -> str | None:
    """The one line to show for an error the caller can act on (None: unexpected)."""
    from amatelier.backends.base import BackendUnavailable
    from amatelier.config import ConfigError
    from amatelier.errors import UserError
    from amatelier.paths import WorkspaceNotWritable

    if isinstance(exc, ToolFailure | UserError | ConfigError | BackendUnavailable | WorkspaceNotWritable):
        return one_line(exc, 1000)
    if isinstance(exc, sqlite3.Error):
        return one_line(f"database error: {exc}")
    if isinstance(exc, OSError):
        return one_line(f"{exc.strerror or type(exc).__name__}: {exc.filename or exc}")
    return None


# --------------------------------------------------------------------------- tool bodies (sync)


class Tools:
    """The tool implementations; each sync part runs in a worker thread."""

    def __init__(self, workspace: Workspace | None = None, cwd: Path | None = None) -> None:
        self.ws = workspace or Workspace()
        self.cwd = Path(cwd) if cwd else Path.cwd()

    def status(self, rt_id: str | None) -> dict[str, Any]:
        """roundtable_status."""
        from amatelier.mcp import tools as mcp_tools

        return self.ws.read(lambda conn: mcp_tools.status(
            conn, mcp_tools.pick_roundtable(conn, rt_id), self.ws.digest_dir()))

    def transcript(self, rt_id: str | None, since_id: int | None, limit: int | None,
                   include_turns: bool) -> dict[str, Any]:
        """roundtable_transcript."""
        from amatelier.mcp import tools as mcp_tools

        return self.ws.read(lambda conn: mcp_tools.transcript_page(
            conn, mcp_tools.pick_roundtable(conn, rt_id), since_id=since_id, limit=limit,
            include_turns=include_turns))

    def digest(self, rt_id: str | None) -> dict[str, Any]:
        """roundtable_digest."""
        from amatelier.mcp import tools as mcp_tools

        return self.ws.read(lambda conn: mcp_tools.digest(
            conn, mcp_tools.pick_roundtable(conn, rt_id), self.ws.digest_dir()))

    def list(self, limit: int | None) -> dict[str, Any]:
        """roundtable_list."""
        from amatelier.mcp import tools as mcp_tools

        return self.ws.read(lambda conn: mcp_tools.list_roundtables(conn, self.ws.digest_dir(), limit))

    def leaderboard(self) -> dict[str, Any]:
        """leaderboard."""
        from amatelier.mcp import tools as mcp_tools

        config = self.ws.config()
        return self.ws.read(lambda conn: mcp_tools.leaderboard(conn, config))

    def search(self, query: str, rt_id: str | None, agent: str | None, kind: str | None,
               limit: int | None) -> dict[str, Any]:
        """roundtable_search."""
        from amatelier.mcp import tools as mcp_tools

        return self.ws.read(lambda conn: mcp_tools.search(conn, query, rt_id=rt_id, agent=agent, kind=kind,
                                                          limit=limit))

    def sparks(self, agent: str | None, limit: int | None) -> dict[str, Any]:
        """sparks."""
        from amatelier.mcp import tools as mcp_tools

        config = self.ws.config()
        return self.ws.read(lambda conn: mcp_tools.sparks(conn, config, agent, limit))

    def launch(self, request: "StartRequest") -> "Launched":
        """Check a start request and spawn its runner (roundtable_start)."""
        from amatelier import paths
        from amatelier.mcp import launch as mcp_launch

        self.ws.ensure()
        mcp_launch.check_request(request)
        return mcp_launch.launch(mcp_launch.runner_command(request), paths.user_logs_dir(), cwd=self.cwd)

    def briefing(self, briefing: str) -> Path:
        """The briefing file for roundtable_start (inline text is saved first)."""
        from amatelier import paths
        from amatelier.mcp import launch as mcp_launch

        return mcp_launch.resolve_briefing(briefing, cwd=self.cwd, briefing_dir=paths.user_briefing_dir())

    def started(self, launched: "Launched") -> str | None:
        """The new rt_id once the row exists; ToolFailure when the runner already exited."""
        from amatelier.mcp import launch as mcp_launch

        rt_id = self.ws.read(lambda conn: mcp_launch.find_started(conn, launched))
        if rt_id is None and launched.process.poll() is not None:
            raise ToolFailure(mcp_launch.failure_line(launched.log_path, launched.process.returncode))
        return rt_id

    def cut(self, rt_id: str, reason: str) -> dict[str, Any]:
        """roundtable_cut: record the reason, signal the runner."""
        from amatelier.mcp import launch as mcp_launch
        from amatelier.mcp import tools as mcp_tools

        rt_id = mcp_tools.check_rt_id(rt_id)
        reason = mcp_launch.clean_reason(reason)
        conn = self.ws.writer()
        try:
            return mcp_launch.cut(conn, rt_id, reason)
        finally:
            conn.close()

    def say(self, rt_id: str | None, text: str, name: str | None) -> dict[str, Any]:
        """roundtable_say: a person's message into a live roundtable (never blocks it)."""
        from amatelier.chat import human

        config = self.ws.config()
        team = config.get("team", {})
        agents = [*team.get("workers", {}), *(team.get(r, {}).get("name", r) for r in ("judge", "therapist", "admin"))]
        conn = self.ws.writer()
        try:
            return human.say(conn, rt_id, text, name=name or "guest", config=config, agents=agents)
        except human.HumanMessageRefused as exc:
            raise ToolFailure(str(exc)) from None
        finally:
            conn.close()

    def resume(self, rt_id: str) -> "Launched":
        """roundtable_resume: check the roundtable can go on, then spawn a resuming runner."""
        from amatelier import paths
        from amatelier.debate import resume as resume_mod
        from amatelier.errors import UserError
        from amatelier.mcp import launch as mcp_launch
        from amatelier.mcp import tools as mcp_tools

        rt_id = mcp_tools.check_rt_id(rt_id)
        self.ws.ensure()
        conn = self.ws.writer()
        try:
            from amatelier.chat import roundtables

            roundtables.cut_orphans(conn)
            resume_mod.resumable(conn, rt_id)
        except UserError as exc:
            raise ToolFailure(str(exc)) from None
        finally:
            conn.close()
        return mcp_launch.launch(mcp_launch.resume_command(rt_id), paths.user_logs_dir(), cwd=self.cwd)

    def resumed(self, launched: "Launched", rt_id: str) -> str | None:
        """The rt_id once the resuming runner has it open; ToolFailure when it already exited."""
        from amatelier.mcp import launch as mcp_launch

        found = self.ws.read(lambda conn: mcp_launch.find_resumed(conn, launched, rt_id))
        if found is None and launched.process.poll() is not None:
            raise ToolFailure(mcp_launch.failure_line(launched.log_path, launched.process.returncode))
        return found

    def runner_gone(self, rt_id: str) -> bool:
        """Whether the roundtable's runner has exited (after a cut)."""
        from amatelier.mcp import tools as mcp_tools

        rt = self.ws.read(lambda conn: mcp_tools.pick_roundtable(conn, rt_id))
        return mcp_tools.runner_alive(rt) is not True


# --------------------------------------------------------------------------- the MCP server


async def _poll(check: Callable[[], Awaitable[_T | None]], deadline: float) -> _T | None:
    """Await `check()` until it returns something other than None or the deadline passes."""
    import anyio

    delay = 0.01
    while True:
        value = await check()
        if value is not None:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        await anyio.sleep(min(delay, remaining))
        delay = min(0.25, delay * 1.5)


def build_server(tools: Tools | None = None) -> Any:
    """The MCP server with every amatelier tool registered (MissingExtra without the SDK)."""
    import anyio
    from pydantic import Field

    from amatelier.mcp.launch import StartRequest, stop_launched

    Server, ToolError, ToolAnnotations = _sdk()
    impl = tools or Tools()
    server = Server(name=SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(readOnlyHint=True, openWorldHint=False)

    async def run(func: Callable[..., _T], *args: Any) -> _T:
        """Run a blocking tool body in a thread, turning failures into one-line tool errors."""
        try:
            return await anyio.to_thread.run_sync(functools.partial(func, *args))
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line for the model
            message = _failure_message(exc)
            if message is None:
                log.warning("tool failed unexpectedly", exc_info=True)
                message = one_line(f"internal error: {type(exc).__name__}: {exc}")
            raise ToolError(message) from None

    RtId = Annotated[str | None, Field(
        description="Roundtable id (from roundtable_start or roundtable_list). "
                    "Default: the latest open roundtable, else the latest.")]

    @server.tool(annotations=ToolAnnotations(destructiveHint=False, openWorldHint=True))
    async def roundtable_start(
        topic: Annotated[str, Field(description="The question the roundtable debates.")],
        briefing: Annotated[str, Field(description=(
            "Briefing markdown (Objective, Context, Constraints, Success criteria): the briefing "
            "text itself, or the name of a file in the workspace briefing dir "
            "(<user data>/roundtable-server/). Other host paths are refused."))],
        workers: Annotated[list[str] | None, Field(description=(
            "Agents to seat, e.g. [\"elena\", \"marcus\"]. Default: the configured team plus naomi."))] = None,
        max_rounds: Annotated[int | None, Field(description="Most rounds to run (default 3).")] = None,
        budget: Annotated[int | None, Field(description="Floor contributions per agent (default 3).")] = None,
        skip_naomi: Annotated[bool, Field(description="Leave Naomi (Gemini) out.")] = False,
        skip_post: Annotated[bool, Field(description=(
            "Stop after scoring and distillation: no therapist debriefs."))] = False,
        max_cost_usd: Annotated[float | None, Field(ge=0, description=(
            "Never spend more than this many US dollars on the roundtable (0: no limit; default: "
            "config roundtable.ceilings.max_cost_usd). It stops before a call that could pass it."))] = None,
        max_tokens: Annotated[int | None, Field(ge=0, description=(
            "Ceiling on input + output tokens over the roundtable (0: no limit)."))] = None,
        max_minutes: Annotated[float | None, Field(ge=0, description=(
            "No model call starts after this many minutes (0: no limit)."))] = None,
    ) -> dict[str, Any]:
        """Start a roundtable in the background and return its rt_id as soon as it is open.

        Follow it with roundtable_transcript (since_id) and roundtable_status, then read
        roundtable_digest. The roundtable uses the model provider amatelier is configured for.
        """
        path = await run(impl.briefing, briefing)
        request = StartRequest(topic=(topic or "").strip(), briefing=path, workers=workers,
                               max_rounds=max_rounds, budget=budget, skip_naomi=skip_naomi,
                               skip_post=skip_post, max_cost_usd=max_cost_usd, max_tokens=max_tokens,
                               max_minutes=max_minutes)
        launched = await run(impl.launch, request)
        rt_id = await _poll(lambda: run(impl.started, launched), time.monotonic() + START_TIMEOUT_S)
        if rt_id is None:
            stop_launched(launched)
            raise ToolError(f"the roundtable did not open within {START_TIMEOUT_S:g}s and was stopped "
                            f"(log: {launched.log_path})")
        return {"rt_id": rt_id, "status": "open", "topic": request.topic, "briefing": str(path),
                "runner_pid": launched.process.pid, "log": str(launched.log_path),
                "next": "follow with roundtable_transcript(rt_id, since_id=0); read roundtable_digest "
                        "when roundtable_status shows stage done"}

    @server.tool(annotations=read_only)
    async def roundtable_status(rt_id: RtId = None) -> dict[str, Any]:
        """Where a roundtable is: status (open/closed/cut), stage (debating, finishing, done,
        orphaned), round and phase, who is speaking, message count, cut reason, digest_ready."""
        return await run(impl.status, rt_id)

    @server.tool(annotations=read_only)
    async def roundtable_transcript(
        rt_id: RtId = None,
        since_id: Annotated[int | None, Field(description=(
            "Only messages with a larger id; pass next_since_id from the previous call to follow "
            "live. Default 0 (from the start)."))] = None,
        limit: Annotated[int | None, Field(description="Most messages to return (1-500, default 50).")] = None,
        include_turns: Annotated[bool, Field(description=(
            "Also return the runner's 'YOUR TURN: ...' handoff lines."))] = False,
    ) -> dict[str, Any]:
        """Messages of a roundtable in order (briefing, phase headers, speeches, Judge lines).
        Returns next_since_id and more (another page waits); open says whether it still runs."""
        return await run(impl.transcript, rt_id, since_id, limit, include_turns)

    @server.tool(annotations=read_only)
    async def roundtable_digest(rt_id: RtId = None) -> dict[str, Any]:
        """The decision record of a finished (or cut) roundtable first (recommendation, outcome,
        confidence, cited arguments, dissent, who moved whom), then a human summary and the digest.
        ready is false while it still runs; final is false while scoring and the learning loop may
        still add fields."""
        return await run(impl.digest, rt_id)

    @server.tool(annotations=read_only)
    async def roundtable_list(
        limit: Annotated[int | None, Field(description="Most roundtables to list (1-200, default 20).")] = None,
    ) -> dict[str, Any]:
        """Recent roundtables, newest first: id, topic, status, cut reason, message count, digest."""
        return await run(impl.list, limit)

    @server.tool(annotations=read_only)
    async def leaderboard() -> dict[str, Any]:
        """Workers ranked by spark balance, with scores, gates, flags and bench status."""
        return await run(impl.leaderboard)

    @server.tool(annotations=read_only)
    async def roundtable_search(
        query: Annotated[str, Field(description="FTS5 query: words, OR, NOT, \"exact phrase\", prefix*.")],
        rt_id: RtId = None,
        agent: Annotated[str | None, Field(description="Only messages by this speaker.")] = None,
        kind: Annotated[str | None, Field(description="message, decision or topic.")] = None,
        limit: Annotated[int | None, Field(description="Results (1-200, default 10).")] = None,
    ) -> dict[str, Any]:
        """Search every past roundtable: ranked hits with rt_id, date, speaker, snippet and how to open it."""
        return await run(impl.search, query, rt_id, agent, kind, limit)

    @server.tool(annotations=read_only)
    async def sparks(
        agent: Annotated[str | None, Field(description="One agent's balance and history. Default: every balance.")] = None,
        limit: Annotated[int | None, Field(description="History rows for an agent (1-500, default 20).")] = None,
    ) -> dict[str, Any]:
        """Spark balances (the sum of the append-only ledger), or one agent's balance and latest rows."""
        return await run(impl.sparks, agent, limit)

    @server.tool(annotations=ToolAnnotations(destructiveHint=False, idempotentHint=False, openWorldHint=False))
    async def roundtable_say(
        text: Annotated[str, Field(description="What the person wants the agents to know (at most 4000 "
                                               "characters).")],
        rt_id: RtId = None,
        name: Annotated[str | None, Field(description=(
            "The person's name at the table (lower-case letters, digits, . - _; not an agent's "
            "name). Default: guest."))] = None,
    ) -> dict[str, Any]:
        """Post a message from the user into a live roundtable. It never blocks the debate; every
        agent sees it in its next turn under a label saying it is a person, not a debater; it is
        never scored."""
        return await run(impl.say, rt_id, text, name)

    @server.tool(annotations=ToolAnnotations(destructiveHint=False, openWorldHint=True))
    async def roundtable_resume(
        rt_id: Annotated[str, Field(description="The roundtable to continue (cut, or left by a dead runner).")],
    ) -> dict[str, Any]:
        """Continue a roundtable whose runner died or that was cut, from the first turn that did
        not complete, with the same workers, order, budgets and rounds. Turns already answered
        are kept; no fee is charged twice."""
        launched = await run(impl.resume, rt_id)
        found = await _poll(lambda: run(impl.resumed, launched, rt_id), time.monotonic() + START_TIMEOUT_S)
        if found is None:
            stop_launched(launched)
            raise ToolError(f"the roundtable did not resume within {START_TIMEOUT_S:g}s and was stopped "
                            f"(log: {launched.log_path})")
        return {"rt_id": found, "status": "open", "runner_pid": launched.process.pid,
                "log": str(launched.log_path),
                "next": "follow with roundtable_transcript(rt_id, since_id=...) and roundtable_status"}

    @server.tool(annotations=ToolAnnotations(destructiveHint=True, idempotentHint=False, openWorldHint=False))
    async def roundtable_cut(
        rt_id: Annotated[str, Field(description="The running roundtable to stop.")],
        reason: Annotated[str, Field(description="Why it is cut; recorded as the cut reason.")],
    ) -> dict[str, Any]:
        """Stop a running roundtable: records the reason, signals its runner, and waits briefly
        for the runner to stop its workers and write the digest (which then carries cut_reason)."""
        result = await run(impl.cut, rt_id, reason)

        async def gone() -> bool | None:
            return True if await run(impl.runner_gone, result["rt_id"]) else None

        stopped = await _poll(gone, time.monotonic() + CUT_WAIT_S) if result["runner_signalled"] else True
        result["runner_stopped"] = bool(stopped)
        return result

    return server


def serve() -> None:
    """Run the server on stdio until the client disconnects."""
    server = build_server()
    server.run("stdio")


def main(argv: list[str] | None = None) -> None:
    """`python -m amatelier.mcp.server`: serve over stdio, or say how to install the extra."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        print(f"amatelier {__version__}")
        return
    if args:
        print("usage: python -m amatelier.mcp.server  (serves amatelier's MCP tools over stdio)",
              file=sys.stderr)
        raise SystemExit(2)
    if not available():
        print(f"amatelier: error: {INSTALL_HINT}", file=sys.stderr)
        raise SystemExit(2)
    with contextlib.suppress(KeyboardInterrupt):
        serve()


if __name__ == "__main__":
    main()
