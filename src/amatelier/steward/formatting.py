"""The runner message that carries a Steward result into the debate."""

from __future__ import annotations

from amatelier.steward.result import StewardResult

HEADLINES = {
    "ok": "ANSWER",
    "out_of_scope": "REFUSED (out of scope)",
    "not_found": "NOT FOUND",
    "timeout": "TIMEOUT",
    "error": "ERROR",
    "denied_budget": "DENIED (no Steward budget left)",
}
MAX_INJECT_CHARS = 6000


def format_result(agent: str, request: str, result: StewardResult,
                  max_chars: int = MAX_INJECT_CHARS) -> str:
    """`[Research result for <agent>] ...`: what was asked, what was used, and the answer."""
    facts = [HEADLINES.get(result.status, result.status.upper())]
    if result.path:
        facts.append(f"path: {result.path}")
    if result.bytes:
        facts.append(f"{result.bytes} bytes read")
    facts.append(f"{result.elapsed_s:.2f}s")
    body = result.output.strip() or "(no output)"
    if len(body) > max_chars:
        body = body[:max_chars].rstrip() + f"\n... [truncated at {max_chars} characters]"
    return (f"[Research result for {agent}] request: {request}\n"
            f"{' · '.join(facts)}\n{body}")
