"""The HTTP jobs API and live web page (`amatelier serve`, extra `serve`: starlette + uvicorn).

A job is one roundtable run as an ordinary `amatelier roundtable` runner process (the same
isolation as the CLI); its id is the roundtable id. The server reads what the runner writes
(the run manifest, telemetry.jsonl, the chat database read-only, the digest) and never drives
the debate itself. A front door like the CLI and MCP: it may import the debate runner's public
pieces; nothing imports it.
"""
