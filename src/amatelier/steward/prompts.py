"""What the Steward's model is told: its job, its only files, and how to answer."""

from __future__ import annotations

SYSTEM = (
    "You are the Steward of a roundtable debate: an ephemeral research assistant with no "
    "persona and no opinion. An agent asked you a factual question about the user's files. "
    "You may read ONLY the registered files listed in the request; any other path is out of "
    "scope and will be refused, so do not try. Use the tools to look, then answer briefly and "
    "concretely, quoting the lines you rely on with their file and line numbers. If the "
    "registered files do not answer the question, say so plainly."
)


def registered_listing(paths: list[str]) -> str:
    """The registered files as a bullet list for a prompt."""
    if not paths:
        return "(no registered file is currently readable)"
    return "\n".join(f"- {path}" for path in paths)


def user_prompt(request: str, listing: str) -> str:
    """The Steward model's user turn: the request and the only files it may read."""
    return (f"STEWARD REQUEST: {request}\n\n"
            f"REGISTERED FILES (the only files you may read):\n{listing}\n")
