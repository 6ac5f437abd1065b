"""A whole roundtable on the offline backend: real CLI, real worker processes, real SQLite."""

from __future__ import annotations

import json

import pytest
from tests.helpers.roundtable_run import (
    digest_file,
    messages,
    roundtable_args,
    rows,
    rt_env,
    run_cli,
    write_config,
)

from amatelier.debate.signals import floor_intent, is_pass

pytestmark = pytest.mark.e2e

WORKERS = ["elena", "marcus", "clare", "simon"]
DIGEST_FIELDS = {
    "topic", "rt_id", "started_at", "ended_at", "duration_s", "mode", "rounds", "total_messages",
    "contributions", "final_positions", "converged", "convergence_reason", "judge_interventions",
    "budget_usage", "stability_scores", "workers", "worker_models", "llm_usage",
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One 3-round roundtable with four workers, budget 2, run once for the module."""
    workspace = tmp_path_factory.mktemp("ws")
    result = run_cli(roundtable_args("split the monolith?", "--workers", ",".join(WORKERS),
                                     "--max-rounds", "3", "--budget", "2", "--skip-post"),
                     rt_env(workspace))
    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)
    return workspace, digest, messages(workspace, digest["rt_id"])


def _speaking_order(msgs):
    line = next(m["content"] for m in msgs if m["content"].startswith("SPEAKING ORDER:"))
    return [a.strip() for a in line.split(":", 1)[1].split(",")]


def test_digest_has_every_field_and_is_on_disk(finished):
    workspace, digest, _ = finished
    assert set(digest) >= DIGEST_FIELDS
    assert digest_file(workspace, digest["rt_id"]) == digest
    assert digest["mode"] == "offline" and digest["offline"] is True
    assert digest["workers"] == WORKERS
    assert set(digest["worker_models"]) == {*WORKERS, "judge"}
    assert digest["worker_models"]["clare"] == {"role": "concise structural analysis",
                                                "backend": "offline", "model": "offline-haiku"}
    assert digest["ended_at"] >= digest["started_at"]
    assert (workspace / "roundtable-server" / "latest-result.md").read_text().count(digest["rt_id"]) >= 1


def test_phase_order_within_each_round(finished):
    _, digest, msgs = finished
    headers = [(m["round"], m["content"].splitlines()[0]) for m in msgs if m["kind"] == "phase"]
    for round_no in range(1, digest["rounds"] + 1):
        titles = [t for r, t in headers if r == round_no]
        expected = [f"ROUND {round_no}: begin", f"--- SPEAK PHASE (Round {round_no}) ---",
                    "--- REBUTTAL PHASE ---", "--- JUDGE GATE ---"]
        assert titles[:4] == expected
        if round_no < digest["rounds"] or not digest["converged"]:
            assert titles[4:] == ["--- FLOOR PHASE ---"]
        else:
            assert titles[4:] == []  # CONVERGED ends the loop before the floor


def test_speak_follows_order_and_rebuttal_reverses_it(finished):
    _, digest, msgs = finished
    order = _speaking_order(msgs)
    assert sorted(order) == sorted(WORKERS)
    for round_no in range(1, digest["rounds"] + 1):
        speak = [m["agent"] for m in msgs if m["round"] == round_no and m["phase"] == "SPEAK"
                 and m["kind"] == "speech"]
        rebut = [m["agent"] for m in msgs if m["round"] == round_no and m["phase"] == "REBUTTAL"
                 and m["kind"] == "speech"]
        if round_no == 1:  # independent openings: written at once, posted as each finishes
            assert sorted(speak) == sorted(order)
        else:
            assert speak == order
        assert rebut == list(reversed(order))


def test_judge_gate_ends_the_loop_with_converged(finished):
    _, digest, msgs = finished
    gates = [m for m in msgs if m["kind"] == "judge"]
    assert [g["round"] for g in gates] == list(range(1, digest["rounds"] + 1))
    assert all(g["content"].startswith("CONTINUE:") for g in gates[:-1])
    assert gates[-1]["content"].startswith("CONVERGED:")
    assert digest["converged"] is True and digest["rounds"] == 2  # offline judge converges in round 2 of 3
    assert digest["convergence_reason"] and "[offline]" in digest["convergence_reason"]
    assert not [m for m in msgs if (m["round"] or 0) > digest["rounds"]]
    signals = [i["signal"] for i in digest["judge_interventions"]]
    assert signals.count("CONVERGED") == 1 and "CONTINUE" in signals


def test_floor_spends_budget_and_pass_costs_nothing(finished):
    _, digest, msgs = finished
    floor = [m for m in msgs if m["phase"] == "FLOOR" and m["kind"] == "speech"]
    contributions = [m for m in floor if not is_pass(m["content"])]
    assert contributions and len(contributions) == len(floor)  # nobody is called just to PASS
    for agent in WORKERS:
        spent = sum(1 for m in contributions if m["agent"] == agent)
        assert digest["budget_usage"][agent] == {"spent": spent, "budget": 2}
    # the floor goes exactly to those whose rebuttal ended with `FLOOR: yes` that round
    for round_no in range(1, digest["rounds"] + 1):
        asked = {m["agent"] for m in msgs if m["round"] == round_no and m["phase"] == "REBUTTAL"
                 and m["kind"] == "speech" and floor_intent(m["content"]) is True}
        took = {m["agent"] for m in floor if m["round"] == round_no}
        assert took <= asked and (took == asked or round_no == digest["rounds"])


def test_turns_are_rows_answered_in_one_transaction(finished):
    workspace, digest, msgs = finished
    turns = rows(workspace, "SELECT * FROM turns WHERE rt_id = ? ORDER BY id", digest["rt_id"])
    by_id = {m["id"]: m for m in msgs}
    assert turns and all(t["status"] == "done" for t in turns)
    for turn in turns:
        message = by_id[turn["message_id"]]
        assert (message["agent"], message["round"], message["phase"]) == \
               (turn["agent"], turn["round"], turn["phase"])
        assert turn["requested_at"] <= turn["claimed_at"] <= turn["completed_at"]
    turn_lines = [m for m in msgs if m["kind"] == "turn"]
    assert len(turn_lines) == len(turns)
    assert turn_lines[0]["content"].startswith("YOUR TURN: ")
    # one call per debate turn; scoring and distilling add calls of their own after the debate
    calls = rows(workspace, "SELECT * FROM llm_calls WHERE rt_id = ? AND role IN"
                            " ('speak', 'rebuttal', 'gate', 'floor')", digest["rt_id"])
    assert len(calls) == len(turns) == digest["llm_usage"]["debate"]["calls"]
    assert {c["role"] for c in calls} == {"speak", "rebuttal", "gate", "floor"}


def test_llm_usage_counts_every_call_of_the_roundtable(finished):
    """What the roundtable cost: the debate turns and the judge scoring and distilling after it."""
    workspace, digest, _ = finished
    every = rows(workspace, "SELECT * FROM llm_calls WHERE rt_id = ?", digest["rt_id"])
    usage = digest["llm_usage"]
    assert usage["calls"] == len(every) > usage["debate"]["calls"]
    assert usage["input_tokens"] == sum(c["input_tokens"] for c in every)
    assert {"score", "distill"} <= set(usage["by_role"])
    assert sum(r["calls"] for r in usage["by_role"].values()) == len(every)
    assert digest_file(workspace, digest["rt_id"])["llm_usage"] == usage


def test_stability_contributions_and_positions(finished):
    _, digest, msgs = finished
    assert set(digest["stability_scores"]) == {"2"}
    assert set(digest["stability_scores"]["2"]) == set(WORKERS)
    assert all(0.0 <= s <= 1.0 for s in digest["stability_scores"]["2"].values())
    speech = [m for m in msgs if m["kind"] in ("speech", "judge") and not is_pass(m["content"])]
    for agent in [*WORKERS, "judge"]:
        assert digest["contributions"][agent] == sum(1 for m in speech if m["agent"] == agent)
    workspace = finished[0]
    declared = rows(workspace, "SELECT agent, stance FROM positions WHERE rt_id = ? AND missing = 0 "
                               "ORDER BY message_id", digest["rt_id"])
    for agent in WORKERS:  # the last declared stance, never the whole message
        last = [r["stance"] for r in declared if r["agent"] == agent][-1]
        assert digest["final_positions"][agent] == last and "POSITION:" not in last
        assert digest["final_positions_from"][agent] == "position"
    assert digest["total_messages"] == len(msgs)


def test_offline_speeches_reference_other_agents(finished):
    _, _, msgs = finished
    speeches = [m for m in msgs if m["kind"] == "speech" and m["phase"] in ("SPEAK", "REBUTTAL")]
    assert all(m["content"].startswith("[offline]") for m in speeches)
    named = [m for m in speeches if any(w in m["content"] for w in WORKERS if w != m["agent"])]
    # independent openings have nobody to cite yet; every later speech answers someone
    openings = [m for m in speeches if m["round"] == 1 and m["phase"] == "SPEAK"]
    assert len(named) >= len(speeches) - len(openings)
    assert len({m["content"] for m in speeches}) == len(speeches)


def test_summary_output_matches_examples(tmp_path):
    result = run_cli(roundtable_args("hello", "--workers", "elena", "--max-rounds", "1", "--budget", "1",
                                     "--skip-naomi", "--skip-post", "--summary"), rt_env(tmp_path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for label in ("TOPIC: hello", "ROUNDS: 1", "MESSAGES: ", "CONVERGED: yes", "JUDGE INTERVENTIONS:",
                  "CONTRIBUTIONS: elena: ", "judge: ", "FINAL POSITIONS:", "[elena]: ",
                  "BUDGET USAGE:", "elena: spent 0/1", "LLM USAGE: ",
                  "(offline backend — no model was called)"):
        assert label in out, label
    digests = list((tmp_path / "roundtable-server").glob("digest-*.json"))
    assert len(digests) == 1


@pytest.mark.parametrize(("extra", "env_extra", "message"), [
    (["--briefing", "no-such-briefing.md"], {}, "briefing not found: no-such-briefing.md"),
    (["--workers", "elena,bob"], {}, "unknown worker 'bob' (known agents: "),
    (["--max-rounds", "0"], {}, "--max-rounds must be between 1 and 20"),
    (["--budget", "99"], {}, "--budget must be between 0 and 50"),
    (["--speaker-timeout", "0"], {}, "--speaker-timeout must be between 1 and 3600"),
    ([], {"AMATELIER_MODE": "anthropic-sdk"}, "mode anthropic-sdk was selected but cannot run"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, extra, env_extra, message):
    workspace = tmp_path / "ws"
    args = roundtable_args("bad", "--skip-post")
    if extra[:1] == ["--briefing"]:
        args = ["roundtable", "--topic", "bad", *extra]
    else:
        args += extra
    result = run_cli(args, rt_env(workspace, **env_extra))
    assert result.returncode == 2
    assert result.stderr.startswith("amatelier: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not workspace.exists()


def test_a_bad_config_default_is_one_line_naming_file_and_key(tmp_path):
    write_config(tmp_path, {"roundtable": {"max_rounds": 50}})
    result = run_cli(roundtable_args("bad default", "--skip-post"), rt_env(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"amatelier: error: config error in {(tmp_path / 'config.json').resolve()} at key "
        "'roundtable.max_rounds': must be between 1 and 20 (got 50; --max-rounds overrides it)"]
    assert not (tmp_path / "roundtable-server").exists()
