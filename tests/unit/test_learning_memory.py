"""Agent memory: goals and aging, sessions, bridge, bounded rendering, beliefs, diary, migration."""

from __future__ import annotations

import json

from freezegun import freeze_time

from amatelier import paths
from amatelier.learning import agent_memory as mem

pytest_plugins = ["tests.helpers.learning_plugin"]


def test_goals_age_per_roundtable_and_expire_at_their_horizon(learning_ws) -> None:
    with freeze_time("2026-03-01T10:00:00Z"):
        goal = mem.add_goal("elena", "Raise accuracy to 2", horizon_rts=2, rt_id="rt1")
    assert goal["created_at"] == "2026-03-01T10:00:00+00:00"
    assert mem.add_goal("elena", "Raise accuracy to 2!", 3, "rt1") is None      # near-duplicate
    mem.add_goal("elena", "Name a peer in every rebuttal", 4, "rt1")
    # The roundtable whose debrief set the goals does not age them.
    assert mem.age_goals("elena", "rt1") == {"aged": 0, "expired": []}
    assert mem.age_goals("elena", "rt2")["aged"] == 2
    assert mem.age_goals("elena", "rt2") == {"aged": 0, "expired": []}         # once per RT
    with freeze_time("2026-03-03T10:00:00Z"):
        result = mem.age_goals("elena", "rt3")
    assert result["expired"] == ["Raise accuracy to 2"]
    goals = {g["goal"]: g for g in mem.load_memory("elena")["goals"]}
    assert goals["Raise accuracy to 2"]["status"] == "expired"
    assert goals["Raise accuracy to 2"]["closed_at"] == "2026-03-03T10:00:00+00:00"
    assert goals["Name a peer in every rebuttal"]["rts_elapsed"] == 2
    assert [g["goal"] for g in mem.active_goals("elena")] == ["Name a peer in every rebuttal"]
    # An expired goal can be set again.
    assert mem.add_goal("elena", "Raise accuracy to 2", 2, "rt3") is not None


def test_age_goals_without_rt_id_always_ticks(learning_ws) -> None:
    mem.add_goal("clare", "Shorter turns", 3)
    mem.age_goals("clare")
    mem.age_goals("clare")
    assert mem.active_goals("clare")[0]["rts_elapsed"] == 2


def test_goal_progress_by_fuzzy_match(learning_ws) -> None:
    mem.add_goal("simon", "Sequence every fix with a rollback checkpoint", 3, "rt1")
    assert mem.update_goal_progress("simon", "rollback checkpoint sequence", "did it in round 2")
    assert not mem.update_goal_progress("simon", "completely unrelated words here", "x")
    assert mem.update_goal_progress("simon", "fix with a rollback checkpoint", completed=True)
    goal = mem.load_memory("simon")["goals"][0]
    assert goal["status"] == "completed" and goal["progress"][0]["note"] == "did it in round 2"


def test_sessions_roll_and_one_per_roundtable(learning_ws) -> None:
    for i in range(mem.MAX_RECENT_SESSIONS + 2):
        mem.add_session_summary("marcus", f"rt{i}", f"summary {i}", "topic")
    mem.add_session_summary("marcus", f"rt{mem.MAX_RECENT_SESSIONS + 1}", "rewritten", "topic", complete=False)
    sessions = mem.load_memory("marcus")["sessions"]
    assert len(sessions) == mem.MAX_RECENT_SESSIONS
    assert sessions[0]["rt_id"] == "rt2"
    assert sessions[-1]["summary"] == "rewritten" and sessions[-1]["complete"] is False


def test_session_bridge_says_last_time_and_lands_in_memory_md(learning_ws) -> None:
    assert mem.generate_session_bridge("elena") == ""
    mem.add_session_summary("elena", "rt9", "Strong synthesis, thin evidence.", "split billing?")
    mem.add_goal("elena", "Quote the briefing for each claim", 3, "rt9")
    mem.add_lesson("elena", "Evidence beats volume.", "rt9")
    bridge = mem.generate_session_bridge("elena")
    assert bridge.startswith('Last time you took part in roundtable rt9 on "split billing?"')
    assert "Quote the briefing for each claim" in bridge and "Evidence beats volume." in bridge
    text = (paths.user_agent_dir("elena") / "MEMORY.md").read_text()
    assert text.startswith("# Memory — elena\n\n## Last time\nLast time you")
    assert text.index("## Last time") < text.index("## Active goals") < text.index("## Lessons")


def test_rendering_stays_within_the_bound(learning_ws) -> None:
    mem.add_session_summary("naomi", "rt1", "s " * 800, "t" * 300)
    for i in range(60):
        mem.add_lesson("naomi", f"lesson number {i} about {'x' * i} and topic{i} " * 5, f"rt{i}")
        mem.add_episode("naomi", f"I did thing {i} " + "y" * 400, f"rt{i}")
        mem.add_goal("naomi", f"goal {i} unique{i} " + "z" * 200, 3, f"rt{i}")
        mem.update_belief("naomi", f"belief {i} distinct{i} words{i}", rt_id=f"rt{i}")
    mem.generate_session_bridge("naomi")
    text = (paths.user_agent_dir("naomi") / "MEMORY.md").read_text()
    assert len(text) <= mem.MAX_RENDER_CHARS + 1          # + trailing newline
    assert "## Last time" in text and "## Active goals" in text
    small = mem.render_memory("naomi", max_chars=600)
    assert len(small) <= 600 and small.startswith("# Memory — naomi")
    stored = mem.load_memory("naomi")
    assert len(stored["lessons"]) == mem.MAX_LESSONS and len(stored["episodes"]) == mem.MAX_EPISODES
    assert len(stored["beliefs"]) == mem.MAX_BELIEFS
    assert all(len(line) <= mem.MAX_ITEM_CHARS + 2 for line in text.splitlines() if line.startswith("- "))


def test_empty_memory_renders_placeholder(learning_ws) -> None:
    assert mem.render_memory({}, agent="x") == "# Memory — x\n\n(no memories yet)"


def test_beliefs_update_when_similar(learning_ws) -> None:
    assert mem.update_belief("clare", "Structural analysis should come before sequencing") == "added"
    assert mem.update_belief("clare", "Structural analysis should always come before sequencing",
                             confidence=0.9) == "updated"
    assert mem.update_belief("clare", "Gemini catches different blind spots") == "added"
    beliefs = mem.load_memory("clare")["beliefs"]
    assert len(beliefs) == 2
    assert beliefs[0]["confidence"] == 0.9 and beliefs[0]["revisions"] == 1


def test_lessons_skip_near_duplicates(learning_ws) -> None:
    assert mem.add_lesson("simon", "A conceded point costs less than a defended broken one.")
    assert not mem.add_lesson("simon", "A conceded point costs less than a defended broken one!")
    assert mem.add_lesson("simon", "Sequence before you optimise.")
    assert not mem.add_lesson("simon", "   ")
    assert len(mem.load_memory("simon")["lessons"]) == 2


def test_episodes_from_the_agents_own_words(learning_ws) -> None:
    text = ("Thanks. I was aiming to win on challenge, so I attacked the lease design early. "
            "The judge saw it differently. My rebuttal in round 2 repeated the same point twice. "
            "I'll open with evidence next time.")
    added = mem.extract_episodes_from_therapist("marcus", text, "rt3")
    assert added == ["I was aiming to win on challenge, so I attacked the lease design early.",
                     "My rebuttal in round 2 repeated the same point twice.",
                     "I'll open with evidence next time."]
    assert mem.extract_episodes_from_therapist("marcus", text, "rt3") == []   # no duplicates


def test_diary(learning_ws) -> None:
    with freeze_time("2026-05-01T09:00:00Z"):
        mem.write_diary_entry("elena", "Felt rushed in round 1.", topic="billing", rt_id="rt1")
    with freeze_time("2026-05-02T09:00:00Z"):
        mem.write_diary_entry("elena", "Better pacing today.", topic="auth", rt_id="rt2")
    assert [e["entry"] for e in mem.read_diary("elena", topic="billing")] == ["Felt rushed in round 1."]
    assert len(mem.read_diary("elena", limit=1)) == 1
    stats = mem.diary_stats("elena")
    assert stats["entries"] == 2 and stats["topics"] == {"billing": 1, "auth": 1}
    assert stats["first"] == "2026-05-01T09:00:00+00:00" and stats["last"] == "2026-05-02T09:00:00+00:00"


def test_migrate_from_hand_written_memory_md(learning_ws) -> None:
    md = paths.user_agent_dir("clare") / "MEMORY.md"
    md.write_text("## Notes\n- Keep turns under 120 words.\n- Cite the dependency graph.\n\nPlain paragraph line.\n")
    (paths.user_agent_dir("clare") / "MEMORY.json").write_text("{}")
    assert mem.migrate_from_memory_md("clare") == 3
    assert mem.migrate_from_memory_md("clare") == 0     # structured now; MEMORY.md is the mirror
    lessons = [x["text"] for x in mem.load_memory("clare")["lessons"]]
    assert lessons == ["Keep turns under 120 words.", "Cite the dependency graph.", "Plain paragraph line."]
    assert md.read_text().startswith("# Memory — clare")


def test_corrupt_memory_json_is_kept_aside_not_lost(learning_ws) -> None:
    path = paths.user_agent_dir("simon") / "MEMORY.json"
    path.write_text("{not json")
    mem.add_lesson("simon", "Fresh start works.")
    data = json.loads(path.read_text())
    assert data["lessons"][0]["text"] == "Fresh start works."
    backups = list(path.parent.glob("MEMORY.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == "{not json"


def test_memory_alias_module() -> None:
    from amatelier.learning import memory

    assert memory.render_memory is mem.render_memory and memory.age_goals is mem.age_goals
