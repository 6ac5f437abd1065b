"""Deterministic lookups: the request grammar the Steward answers without any model.

Grammar (case-insensitive; PATH is one token, or quoted with `...`, "..." or '...'):

    list files                         the registered files and their sizes
    read PATH                          a whole file (also: show / cat / open PATH, or PATH alone)
    lines A-B of PATH                  a line range (also: line A of PATH, PATH lines A-B, PATH:A-B)
    key a.b.c in PATH                  a value in a JSON or TOML file (also: PATH: a.b.c for .json/.toml)
    grep TEXT in PATH-OR-GLOB          literal, case-insensitive search (also: search for "TEXT" in ...,
                                       find "TEXT" in ...; without "in ..." it searches every registered file)

Anything else goes to the model path (subagent). Every file is read through
`amatelier.steward.scope.read_scoped`, so a lookup can never leave the registered scope.
"""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from amatelier.steward.registry import Registry
from amatelier.steward.result import StewardResult
from amatelier.steward.scope import (
    OutOfScope,
    ScopedRead,
    ScopeError,
    glob_matches,
    read_scoped,
    registered_paths,
)

_PATH = r"(?P<path>`[^`]+`|\"[^\"]+\"|'[^']+'|\S+)"
_PATTERN = r"(?P<pat>`[^`]+`|\"[^\"]+\"|'[^']+'|{bare})"
_GREP_PATTERN = _PATTERN.format(bare=r"[^\s`\"']+")
_QUOTED_PATTERN = _PATTERN.format(bare=r"(?!)")  # search/find need a quoted pattern
_RANGE = r"(?P<start>\d+)(?:\s*(?:-|–|\.\.|to)\s*(?P<end>\d+))?"

RULES: list[tuple[str, re.Pattern[str]]] = [
    ("list", re.compile(r"(?:ls|list|list (?:the )?(?:registered )?files|(?:which|what) files"
                        r"(?: are registered| are available| can you read)?|registered files"
                        r"|files)", re.I)),
    ("lines", re.compile(rf"lines?\s+{_RANGE}\s+(?:of|in|from)\s+(?:the\s+)?(?:file\s+)?{_PATH}", re.I)),
    ("lines", re.compile(rf"{_PATH}\s*,?\s+lines?\s+{_RANGE}", re.I)),
    ("lines", re.compile(r"(?P<path>[^\s:]+):(?P<start>\d+)(?:-(?P<end>\d+))?", re.I)),
    ("key", re.compile(rf"(?:json\s+|toml\s+)?(?:key(?:\s*path)?|value\s+of|field)\s+"
                       rf"(?P<key>[^\s]+)\s+(?:in|of|from)\s+{_PATH}", re.I)),
    ("key", re.compile(r"(?P<path>[^\s:]+\.(?:json|toml))\s*(?::|#)\s*(?P<key>[^\s]+)", re.I)),
    ("grep", re.compile(rf"grep\s+(?:-i\s+)?{_GREP_PATTERN}"
                        rf"(?:\s+(?:in|within|across|over)\s+{_PATH})?", re.I)),
    ("grep", re.compile(rf"(?:search\s+for|search|find|look\s+for)\s+"
                        rf"{_QUOTED_PATTERN}(?:\s+(?:in|within|across)\s+{_PATH})?", re.I)),
    ("read", re.compile(rf"(?:read|show|cat|open|print|contents\s+of|full\s+text\s+of)\s+"
                        rf"(?:the\s+)?(?:file\s+)?{_PATH}", re.I)),
    ("read", re.compile(r"(?P<path>[^\s]*[/.][^\s]*)", re.I)),
]
MAX_LINES = 200
MAX_MATCHES = 50
MAX_LINE_CHARS = 400
DEFAULT_OUTPUT_CHARS = 4000


@dataclass(frozen=True)
class Lookup:
    """A parsed deterministic request."""

    kind: str                       # list | read | lines | key | grep
    path: str | None = None
    start: int = 0
    end: int = 0
    key: str = ""
    pattern: str = ""


def _unquote(text: str | None) -> str | None:
    if text is None:
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "`\"'":
        return text[1:-1]
    return text


def parse_lookup(request: str) -> Lookup | None:
    """The deterministic lookup a request asks for, or None when it needs a model."""
    text = " ".join((request or "").split()).rstrip(" .?!;")
    for kind, rule in RULES:
        match = rule.fullmatch(text)
        if not match:
            continue
        groups = match.groupdict()
        path = _unquote(groups.get("path"))
        if kind == "list":
            return Lookup("list")
        if kind == "lines":
            start = int(groups["start"])
            end = int(groups["end"]) if groups.get("end") else start
            return Lookup("lines", path=path, start=start, end=end)
        if kind == "key":
            return Lookup("key", path=path, key=groups["key"].strip("`\"'"))
        if kind == "grep":
            return Lookup("grep", path=path, pattern=_unquote(groups["pat"]) or "")
        return Lookup("read", path=path)
    return None


def try_deterministic(request: str, registry: Registry, *, max_bytes: int | None = None,
                      max_output_chars: int = DEFAULT_OUTPUT_CHARS) -> StewardResult | None:
    """Answer `request` without any model, or None when the grammar does not cover it."""
    lookup = parse_lookup(request)
    if lookup is None:
        return None
    started = time.perf_counter()
    try:
        result = run_lookup(lookup, registry, max_bytes=max_bytes)
    except ScopeError as exc:
        shown = exc.candidate.replace("\x00", "\\0") if exc.candidate else (lookup.path or "")
        result = StewardResult(exc.status, output=f"{exc.reason}: {shown}".strip(": "),
                               path=shown)
    result.method = f"deterministic:{lookup.kind}"
    result.elapsed_s = time.perf_counter() - started
    if len(result.output) > max_output_chars:
        result.output = (result.output[:max_output_chars].rstrip()
                         + f"\n... [truncated at {max_output_chars} characters]")
    return result


def run_lookup(lookup: Lookup, registry: Registry, *, max_bytes: int | None) -> StewardResult:
    """Run a parsed lookup; raises ScopeError (OutOfScope, NotFound) for refused paths."""
    if lookup.kind == "list":
        return _list(registry, max_bytes, lookup.pattern or None)
    if lookup.kind == "grep":
        return _grep(lookup, registry, max_bytes)
    scoped = read_scoped(lookup.path, registry, max_bytes=max_bytes)
    shown = registry.display(scoped.path)
    if lookup.kind == "key":
        return _key(lookup, scoped, shown)
    if _is_binary(scoped.data):
        return StewardResult("error", output=f"{shown} is a binary file ({len(scoped.data)} bytes)",
                             path=shown, bytes=len(scoped.data))
    lines = scoped.text().splitlines()
    if lookup.kind == "lines":
        start, end = sorted((max(1, lookup.start), max(1, lookup.end)))
        end = min(end, start + MAX_LINES - 1)
        if start > len(lines):
            return StewardResult("not_found", path=shown, bytes=len(scoped.data),
                                 output=f"{shown} has only {len(lines)} lines")
        picked = lines[start - 1:end]
        body = "\n".join(f"{start + i}: {line}" for i, line in enumerate(picked))
        return StewardResult("ok", path=shown, bytes=len(scoped.data),
                             output=f"{shown} lines {start}-{start + len(picked) - 1} "
                                    f"of {len(lines)}:\n{body}")
    return StewardResult("ok", path=shown, bytes=len(scoped.data),
                         output=f"{shown} ({len(lines)} lines):\n{scoped.text()}")


def _is_binary(data: bytes) -> bool:
    return b"\x00" in data[:8192]


def _inside_glob(pattern: str) -> str:
    """A launch-relative glob a model gave, without a leading "./"; OutOfScope if it reaches out."""
    posix = pattern.replace(os.sep, "/")
    if ".." in PurePosixPath(posix).parts or os.path.isabs(pattern) or posix.startswith("~"):
        raise OutOfScope("glob reaches outside the launch directory", pattern)
    while posix.startswith("./"):
        posix = posix[2:]
    return posix


def _list(registry: Registry, max_bytes: int | None, pattern: str | None) -> StewardResult:
    wanted = _inside_glob(pattern) if pattern else None
    allowed, refused = registered_paths(registry, max_bytes=max_bytes)
    if wanted:
        allowed = [p for p in allowed if glob_matches(registry.display(p), wanted)]
    title = f"Registered files matching {pattern}" if pattern else "Registered files"
    lines = [f"{title} ({len(allowed)}):"]
    for path in allowed:
        try:
            size = f"{os.stat(path).st_size} bytes"
        except OSError:
            size = "gone since the check"
        lines.append(f"- {registry.display(path)} ({size})")
    if not pattern:
        for entry, reason in [*registry.rejected, *refused]:
            lines.append(f"- {entry} (unavailable: {reason})")
    return StewardResult("ok", output="\n".join(lines), path="(registered files)")


def _parse_key(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for match in re.finditer(r"\[(\d+)\]|\[\"([^\"]*)\"\]|\['([^']*)'\]|([^.\[\]]+)", key):
        index, dq, sq, bare = match.groups()
        if index is not None:
            parts.append(int(index))
        elif dq is not None or sq is not None:
            parts.append(dq if dq is not None else sq)  # type: ignore[arg-type]
        elif bare is not None:
            parts.append(int(bare) if bare.isdigit() else bare)
    return parts


def _key(lookup: Lookup, scoped: ScopedRead, shown: str) -> StewardResult:
    size = len(scoped.data)
    try:
        if PurePosixPath(shown).suffix.lower() == ".toml":
            data: Any = tomllib.loads(scoped.text())
        else:
            data = json.loads(scoped.text())
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        return StewardResult("error", path=shown, bytes=size,
                             output=f"{shown} is not valid JSON/TOML: {exc}")
    node: Any = data
    walked: list[str] = []
    for part in _parse_key(lookup.key):
        if isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        else:
            where = ".".join(walked) or "(top level)"
            keys = ", ".join(list(map(str, node))[:20]) if isinstance(node, dict) else (
                f"a list of {len(node)}" if isinstance(node, list) else type(node).__name__)
            return StewardResult("not_found", path=shown, bytes=size,
                                 output=f"key path {lookup.key} not found in {shown}; "
                                        f"at {where} there is: {keys}")
        walked.append(str(part))
    rendered = json.dumps(node, indent=2, ensure_ascii=False, default=str)
    return StewardResult("ok", path=shown, bytes=size,
                         output=f"{shown} → {lookup.key} = {rendered}")


def _grep_targets(lookup: Lookup, registry: Registry,
                  max_bytes: int | None) -> list[ScopedRead]:
    target = lookup.path
    if target and not any(ch in target for ch in "*?["):
        return [read_scoped(target, registry, max_bytes=max_bytes)]
    wanted = _inside_glob(target) if target else None
    allowed, _ = registered_paths(registry, max_bytes=max_bytes)
    reads: list[ScopedRead] = []
    for path in allowed:
        if wanted and not glob_matches(registry.display(path), wanted):
            continue
        reads.append(read_scoped(path, registry, max_bytes=max_bytes))
    if target and not reads:
        raise OutOfScope("no registered file matches the glob", target)
    return reads


def _grep(lookup: Lookup, registry: Registry, max_bytes: int | None) -> StewardResult:
    needle = lookup.pattern.casefold()
    if not needle:
        return StewardResult("error", output="grep needs a non-empty pattern")
    reads = _grep_targets(lookup, registry, max_bytes)
    hits: list[str] = []
    files_hit: list[str] = []
    total = 0
    read_bytes = 0
    for scoped in reads:
        read_bytes += len(scoped.data)
        if _is_binary(scoped.data):
            continue
        shown = registry.display(scoped.path)
        for number, line in enumerate(scoped.text().splitlines(), start=1):
            if needle in line.casefold():
                total += 1
                if shown not in files_hit:
                    files_hit.append(shown)
                if len(hits) < MAX_MATCHES:
                    hits.append(f"{shown}:{number}: {line.strip()[:MAX_LINE_CHARS]}")
    used = ", ".join(registry.display(r.path) for r in reads)
    if not total:
        return StewardResult("not_found", path=used, bytes=read_bytes,
                             output=f'no line matches "{lookup.pattern}" in {used or "the registered files"}')
    more = f"\n... {total - len(hits)} more" if total > len(hits) else ""
    return StewardResult("ok", path=used, bytes=read_bytes,
                         output=f'{total} match(es) for "{lookup.pattern}" in '
                                f"{len(files_hit)} file(s):\n" + "\n".join(hits) + more)


def describe_grammar() -> str:
    """The grammar as agents are told it (in the research window and turn instructions)."""
    return (
        "Request forms the Steward answers directly (PATH as listed in the registered files):\n"
        "  [[request: list files]]\n"
        "  [[request: read PATH]]\n"
        "  [[request: lines 10-40 of PATH]]\n"
        "  [[request: key a.b.c in PATH]]        (JSON or TOML)\n"
        "  [[request: grep TEXT in PATH]]        (literal, case-insensitive; a glob works too)\n"
        "Any other question in plain words goes to a Steward model that can read only the "
        "registered files."
    )
