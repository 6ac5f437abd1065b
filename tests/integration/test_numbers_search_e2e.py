"""Search over real offline roundtables, and precedents in a new one.

Three roundtables with distinct topics; `amatelier search kafka` must rank something of
the Kafka roundtable first. A fourth on "replace Kafka with NATS?" is given that decision
as a precedent (listed in its decision record); with --no-precedents it is given none.
"""

from __future__ import annotations

import json

import pytest
from tests.helpers.roundtable_run import digest_file, messages, roundtable_args, rt_env, run_cli

pytestmark = pytest.mark.e2e

TOPICS = ["adopt Kafka for events?", "split the billing monolith?", "hire a platform team?"]
QUICK = ("--workers", "elena,marcus,clare", "--max-rounds", "2", "--skip-post")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    workspace = tmp_path_factory.mktemp("search")
    env = rt_env(workspace, COLUMNS="200")
    ids = []
    for topic in TOPICS:
        result = run_cli(roundtable_args(topic, *QUICK), env, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        ids.append(json.loads(result.stdout)["rt_id"])
    return {"workspace": workspace, "env": env, "ids": ids}


def test_kafka_ranks_the_kafka_roundtable_first(corpus) -> None:
    result = run_cli(["search", "kafka", "--json"], corpus["env"])
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    first = payload["results"][0]
    assert first["rt_id"] == corpus["ids"][0]
    assert first["kind"] in ("message", "decision")
    assert "**" in first["snippet"] and "kafka" in first["snippet"].lower()
    assert first["open_with"] == f"amatelier export {corpus['ids'][0]}"
    assert {hit["rt_id"] for hit in payload["results"]} == {corpus["ids"][0]}


def test_filters_narrow_the_results(corpus) -> None:
    env, ids = corpus["env"], corpus["ids"]
    everyone = json.loads(run_cli(["search", "kafka", "--json"], env).stdout)["results"]
    speaker = next(h["speaker"] for h in everyone if h["kind"] == "message")
    by_agent = json.loads(run_cli(["search", "kafka", "--agent", speaker, "--json"], env).stdout)["results"]
    assert by_agent and {h["speaker"] for h in by_agent} == {speaker}
    assert len(by_agent) < len(everyone)
    topics = json.loads(run_cli(["search", "billing", "--kind", "topic", "--json"], env).stdout)["results"]
    assert [h["rt_id"] for h in topics] == [ids[1]]
    other = json.loads(run_cli(["search", "kafka", "--rt", ids[2], "--json"], env).stdout)
    assert other["count"] == 0


def test_the_terminal_view_names_the_roundtable_and_how_to_open_it(corpus) -> None:
    result = run_cli(["search", "platform"], corpus["env"])
    assert result.returncode == 0, result.stderr
    assert corpus["ids"][2] in result.stdout and f"amatelier export {corpus['ids'][2]}" in result.stdout


def test_bad_syntax_is_one_line_and_exit_2(corpus) -> None:
    result = run_cli(["search", "AND OR"], corpus["env"])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("amatelier: error: ")
    assert "Traceback" not in result.stderr
    as_json = run_cli(["search", "AND OR", "--json"], corpus["env"])
    assert as_json.returncode == 2 and json.loads(as_json.stderr)["code"] == 2
    limit = run_cli(["search", "kafka", "--limit", "0"], corpus["env"])
    assert limit.returncode == 2 and "--limit" in limit.stderr


def test_a_new_roundtable_is_given_its_precedents(corpus) -> None:
    env, ids = corpus["env"], corpus["ids"]
    result = run_cli(roundtable_args("replace Kafka with NATS?", *QUICK), env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    digest = json.loads(result.stdout)
    listed = digest["decision"]["precedents"]
    assert ids[0] in [p["rt_id"] for p in listed]
    first = next(p for p in listed if p["rt_id"] == ids[0])
    assert first["recommendation"] and first["date"] and first["stance"] in ("agreed", "overturned", "unrelated")
    shown = [m for m in messages(corpus["workspace"], digest["rt_id"]) if m["kind"] == "precedents"]
    assert len(shown) == 1 and "Earlier decisions of this team on related questions" in shown[0]["content"]
    assert ids[0] in shown[0]["content"]
    assert digest_file(corpus["workspace"], digest["rt_id"])["decision"]["precedents"] == listed


def test_no_precedents_means_none(corpus) -> None:
    result = run_cli(roundtable_args("replace Kafka with NATS?", *QUICK, "--no-precedents"), corpus["env"],
                     timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    digest = json.loads(result.stdout)
    assert digest["decision"].get("precedents", []) == []
    assert not [m for m in messages(corpus["workspace"], digest["rt_id"]) if m["kind"] == "precedents"]


def test_a_corrupt_database_is_one_line_not_a_traceback(tmp_path) -> None:
    db = tmp_path / "roundtable-server" / "roundtable.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not sqlite" * 200)
    result = run_cli(["search", "kafka", "--json"], rt_env(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "not a database" in json.loads(result.stderr)["error"]
    assert db.read_bytes().startswith(b"this is not sqlite")          # left as it was
