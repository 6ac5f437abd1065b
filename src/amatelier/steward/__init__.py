"""The Steward: answers agents' `[[request: ...]]` lookups from the files a briefing registers.

It reads the user's disk on a model's behalf, so every read goes through one scope check
(`amatelier.steward.scope.check_path`). Modules, each with one job:

* ``requests``   — find and strip ``[[request: ...]]`` tags in a speech
* ``registry``   — parse the briefing's ``## Steward-Registered Files`` section
* ``scope``      — the security boundary: resolve, check and read a candidate path
* ``lookups``    — the deterministic request grammar (no model call)
* ``tools``      — read/grep/glob tools for the model paths, all through ``scope``
* ``toolloop``   — tool-use loops for the anthropic-sdk and openai-compat modes
* ``claude_cli`` — the ``claude -p`` subagent (claude-code mode), with a scope hook
* ``subagent``   — picks the model path for the current mode (offline included)
* ``result``, ``budget``, ``task``, ``log``, ``formatting`` — flow and bookkeeping
* ``session``    — one roundtable's Steward: registry, budgets, pending tasks, log

It sits beside the debate, which calls it; it may import chat, backends and the top-level
modules, and never debate, judging, economy or learning.
"""
