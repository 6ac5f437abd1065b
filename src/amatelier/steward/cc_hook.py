"""PreToolUse hook for the `claude -p` Steward: every tool path through the same scope check.

Claude Code runs `python -m amatelier.steward.cc_hook MIRROR [AUDIT]` before each tool
call, with the call as JSON on stdin. Exit 0 lets it run; exit 2 blocks it and the
reason on stderr goes back to the model as the tool's error. MIRROR is the private
directory holding copies of the in-scope registered files (the CLI's cwd); AUDIT, when
given, receives one JSON line per decision so the Steward can report what was read.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import PurePosixPath
from typing import Any

from amatelier.steward.registry import mirror_registry
from amatelier.steward.scope import ScopeError, check_path

ALLOWED_TOOLS = ("Read", "Grep", "Glob")


# A ".." path step anywhere in a glob, brace alternatives included ("{..,x}/*", "a/{b,..}/*").
_PARENT_STEP = re.compile(r"(?:^|[/{,])\.\.(?:$|[/},])")
# An absolute or home-relative glob, or brace alternative ("/etc/*", "{a,/etc}/*", "~/x").
_ROOTED = re.compile(r"(?:^|[{,])[/~]")


def _pattern_reaches_out(pattern: str) -> bool:
    """Whether a Glob/Grep glob could name something outside the mirror."""
    return (bool(_ROOTED.search(pattern)) or "\x00" in pattern
            or bool(_PARENT_STEP.search(pattern)) or ".." in PurePosixPath(pattern).parts)


def decide(event: dict[str, Any], mirror: str) -> tuple[bool, str, str]:
    """(allowed, path considered, reason when refused) for one PreToolUse event."""
    tool = str(event.get("tool_name", ""))
    args = event.get("tool_input") or {}
    if not isinstance(args, dict):
        args = {}
    if tool not in ALLOWED_TOOLS:
        return False, "", f"tool {tool or '?'} is not available to the Steward"
    registry = mirror_registry(mirror)
    cwd = str(event.get("cwd") or mirror)
    if tool == "Read":
        target = args.get("file_path") or args.get("path") or ""
        want_dir = False
    else:
        target = args.get("path") or cwd
        want_dir = True
        for key in ("pattern", "glob"):
            pattern = args.get(key)
            if tool == "Grep" and key == "pattern":
                continue  # Grep's pattern is a regex over contents, not a path
            if isinstance(pattern, str) and _pattern_reaches_out(pattern):
                return False, pattern, "glob reaches outside the registered files"
    if not isinstance(target, str):
        return False, repr(target)[:80], "not a path"
    if target and not os.path.isabs(target) and "\x00" not in target:
        target = os.path.join(cwd, target)
    try:
        check_path(target, registry, allow_dir=want_dir)
    except ScopeError as exc:
        return False, str(target).replace("\x00", "\\0"), exc.reason
    return True, target, ""


def main(argv: list[str] | None = None) -> int:
    """Run as the PreToolUse hook: exit 0 allows the tool call, exit 2 blocks it."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m amatelier.steward.cc_hook MIRROR [AUDIT]", file=sys.stderr)
        return 2
    mirror = argv[0]
    audit = argv[1] if len(argv) > 1 else None
    try:
        event = json.loads(sys.stdin.read() or "{}")
    except ValueError:
        print("out of scope: unreadable tool call", file=sys.stderr)
        return 2
    allowed, target, reason = decide(event if isinstance(event, dict) else {}, mirror)
    if audit:
        with open(audit, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"tool": event.get("tool_name"), "path": target,
                                     "allowed": allowed, "reason": reason}) + "\n")
    if allowed:
        return 0
    print(f"out of scope: {reason} ({target}). Only the registered files can be read.",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
