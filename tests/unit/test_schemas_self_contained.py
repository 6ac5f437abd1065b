"""Each schema in docs/schemas/ works on its own: a program with only digest.schema.json can
validate a digest (the decision record it embeds resolves inside the file)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = sorted((REPO / "docs" / "schemas").glob("*.schema.json"))


def refs(node, base: str) -> list[tuple[str, str]]:
    """(base URI, $ref) for every $ref, the base being the nearest enclosing $id."""
    if isinstance(node, dict):
        base = node.get("$id", base) if isinstance(node.get("$id"), str) else base
        own = [(base, node["$ref"])] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in refs(value, base)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value, base)]
    return []


def test_the_bundled_copies_are_current() -> None:
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "bundle_schemas.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_ref_resolves_from_the_file_alone(path: Path) -> None:
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    doc = json.loads(path.read_text(encoding="utf-8"))
    resource = DRAFT202012.create_resource(doc)
    registry = Registry().with_resource(doc["$id"], resource).crawl()
    for base, ref in refs(doc, doc["$id"]):
        registry.resolver(base_uri=base).lookup(ref)  # Unresolvable: the $ref needs another file


def test_a_digest_with_a_decision_validates_against_the_digest_schema_alone() -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads((REPO / "docs" / "schemas" / "digest.schema.json").read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema)  # no registry: nothing outside this file
    bad = {"decision": {"schema_version": "1.0"}}  # reaches the embedded decision schema
    messages = [e.message for e in validator.iter_errors(bad)]
    assert any("'recommendation' is a required property" in m for m in messages), messages
