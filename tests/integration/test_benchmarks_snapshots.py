"""Snapshots: numbered, never overwritten, schema-valid, tamper-evident, restorable.

The batch here is written through the batch store from digests shaped like the runner's, so
these tests exercise minting without running roundtables; the end-to-end batch test mints
from a real batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from amatelier import paths
from amatelier.benchmarks import batch_store as store
from amatelier.benchmarks import snapshots, stats
from amatelier.benchmarks.ids import new_batch_id
from amatelier.benchmarks.results import run_result
from amatelier.learning.persona_history import write_persona_file

REPO = Path(__file__).resolve().parents[2]


def fake_batch(scores: dict[str, list[int]]) -> str:
    """A finished batch: for each persona set, one run per listed elena novelty score."""
    batch_id = new_batch_id()
    cases = [f"c{i}" for i in range(max(len(v) for v in scores.values()))]
    specs = store.plan_runs(cases, 1, list(scores))
    store.create_batch(batch_id, suite_summary={"name": "t", "version": "1", "sha256": "ab" * 32, "cases": len(cases)},
                       options={"persona_sets": list(scores)}, runs=specs, mode="offline")
    for spec in specs:
        index = cases.index(spec.case)
        if index >= len(scores[spec.persona_set]):
            continue
        value = scores[spec.persona_set][index]
        digest = {"rt_id": f"rt-{spec.key}", "status": "closed", "workers": ["elena", "marcus"],
                  "worker_models": {"elena": {"model": "offline-sonnet"}, "marcus": {"model": "offline-sonnet"}},
                  "scores": {"elena": {"novelty": value, "accuracy": 1, "impact": 1, "challenge": 1},
                             "marcus": {"novelty": 1, "accuracy": 1, "impact": 1, "challenge": 1}},
                  "llm_usage": {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.0}}
        store.write_run(batch_id, spec.to_dict() | {"status": store.DONE, "result": run_result(digest, duration_ms=5),
                                                    "rt_id": digest["rt_id"]})
    return batch_id


@pytest.fixture
def workspace() -> Path:
    return paths.ensure_user_data()


def test_mint_twice_numbers_snapshots_and_never_overwrites(workspace: Path) -> None:
    batch_id = fake_batch({"seed": [0, 1, 1], "current": [2, 3, 3]})
    first_path, first = snapshots.mint("elena", batch_ids=[batch_id], notes="before the offsite")
    second_path, second = snapshots.mint("elena", batch_ids=[batch_id])
    assert first_path.name == "snapshot-001.json" and second_path.name == "snapshot-002.json"
    assert first_path.parent == second_path.parent
    assert first_path.parent.parent == paths.user_snapshots_dir() / "elena"
    assert first_path.parent.name == first["seed_version"]
    assert json.loads(first_path.read_text())["snapshot_metadata"]["notes"] == "before the offsite"
    for path in (first_path, second_path):
        doc = snapshots.load(path)  # schema-valid and hashes match
        assert snapshots.schema_problems(doc) == []
        runs = doc["benchmarks"]["runs"]
        assert len(runs) == 6 and {r["persona_set"] for r in runs} == {"seed", "current"}
        recomputed = stats.compare(runs)
        stored = {k: v for k, v in doc["benchmarks"]["comparison"].items() if k != "statement"}
        assert stored == recomputed
        # elena's overall score per run is (novelty/3 + 3 * 1/3) / 4
        expected = (stats.mean([(x / 3 + 1) / 4 for x in (2, 3, 3)])
                    - stats.mean([(x / 3 + 1) / 4 for x in (0, 1, 1)]))
        assert doc["benchmarks"]["comparison"]["improvement"] == pytest.approx(expected, abs=1e-5)


def test_mint_without_batches_and_refusals(workspace: Path) -> None:
    _, doc = snapshots.mint("marcus", batch_ids=[])
    assert doc["benchmarks"]["runs"] == [] and doc["benchmarks"]["comparison"]["improvement"] is None
    assert "No comparison" in doc["benchmarks"]["comparison"]["statement"]
    with pytest.raises(snapshots.SnapshotError, match="not an agent name"):
        snapshots.mint("../elena", batch_ids=[])
    with pytest.raises(store.BatchError, match="no batch"):
        snapshots.mint("elena", batch_ids=[new_batch_id()])


def test_a_changed_snapshot_is_refused(workspace: Path) -> None:
    path, _ = snapshots.mint("elena", batch_ids=[fake_batch({"seed": [1, 1], "current": [2, 2]})])
    doc = json.loads(path.read_text())
    doc["benchmarks"]["comparison"]["improvement"] = 0.9
    path.write_text(json.dumps(doc))
    with pytest.raises(snapshots.SnapshotError, match="changed after it was minted"):
        snapshots.load(path)
    path.write_text("{broken")
    with pytest.raises(snapshots.SnapshotError, match="cannot read"):
        snapshots.load(path)


def test_restore_brings_the_persona_back_and_keeps_the_current_one(workspace: Path) -> None:
    agent_dir = paths.user_agent_dir("elena")
    original = (agent_dir / "CLAUDE.md").read_text()
    path, doc = snapshots.mint("elena", batch_ids=[])
    write_persona_file(agent_dir, "CLAUDE.md", original + "\n## Learned Behaviors\n\n- argue louder\n")
    assert (agent_dir / "history" / "CLAUDE.md.001").read_text() == original
    kept = snapshots.restore(snapshots.load(path))
    assert (agent_dir / "CLAUDE.md").read_text() == original
    assert kept["CLAUDE.md"].endswith("CLAUDE.md.002")
    assert "argue louder" in (agent_dir / "history" / "CLAUDE.md.002").read_text()
    assert kept["IDENTITY.md"] is None  # unchanged, nothing kept


def amatelier(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "amatelier", *args], capture_output=True, text=True,
                          timeout=60, cwd=str(REPO))


def test_cli_mint_show_diff_restore_and_json_errors(workspace: Path) -> None:
    batch_id = fake_batch({"seed": [1, 1], "current": [2, 3]})
    minted = amatelier("snapshot", "mint", "elena", "--batch", batch_id, "--json")
    assert minted.returncode == 0, minted.stderr
    assert json.loads(minted.stdout)["snapshot"] == 1
    agent_dir = paths.user_agent_dir("elena")
    write_persona_file(agent_dir, "CLAUDE.md", "# Elena\nrewritten by a debrief\n")
    assert amatelier("snapshot", "mint", "elena").returncode == 0
    shown = amatelier("snapshot", "show", "elena", "1")
    assert shown.returncode == 0 and "over 2 runs" in shown.stdout and "interval" in shown.stdout
    diffed = amatelier("snapshot", "diff", "elena:1", "elena:2")
    assert diffed.returncode == 0 and "+rewritten by a debrief" in diffed.stdout
    listed = json.loads(amatelier("snapshot", "list", "--json").stdout)
    assert [(r["agent"], r["snapshot"]) for r in listed] == [("elena", 1), ("elena", 2)]
    restored = amatelier("snapshot", "restore", "elena", "001")
    assert restored.returncode == 0 and "CLAUDE.md.002" in restored.stdout
    assert (agent_dir / "CLAUDE.md").read_bytes() == (paths.bundled_agent_dir("elena") / "CLAUDE.md").read_bytes()
    missing = amatelier("snapshot", "show", "elena", "7", "--json")
    assert missing.returncode == 2 and missing.stdout == ""
    error = json.loads(missing.stderr)
    assert error["code"] == 2 and "no snapshot 007" in error["error"]
    bad = amatelier("snapshot", "mint", "elena", "--batch", "../../etc")
    assert bad.returncode == 2 and bad.stderr.startswith("amatelier: error: not a batch id")
    assert "Traceback" not in bad.stderr + missing.stderr


def test_a_debrief_and_refresh_seeds_keep_history_and_restore_brings_a_snapshot_back(workspace: Path) -> None:
    seed_text = (paths.bundled_agent_dir("elena") / "CLAUDE.md").read_text(encoding="utf-8")
    env = {**os.environ, "AMATELIER_MODE": "offline"}
    debate = subprocess.run([sys.executable, "-m", "amatelier", "roundtable", "--topic", "split the monolith?",
                             "--briefing", str(REPO / "examples" / "briefings" / "hello-world.md"),
                             "--workers", "elena,marcus", "--max-rounds", "1"],
                            capture_output=True, text=True, timeout=300, cwd=str(REPO), env=env)
    assert debate.returncode == 0, debate.stderr[-2000:]
    agent_dir = paths.user_agent_dir("elena")
    evolved = (agent_dir / "CLAUDE.md").read_text(encoding="utf-8")
    assert evolved != seed_text  # the therapist's debrief changed elena's persona ...
    first = agent_dir / "history" / "CLAUDE.md.001"
    assert first.read_text(encoding="utf-8") == seed_text  # ... and kept the text it replaced
    kept_before = len(list((agent_dir / "history").glob("CLAUDE.md.*")))

    minted = amatelier("snapshot", "mint", "elena", "--json")
    assert minted.returncode == 0, minted.stderr
    refreshed = amatelier("refresh-seeds", "--agent", "elena", "--force")
    assert refreshed.returncode == 0, refreshed.stderr
    assert (agent_dir / "CLAUDE.md").read_text(encoding="utf-8") == seed_text
    newest = agent_dir / "history" / f"CLAUDE.md.{kept_before + 1:03d}"
    assert newest.read_text(encoding="utf-8") == evolved

    restored = amatelier("snapshot", "restore", "elena", "1")
    assert restored.returncode == 0, restored.stderr
    assert (agent_dir / "CLAUDE.md").read_text(encoding="utf-8") == evolved
    assert (agent_dir / "history" / f"CLAUDE.md.{kept_before + 2:03d}").read_text(encoding="utf-8") == seed_text
    assert first.read_text(encoding="utf-8") == seed_text  # never overwritten
