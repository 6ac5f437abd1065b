"""The spark economy: what the Judge's scores are worth and what agents do with their sparks.

Owns the append-only ledger and its arithmetic (fees, penalties, gates, ventures, outcome
bonuses), the store (catalog, purchases, boosts, requests, inventory), the relegation bench,
variance flags, and `settle`, the after-debate step that scores and pays. It may import judging
(the scale and scoring), chat, backends and the top-level modules; never debate or learning.
"""
