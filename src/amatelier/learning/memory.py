"""Alias of amatelier.learning.agent_memory (the layout in DESIGN.md names it memory.py)."""

from amatelier.learning.agent_memory import *  # noqa: F403
from amatelier.learning.agent_memory import (  # noqa: F401
    add_episode,
    add_goal,
    add_lesson,
    add_session_summary,
    age_goals,
    append_session_summary,
    diary_stats,
    extract_episodes_from_therapist,
    generate_session_bridge,
    load_memory,
    migrate_from_memory_md,
    read_diary,
    render_memory,
    save_memory,
    update_belief,
    update_goal_progress,
    write_diary_entry,
)
