"""Validate manifest.json against docs/schemas/agent_manifest.schema.json (jsonschema, 2020-12).

The schema is the public contract other programs read; this module turns its verdict into
one line that names the key, e.g. `manifest: at base_models[1].provider: 3 is not of type
'string'`.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from typing import Any

from amatelier import paths
from amatelier.bundles import BundleError

SCHEMA_FILE = "agent_manifest.schema.json"


def schema_path():
    """Where the bundled schema lives (docs/schemas in a checkout, amatelier/docs/schemas in a wheel)."""
    return paths.bundled_docs_dir() / "schemas" / SCHEMA_FILE


@functools.lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    path = schema_path()
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"the bundled manifest schema {path} is unreadable ({exc}); "
                          "reinstall amatelier") from None
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def where(path: deque | list) -> str:
    """A JSON path as `a.b[2].c` (the document root is `(top level)`)."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def validate_schema(manifest: Any, label: str = "manifest") -> None:
    """Raise BundleError with the most relevant schema violation, if there is one."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(manifest))
    if error is None:
        return
    message = error.message
    if len(message) > 300:
        message = message[:300] + "…"
    raise BundleError(f"{label}: at {where(error.absolute_path)}: {message}")
