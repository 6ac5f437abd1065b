"""Validate artefacts against docs/schemas/ with jsonschema (2020-12), resolving $refs locally."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "docs" / "schemas"
BASE = "https://amatelier.invalid/schemas/"


@lru_cache(maxsize=1)
def registry() -> Any:
    """Every schema in docs/schemas, under its $id and under BASE + its file name."""
    from referencing import Registry, Resource

    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(contents)
        resources.append((BASE + path.name, resource))
        if contents.get("$id") and contents["$id"] != BASE + path.name:
            resources.append((contents["$id"], resource))
    return Registry().with_resources(resources)


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


def errors(name: str, instance: Any) -> list[str]:
    """Every validation error of `instance` against docs/schemas/<name>.schema.json, as text."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema(name), registry=registry())
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))]


def assert_valid(name: str, instance: Any) -> None:
    found = errors(name, instance)
    assert not found, f"{name} schema violations:\n" + "\n".join(found[:20])


def openapi() -> dict[str, Any]:
    import yaml

    return yaml.safe_load((SCHEMAS / "openapi.yaml").read_text(encoding="utf-8"))


def openapi_errors(component: str, instance: Any) -> list[str]:
    """Errors of `instance` against openapi.yaml's components/schemas/<component> (refs resolved)."""
    from jsonschema import Draft202012Validator
    from referencing.jsonschema import DRAFT202012

    uri = BASE + "openapi.yaml"
    reg = registry().with_resource(uri, DRAFT202012.create_resource(openapi()))
    validator = Draft202012Validator({"$ref": f"{uri}#/components/schemas/{component}"}, registry=reg)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in validator.iter_errors(instance)]
