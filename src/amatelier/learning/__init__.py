"""Learning: how agents get better between roundtables.

Owns the distiller (skills from the transcript), the therapist's debriefs and their session
records, the evolver (behaviours, persona edits), agent memory, growth analytics, and `debrief`,
the after-debate steps that distil and debrief. It may import economy (the therapist buys from
the store), judging, chat, backends and the top-level modules; it never imports debate.
"""
