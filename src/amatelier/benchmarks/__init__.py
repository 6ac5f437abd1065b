"""Benchmarks: suites of design decisions, batches of benchmark roundtables, persona snapshots."""
