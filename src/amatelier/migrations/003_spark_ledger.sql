-- The spark ledger: append-only; an agent's balance is SUM(amount). metrics.json is a cache.
-- `ref` makes a row idempotent: at most one row per (category, agent, ref), so a re-run
-- hook or command can never pay or charge twice.

CREATE TABLE spark_ledger (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    agent      TEXT NOT NULL,
    rt_id      TEXT REFERENCES roundtables(id),
    amount     INTEGER NOT NULL,
    category   TEXT NOT NULL CHECK (category IN ('fee', 'score', 'penalty', 'gate', 'outcome',
                   'purchase', 'refund', 'venture_stake', 'venture_payout', 'bench')),
    reason     TEXT NOT NULL DEFAULT '',
    ref        TEXT,                                 -- purchase id, venture id, rt id, gate message ...
    meta       TEXT NOT NULL DEFAULT '{}',           -- JSON details (store item, venture tier, ...)
    created_at TEXT NOT NULL
);
CREATE INDEX spark_ledger_agent ON spark_ledger(agent, id);
CREATE INDEX spark_ledger_rt ON spark_ledger(rt_id);
CREATE UNIQUE INDEX spark_ledger_once ON spark_ledger(category, agent, ref) WHERE ref IS NOT NULL;

CREATE TRIGGER spark_ledger_no_update BEFORE UPDATE ON spark_ledger
BEGIN
    SELECT RAISE(ABORT, 'spark_ledger is append-only: UPDATE refused');
END;

CREATE TRIGGER spark_ledger_no_delete BEFORE DELETE ON spark_ledger
BEGIN
    SELECT RAISE(ABORT, 'spark_ledger is append-only: DELETE refused');
END;

-- INSERT OR REPLACE would delete the row it conflicts with without firing the DELETE trigger;
-- refuse any insert that collides with an existing row instead.
CREATE TRIGGER spark_ledger_no_replace BEFORE INSERT ON spark_ledger
WHEN EXISTS (SELECT 1 FROM spark_ledger WHERE id = NEW.id)
  OR (NEW.ref IS NOT NULL AND EXISTS (
        SELECT 1 FROM spark_ledger
        WHERE category = NEW.category AND agent = NEW.agent AND ref = NEW.ref))
BEGIN
    SELECT RAISE(ABORT, 'spark_ledger is append-only: row already exists');
END;

-- Spark-staking contracts pitched in a roundtable with [[venture:<tier>: <claim>]].
-- The money moves in spark_ledger (venture_stake, venture_payout); this is their status.
CREATE TABLE ventures (
    id          TEXT PRIMARY KEY,
    rt_id       TEXT REFERENCES roundtables(id),
    agent       TEXT NOT NULL,
    tier        TEXT NOT NULL CHECK (tier IN ('scout', 'venture', 'moonshot')),
    claim       TEXT NOT NULL,
    stake       INTEGER NOT NULL,
    multiplier  REAL NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'succeeded', 'failed', 'skipped')),
    note        TEXT,
    payout      INTEGER,
    message_id  INTEGER,
    created_at  TEXT NOT NULL,
    resolved_at TEXT
);
CREATE INDEX ventures_agent ON ventures(agent);

-- Agents who chose the bench after the relegation watch: they sit out and earn bench income.
CREATE TABLE bench (
    agent      TEXT PRIMARY KEY,
    reason     TEXT NOT NULL DEFAULT '',
    benched_at TEXT NOT NULL
);
