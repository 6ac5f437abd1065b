"""Suites: a folder with `suite.json` (name, version, cases) and the cases' briefing files.

A suite comes from the user's disk or a colleague's archive, so everything in it is checked
before anything runs: sizes are bounded, case ids are short slugs (they become file names),
and a briefing must be a regular file inside the suite folder (no `..`, no absolute path,
no symlink that leads out of it).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amatelier.briefing_format import entries_outside, read_briefing

SUITE_FILE = "suite.json"
MAX_SUITE_BYTES = 1_000_000
MAX_BRIEFING_BYTES = 200_000
MAX_CASES = 500
MAX_ROUNDS = 20
CASE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
AGENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class SuiteError(ValueError):
    """The suite cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Case:
    """One design decision to debate."""

    id: str
    topic: str
    briefing: str  # path relative to the suite folder
    kind: str = ""
    workers: tuple[str, ...] | None = None
    rounds: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "topic": self.topic, "briefing": self.briefing}
        if self.kind:
            data["kind"] = self.kind
        if self.workers is not None:
            data["workers"] = list(self.workers)
        if self.rounds is not None:
            data["rounds"] = self.rounds
        return data


@dataclass(frozen=True)
class Suite:
    """A loaded, checked suite."""

    root: Path
    name: str
    version: str
    cases: tuple[Case, ...]
    description: str = ""
    sha256: str = ""
    briefings: dict[str, str] = field(default_factory=dict)  # relative path -> text

    def case(self, case_id: str) -> Case:
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(case_id)

    def briefing_path(self, case: Case) -> Path:
        return self.root / case.briefing

    def summary(self) -> dict[str, Any]:
        """What a batch or snapshot records about the suite."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256,
                "cases": len(self.cases)}


def _text(data: dict[str, Any], key: str, where: str, *, limit: int, required: bool = True) -> str:
    value = data.get(key)
    if not required and (value is None or value == ""):
        return ""
    if not isinstance(value, str) or not value.strip():
        raise SuiteError(f"{where}: '{key}' must be a non-empty string")
    if len(value) > limit:
        raise SuiteError(f"{where}: '{key}' is longer than {limit} characters")
    return value.strip()


def _briefing(root: Path, rel: str, where: str) -> tuple[str, str]:
    """(normalised relative path, text) of a briefing inside `root`; SuiteError otherwise."""
    candidate = Path(rel)
    if candidate.is_absolute() or ".." in candidate.parts or rel.startswith(("~", "\\")):
        raise SuiteError(f"{where}: briefing '{rel}' must be a relative path inside the suite folder")
    path = root / candidate
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise SuiteError(f"{where}: briefing '{rel}' not found in {root}") from None
    if not resolved.is_relative_to(root.resolve()):
        raise SuiteError(f"{where}: briefing '{rel}' leads outside the suite folder")
    if not resolved.is_file():
        raise SuiteError(f"{where}: briefing '{rel}' is not a regular file")
    if resolved.stat().st_size > MAX_BRIEFING_BYTES:
        raise SuiteError(f"{where}: briefing '{rel}' is larger than {MAX_BRIEFING_BYTES} bytes")
    text = read_briefing(resolved, f"'{rel}'", lambda message: SuiteError(f"{where}: {message}"))
    outside = entries_outside(text)
    if outside:  # a suite from someone else must not make the Steward read this machine's files
        raise SuiteError(f"{where}: briefing '{rel}' registers {outside[0]!r} for the Steward; a suite's "
                         "briefing may register only relative paths without '..'")
    return candidate.as_posix(), text


def parse_case(raw: Any, index: int, root: Path) -> tuple[Case, str]:
    """One case entry checked; returns the case and its briefing text."""
    where = f"{SUITE_FILE} case #{index + 1}"
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: must be an object")
    case_id = raw.get("id")
    if not isinstance(case_id, str) or not CASE_ID.match(case_id):
        raise SuiteError(f"{where}: 'id' must be a slug of lowercase letters, digits, '-' or '_' "
                         f"(at most 64 characters), got {case_id!r}")
    where = f"{SUITE_FILE} case '{case_id}'"
    topic = _text(raw, "topic", where, limit=500)
    rel, text = _briefing(root, _text(raw, "briefing", where, limit=300), where)
    kind = _text(raw, "kind", where, limit=40, required=False)
    workers = raw.get("workers")
    if workers is not None:
        if (not isinstance(workers, list) or not workers
                or not all(isinstance(w, str) and AGENT_NAME.match(w) for w in workers)):
            raise SuiteError(f"{where}: 'workers' must be a non-empty list of agent names")
        if len(set(workers)) != len(workers):
            raise SuiteError(f"{where}: 'workers' names an agent twice")
        workers = tuple(workers)
    rounds = raw.get("rounds")
    if rounds is not None and (isinstance(rounds, bool) or not isinstance(rounds, int)
                               or not 1 <= rounds <= MAX_ROUNDS):
        raise SuiteError(f"{where}: 'rounds' must be a whole number from 1 to {MAX_ROUNDS}")
    return Case(id=case_id, topic=topic, briefing=rel, kind=kind, workers=workers, rounds=rounds), text


def suite_root(spec: str | Path) -> Path:
    """The suite folder for a folder or a path to its suite.json."""
    path = Path(spec).expanduser()
    if path.name == SUITE_FILE and path.is_file():
        return path.parent
    return path


def load_suite(spec: str | Path) -> Suite:
    """Load and check a suite folder (or its suite.json). Raises SuiteError with one clear line."""
    root = suite_root(spec)
    manifest = root / SUITE_FILE
    if not root.is_dir():
        raise SuiteError(f"suite not found: {spec} (give a folder holding {SUITE_FILE})")
    if not manifest.is_file():
        raise SuiteError(f"{root} has no {SUITE_FILE}")
    if manifest.stat().st_size > MAX_SUITE_BYTES:
        raise SuiteError(f"{manifest} is larger than {MAX_SUITE_BYTES} bytes")
    try:
        raw_bytes = manifest.read_bytes()
        data = json.loads(raw_bytes.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SuiteError(f"{manifest} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{manifest} must hold a JSON object")
    name = _text(data, "name", str(manifest), limit=80)
    version = _text(data, "version", str(manifest), limit=40)
    description = _text(data, "description", str(manifest), limit=2000, required=False)
    raw_cases = data.get("cases")
    if not isinstance(raw_cases, list) or not raw_cases:
        raise SuiteError(f"{manifest}: 'cases' must be a non-empty list")
    if len(raw_cases) > MAX_CASES:
        raise SuiteError(f"{manifest}: more than {MAX_CASES} cases")
    cases: list[Case] = []
    briefings: dict[str, str] = {}
    digest = hashlib.sha256(raw_bytes)
    for index, raw in enumerate(raw_cases):
        case, text = parse_case(raw, index, root)
        if any(c.id == case.id for c in cases):
            raise SuiteError(f"{manifest}: case id '{case.id}' is used twice")
        cases.append(case)
        if case.briefing not in briefings:
            briefings[case.briefing] = text
            digest.update(b"\0" + case.briefing.encode() + b"\0" + text.encode("utf-8"))
    return Suite(root=root.resolve(), name=name, version=version, cases=tuple(cases),
                 description=description, sha256=digest.hexdigest(), briefings=briefings)


def freeze(suite: Suite, target: Path) -> None:
    """Copy the suite (its suite.json and briefings, nothing else) into `target`.

    A batch runs from this frozen copy, so editing or moving the original folder never
    changes what a resumed batch debates.
    """
    from amatelier.atomicio import write_text_atomic

    manifest: dict[str, Any] = {"name": suite.name, "version": suite.version}
    if suite.description:
        manifest["description"] = suite.description
    manifest["cases"] = [case.to_dict() for case in suite.cases]
    for rel, text in suite.briefings.items():
        write_text_atomic(target / rel, text)
    write_text_atomic(target / SUITE_FILE, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
