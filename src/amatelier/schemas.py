"""The JSON Schemas shipped in docs/schemas/, and checking a document against one.

One way to list a document's problems, so snapshots, decision records and any other checked
file report them alike: `path/to/field: message`, sorted by where they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amatelier import paths


def bundled_schema_path(name: str) -> Path:
    """Where the schema file `name` (e.g. decision.schema.json) lives: the package, or docs/ of a checkout."""
    return paths.bundled_docs_dir() / "schemas" / name


def schema_problems(schema: dict[str, Any], doc: Any, *, root: str, max_message: int) -> list[str]:
    """Every way `doc` breaks `schema` (draft 2020-12) as `path: message` lines; empty when valid.

    `root` names a problem of the whole document; messages are cut at `max_message` characters
    so a huge bad value cannot flood the output.
    """
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or root
        problems.append(f"{where}: {error.message[:max_message]}")
    return problems
