"""The human summary opens with the decision; debate statistics next; economy last."""

from __future__ import annotations

from amatelier.debate.summary import format_summary

DECISION = {
    "recommendation": "Split billing first.", "outcome": "majority", "confidence": 0.62,
    "rationale": "r", "synthesized": True, "partial": False, "stop_reason": "converged",
    "chair": {"agent": "opus-admin"},
    "arguments": [{"claim": "boundary is clear", "side": "for", "by": "elena", "cites": [3]},
                  {"claim": "risk unpriced", "side": "against", "by": "marcus", "cites": [4, 9]}],
    "dissent": [{"agent": "simon", "position": "wait a quarter", "cites": [7]}],
    "position_changes": [{"agent": "marcus", "round": 2, "from_round": 1, "from": "stay", "to": "split",
                          "moved_by": "clare", "moved_by_message": 41, "cites": [50, 41]}],
    "open_questions": ["who owns the rollback?"], "next_steps": ["extract one endpoint"],
}


def _digest(**extra):
    digest = {"topic": "split?", "rt_id": "abc", "mode": "offline", "offline": True, "rounds": 2,
              "total_messages": 30, "converged": True, "convergence_reason": "settled",
              "judge_interventions": [], "contributions": {"elena": 3}, "final_positions": {"elena": "long text"},
              "budget_usage": {"elena": {"spent": 1, "budget": 3}},
              "llm_usage": {"calls": 3, "errors": 0, "input_tokens": 10, "output_tokens": 5},
              "decision": DECISION, "positions": {"declared": 5, "missing": 1,
                                                  "timeline": {"elena": {"1": {"stance": "split now"}}}},
              "positions_missing": 1, "position_changes": DECISION["position_changes"]}
    digest.update(extra)
    return digest


def test_first_block_after_the_header_is_the_decision():
    blocks = format_summary(_digest(), "/x/digest-abc.json").split("\n\n")
    assert blocks[0].splitlines()[0] == "TOPIC: split?"
    decision = blocks[1].splitlines()
    assert decision[0] == "RECOMMENDATION: Split billing first."
    assert decision[1] == "OUTCOME: majority · CONFIDENCE: 0.62"
    assert "WHY:" in decision and "  - [for] boundary is clear — elena #3" in decision
    assert decision.index("  - [for] boundary is clear — elena #3") < decision.index(
        "  - [against] risk unpriced — marcus #4 #9")
    assert "  - simon: wait a quarter #7" in decision
    assert "  - marcus r1→r2, moved by clare #41" in decision
    assert "  - who owns the rollback?" in decision and "  1. extract one endpoint" in decision
    assert blocks[2].startswith("DEBATE\nROUNDS: 2")
    assert "POSITIONS: 5 declared, 1 missing, 1 changes" in blocks[2]
    assert "  [elena]: split now" in blocks[2]  # the declared stance, not the clipped speech
    assert blocks[-1] == "DIGEST: /x/digest-abc.json"


def test_economy_comes_last_under_its_own_heading():
    text = format_summary(_digest(scores={"elena": {"total": 7}}, sparks_earned={"elena": 4}, skills_distilled=2))
    blocks = text.split("\n\n")
    assert blocks[-1] == "ECONOMY\nSCORES: elena: 7\nSPARKS: elena: +4\nSKILLS DISTILLED: 2"
    assert text.index("RECOMMENDATION") < text.index("ROUNDS") < text.index("ECONOMY")


def test_no_record_partial_and_fallback_are_said_plainly():
    assert format_summary(_digest(decision=None)).split("\n\n")[1].startswith("RECOMMENDATION: (no decision")
    cut = dict(DECISION, partial=True, stop_reason="keyboard interrupt", synthesized=False)
    block = format_summary(_digest(decision=cut, cut_reason="keyboard interrupt")).split("\n\n")
    assert "CUT: keyboard interrupt" in block[0]
    assert "built from the declared positions" in block[1] and "PARTIAL" in block[1]
