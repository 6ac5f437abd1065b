-- Positions as data and the decision record (issue 11).
-- positions: one row per worker turn (SPEAK, REBUTTAL, FLOOR, RESEARCH) that was answered.
-- A turn without a POSITION line keeps a row with missing = 1 (stance NULL): the agent's
-- previous position carries on and the miss is counted in the digest (positions_missing).
-- decisions: the decision record of a roundtable (JSON valid against
-- docs/schemas/decision.schema.json); one row per roundtable, replaced if re-written.

CREATE TABLE positions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    rt_id            TEXT NOT NULL REFERENCES roundtables(id),
    message_id       INTEGER NOT NULL REFERENCES messages(id),
    agent            TEXT NOT NULL,
    round            INTEGER,
    phase            TEXT,
    stance           TEXT,                        -- the one-sentence answer; NULL when missing
    confidence       INTEGER CHECK (confidence IS NULL OR confidence BETWEEN 0 AND 100),
    moved_by         TEXT,                        -- agent named in MOVED BY (NULL = none)
    moved_by_message INTEGER,                     -- message id named in MOVED BY
    raw              TEXT,                        -- the POSITION line as written
    missing          INTEGER NOT NULL DEFAULT 0 CHECK (missing IN (0, 1)),
    created_at       TEXT NOT NULL,
    UNIQUE (message_id),
    CHECK ((missing = 1 AND stance IS NULL) OR (missing = 0 AND stance IS NOT NULL))
);
CREATE INDEX positions_rt ON positions(rt_id, agent, id);

CREATE TABLE decisions (
    rt_id        TEXT PRIMARY KEY REFERENCES roundtables(id),
    record       TEXT NOT NULL,                   -- the decision JSON
    outcome      TEXT NOT NULL,
    confidence   REAL NOT NULL,
    synthesized  INTEGER NOT NULL CHECK (synthesized IN (0, 1)),
    partial      INTEGER NOT NULL CHECK (partial IN (0, 1)),
    stop_reason  TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
