"""Evolver: CLAUDE.md sections, learned behaviours with decay/prune/confirm, traits, skills owned."""

from __future__ import annotations

import json
import sqlite3

from freezegun import freeze_time
from tests.helpers.learning_fixtures import db

from amatelier import paths
from amatelier.learning import agent_memory, evolver

pytest_plugins = ["tests.helpers.learning_plugin"]


PERSONA = """# Elena

Intro line.

## Learned Behors typo is not this section

## Learned Behaviors
_None yet._

## Emerging Traits
Traits the therapist has seen.
_None yet._

## Skills Owned
_None yet._
"""


def write_persona(agent: str = "elena", text: str = PERSONA) -> None:
    (paths.user_agent_dir(agent) / "CLAUDE.md").write_text(text)


def claude(agent: str = "elena") -> str:
    return (paths.user_agent_dir(agent) / "CLAUDE.md").read_text()


# --------------------------------------------------------------------------- sections


def test_section_helpers_keep_prose_and_other_sections() -> None:
    assert evolver.get_section_items(PERSONA, "Learned Behaviors") == []
    text = evolver.set_section_items(PERSONA, "Learned Behaviors", ["Do A.", "Do B."])
    assert evolver.get_section_items(text, "Learned Behaviors") == ["Do A.", "Do B."]
    assert "_None yet._" not in text.split("## Learned Behaviors")[1].split("##")[0]
    text = evolver.set_section_items(text, "Emerging Traits", ["**calm**: steady"])
    assert "Traits the therapist has seen." in text
    assert text.startswith("# Elena\n\nIntro line.\n\n## Learned Behors typo")
    assert evolver.get_section_items(text, "Skills Owned") == []
    cleared = evolver.set_section_items(text, "Learned Behaviors", [])
    assert evolver.get_section_items(cleared, "Learned Behaviors") == []
    assert "- (none yet)" in cleared
    appended = evolver.set_section_items("# Bare\n", "Skills Owned", ["x"])
    assert appended == "# Bare\n\n## Skills Owned\n\n- x\n"


# --------------------------------------------------------------------------- behaviours


def test_add_behavior_writes_user_copy_only_and_skips_duplicates(learning_ws) -> None:
    write_persona()
    bundled = paths.bundled_agent_dir("elena") / "CLAUDE.md"
    bundled_before = bundled.read_bytes() if bundled.exists() else None
    assert evolver.add_learned_behavior("elena", "Open SPEAK with the position in one sentence.", "rt1")
    assert not evolver.add_learned_behavior("elena", "Open SPEAK with your position in one sentence.", "rt1")
    assert evolver.add_learned_behavior("elena", "Quote the briefing line each claim depends on.", "rt1")
    assert evolver.get_section_items(claude(), "Learned Behaviors") == [
        "Open SPEAK with the position in one sentence.", "Quote the briefing line each claim depends on."]
    data = evolver.load_behaviors("elena")
    assert [b["confidence"] for b in data["behaviors"]] == [1.0, 1.0]
    if bundled_before is not None:
        assert bundled.read_bytes() == bundled_before


def test_only_more_than_70_percent_word_overlap_is_a_duplicate(learning_ws) -> None:
    from amatelier.learning.text import word_overlap

    write_persona()
    ten = "Probe alpha bravo charlie delta echo foxtrot golf hotel india."
    seven = "Probe alpha bravo charlie delta echo foxtrot."                       # 7 of 10 words: 0.70
    eight = "Probe alpha bravo charlie delta echo foxtrot golf kilo."              # 8 of 11: 0.73
    assert word_overlap(ten, seven) == 0.7 and word_overlap(ten, eight) > 0.7
    assert evolver.add_learned_behavior("elena", ten, "rt1")
    assert evolver.add_learned_behavior("elena", seven, "rt1")                   # exactly 70%: kept
    assert not evolver.add_learned_behavior("elena", eight, "rt1")               # above 70%: duplicate
    assert evolver.get_section_items(claude(), "Learned Behaviors") == [ten, seven]
    # The same bound holds for lessons in MEMORY.json.
    assert agent_memory.add_lesson("simon", ten) and agent_memory.add_lesson("simon", seven)
    assert not agent_memory.add_lesson("simon", eight.replace("kilo", "lima"))
    assert [x["text"] for x in agent_memory.load_memory("simon")["lessons"]] == [ten, seven]


def test_a_broken_behaviors_json_is_copied_aside_before_it_is_replaced(learning_ws) -> None:
    write_persona()
    broken = '{"behaviors": [{"text": "Hand-tuned behaviour", "confidence": 0.9'
    evolver.behaviors_path("elena").write_text(broken)
    assert evolver.add_learned_behavior("elena", "Quote the briefing line each claim depends on.", "rt1")
    kept = list(paths.user_agent_dir("elena").glob("behaviors.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == broken                # nothing is lost
    assert [b["text"] for b in evolver.load_behaviors("elena")["behaviors"]] == [
        "Quote the briefing line each claim depends on."]


def test_duplicate_of_a_hand_written_bullet_is_skipped(learning_ws) -> None:
    write_persona(text=PERSONA.replace("## Learned Behaviors\n_None yet._",
                                       "## Learned Behaviors\n- Always name the peer you build on."))
    assert not evolver.add_learned_behavior("elena", "Always name the peer you build on first.", "rt1")
    assert evolver.load_behaviors("elena")["behaviors"] == []


def test_decay_prune_and_confirm_over_many_roundtables(learning_ws) -> None:
    write_persona()
    with freeze_time("2026-02-01T12:00:00Z"):
        evolver.add_learned_behavior("elena", "Open SPEAK with the position in one sentence.", "rt0")
        evolver.add_learned_behavior("elena", "Attack the strongest opposing argument by name.", "rt0")
    # The roundtable that added them does not decay them.
    assert evolver.decay_behaviors("elena", "rt0") == {"decayed": 0, "pruned": []}
    for n in range(1, 6):
        with freeze_time(f"2026-02-{1 + n:02d}T12:00:00Z"):
            evolver.decay_behaviors("elena", f"rt{n}")
    conf = {b["text"]: b["confidence"] for b in evolver.load_behaviors("elena")["behaviors"]}
    assert conf == {"Open SPEAK with the position in one sentence.": 0.75,
                    "Attack the strongest opposing argument by name.": 0.75}
    assert evolver.decay_behaviors("elena", "rt5") == {"decayed": 0, "pruned": []}   # once per RT
    # Confirmed during rt6: back to 1.0 and not decayed by rt6.
    with freeze_time("2026-02-08T12:00:00Z"):
        assert evolver.confirm_behavior("elena", "Attack the strongest opposing argument by name", "rt6")
        evolver.decay_behaviors("elena", "rt6")
    entries = {b["text"]: b for b in evolver.load_behaviors("elena")["behaviors"]}
    kept = entries["Attack the strongest opposing argument by name."]
    assert kept["confidence"] == 1.0 and kept["last_confirmed_at"] == "2026-02-08T12:00:00+00:00"
    assert entries["Open SPEAK with the position in one sentence."]["confidence"] == 0.7
    # Four more unconfirmed roundtables: 0.7 -> 0.5 is still kept (not below the threshold)...
    for n in range(7, 11):
        evolver.decay_behaviors("elena", f"rt{n}")
    conf = {b["text"]: b["confidence"] for b in evolver.load_behaviors("elena")["behaviors"]}
    assert conf["Open SPEAK with the position in one sentence."] == 0.5
    # ...and the next one prunes it from behaviors.json and from CLAUDE.md.
    with freeze_time("2026-02-20T12:00:00Z"):
        result = evolver.decay_behaviors("elena", "rt11")
    assert result["pruned"] == ["Open SPEAK with the position in one sentence."]
    data = evolver.load_behaviors("elena")
    assert [b["text"] for b in data["behaviors"]] == ["Attack the strongest opposing argument by name."]
    assert data["pruned"][0]["pruned_rt"] == "rt11" and data["pruned"][0]["pruned_at"] == "2026-02-20T12:00:00+00:00"
    assert evolver.get_section_items(claude(), "Learned Behaviors") == [
        "Attack the strongest opposing argument by name."]
    assert "FADING" not in evolver.get_behavior_decay_summary("elena")
    assert "Recently faded out: Open SPEAK" in evolver.get_behavior_decay_summary("elena")


def test_decay_summary_warns_about_fading(learning_ws) -> None:
    write_persona()
    evolver.add_learned_behavior("elena", "End each turn with a decision.", "rt0")
    for n in range(1, 8):
        evolver.decay_behaviors("elena", f"rt{n}")
    summary = evolver.get_behavior_decay_summary("elena")
    assert "confidence 0.65" in summary and "FADING" not in summary
    evolver.decay_behaviors("elena", "rt8")
    summary = evolver.get_behavior_decay_summary("elena")
    assert "confidence 0.60" in summary and "FADING" in summary


def test_apply_deltas(learning_ws) -> None:
    write_persona()
    assert evolver.apply_behavior_delta("elena", {"action": "add", "behavior": "Name the peer you build on."}, "r1") == "added"
    evolver.decay_behaviors("elena", "r2")
    assert evolver.apply_behavior_delta("elena", {"action": "add", "behavior": "Name the peer you build on!"}, "r3") == "confirmed"
    assert evolver.load_behaviors("elena")["behaviors"][0]["confidence"] == 1.0
    assert evolver.apply_behavior_delta("elena", {"action": "confirm", "behavior": "Unknown thing entirely"}, "r3") == "not-found"
    assert evolver.apply_behavior_delta("elena", {"action": "remove", "behavior": "name the peer you build on"}, "r3") == "removed"
    assert evolver.load_behaviors("elena")["behaviors"] == []
    assert evolver.load_behaviors("elena")["removed"][0]["removed_rt"] == "r3"
    assert evolver.get_section_items(claude(), "Learned Behaviors") == []
    assert evolver.apply_behavior_delta("elena", {"action": "remove", "behavior": "nothing like it"}, "r3") == "not-found"
    assert evolver.apply_behavior_delta("elena", {"action": "explode", "behavior": "x"}, "r3") == "invalid"


def test_emerging_traits_replace_by_name(learning_ws) -> None:
    write_persona()
    evolver.update_emerging_trait("elena", "steady synthesis", "held in round 2")
    evolver.update_emerging_trait("elena", "sharp questions", "")
    evolver.update_emerging_trait("elena", "Steady synthesis", "held again")
    assert evolver.get_section_items(claude(), "Emerging Traits") == [
        "**sharp questions**", "**Steady synthesis**: held again"]


def test_append_to_memory_dual_writes(learning_ws) -> None:
    assert evolver.append_to_memory("elena", "Concede fast when wrong.", "rt1")
    assert json.loads((paths.user_agent_dir("elena") / "MEMORY.json").read_text())["lessons"][0]["text"] == \
        "Concede fast when wrong."
    assert "Concede fast when wrong." in (paths.user_agent_dir("elena") / "MEMORY.md").read_text()


# --------------------------------------------------------------------------- skills owned


def test_sync_skills_owned_without_a_ledger_uses_skill_files(learning_ws) -> None:
    write_persona()
    conn = db()
    skills = paths.user_agent_dir("elena") / "skills"
    (skills / "steelman-first.md").write_text("# Steelman first\n")
    (skills / "pending").mkdir(exist_ok=True)
    (skills / "pending" / "rt1-abc.md").write_text("# pending distilled skill\n")
    assert evolver.sync_skills_owned("elena", conn) == ["steelman-first"]
    assert evolver.sync_skills_owned("elena", None) == ["steelman-first"]
    assert agent_memory.load_memory("elena")["skills_owned"] == ["steelman-first"]
    assert evolver.get_section_items(claude(), "Skills Owned") == ["steelman-first"]


def test_sync_skills_owned_reads_purchase_rows(learning_ws) -> None:
    write_persona()
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE spark_ledger (id INTEGER PRIMARY KEY, agent TEXT, rt_id TEXT, amount INTEGER,"
                 " category TEXT, reason TEXT, ref TEXT, meta TEXT)")
    rows = [("elena", -20, "purchase", "bought evidence-ladder", "p1", json.dumps({"item_id": "evidence-ladder"})),
            ("elena", 8, "score", "rt1 score", "rt1", "{}"),
            ("marcus", -20, "purchase", "bought red-team", "p2", json.dumps({"item_id": "red-team"})),
            ("elena", -15, "purchase", "bought devil-advocate", "p3", json.dumps({"item": "devils-advocate"})),
            ("elena", -5, "purchase", "bought extra floor", "p4", json.dumps({"item": "extra-floor", "kind": "boost"})),
            ("elena", -9, "purchase", "bought oops", "p5", json.dumps({"item": "oops-skill", "kind": "skill"})),
            ("elena", 9, "refund", "not delivered", "p5", json.dumps({"item": "oops-skill"}))]
    conn.executemany("INSERT INTO spark_ledger (agent, amount, category, reason, ref, meta) VALUES (?,?,?,?,?,?)", rows)
    assert evolver.sync_skills_owned("elena", conn) == ["devils-advocate", "evidence-ladder"]
    assert evolver.get_section_items(claude(), "Skills Owned") == ["devils-advocate", "evidence-ladder"]
    assert evolver.purchased_items(conn, "nobody") == []
