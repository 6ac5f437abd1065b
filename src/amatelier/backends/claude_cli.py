"""Claude Code CLI backend (`claude -p --output-format json`).

Runs the user's installed `claude` in print mode: the prompt goes in on stdin, the
persona as `--system-prompt` (a file for very long prompts), built-in tools are turned
off (`--tools ""`) so the answer is plain text, and nothing is saved as a session.
Role tokens are passed as the CLI's own aliases (`--model sonnet`), so they follow
whatever model the installed CLI maps them to. The CLI retries transient API errors
itself, so this backend does not add a retry loop of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

from amatelier.backends.base import Completion, LLMBackend, LLMCallError
from amatelier.backends.retry import classify_status, one_line, redact

BIN_ENV = "AMATELIER_CLAUDE_BIN"
# Linux caps one argv string at 128 KiB; longer system prompts go through a file.
MAX_INLINE_SYSTEM_BYTES = 100_000


def claude_executable() -> str | None:
    """The claude CLI to run: AMATELIER_CLAUDE_BIN when set, else `claude` on PATH."""
    explicit = os.environ.get(BIN_ENV, "").strip()
    if explicit:
        return explicit if os.path.exists(explicit) else None
    return shutil.which("claude")


def build_command(exe: str, model: str, system: str, system_file: str | None = None,
                  extra_args: Sequence[str] = ()) -> list[str]:
    """argv for one print-mode call; the prompt itself is written to stdin.

    No tools and --strict-mcp-config: an agent turn is pure text, and without the flag every
    call would start each MCP server the user registered (amatelier's own included).
    """
    command = [exe, "-p", "--output-format", "json", "--model", model,
               "--no-session-persistence", "--tools", "", "--strict-mcp-config"]
    if system_file:
        command += ["--system-prompt-file", system_file]
    elif system:
        command += ["--system-prompt", system]
    command += list(extra_args)
    return command


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The CLI's `type: result` JSON object, or None when stdout holds none.

    Normally stdout is exactly one JSON object; be lenient about stray lines before it.
    """
    text = (stdout or "").strip()
    if not text:
        return None
    candidates = [text] + [line for line in reversed(text.splitlines()) if line.strip().startswith("{")]
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict) and ("result" in data or data.get("type") == "result"):
            return data
    return None


def completion_from_result(data: dict[str, Any], *, backend: str, model: str,
                           latency_ms: float) -> Completion:
    """Map the CLI's JSON result (result, usage, modelUsage, total_cost_usd) to a Completion."""
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    model_usage = data.get("modelUsage") if isinstance(data.get("modelUsage"), dict) else {}
    resolved_model = next(iter(model_usage), None) or model
    cost = data.get("total_cost_usd")
    # The CLI reports Anthropic's usage: input_tokens without the cached part; ours includes it.
    read = _int(usage.get("cache_read_input_tokens"))
    write = _int(usage.get("cache_creation_input_tokens"))
    return Completion(
        text=str(data.get("result") or ""),
        backend=backend,
        model=resolved_model,
        input_tokens=_int(usage.get("input_tokens")) + read + write,
        output_tokens=_int(usage.get("output_tokens")),
        cache_read_tokens=read,
        cache_write_tokens=write,
        latency_ms=latency_ms,
        stop_reason=data.get("stop_reason") or data.get("subtype"),
        cost_usd=float(cost) if isinstance(cost, int | float) else None,
        raw=data,
    )


def error_from_result(data: dict[str, Any] | None, returncode: int, stderr: str, *,
                      backend: str, model: str) -> LLMCallError:
    """One clear line for a failed run: the CLI's own result text, else the tail of stderr."""
    status = data.get("api_error_status") if data else None
    status = status if isinstance(status, int) else None
    kind = classify_status(status) if status else "cli"
    if data and data.get("result"):
        detail = str(data["result"])
    elif data and data.get("subtype") and data.get("subtype") != "success":
        detail = f"run ended with {data['subtype']}"
    else:
        lines = [line for line in (stderr or "").splitlines() if line.strip()]
        detail = lines[-1] if lines else "no output"
    status_text = f"HTTP {status} " if status else ""
    rc_text = f" (exit {returncode})" if returncode else ""
    message = f"{backend} (model {model}): {status_text}claude CLI error{rc_text}: {detail}"
    return LLMCallError(one_line(redact(message), 400), kind=kind, status=status,
                        backend=backend, model=model)


@contextlib.contextmanager
def _system_prompt_file(system: str) -> Iterator[str | None]:
    if len(system.encode("utf-8")) <= MAX_INLINE_SYSTEM_BYTES:
        yield None
        return
    fd, name = tempfile.mkstemp(prefix="amatelier-system-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(system)
        yield name
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


class ClaudeCLIBackend(LLMBackend):
    name = "claude-code"

    def __init__(self, config: dict[str, Any] | None = None, *, executable: str | None = None,
                 extra_args: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        super().__init__(config)
        self.executable = executable
        self.extra_args = tuple(extra_args)
        self.env = env

    @classmethod
    def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
        exe = claude_executable()
        if exe:
            source = BIN_ENV if os.environ.get(BIN_ENV, "").strip() else "PATH"
            return True, f"claude CLI found at {exe} (via {source})"
        if os.environ.get(BIN_ENV, "").strip():
            return False, f"{BIN_ENV} points at {os.environ[BIN_ENV].strip()}, which does not exist"
        return False, "claude CLI not on PATH (install Claude Code: npm install -g @anthropic-ai/claude-code)"

    def complete(self, system: str, prompt: str, model: str = "sonnet", max_tokens: int = 1024,
                 timeout: float = 120.0, *, task: str | None = None,
                 agent: str | None = None) -> Completion:
        """One `claude -p` run. `max_tokens` is not enforced: the CLI has no such flag."""
        model_id = self.resolve_model(model)
        exe = self.executable or claude_executable()
        if not exe:
            raise LLMCallError(f"{self.name} (model {model_id}): claude CLI not found "
                               f"(set {BIN_ENV} or put `claude` on PATH)", kind="cli",
                               backend=self.name, model=model_id)
        env = dict(os.environ if self.env is None else self.env)
        started = time.perf_counter()
        with _system_prompt_file(system or "") as system_file:
            command = build_command(exe, model_id, system or "", system_file, self.extra_args)
            try:
                proc = subprocess.run(
                    command, input=prompt, capture_output=True, text=True, encoding="utf-8",
                    errors="replace", timeout=timeout, env=env,
                    # A neutral working directory: the CLI would otherwise pick up CLAUDE.md
                    # files from wherever amatelier was started (agents have CLAUDE.md files).
                    cwd=tempfile.gettempdir(),
                )
            except subprocess.TimeoutExpired as exc:
                raise LLMCallError(
                    f"{self.name} (model {model_id}): timed out after {timeout:g}s waiting for the claude CLI",
                    kind="timeout", backend=self.name, model=model_id) from exc
            except OSError as exc:
                raise LLMCallError(
                    f"{self.name} (model {model_id}): cannot run {exe}: {exc.strerror or exc}",
                    kind="cli", backend=self.name, model=model_id) from exc
        latency_ms = (time.perf_counter() - started) * 1000.0
        data = parse_result(proc.stdout)
        if proc.returncode != 0 or data is None or data.get("is_error"):
            raise error_from_result(data, proc.returncode, proc.stderr, backend=self.name,
                                    model=model_id)
        return completion_from_result(data, backend=self.name, model=model_id,
                                      latency_ms=latency_ms)
