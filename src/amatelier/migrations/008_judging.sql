-- Judging results per roundtable (the digest's `judging` section, with the numbers
-- `amatelier reliability` aggregates pulled out into columns) and hedged model calls.

CREATE TABLE judging_results (
    rt_id          TEXT PRIMARY KEY REFERENCES roundtables(id),
    seats          INTEGER NOT NULL,
    alpha          REAL,                      -- Krippendorff's alpha (ordinal); NULL with one seat
    audited        INTEGER NOT NULL DEFAULT 0 CHECK (audited IN (0, 1)),
    flip_rate      REAL,                      -- share of axis scores changed by the order swap
    length_score_r REAL,                      -- Pearson r of words vs total score in this roundtable
    recusals       INTEGER NOT NULL DEFAULT 0,
    self_family    INTEGER NOT NULL DEFAULT 0,
    detail         TEXT NOT NULL DEFAULT '{}', -- the whole judging section as JSON
    created_at     TEXT NOT NULL
);
CREATE INDEX judging_results_created ON judging_results(created_at);

-- One row per hedged call: the primary request was still unanswered at the threshold, so a
-- duplicate was sent. Both requests are rows of llm_calls.
CREATE TABLE hedged_calls (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    rt_id           TEXT,
    agent           TEXT,
    role            TEXT,
    backend         TEXT NOT NULL,
    model           TEXT NOT NULL,
    hedge_backend   TEXT NOT NULL,
    threshold_ms    REAL NOT NULL,            -- the pN latency the hedge fired at
    winner          TEXT NOT NULL CHECK (winner IN ('primary', 'hedge', 'none')),
    winner_ms       REAL,                     -- from the primary's start to the first answer
    saved_ms        REAL,                     -- how much sooner than the primary the answer came (0 when it won)
    primary_call_id INTEGER,                  -- llm_calls.id
    hedge_call_id   INTEGER,                  -- llm_calls.id
    created_at      TEXT NOT NULL
);
CREATE INDEX hedged_calls_model ON hedged_calls(backend, model);
