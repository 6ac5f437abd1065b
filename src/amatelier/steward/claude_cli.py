"""The `claude -p` Steward subagent (claude-code mode).

Claude Code's own Read tool can read anywhere on disk, so it is never pointed at the
user's tree. The Steward copies the in-scope registered files (each through
`scope.read_scoped`) into a private mirror directory, runs
`claude -p --tools Read,Grep,Glob --allowedTools Read,Grep,Glob` there, and installs a
PreToolUse hook (amatelier.steward.cc_hook) that runs every tool path through the same
scope check against the mirror, blocking anything else before it is read. When the CLI
supports them, --restricted (user settings ignored, file tools confined to the working
directory), --strict-mcp-config and --permission-prompts none are added.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from amatelier.backends.base import Completion
from amatelier.backends.claude_cli import claude_executable
from amatelier.steward import prompts
from amatelier.steward.registry import Registry
from amatelier.steward.result import StewardResult
from amatelier.steward.scope import ScopeError, read_scoped, registered_paths

OUTSIDE_PREFIX = "_outside"
TOOLS = "Read,Grep,Glob"
# Hardening flags used when the installed CLI lists them in --help (older CLIs reject unknown
# flags): --restricted ignores user/project settings (so no user setting can drop the hook) and
# confines file tools to the working directory; no MCP servers; nothing may prompt.
HARDENING = (("--restricted",), ("--strict-mcp-config",), ("--permission-prompts", "none"))
_help_cache: dict[str, str] = {}


def cli_help(exe: str) -> str:
    """`claude --help` text, read once per executable (empty when it cannot be run)."""
    if exe not in _help_cache:
        try:
            proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10,
                                  stdin=subprocess.DEVNULL)
            _help_cache[exe] = proc.stdout + proc.stderr
        except (OSError, subprocess.TimeoutExpired):
            _help_cache[exe] = ""
    return _help_cache[exe]


def hardening_flags(help_text: str) -> list[str]:
    """The HARDENING flags the CLI lists in its --help text."""
    flags: list[str] = []
    for flag in HARDENING:
        if re.search(rf"(?<![\w-]){re.escape(flag[0])}(?![\w-])", help_text):
            flags.extend(flag)
    return flags


def mirror_name(registry: Registry, path: Path) -> str:
    """Where a registered file sits in the mirror: launch-relative, or under _outside/."""
    shown = registry.display(path)
    if os.path.isabs(shown):
        return f"{OUTSIDE_PREFIX}/{shown.lstrip('/')}"
    return shown


def build_mirror(registry: Registry, mirror: Path, max_bytes: int | None) -> dict[str, str]:
    """Copy every in-scope registered file into `mirror`; returns {mirror name: display path}."""
    names: dict[str, str] = {}
    allowed, _ = registered_paths(registry, max_bytes=max_bytes)
    for path in allowed:
        try:
            scoped = read_scoped(path, registry, max_bytes=max_bytes)
        except ScopeError:
            continue
        name = mirror_name(registry, scoped.path)
        target = Path(os.path.normpath(mirror / name))
        if not str(target).startswith(str(mirror) + os.sep):
            continue
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(scoped.data)
        names[name] = registry.display(scoped.path)
    return names


def hook_settings(mirror: Path, audit: Path) -> dict[str, Any]:
    """The --settings JSON that installs the scope hook for every tool call."""
    command = " ".join(shlex.quote(part) for part in (
        sys.executable, "-m", "amatelier.steward.cc_hook", str(mirror), str(audit)))
    return {"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [
        {"type": "command", "command": command, "timeout": 30}]}]}}


def build_command(exe: str, prompt: str, *, model: str, max_budget_usd: float,
                  settings_path: Path, extra: list[str] | None = None) -> list[str]:
    """The claude -p command line (stream-json, only Read/Grep/Glob, budget cap, hook settings)."""
    return [exe, "-p", prompt, "--output-format", "stream-json", "--verbose",
            "--model", model, "--tools", TOOLS, "--allowedTools", TOOLS,
            "--max-budget-usd", f"{max_budget_usd:g}", "--no-session-persistence",
            "--append-system-prompt", prompts.SYSTEM, "--settings", str(settings_path),
            *(extra or [])]


def parse_stream(stdout: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the final `result` event, every tool_use block the CLI made) from stream-json output."""
    final: dict[str, Any] | None = None
    uses: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("type") == "result":
            final = event
        elif event.get("type") == "assistant":
            for block in (event.get("message") or {}).get("content") or []:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    uses.append(block)
    return final, uses


def read_audit(audit: Path) -> list[dict[str, Any]]:
    """The hook's decisions for one run, one dict per tool call."""
    try:
        lines = audit.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    decisions = []
    for line in lines:
        try:
            decisions.append(json.loads(line))
        except ValueError:
            continue
    return decisions


def run_claude_steward(request: str, registry: Registry, *, model: str, max_budget_usd: float,
                       timeout_s: float, max_bytes: int | None = None,
                       env: dict[str, str] | None = None) -> StewardResult:
    """Answer `request` with `claude -p` confined to a mirror of the registered files."""
    started = time.perf_counter()
    method = "subagent:claude-code"
    exe = claude_executable()
    if not exe:
        return StewardResult("error", method=method,
                             output="the claude CLI is not installed, so the Steward cannot "
                                    "answer free-form requests in claude-code mode")
    workdir = Path(tempfile.mkdtemp(prefix="amatelier-steward-"))
    try:
        mirror = workdir / "files"
        mirror.mkdir(mode=0o700)
        mirror = Path(os.path.realpath(mirror))
        names = build_mirror(registry, mirror, max_bytes)
        audit = workdir / "audit.jsonl"
        settings_path = workdir / "settings.json"
        settings_path.write_text(json.dumps(hook_settings(mirror, audit)), encoding="utf-8")
        prompt = prompts.user_prompt(request, prompts.registered_listing(sorted(names)))
        run_env = dict(os.environ if env is None else env)
        run_env.setdefault("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        cmd = build_command(exe, prompt, model=model, max_budget_usd=max_budget_usd,
                            settings_path=settings_path,
                            extra=hardening_flags(cli_help(exe)))
        try:
            proc = subprocess.run(cmd, cwd=mirror, env=run_env, capture_output=True, text=True,
                                  timeout=timeout_s, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return StewardResult("timeout", method=method,
                                 elapsed_s=time.perf_counter() - started,
                                 output=f"claude -p did not finish within {timeout_s:.0f}s")
        except OSError as exc:
            return StewardResult("error", method=method, output=f"could not run claude: {exc}",
                                 elapsed_s=time.perf_counter() - started)
        return _result_from_run(proc, read_audit(audit), names, mirror, model, method, started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _result_from_run(proc: subprocess.CompletedProcess[str], decisions: list[dict[str, Any]],
                     names: dict[str, str], mirror: Path, model: str, method: str,
                     started: float) -> StewardResult:
    final, _uses = parse_stream(proc.stdout)
    elapsed = time.perf_counter() - started
    read_paths: list[str] = []
    read_bytes = 0
    refused: list[str] = []
    for decision in decisions:
        target = str(decision.get("path") or "")
        if not decision.get("allowed"):
            refused.append(target)
            continue
        if decision.get("tool") != "Read":
            continue
        try:
            name = Path(target).resolve().relative_to(mirror).as_posix()
        except (ValueError, OSError):
            continue
        shown = names.get(name, name)
        if shown not in read_paths:
            read_paths.append(shown)
            read_bytes += (mirror / name).stat().st_size if (mirror / name).is_file() else 0
    usage: list[Completion] = []
    if final is None:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        return StewardResult("error", method=method, elapsed_s=elapsed, path=", ".join(read_paths),
                             bytes=read_bytes,
                             output=f"claude -p exited {proc.returncode} without a result: "
                                    + " / ".join(tail))
    info = final.get("usage") or {}
    read = int(info.get("cache_read_input_tokens") or 0)
    write = int(info.get("cache_creation_input_tokens") or 0)
    usage.append(Completion(  # input_tokens counts all input, cached included (as every backend)
        text=str(final.get("result") or ""), backend="claude-code", model=model,
        input_tokens=int(info.get("input_tokens") or 0) + read + write,
        output_tokens=int(info.get("output_tokens") or 0),
        cache_read_tokens=read,
        cache_write_tokens=write,
        latency_ms=float(final.get("duration_ms") or elapsed * 1000.0),
        stop_reason=final.get("stop_reason"), cost_usd=final.get("total_cost_usd")))
    text = str(final.get("result") or "").strip()
    if final.get("is_error"):
        return StewardResult("error", method=method, elapsed_s=elapsed, usage=usage,
                             path=", ".join(read_paths), bytes=read_bytes,
                             output=f"claude -p failed ({final.get('subtype')}): {text}")
    if not read_paths and refused:
        return StewardResult("out_of_scope", method=method, elapsed_s=elapsed, usage=usage,
                             path=", ".join(dict.fromkeys(refused)),
                             output=(text + "\n" if text else "")
                             + f"(refused out-of-scope paths: {'; '.join(refused)})")
    return StewardResult("ok", method=method, elapsed_s=elapsed, usage=usage,
                         path=", ".join(read_paths), bytes=read_bytes,
                         output=text or "(the Steward model gave no answer)")
