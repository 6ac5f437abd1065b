"""amatelier: a multi-agent roundtable engine.

Importing the package has no side effects: no files are written and no LLM SDK is
imported, so `amatelier --version` and library use stay fast.
"""

__version__ = "0.5.0"

__all__ = ["__version__", "hello"]


def hello(name: str) -> str:
    """Smallest possible check that the package is importable."""
    return f"Hello, {name}!"
