"""Every artefact real runs produce validates against docs/schemas (JSON Schema 2020-12).

One real offline roundtable (or a few) per configuration users hit: the default pipeline with the
therapist, --skip-post, a two-seat jury with --audit-judge, Ctrl-C mid-debate, kill -9 then
--resume, a person's `amatelier say`, precedents from an earlier roundtable, a benchmark batch (and
a snapshot minted over it), a Steward briefing with a missing file, a 200 KB briefing, a run on the
real anthropic SDK against the fake Messages API, and the cost ceilings (#12) once they exist. For each: the digest (file and stdout), the run manifest, every telemetry
line, the decision record (digest and database), and `amatelier export --format json`.
The schemas are closed, so a field some feature emits that no schema describes fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.conformance_runs import ConformanceRuns, Run, has_option
from tests.helpers.roundtable_run import rows, run_cli
from tests.helpers.schemas import assert_valid, openapi_errors

pytestmark = pytest.mark.e2e

CONFIGS = ["plain", "skip_post", "jury", "mixed_jury", "sigint", "resumed", "say", "precedents", "benchmark",
           "steward_missing", "big_briefing", "anthropic", "faults", "ceilings"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> ConformanceRuns:
    return ConformanceRuns(tmp_path_factory.mktemp("conformance"))


def get(runs: ConformanceRuns, name: str) -> Run:
    if name == "ceilings" and not has_option(("roundtable",), "--max-cost-usd"):
        pytest.skip("the cost ceilings (#12) have not landed: roundtable has no --max-cost-usd")
    return runs.get(name)


def strict_json(text: str) -> Any:
    """JSON as a strict reader sees it: NaN and Infinity (which Python writes and reads) are refused."""
    def refuse(token: str) -> Any:
        raise AssertionError(f"{token} is not JSON: a number field was emitted as {token}")

    return json.loads(text, parse_constant=refuse)


def digest_file(workspace: Path, rt_id: str) -> dict[str, Any]:
    return strict_json((workspace / "roundtable-server" / f"digest-{rt_id}.json").read_text(encoding="utf-8"))


def manifest(run: Run, rt_id: str) -> dict[str, Any]:
    return strict_json((run_dir(run, rt_id) / "manifest.json").read_text(encoding="utf-8"))


def run_dir(run: Run, rt_id: str) -> Path:
    return run.workspace / "runs" / rt_id


def telemetry(run: Run, rt_id: str) -> list[dict]:
    text = (run_dir(run, rt_id) / "telemetry.jsonl").read_text(encoding="utf-8")
    return [strict_json(line) for line in text.splitlines()]


@pytest.mark.parametrize("name", CONFIGS)
def test_digests_validate(runs: ConformanceRuns, name: str) -> None:
    run = get(runs, name)
    for printed in run.printed:
        assert_valid("digest", printed)
    for rt_id in run.rt_ids:
        digest = digest_file(run.workspace, rt_id)
        assert_valid("digest", digest)
        assert digest["rt_id"] == rt_id


@pytest.mark.parametrize("name", CONFIGS)
def test_manifests_and_every_telemetry_line_validate(runs: ConformanceRuns, name: str) -> None:
    run = get(runs, name)
    for rt_id in run.rt_ids:
        written = manifest(run, rt_id)
        assert_valid("run_manifest", written)
        assert written["run_id"] == rt_id and written["status"] != "running"
        events = telemetry(run, rt_id)
        assert events, "no telemetry"
        for number, event in enumerate(events, 1):
            found = [] if event["run_id"] == rt_id else [f"line {number}: run_id {event['run_id']}"]
            assert not found, found
            assert_valid("telemetry_event", event)
        assert {"stage_start", "stage_stop", "turn", "llm_call", "decision"} <= {e["event_name"] for e in events}


@pytest.mark.parametrize("name", CONFIGS)
def test_decision_records_validate(runs: ConformanceRuns, name: str) -> None:
    run = get(runs, name)
    for rt_id in run.rt_ids:
        in_digest = digest_file(run.workspace, rt_id)["decision"]
        assert_valid("decision", in_digest)
        (stored,) = rows(run.workspace, "SELECT record FROM decisions WHERE rt_id = ?", rt_id)
        record = strict_json(stored["record"])
        assert_valid("decision", record)
        assert record["rt_id"] == rt_id and record["recommendation"] == in_digest["recommendation"]


@pytest.mark.parametrize("name", CONFIGS)
def test_export_json_validates(runs: ConformanceRuns, name: str) -> None:
    run = get(runs, name)
    for rt_id in run.rt_ids:
        done = run_cli(["export", rt_id, "--format", "json"], run.env)
        assert done.returncode == 0, done.stderr
        exported = strict_json(done.stdout)
        assert_valid("export", exported)
        assert exported["rt_id"] == rt_id and exported["messages"]


# What each configuration must have put in its artefacts: the fields the sweep exists to cover.

def test_the_default_pipeline_reports_the_therapist_and_every_stage(runs: ConformanceRuns) -> None:
    run = get(runs, "plain")
    digest = digest_file(run.workspace, run.rt_id)
    assert set(digest["therapist"]["sessions"]) == {"elena", "marcus"}
    assert digest["judging"]["method"] == "single" and len(digest["judging"]["seats"]) == 1
    written = manifest(run, run.rt_id)
    assert {s: v["status"] for s, v in written["stages"].items()} == dict.fromkeys(written["stages"], "ok")


def test_a_jury_with_the_audit_reports_seats_swap_and_flip_rate(runs: ConformanceRuns) -> None:
    run = get(runs, "jury")
    judging = digest_file(run.workspace, run.rt_id)["judging"]
    assert [s["model"] for s in judging["seats"]] == ["sonnet", "opus"] and judging["method"] == "median"
    assert judging["audit"] == {"audited": True, "share": judging["audit"]["share"], "reason": "--audit-judge"}
    assert judging["swap"]["seat"] == 1 and isinstance(judging["flip_rate"], (int, float))
    written = manifest(run, run.rt_id)
    assert [s["model"] for s in written["params"]["jury"]["seats"]] == ["sonnet", "opus"]


def test_a_mixed_jury_recuses_and_the_biased_judge_flips(runs: ConformanceRuns) -> None:
    run = get(runs, "mixed_jury")
    judging = digest_file(run.workspace, run.rt_id)["judging"]
    assert [s["family"] for s in judging["seats"]] == ["anthropic", "openai", "google"]
    assert {(r["seat"], r["agent"]) for r in judging["recusals"]} == {(1, "elena"), (1, "marcus")}
    assert judging["swap"]["changed"] and judging["flip_rate"] > 0


def test_a_cut_run_is_cut_everywhere(runs: ConformanceRuns) -> None:
    run = get(runs, "sigint")
    digest = digest_file(run.workspace, run.rt_id)
    assert digest["status"] == "cut" and digest["decision"]["partial"] is True
    written = manifest(run, run.rt_id)
    assert written["status"] == "cut" and written["stages"]["debate"]["status"] == "error"


def test_a_resumed_run_records_its_resume(runs: ConformanceRuns) -> None:
    run = get(runs, "resumed")
    digest = digest_file(run.workspace, run.rt_id)
    assert digest["status"] == "closed"
    assert [e for e in digest["engine"]["events"] if e["event"] == "resume"]


def test_a_persons_message_is_in_the_digest_and_the_export(runs: ConformanceRuns) -> None:
    run = get(runs, "say")
    digest = digest_file(run.workspace, run.rt_id)
    assert not openapi_errors("Said", run.extra["said"])     # the jobs API's say answers the same object
    (human,) = digest["human_messages"]
    assert human["name"] == "dana" and human["id"] == run.extra["said"]["message_id"]
    done = run_cli(["export", run.rt_id, "--format", "json"], run.env)
    assert any(m["kind"] == "human" for m in json.loads(done.stdout)["messages"])


def test_the_second_roundtable_lists_its_precedent(runs: ConformanceRuns) -> None:
    run = get(runs, "precedents")
    decision = digest_file(run.workspace, run.rt_ids[1])["decision"]
    assert [p["rt_id"] for p in decision["precedents"]] == [run.rt_ids[0]]


def test_a_benchmark_run_and_its_snapshot(runs: ConformanceRuns) -> None:
    run = get(runs, "benchmark")
    for rt_id in run.rt_ids:
        digest = digest_file(run.workspace, rt_id)
        assert digest["benchmark"]["batch_id"] == run.extra["batch_id"] == digest["batch_id"]
    snapshots = sorted((run.workspace / "snapshots").rglob("snapshot-*.json"))
    assert snapshots, "snapshot mint wrote no snapshot"
    for path in snapshots:
        snapshot = strict_json(path.read_text(encoding="utf-8"))
        assert_valid("snapshot", snapshot)
        assert {r["batch_id"] for r in snapshot["benchmarks"]["runs"]} == {run.extra["batch_id"]}


def test_snapshots_of_an_agent_with_real_scores_validate(runs: ConformanceRuns) -> None:
    run = get(runs, "plain")                  # scored roundtables: the snapshot has a score history
    minted = run_cli(["snapshot", "mint", "marcus", "--notes", "after one real roundtable", "--json"], run.env)
    assert minted.returncode == 0, minted.stderr
    (path,) = sorted((run.workspace / "snapshots" / "marcus").rglob("snapshot-*.json"))
    snapshot = strict_json(path.read_text(encoding="utf-8"))
    assert_valid("snapshot", snapshot)
    assert [h["rt_id"] for h in snapshot["score_history"]] == [run.rt_id]


def test_a_missing_steward_file_is_named(runs: ConformanceRuns) -> None:
    run = get(runs, "steward_missing")
    digest = digest_file(run.workspace, run.rt_id)
    assert digest["steward_missing"] == ["examples/grounded/no-such-file.json"]
    assert "examples/grounded/service-metrics.json" in " ".join(digest["steward_registered"])


def test_a_200kb_briefing_warns(runs: ConformanceRuns) -> None:
    run = get(runs, "big_briefing")
    warnings = " ".join(digest_file(run.workspace, run.rt_id)["warnings"])
    assert "briefing" in warnings


def test_a_real_sdk_run_records_provider_usage(runs: ConformanceRuns) -> None:
    run = get(runs, "anthropic")
    events = telemetry(run, run.rt_id)
    calls = [e["payload"] for e in events if e["event_name"] == "llm_call"]
    assert calls and {c["provider"] for c in calls} == {"anthropic-sdk"}
    assert all(c["input_tokens"] > 0 for c in calls if c["status"] == "ok")
    (venture,) = digest_file(run.workspace, run.rt_id)["ventures"]
    assert venture["agent"] == "elena" and venture["tier"] == "scout"


def test_a_crashed_and_a_hung_worker_are_engine_events(runs: ConformanceRuns) -> None:
    run = get(runs, "faults")
    events = {e["event"] for e in digest_file(run.workspace, run.rt_id)["engine"]["events"]}
    assert {"restart", "timeout"} <= events, events


def test_the_ceilings_stop_the_runs_and_say_so(runs: ConformanceRuns) -> None:
    run = get(runs, "ceilings")
    by_cost, by_tokens = (digest_file(run.workspace, rt_id) for rt_id in run.rt_ids)
    assert by_cost["ceilings"]["stopped_on"] == "max_cost_usd" and by_cost["ceilings"]["spent"]["cost_usd"] <= 0.02
    assert by_tokens["ceilings"]["stopped_on"] == "max_tokens" and by_tokens["ceilings"]["spent"]["tokens"] <= 20000
    assert manifest(run, run.rt_ids[0])["params"]["ceilings"]["max_cost_usd"] == 0.02
    assert manifest(run, run.rt_ids[1])["params"]["ceilings"]["max_tokens"] == 20000


def test_agent_manifests_validate(runs: ConformanceRuns, tmp_path: Path) -> None:
    """#16: an evolved agent's manifest (two models, a snapshot), its signed package's, a one-model one."""
    import tarfile

    if not has_option(("agent", "pack"), "--sign"):
        pytest.skip("the portable agents (#16) have not landed: no `amatelier agent pack`")
    run = get(runs, "benchmark")                       # elena has snapshot 001 in this workspace
    keys = run_cli(["agent", "keygen", "-o", str(tmp_path / "keys"), "--json"], run.env)
    assert keys.returncode == 0, keys.stderr
    written = []
    for args in (["elena", "--model", "sonnet", "--model", "gpt-4o", "--version", "1.2.0", "--snapshot", "elena:001"],
                 ["marcus"]):
        made = run_cli(["agent", "manifest", *args, "--json"], run.env)
        assert made.returncode == 0, made.stderr
        path = Path(strict_json(made.stdout)["path"])
        written.append(strict_json(path.read_text(encoding="utf-8")))
    packed = run_cli(["agent", "pack", "elena", "--model", "sonnet", "--sign", strict_json(keys.stdout)["private_key"],
                      "-o", str(tmp_path / "out"), "--json"], run.env)
    assert packed.returncode == 0, packed.stderr
    with tarfile.open(strict_json(packed.stdout)["path"], "r:gz") as archive:
        member = archive.extractfile("manifest.json")
        assert member is not None
        written.append(strict_json(member.read().decode("utf-8")))
    for manifest_doc in written:
        assert_valid("agent_manifest", manifest_doc)
    assert [m.get("schema_version", "1.0") for m in written] == ["2.0", "1.0", "2.0"]
    assert written[2]["integrity"]["signature"]["algorithm"] == "ed25519"
