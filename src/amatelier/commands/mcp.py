"""CLI command for the MCP server: `amatelier mcp` serves roundtable tools to Claude Code."""

from __future__ import annotations

import contextlib

from amatelier.commands.errors import UserError


def mcp() -> None:
    """Serve amatelier's roundtable tools to Claude Code over stdio (MCP).

    Register it once with: claude mcp add amatelier -- amatelier mcp
    """
    from amatelier.mcp import server as mcp_server

    if not mcp_server.available():
        raise UserError(mcp_server.INSTALL_HINT)
    with contextlib.suppress(KeyboardInterrupt):
        mcp_server.serve()


def register(app) -> None:
    """Add this area's commands to the typer app."""
    app.command("mcp")(mcp)
