"""Offline answers for the Steward's two protocol steps.

* task "research": an agent's research-window turn. When the prompt shows registered
  files, the agent asks one in-scope question (a line range of the first registered
  file) and one out-of-scope one (a path outside the launch directory), so the
  Steward's whole path, refusal included, runs end to end with no model.
* task "steward": the Steward's model role. The Steward has already run its scoped
  tools and put their results in the prompt; this answers by quoting them.
"""

from __future__ import annotations

import re

from amatelier.briefing_format import GLOB_CHARS, entry_text, section_lines
from amatelier.offline.request import OfflineRequest

OUT_OF_SCOPE_ASKS = ("read ../secret.txt", "read /etc/passwd", "lines 1-5 of ../../.ssh/id_rsa")
QUOTE_LINES = 12


def respond(request: OfflineRequest) -> str:
    """Entry point for the offline backend (tasks "research" and "steward")."""
    if request.task == "research":
        return research_turn(request)
    return steward_answer(request)


def registered_from_prompt(prompt: str) -> list[str]:
    """The registered entries a prompt shows: the REGISTERED FILES list, else the briefing section."""
    match = re.search(r"REGISTERED FILES[^\n]*:\s*\n((?:[ \t]*[-*][^\n]*\n?)+)", prompt)
    if match:
        entries = [entry_text(line) for line in match.group(1).splitlines()]
        return [e for e in entries if e]
    _, body = section_lines(prompt)
    return [e for e in (entry_text(line) for line in body) if e]


def research_turn(request: OfflineRequest) -> str:
    """One research-window turn: an in-scope and an out-of-scope request."""
    who = (request.agent or "agent").capitalize()
    entries = registered_from_prompt(request.prompt)
    if not entries:
        # Nothing to look up: answer the turn as a plain opening statement.
        from amatelier.offline import debate

        return debate.respond(request)
    files = [e for e in entries if not any(ch in GLOB_CHARS for ch in e)]
    target = f"`{files[0]}`" if files and " " in files[0] else (files[0] if files else "")
    in_scope = f"lines 1-40 of {target}" if files else "list files"
    out_of_scope = request.rng("out-of-scope").choice(OUT_OF_SCOPE_ASKS)
    return (f"[offline] {who}: before the debate I want the facts from the user's files, "
            "not my memory of them.\n"
            f"[[request: {in_scope}]]\n"
            f"[[request: {out_of_scope}]]\n"
            "The second request checks that the Steward keeps to the registered files.")


def _field(prompt: str, name: str) -> str:
    match = re.search(rf"^{name}:\s*(.*)$", prompt, re.MULTILINE)
    return match.group(1).strip() if match else ""


def tool_sections(prompt: str) -> list[tuple[str, str]]:
    """The `### title` sections under TOOL RESULTS in a Steward prompt."""
    _, _, tail = prompt.partition("TOOL RESULTS:")
    sections = []
    for chunk in re.split(r"^### ", tail, flags=re.MULTILINE)[1:]:
        title, _, body = chunk.partition("\n")
        sections.append((title.strip(), body.strip()))
    return sections


def steward_answer(request: OfflineRequest) -> str:
    """The Steward model role offline: quote the useful tool results from the prompt."""
    asked = _field(request.prompt, "STEWARD REQUEST") or "(no request)"
    useful = [(title, body) for title, body in tool_sections(request.prompt)
              if body and not body.startswith(("out of scope", "error", "not found", "no line"))]
    if not useful:
        return (f"[offline steward] For \"{asked}\": the registered files do not answer this "
                "(no tool result matched).")
    parts = [f"[offline steward] For \"{asked}\", from the registered files:"]
    for title, body in useful:
        lines = body.splitlines()
        quoted = "\n".join(lines[:QUOTE_LINES])
        more = f"\n... ({len(lines) - QUOTE_LINES} more lines)" if len(lines) > QUOTE_LINES else ""
        parts.append(f"{title}:\n{quoted}{more}")
    return "\n\n".join(parts)
