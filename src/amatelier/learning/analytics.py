"""Growth analytics, one import away: trends, economy standings and reports.

A facade over learning.trends (per-agent history and trends), learning.standings (ledger
views, leaderboard history) and learning.reports (the report a user reads), so callers can
keep writing `analytics.<name>`. None of those modules imports this one.
"""

# ruff: noqa: I001 - one line per source module keeps this facade readable
from __future__ import annotations

from amatelier.learning.reports import agent_report, format_report_text, overview, sparkline, update_agent_analytics, update_all_analytics  # noqa: F401, E501
from amatelier.learning.standings import economy_analytics, economy_overview, engagement_matrix, leaderboard_history_path, rank_trajectory, save_leaderboard_snapshot  # noqa: F401, E501
from amatelier.learning.trends import AXES, MAX_SNAPSHOTS, REDIRECT_SIGNALS, SPARK_BARS, TREND_EPSILON, agent_scores, budget_analytics, compute_streaks, detect_phase, dimension_trends, identify_strengths_weaknesses, judge_redirect_analytics, load_all_digests, load_therapist_sessions, load_workers, merge_digests, moving_average, report_agents, therapist_analytics, total_score_trend, trend_of  # noqa: F401, E501
