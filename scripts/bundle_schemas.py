#!/usr/bin/env python3
"""Make every schema in docs/schemas/ self-contained: embed the files its `$ref`s point to.

A schema that says `"$ref": "decision.schema.json"` cannot be used on its own by a program that
only has that one file (jsonschema has no way to fetch `https://amatelier.invalid/...`). This
embeds each referenced schema, whole and with its own `$id`, under `$defs["bundled:<file>"]` —
the JSON Schema 2020-12 way of bundling — so the relative `$ref` resolves inside the document.
The embedded copies are generated from the files themselves, never edited by hand.

    python scripts/bundle_schemas.py            # rewrite docs/schemas/*.schema.json
    python scripts/bundle_schemas.py --check    # exit 1 if a file is not bundled as it should be
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schemas"
PREFIX = "bundled:"


def unbundled(doc: dict[str, Any]) -> dict[str, Any]:
    """The schema without the copies this script embedded (the part people write)."""
    out = dict(doc)
    defs = {k: v for k, v in (doc.get("$defs") or {}).items() if not k.startswith(PREFIX)}
    if defs:
        out["$defs"] = defs
    else:
        out.pop("$defs", None)
    return out


def external_refs(node: Any) -> set[str]:
    """File names that `$ref`s in `node` point to (`other.schema.json#...`)."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            found.add(ref.split("#", 1)[0])
        for value in node.values():
            found |= external_refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= external_refs(value)
    return found


def bundle(name: str, sources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`name`'s schema with every schema it reaches by `$ref` (transitively) embedded once."""
    doc = sources[name]
    needed: list[str] = []
    queue = sorted(external_refs(doc))
    while queue:
        ref = queue.pop(0)
        if ref == name or ref in needed:
            continue
        if ref not in sources:
            raise SystemExit(f"{name}: $ref to {ref}, which is not in {SCHEMAS}")
        needed.append(ref)
        queue += sorted(external_refs(sources[ref]))
    if not needed:
        return doc
    out = dict(doc)
    out["$defs"] = {**(doc.get("$defs") or {}),
                    **{PREFIX + ref: sources[ref] for ref in sorted(needed)}}
    return out


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="report files that need bundling; write nothing")
    args = parser.parse_args(argv)
    paths = sorted(SCHEMAS.glob("*.schema.json"))
    sources = {p.name: unbundled(json.loads(p.read_text(encoding="utf-8"))) for p in paths}
    stale = []
    for path in paths:
        wanted = bundle(path.name, sources)
        if json.loads(path.read_text(encoding="utf-8")) != wanted:  # hand formatting is kept otherwise
            stale.append(path.name)
            if not args.check:
                path.write_text(render(wanted), encoding="utf-8")
    if args.check and stale:
        print("not bundled (run scripts/bundle_schemas.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    for name in stale:
        print(f"bundled {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
