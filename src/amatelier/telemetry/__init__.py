"""Machine-readable records of a roundtable, for programs that must not import our internals.

Owns the run manifest (`<user data>/runs/<rt_id>/manifest.json`), the JSONL event stream
(`runs/<rt_id>/telemetry.jsonl`) and optional OpenTelemetry spans (extra `otel`, imported only
when `AMATELIER_OTEL` or config `telemetry.otel` asks for them). Their shapes are the contracts in
docs/schemas/. May import chat, backends, config, paths and atomicio; never debate, judging,
economy or learning (they call into telemetry, not the other way round).
"""

SCHEMA_VERSION = "1.0"
