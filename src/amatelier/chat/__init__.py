"""The roundtable database: the one SQLite file (WAL) every process shares.

Owns the connection (open, read-only open, busy handling), the migrations, and the queries on
roundtables, messages, turns, read cursors and llm_calls that the runner, the workers, watch and
the MCP server share. It may import backends (to record calls) and the top-level modules only;
every subsystem above it may import chat.
"""
