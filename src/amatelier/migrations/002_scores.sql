-- Post-roundtable Judge scores: one row per (roundtable, worker).
-- Axes use the 0/1/2/3/10 scale (10 = grand insight). A worker the Judge could not score
-- validly keeps NULL axes and says why in unscored_reason; no score is ever invented.

CREATE TABLE scores (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    rt_id           TEXT NOT NULL REFERENCES roundtables(id),
    agent           TEXT NOT NULL,
    novelty         INTEGER CHECK (novelty IS NULL OR novelty IN (0, 1, 2, 3, 10)),
    accuracy        INTEGER CHECK (accuracy IS NULL OR accuracy IN (0, 1, 2, 3, 10)),
    impact          INTEGER CHECK (impact IS NULL OR impact IN (0, 1, 2, 3, 10)),
    challenge       INTEGER CHECK (challenge IS NULL OR challenge IN (0, 1, 2, 3, 10)),
    total           INTEGER,
    reason          TEXT NOT NULL DEFAULT '',
    penalties       TEXT NOT NULL DEFAULT '[]',     -- JSON list of {type, quote, sparks}
    grand_insight   TEXT,                           -- JSON {axis, quote, before, after} or NULL
    unscored_reason TEXT,
    is_flagged      INTEGER NOT NULL DEFAULT 0 CHECK (is_flagged IN (0, 1)),
    flag_reason     TEXT,
    created_at      TEXT NOT NULL,
    UNIQUE (rt_id, agent),
    -- Either fully scored (all axes and the total present) or unscored with a reason.
    CHECK (
        (unscored_reason IS NULL
            AND novelty IS NOT NULL AND accuracy IS NOT NULL
            AND impact IS NOT NULL AND challenge IS NOT NULL
            AND total = novelty + accuracy + impact + challenge)
        OR
        (unscored_reason IS NOT NULL
            AND novelty IS NULL AND accuracy IS NULL
            AND impact IS NULL AND challenge IS NULL AND total IS NULL)
    )
);
CREATE INDEX scores_agent ON scores(agent, id);
