"""Help text as the renderer should get it: docstrings reflowed to one line per paragraph."""

from __future__ import annotations

import inspect
import re

_LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+[.)])\s")


def reflow(text: str) -> str:
    """Join a docstring's wrapped lines into one line per paragraph.

    The help renderer keeps single line breaks after the first paragraph, so a docstring
    wrapped at 100 columns would print with ragged breaks mid-sentence. Lines that start
    a list item (`-`, `*`, `1.`) or are indented keep their own line.
    """
    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines: list[str] = []
        for line in paragraph.splitlines():
            starts_item = line[:1].isspace() or _LIST_ITEM.match(line) is not None
            if lines and not starts_item:
                lines[-1] = f"{lines[-1]} {line.strip()}"
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def reflow_help(app) -> None:  # app: typer.Typer
    """Give every command (and sub-group) its docstring reflowed as explicit help text."""
    for info in app.registered_commands:
        doc = info.help if info.help is not None else inspect.getdoc(info.callback)
        if doc:
            info.help = reflow(doc)
    for group in app.registered_groups:
        reflow_help(group.typer_instance)
