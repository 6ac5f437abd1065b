"""Talk to `python -m amatelier.mcp.server` with the REAL mcp client over stdio.

`session(env)` is an async context that spawns the server in a temp workspace and yields
an initialized ClientSession; `call(...)` returns (is_error, structured data or text).
Callers skip when the `mcp` package cannot be imported (the optional extra).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SERVER_ARGS = ["-m", "amatelier.mcp.server"]


@contextlib.asynccontextmanager
async def session(env: dict[str, str], cwd: Path = REPO) -> AsyncIterator[Any]:
    """An initialized ClientSession connected to a fresh server process."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=SERVER_ARGS, env=env, cwd=str(cwd))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        yield client


def result_of(result: Any) -> tuple[bool, Any]:
    """(is_error, structured content when present, else the joined text)."""
    is_error = bool(getattr(result, "is_error", getattr(result, "isError", False)))
    data = getattr(result, "structured_content", getattr(result, "structuredContent", None))
    if data is not None and not is_error:
        return is_error, data
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    return is_error, text


async def call(client: Any, tool: str, **arguments: Any) -> tuple[bool, Any]:
    """Call one tool; returns (is_error, data)."""
    return result_of(await client.call_tool(tool, arguments))


async def ok(client: Any, tool: str, **arguments: Any) -> Any:
    """Call one tool that must succeed; returns its structured data."""
    is_error, data = await call(client, tool, **arguments)
    assert not is_error, f"{tool} failed: {data}"
    return data


async def poll(check: Callable[[], Awaitable[Any]], *, timeout: float = 60.0, what: str = "condition") -> Any:
    """Await `check()` until it returns something truthy; AssertionError after `timeout` seconds."""
    import anyio

    end = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < end:
        value = await check()
        if value:
            return value
        await anyio.sleep(delay)
        delay = min(0.25, delay * 1.5)
    raise AssertionError(f"timed out waiting for {what}")
