"""scripts/regen_llm.py and scripts/regen_full.py: deterministic, flat, correctly ordered."""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_script(name: str) -> ModuleType:
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_script_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


# The scripts import their shared helper as a sibling, as `python scripts/x.py` allows.
sys.modules.setdefault("regen_common", _load_script("regen_common"))
regen_llm = _load_script("regen_llm")
regen_full = _load_script("regen_full")

MODULES = {
    "__init__.py": '"""Fake package."""\n__version__ = "9.9.9"\n',
    "alpha.py": textwrap.dedent(
        '''
        """Alpha does the first thing.

        More detail that must not appear.
        """
        import anthropic  # never imported by the generator
        raise RuntimeError("importing this module would fail")

        LIMIT = 3
        _HIDDEN = 4

        def run(topic: str, rounds: int = 3, *, quiet: bool = False) -> dict:
            """Run it.

            Second line.
            """

        def _private():
            """Not public."""

        class Thing(Base):
            """A thing."""

            def method(self, x):
                """Do x."""

            @property
            def size(self) -> int:
                """How big."""

            def _internal(self):
                pass
        '''
    ),
    "beta/__init__.py": textwrap.dedent(
        '''
        """Beta re-exports."""
        from .core import make, Widget
        __all__ = ["make", "Widget", "helper"]

        def helper():
            """Listed in __all__."""

        def unlisted():
            """Public name, but __all__ leaves it out."""
        '''
    ),
    "beta/core.py": '"""Core of beta."""\n\ndef make():\n    """Make one."""\n',
    "_private_mod.py": '"""Hidden."""\n\ndef visible():\n    pass\n',
    "broken.py": "def oops(:\n",
}

CONFIG = {
    "roundtable": {"max_rounds": 3, "budget_per_agent": 3},
    "brand_new": {"knob": True},
}


def _make_tree(root: Path, order: list[str]) -> Path:
    pkg = root / "src" / "amatelier"
    for rel in order:
        target = pkg / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(MODULES[rel], encoding="utf-8")
    cache = pkg / "__pycache__"
    cache.mkdir()
    (cache / "alpha.cpython-311.py").write_text("def cached(): pass\n", encoding="utf-8")
    (pkg / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    return root


def test_api_is_deterministic_regardless_of_creation_order(tmp_path: Path) -> None:
    names = list(MODULES)
    first = _make_tree(tmp_path / "a", names)
    shuffled = names[:]
    random.Random(7).shuffle(shuffled)
    second = _make_tree(tmp_path / "b", list(reversed(shuffled)))
    text = regen_llm.render_api(first)
    assert text == regen_llm.render_api(first)
    assert text == regen_llm.render_api(second)
    schema = regen_llm.render_schema(first)
    assert schema == regen_llm.render_schema(second)


def test_api_lists_public_symbols_with_first_docstring_line(tmp_path: Path) -> None:
    text = regen_llm.render_api(_make_tree(tmp_path, list(MODULES)))
    assert "`amatelier` 9.9.9" in text
    assert "## `amatelier.alpha`" in text
    assert "— Alpha does the first thing." in text
    assert "More detail" not in text
    assert "- function `run(topic: str, rounds: int=3, *, quiet: bool=False) -> dict` — Run it." in text
    assert "Second line" not in text
    assert "- constant `LIMIT = 3`" in text
    assert "_HIDDEN" not in text and "_private" not in text and "_internal" not in text
    assert "- class `Thing(Base)` — A thing." in text
    assert "  - method `method(x)` — Do x." in text
    assert "  - property `size -> int` — How big." in text
    # __all__ filters the module's own names and reports re-exports.
    assert "- function `helper()` — Listed in __all__." in text
    assert "unlisted" not in text
    assert "Re-exports: `make`, `Widget`" in text
    # Private modules and caches are skipped; a syntax error is reported, not fatal.
    assert "visible" not in text and "cached" not in text
    assert "## `amatelier.broken`" in text and "syntax error on line 1" in text
    # Modules come out sorted by path.
    assert text.index("amatelier.alpha`") < text.index("amatelier.beta`") < text.index(
        "amatelier.beta.core`"
    ) < text.index("amatelier.broken`")


def test_generator_never_imports_the_code_it_documents(tmp_path: Path) -> None:
    tree = _make_tree(tmp_path, list(MODULES))
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "scripts" / "regen_llm.py"),
         "--root", str(tree)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    imported = {
        line.split("|")[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    for forbidden in ("anthropic", "openai", "google.genai", "amatelier"):
        assert not any(m == forbidden or m.startswith(forbidden + ".") for m in imported)
    assert (tree / "llm" / "API.md").read_text(encoding="utf-8") == regen_llm.render_api(tree)
    # A second run finds nothing to do, and --check agrees.
    again = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "regen_llm.py"), "--root", str(tree), "--check"],
        capture_output=True, text=True, check=False,
    )
    assert again.returncode == 0, again.stderr


def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    tree = _make_tree(tmp_path, list(MODULES))
    assert regen_llm.main(["--root", str(tree)]) == 0
    api = tree / "llm" / "API.md"
    api.write_text(api.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    assert regen_llm.main(["--root", str(tree), "--check"]) == 1
    assert api.read_text(encoding="utf-8").endswith("hand edit\n")  # --check writes nothing


def test_schema_lists_every_config_key(tmp_path: Path) -> None:
    text = regen_llm.render_schema(_make_tree(tmp_path, list(MODULES)))
    assert "| `roundtable.max_rounds` | integer | `3` | Default `--max-rounds`. |" in text
    assert "| `brand_new.knob` | boolean | `true` | (undocumented" in text


def test_real_config_is_fully_documented() -> None:
    text = regen_llm.render_schema(ROOT)
    missing = [line.split("`")[1] for line in text.splitlines() if "(undocumented" in line]
    assert not missing, f"describe these keys in CONFIG_DESCRIPTIONS: {missing}"
    config = json.loads((ROOT / "src" / "amatelier" / "config.json").read_text(encoding="utf-8"))
    assert f"| `llm.mode` | string | `{json.dumps(config['llm']['mode'])}` |" in text


def test_real_tree_documents_known_entry_points() -> None:
    text = regen_llm.render_api(ROOT)
    assert "## `amatelier.paths`" in text
    assert "function `ensure_user_data(force: bool=False) -> Path`" in text


# --------------------------------------------------------------------------- regen_full


def _llm_tree(root: Path, names: list[str]) -> Path:
    (root / "llm").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "amatelier"\nversion = "0.5.0"\ndescription = "Debating agents."\n',
        encoding="utf-8",
    )
    for name in names:
        stem = name.removesuffix(".md")
        (root / "llm" / name).write_text(f"# {stem}\n\n> About {stem}.\n\nbody of {stem}\n",
                                         encoding="utf-8")
    return root


EXPECTED_ORDER = ["SPEC", "API", "SCHEMA", "WORKFLOWS", "EXAMPLES", "apple", "Glossary", "zeta"]


def test_ordering_rule() -> None:
    names = [f"{stem}.md" for stem in EXPECTED_ORDER]
    for seed in range(5):
        shuffled = names[:]
        random.Random(seed).shuffle(shuffled)
        assert sorted(shuffled, key=regen_full.order_key) == names


def test_full_and_index_follow_the_order(tmp_path: Path) -> None:
    names = [f"{stem}.md" for stem in EXPECTED_ORDER]
    random.Random(3).shuffle(names)
    root = _llm_tree(tmp_path, names)
    (root / "llm" / "notes.txt").write_text("not markdown", encoding="utf-8")
    outputs = regen_full.render(root)
    full = outputs[root / "llms-full.txt"]
    index = outputs[root / "llms.txt"]
    positions = [full.index(f"body of {stem}\n") for stem in EXPECTED_ORDER]
    assert positions == sorted(positions)
    links = [index.index(f"- [{stem}](llm/{stem}.md): About {stem}.") for stem in EXPECTED_ORDER]
    assert links == sorted(links)
    assert "not markdown" not in full
    assert index.startswith("# amatelier\n\n> Debating agents.\n")
    assert outputs == regen_full.render(root)  # deterministic


def test_regen_full_refuses_a_nested_llm_dir(tmp_path: Path, capsys) -> None:
    root = _llm_tree(tmp_path, ["SPEC.md"])
    (root / "llm" / "extra").mkdir()
    with pytest.raises(regen_full.NotFlat):
        regen_full.llm_files(root / "llm")
    assert regen_full.main(["--root", str(root)]) == 2
    assert "must be flat" in capsys.readouterr().err
    assert not (root / "llms.txt").exists()


def test_repository_llm_dir_is_flat_and_complete() -> None:
    llm_dir = ROOT / "llm"
    assert not [p for p in llm_dir.iterdir() if p.is_dir()]
    names = [p.name for p in regen_full.llm_files(llm_dir)]
    assert names[:5] == list(regen_full.PRIORITY)


def test_regen_full_writes_then_checks_clean(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "llm", root / "llm")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    assert regen_full.main(["--root", str(root)]) == 0
    assert regen_full.main(["--root", str(root), "--check"]) == 0
    full = (root / "llms-full.txt").read_text(encoding="utf-8")
    assert full.index("<!-- file: llm/SPEC.md -->") < full.index("<!-- file: llm/API.md -->")
