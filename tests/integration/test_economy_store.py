"""The store: purchases that never overspend, delivery, boosts, first-speaker bids, the bulletin board."""

from __future__ import annotations

import json
import multiprocessing

import pytest
from tests.helpers import economy_workers
from tests.helpers.economy_support import (
    WORKERS,
    grant,
    ledger_rows,
    make_rt,
)

from amatelier import atomicio, paths
from amatelier.config import load_config
from amatelier.economy import ledger, store

pytest_plugins = ["tests.helpers.economy_fixtures"]


def json_state() -> dict:
    return atomicio.read_json(paths.user_store_ledger(), {})


def test_catalog_has_every_category() -> None:
    kinds = {row["kind"] for row in store.catalog_rows()}
    assert kinds == {"service", "skill", "boost", "tier"}
    item, category = store.find_item("EXTRA-floor-turns")
    assert category == "boosts" and item["effect"] == {"floor_budget": 2}
    assert store.find_item("nope") == (None, None)
    for item, category in store.iter_items():
        if category == "skills":
            assert (store.bundled_templates_dir() / item["template"]).is_file(), item["id"]
    assert "steelman-first (15 sparks)" in store.list_catalog()


def test_insufficient_sparks_refused_and_nothing_written(econ_db, econ_config) -> None:
    grant(econ_db, "elena", 14)
    before_rows = ledger_rows(econ_db)
    before_json = paths.user_store_ledger().read_bytes()
    with pytest.raises(ledger.InsufficientSparks, match="elena has 14 sparks; steelman-first costs 15"):
        store.purchase(econ_db, "elena", "steelman-first", econ_config)
    assert ledger_rows(econ_db) == before_rows
    assert paths.user_store_ledger().read_bytes() == before_json
    assert not store.skill_path("elena", "steelman-first").exists()
    with pytest.raises(store.UnknownItem):
        store.purchase(econ_db, "elena", "nope", econ_config)
    with pytest.raises(ledger.UnknownAgent):
        store.purchase(econ_db, "bob", "steelman-first", econ_config)
    assert ledger_rows(econ_db) == before_rows


def test_skill_purchase_delivers_and_retires(econ_db, econ_config) -> None:
    grant(econ_db, "elena", 40)
    receipt = store.purchase(econ_db, "elena", "steelman-first", econ_config)
    assert receipt["price"] == 15 and receipt["balance"] == 25 and receipt["delivered"]
    skill = store.skill_path("elena", "steelman-first").read_text(encoding="utf-8")
    assert "Owner: elena" in skill and "{agent}" not in skill
    row = ledger_rows(econ_db, category="purchase")[0]
    assert row["amount"] == -15 and row["ref"] == receipt["purchase_id"]
    assert json.loads(row["meta"])["item"] == "steelman-first"
    assert json_state()["purchases"][receipt["purchase_id"]]["status"] == "owned"
    assert [s["id"] for s in store.get_owned_skills(econ_db, "elena")] == ["steelman-first"]
    with pytest.raises(store.StoreError, match="already owns"):
        store.purchase(econ_db, "elena", "steelman-first", econ_config)

    store.retire_skill(econ_db, "elena", "steelman-first")
    assert not store.skill_path("elena", "steelman-first").exists()
    assert store.get_owned_skills(econ_db, "elena") == []
    assert store.sync_ledger(econ_db)["purchases"][receipt["purchase_id"]]["status"] == "retired"
    assert not store.skill_path("elena", "steelman-first").exists()     # a sync does not resurrect it
    with pytest.raises(store.StoreError, match="does not own"):
        store.retire_skill(econ_db, "elena", "steelman-first")
    store.purchase(econ_db, "elena", "steelman-first", econ_config)      # re-buy after retiring
    assert ledger.balance(econ_db, "elena") == 10


def test_crash_after_the_db_commit_is_repaired_on_the_next_load(econ_db, econ_config, monkeypatch) -> None:
    grant(econ_db, "marcus", 30)

    def boom(conn, purchase_id):
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError):
        patch.setattr(store, "_record_state", boom)
        store.purchase(econ_db, "marcus", "failure-mode-sweep", econ_config)
    ref = ledger_rows(econ_db, category="purchase")[0]["ref"]
    assert ref not in json_state().get("purchases", {})              # the JSON step never ran
    assert not store.skill_path("marcus", "failure-mode-sweep").exists()
    assert ref in store.load_ledger(econ_db)["purchases"]            # the read view already agrees
    state = store.sync_ledger(econ_db)
    assert state["purchases"][ref]["delivered"] and store.skill_path("marcus", "failure-mode-sweep").exists()
    assert json_state()["purchases"][ref]["status"] == "owned"
    assert ledger.balance(econ_db, "marcus") == 12


def test_a_killed_process_between_the_steps_leaves_them_consistent(econ_db, econ_config, econ_ws) -> None:
    grant(econ_db, "clare", 10)
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=economy_workers.buy_then_die, args=(str(econ_ws), "clare", "extra-floor-turns"))
    child.start()
    child.join(120)
    assert child.exitcode == 9
    purchases = ledger_rows(econ_db, category="purchase")
    assert len(purchases) == 1 and ledger.balance(econ_db, "clare") == 4
    assert purchases[0]["ref"] not in json_state().get("purchases", {})
    boosts = store.get_pending_boosts(econ_db, "clare")
    assert [b["id"] for b in boosts] == [purchases[0]["ref"]]
    store.sync_ledger(econ_db)
    assert json_state()["purchases"][purchases[0]["ref"]]["status"] == "pending"


def test_reconcile_is_pure_and_follows_the_database() -> None:
    db = {"p1": {"agent": "elena", "price": 6, "purchased_at": "t1", "item": "extra-floor-turns", "kind": "boost",
                 "effect": {"floor_budget": 2}},
          "p2": {"agent": "elena", "price": 15, "purchased_at": "t2", "item": "steelman-first", "kind": "skill"}}
    current = {"purchases": {"p1": {"id": "p1", "agent": "elena", "kind": "boost", "status": "consumed",
                                    "delivered": True},
                             "ghost": {"id": "ghost", "agent": "x", "kind": "boost", "status": "pending"}}}
    frozen = json.dumps(current, sort_keys=True)
    data, changes = store.reconcile(current, db, refunds={"p2"})
    assert json.dumps(current, sort_keys=True) == frozen
    assert data["purchases"]["p1"]["status"] == "consumed"            # JSON-only state kept
    assert data["purchases"]["p2"]["status"] == "refunded" and not data["purchases"]["p2"]["delivered"]
    assert "ghost" not in data["purchases"]
    assert changes == ["added p2", "dropped ghost (no purchase row)", "refunded p2"]
    again, changes = store.reconcile(data, db, refunds={"p2"})
    assert again == data and changes == []


def test_a_corrupt_ledger_json_is_rebuilt_from_the_database(econ_db, econ_config) -> None:
    grant(econ_db, "simon", 10)
    receipt = store.purchase(econ_db, "simon", "first-speaker", econ_config)
    paths.user_store_ledger().write_text("{not json", encoding="utf-8")
    assert receipt["purchase_id"] in store.sync_ledger(econ_db)["purchases"]
    assert receipt["purchase_id"] in json_state()["purchases"]
    kept = list(paths.user_store_ledger().parent.glob("ledger.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "{not json"


def test_an_unwritable_ledger_json_does_not_lose_a_paid_purchase(econ_db, econ_config, monkeypatch) -> None:
    grant(econ_db, "simon", 20)

    def disk_full(conn, purchase_id):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(store, "_record_state", disk_full)
        receipt = store.purchase(econ_db, "simon", "decision-record", econ_config)
    assert receipt["status"] == "paid" and not receipt["delivered"] and receipt["balance"] == 8
    assert not store.skill_path("simon", "decision-record").exists()
    assert store.sync_ledger(econ_db)["purchases"][receipt["purchase_id"]]["delivered"]
    assert store.skill_path("simon", "decision-record").exists()


def test_boosts_apply_at_the_next_rt_and_are_consumed_after_it(econ_db, econ_config) -> None:
    grant(econ_db, "elena", 20)
    first = store.purchase(econ_db, "elena", "extra-floor-turns", econ_config)["purchase_id"]
    second = store.purchase(econ_db, "elena", "extra-floor-turns", econ_config)["purchase_id"]
    make_rt(econ_db, "rtA")
    make_rt(econ_db, "rtB")
    assert store.apply_boosts_for_rt(econ_db, WORKERS, "rtA") == {"elena": {"floor_budget": 4}}
    assert store.apply_boosts_for_rt(econ_db, WORKERS, "rtA") == {"elena": {"floor_budget": 4}}   # idempotent
    assert store.apply_boosts_for_rt(econ_db, WORKERS, "rtB") == {}     # claimed by the open rtA
    assert store.get_pending_boosts(econ_db, "elena") == []
    assert sorted(store.consume_boosts_after_rt(econ_db, WORKERS, "rtA")) == sorted([first, second])
    assert store.apply_boosts_for_rt(econ_db, WORKERS, "rtB") == {}
    assert store.consume_boost(econ_db, first) is False


def test_a_boost_left_active_by_an_ended_rt_is_used_again(econ_db, econ_config) -> None:
    grant(econ_db, "elena", 6)
    store.purchase(econ_db, "elena", "extra-floor-turns", econ_config)
    make_rt(econ_db, "rtA")
    store.apply_boosts_for_rt(econ_db, ["elena"], "rtA")
    econ_db.execute("UPDATE roundtables SET status = 'closed' WHERE id = 'rtA'")    # --skip-post: never consumed
    make_rt(econ_db, "rtB")
    assert store.apply_boosts_for_rt(econ_db, ["elena"], "rtB") == {"elena": {"floor_budget": 2}}


def test_a_boost_claimed_by_an_rt_that_never_opened_is_freed_after_an_hour(econ_db, econ_config) -> None:
    from freezegun import freeze_time

    grant(econ_db, "elena", 6)
    store.purchase(econ_db, "elena", "extra-floor-turns", econ_config)
    make_rt(econ_db, "rtB")
    with freeze_time("2026-03-01 10:00:00"):
        assert store.apply_boosts_for_rt(econ_db, ["elena"], "ghost") == {"elena": {"floor_budget": 2}}
    with freeze_time("2026-03-01 10:59:00"):
        assert store.apply_boosts_for_rt(econ_db, ["elena"], "rtB") == {}       # ghost may still be opening
    with freeze_time("2026-03-01 11:01:00"):
        assert store.apply_boosts_for_rt(econ_db, ["elena"], "rtB") == {"elena": {"floor_budget": 2}}


def test_deliver_skill_renders_the_template(econ_ws) -> None:
    path = store.deliver_skill("simon", "assumption-audit", "2026-01-02T00:00:00Z")
    text = path.read_text(encoding="utf-8")
    assert "Owner: simon" in text and "2026-01-02T00:00:00Z" in text and "`assumption-audit`" in text
    with pytest.raises(store.UnknownItem):
        store.deliver_skill("simon", "extra-floor-turns")


def test_first_speaker_goes_to_the_best_ranked_bidder_and_losers_are_refunded(econ_db, econ_config) -> None:
    grant(econ_db, "marcus", 50)
    grant(econ_db, "clare", 20)
    grant(econ_db, "simon", 10)
    bids = {a: store.purchase(econ_db, a, "first-speaker", econ_config)["purchase_id"]
            for a in ("simon", "clare", "marcus")}
    with pytest.raises(store.StoreError, match="already holds"):
        store.purchase(econ_db, "simon", "first-speaker", econ_config)
    make_rt(econ_db, "rt1")
    store.apply_boosts_for_rt(econ_db, WORKERS, "rt1")
    order, winner, refunded = store.resolve_first_speaker(econ_db, "rt1", ["elena", "simon", "clare", "marcus"],
                                                          econ_config)
    assert winner == "marcus" and order == ["marcus", "elena", "simon", "clare"]
    assert sorted(refunded) == sorted([bids["simon"], bids["clare"]])
    assert ledger.balance(econ_db, "simon") == 10 and ledger.balance(econ_db, "clare") == 20
    assert ledger.balance(econ_db, "marcus") == 46
    refunds = ledger_rows(econ_db, category="refund")
    assert sorted(r["ref"] for r in refunds) == sorted(refunded)
    state = json_state()["purchases"]
    assert state[bids["simon"]]["status"] == "refunded" and state[bids["marcus"]]["status"] == "active"
    # Resolving again refunds nobody twice.
    store.resolve_first_speaker(econ_db, "rt1", ["elena", "simon", "clare", "marcus"], econ_config)
    assert len(ledger_rows(econ_db, category="refund")) == 2
    assert store.resolve_first_speaker(econ_db, "rt1", ["elena", "simon"], econ_config)[1] is None


def test_bulletin_requests_age_per_rt_and_expire_at_three(econ_db) -> None:
    public = store.submit_request(econ_db, "clare", "a skill for reading flame graphs")
    private = store.submit_request(econ_db, "simon", "help with triage", kind="private")
    assert [r["id"] for r in store.get_open_requests(econ_db)] == [public["id"], private["id"]]
    assert store.age_bulletin_requests(econ_db, "rt1") == []
    assert store.age_bulletin_requests(econ_db, "rt1") == []        # the same RT twice: no-op
    assert store.age_bulletin_requests(econ_db, "rt2") == []
    expired = store.age_bulletin_requests(econ_db, "rt3")
    assert [r["id"] for r in expired] == [public["id"]]
    assert [r["id"] for r in store.list_requests(econ_db, "open")] == [private["id"]]
    assert "expired" in store.bulletin_board(econ_db)
    with pytest.raises(store.StoreError):
        store.submit_request(econ_db, "clare", "   ")


def test_fulfilled_request_becomes_a_store_item(econ_db, econ_config) -> None:
    request = store.submit_request(econ_db, "clare", "a skill for reading flame graphs")
    item = store.fulfill_request(econ_db, request["id"], "marcus", "Flame graphs", "# Flame graphs\nRead widths.", 9)
    assert store.find_item(item["id"])[0]["price"] == 9
    grant(econ_db, "clare", 9)
    store.purchase(econ_db, "clare", item["id"], econ_config)
    assert "Read widths." in store.skill_path("clare", item["id"]).read_text(encoding="utf-8")
    assert store.list_requests(econ_db)[0]["status"] == "fulfilled"


def test_private_skill_service_and_admin_grant(econ_db, econ_config) -> None:
    grant(econ_db, "simon", 8)
    receipt = store.purchase(econ_db, "simon", "private-skill-request", econ_config)
    requests = store.get_open_requests(econ_db, kind="private")
    assert len(requests) == 1 and requests[0]["purchase"] == receipt["purchase_id"]
    store.sync_ledger(econ_db)
    assert len(store.get_open_requests(econ_db, kind="private")) == 1      # delivered once, not per sync
    path = store.admin_apply_private_skill(econ_db, requests[0]["id"], "Triage ladder", "# Triage\nfor {agent}")
    assert path.read_text(encoding="utf-8") == "# Triage\nfor simon"
    assert [s["source"] for s in store.get_owned_skills(econ_db, "simon")] == ["grant"]


def test_tier_unlock_changes_the_model_and_the_fee(econ_db, econ_config) -> None:
    grant(econ_db, "clare", 70)
    receipt = store.promote_tier(econ_db, "clare", econ_config)
    assert receipt["item"] == "tier-sonnet" and receipt["balance"] == 10
    config = load_config()
    assert config["team"]["workers"]["clare"]["model"] == "sonnet"
    make_rt(econ_db, "rt1")
    assert ledger.deduct_entry_fee(econ_db, "clare", "rt1", config) == 8
    grant(econ_db, "clare", 60)
    with pytest.raises(store.StoreError, match="promotes haiku workers; clare is on sonnet"):
        store.purchase(econ_db, "clare", "tier-sonnet", config)
    grant(econ_db, "naomi", 200)
    with pytest.raises(store.StoreError, match="Gemini"):
        store.purchase(econ_db, "naomi", "tier-sonnet", config)


def test_store_requests_from_the_therapist(econ_db, econ_config) -> None:
    grant(econ_db, "elena", 12)
    bought = store.process_store_request(econ_db, "elena", {"item": "decision-record"}, econ_config)
    assert bought["action"] == "purchased" and bought["ok"]
    queued = store.process_store_request(econ_db, "elena", {"item": "assumption-audit"}, econ_config)
    assert queued["action"] == "queued" and queued["reason"] == "insufficient_funds"
    assert queued["request"]["item"] == "assumption-audit"
    free_text = store.process_store_request(econ_db, "elena", {"request": "a rubric for latency claims"}, econ_config)
    assert free_text["action"] == "queued"
    assert len(store.get_open_requests(econ_db)) == 2
    assert store.attempt_purchase(econ_db, "elena", "nope", econ_config)["reason"] == "unknown_item"


def test_inventory_and_history(econ_db, econ_config) -> None:
    grant(econ_db, "marcus", 40)
    store.purchase(econ_db, "marcus", "put-numbers-on-it", econ_config)
    store.purchase(econ_db, "marcus", "extra-floor-turns", econ_config)
    inv = store.inventory(econ_db, "marcus")
    assert inv["balance"] == 19
    assert [s["id"] for s in inv["skills"]] == ["put-numbers-on-it"]
    assert [b["item"] for b in inv["boosts"]] == ["extra-floor-turns"]
    history = store.purchase_history(econ_db, "marcus")
    assert "put-numbers-on-it" in history and "extra-floor-turns" in history
    assert len(store.what_can_afford(econ_db, "marcus")) == sum(1 for r in store.catalog_rows() if r["price"] <= 19)
