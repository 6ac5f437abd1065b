"""Judging: what a score is and how the Judge gives one after the debate.

Owns the scale (four axes on 0/1/2/3/10, the grand-insight rule), the scoring prompt and its
lenient parsing and repair, and the scores table. It may import steward, chat, backends and the
top-level modules; it never imports debate, economy or learning, which all consume its numbers.
"""
