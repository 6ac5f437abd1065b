"""Public face of the Steward (the spec's `amatelier.steward.dispatch`).

Agents write `[[request: ...]]` in a turn; the Steward answers from the files the
briefing registers, deterministically when it can, with a scoped model otherwise. The
implementation lives in `amatelier.steward`; this module re-exports the spec's names.
"""

from __future__ import annotations

from amatelier.steward.budget import StewardBudget
from amatelier.steward.formatting import format_result
from amatelier.steward.log import StewardLog
from amatelier.steward.lookups import describe_grammar, parse_lookup, try_deterministic
from amatelier.steward.registry import Registry, load_registered_files
from amatelier.steward.requests import parse_requests, strip_requests
from amatelier.steward.result import StewardResult
from amatelier.steward.scope import NotFound, OutOfScope, ScopeError, check_path, read_scoped
from amatelier.steward.session import Steward
from amatelier.steward.subagent import spawn_steward_subagent
from amatelier.steward.task import StewardTask

__all__ = [
    "NotFound",
    "OutOfScope",
    "Registry",
    "ScopeError",
    "Steward",
    "StewardBudget",
    "StewardLog",
    "StewardResult",
    "StewardTask",
    "check_path",
    "describe_grammar",
    "format_result",
    "load_registered_files",
    "parse_lookup",
    "parse_requests",
    "read_scoped",
    "resolve_file",
    "spawn_steward_subagent",
    "strip_requests",
    "try_deterministic",
]


def resolve_file(candidate: str, registry: Registry) -> str | None:
    """The real path of `candidate` when it is in scope (a registered file or glob match), else None."""
    try:
        return str(check_path(candidate, registry))
    except ScopeError:
        return None
