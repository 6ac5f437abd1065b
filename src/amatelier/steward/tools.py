"""Local read / grep / glob tools for the Steward's model paths, all through the scope check.

The anthropic-sdk and openai-compat tool-use loops hand these to the model; the offline
path runs them itself. A refused path comes back to the model as an "out of scope" tool
result, never as file content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from amatelier.steward.lookups import Lookup, run_lookup
from amatelier.steward.registry import Registry
from amatelier.steward.scope import ScopeError

TOOL_OUTPUT_CHARS = 8000

TOOL_SPECS: list[dict[str, Any]] = [
    {
        "name": "read_file",
        "description": "Read one registered file (optionally a 1-based inclusive line range). "
                       "Only the registered files can be read; anything else is refused.",
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "path as listed in the registered files"},
                "start_line": {"type": "integer", "minimum": 1},
                "end_line": {"type": "integer", "minimum": 1},
            },
            "required": ["path"],
        },
    },
    {
        "name": "grep",
        "description": "Literal, case-insensitive search for a text in the registered files "
                       "(all of them, or one path / a glob among them).",
        "parameters": {
            "type": "object",
            "properties": {
                "pattern": {"type": "string"},
                "path": {"type": "string", "description": "a registered file or a glob; omit for all"},
            },
            "required": ["pattern"],
        },
    },
    {
        "name": "glob",
        "description": "List the registered files, optionally only those matching a glob.",
        "parameters": {
            "type": "object",
            "properties": {"pattern": {"type": "string"}},
        },
    },
]


def anthropic_tools() -> list[dict[str, Any]]:
    """The tools in the Messages API shape (input_schema)."""
    return [{"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
            for t in TOOL_SPECS]


def openai_tools() -> list[dict[str, Any]]:
    """The tools in the Chat Completions shape (type function)."""
    return [{"type": "function", "function": {"name": t["name"], "description": t["description"],
                                              "parameters": t["parameters"]}}
            for t in TOOL_SPECS]


@dataclass
class ToolCallRecord:
    """One tool call a model made: what it asked for and how it ended."""

    name: str
    arguments: dict[str, Any]
    status: str
    path: str


@dataclass
class ToolBox:
    """Runs tool calls for one lookup and remembers what they read and what was refused."""

    registry: Registry
    max_bytes: int | None = None
    calls: list[ToolCallRecord] = field(default_factory=list)
    paths_read: list[str] = field(default_factory=list)
    bytes_read: int = 0

    def run(self, name: str, arguments: Any) -> tuple[str, bool]:
        """(text for the model, is_error). Never raises for a bad call: the model is told."""
        args = arguments if isinstance(arguments, dict) else {}
        lookup = self._lookup(name, args)
        if lookup is None:
            self.calls.append(ToolCallRecord(name, args, "error", ""))
            return f"error: unknown tool or missing arguments for {name!r}", True
        try:
            result = run_lookup(lookup, self.registry, max_bytes=self.max_bytes)
        except ScopeError as exc:
            shown = (exc.candidate or str(args.get("path", ""))).replace("\x00", "\\0")
            self.calls.append(ToolCallRecord(name, args, exc.status, shown))
            label = "out of scope" if exc.status == "out_of_scope" else exc.status.replace("_", " ")
            return f"{label}: {exc.reason} ({shown}). Only the registered files can be read.", True
        self.calls.append(ToolCallRecord(name, args, result.status, result.path))
        if result.bytes:
            self.bytes_read += result.bytes
            for part in result.path.split(", "):
                if part and part not in self.paths_read:
                    self.paths_read.append(part)
        text = result.output
        if len(text) > TOOL_OUTPUT_CHARS:
            text = text[:TOOL_OUTPUT_CHARS] + f"\n... [truncated at {TOOL_OUTPUT_CHARS} characters]"
        return text, result.status not in ("ok", "not_found")

    @staticmethod
    def _lookup(name: str, args: dict[str, Any]) -> Lookup | None:
        path = args.get("path")
        if name == "read_file":
            if not isinstance(path, str):
                return None
            start, end = args.get("start_line"), args.get("end_line")
            if isinstance(start, int) or isinstance(end, int):
                first = start if isinstance(start, int) else 1
                last = end if isinstance(end, int) else first + 199
                return Lookup("lines", path=path, start=first, end=last)
            return Lookup("read", path=path)
        if name == "grep":
            pattern = args.get("pattern")
            if not isinstance(pattern, str) or not pattern:
                return None
            return Lookup("grep", path=path if isinstance(path, str) and path else None,
                          pattern=pattern)
        if name == "glob":
            pattern = args.get("pattern")
            return Lookup("list", pattern=pattern if isinstance(pattern, str) else "")
        return None

    def found_something(self) -> bool:
        """Whether a read or grep (not a mere listing) returned content."""
        return any(call.status == "ok" and call.name != "glob" for call in self.calls)

    def refused(self) -> list[ToolCallRecord]:
        return [call for call in self.calls if call.status == "out_of_scope"]
