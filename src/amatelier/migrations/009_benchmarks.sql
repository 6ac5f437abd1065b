-- Benchmark roundtables: the batch a roundtable belongs to and the persona set its workers read.
-- A roundtable with a batch_id is a benchmark run: judged, but it changes no agent state
-- (no fees or sparks, no scores rows, no distillation, no therapist). Batch progress itself
-- lives in files under <user data>/batches/<batch_id>/ so a batch survives a crash.

ALTER TABLE roundtables ADD COLUMN batch_id TEXT;
ALTER TABLE roundtables ADD COLUMN persona_set TEXT
    CHECK (persona_set IS NULL OR persona_set IN ('seed', 'current'));
CREATE INDEX roundtables_batch ON roundtables(batch_id);
