"""Judging: what a score is and how the Judge gives one after the debate.

Owns the scale (four axes on 0/1/2/3/10, the grand-insight rule), the Judge's prompts (one
persona, one output contract per task: gate, score, score repair), the gate verdict parser,
the scoring call with its lenient parsing and repair, the jury (seats, median, Krippendorff's
alpha, self-family recusal), the order-swap and length audits, the reliability report and the
scores and judging_results tables. It may import steward, chat, backends and the top-level
modules; it never imports debate, economy or learning, which all consume its numbers.
"""
