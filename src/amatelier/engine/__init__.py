"""Compatibility only: the engine was split into debate/, judging/, economy/ and learning/.

`python -m amatelier.engine.worker` stays the worker command line (a public contract), so
`engine/worker.py` forwards to `amatelier.debate.worker`. Nothing else lives here.
"""
