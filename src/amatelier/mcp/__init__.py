"""The MCP server: a front door for Claude Code beside the CLI (extra `mcp`).

Owns the stdio server, its tools (start, status, transcript, digest, list, cut, leaderboard,
sparks) and how a roundtable is launched from a tool call. Like the CLI it may import every
subsystem (debate to launch, economy and learning for the read-only views) and the top-level
modules; nothing imports mcp. The `mcp` library itself is imported lazily.
"""
