"""The debate: one roundtable from opening to its digest.

Owns the runner (planning, the round loop of SPEAK, REBUTTAL, the Judge's GATE and the FLOOR,
the health audit), the worker processes and their turn loop, prompt context, the live gate's
parsing, the digest, and the after-debate pipeline that calls the later subsystems' named steps
in order. It may import judging, economy, learning (their public step functions, after the
debate), steward, chat, backends and the top-level modules; nothing but the front doors (cli,
commands, mcp, serve, benchmarks) imports debate.
"""
