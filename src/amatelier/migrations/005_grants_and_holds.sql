-- 005: the starter grant, and what provider calls cost in retries and holds.
--
-- spark_ledger gains the category 'grant' (a once-per-agent starter grant, see
-- docs/reference/economy.md). SQLite cannot alter a CHECK constraint, so the table is
-- rebuilt: every row is copied with its id, then the indexes and the append-only
-- triggers are created again exactly as 003 made them.

CREATE TABLE spark_ledger_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    agent      TEXT NOT NULL,
    rt_id      TEXT REFERENCES roundtables(id),
    amount     INTEGER NOT NULL,
    category   TEXT NOT NULL CHECK (category IN ('fee', 'score', 'penalty', 'gate', 'outcome',
                   'purchase', 'refund', 'venture_stake', 'venture_payout', 'bench', 'grant')),
    reason     TEXT NOT NULL DEFAULT '',
    ref        TEXT,
    meta       TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
INSERT INTO spark_ledger_new (id, agent, rt_id, amount, category, reason, ref, meta, created_at)
    SELECT id, agent, rt_id, amount, category, reason, ref, meta, created_at FROM spark_ledger ORDER BY id;
DROP TABLE spark_ledger;
ALTER TABLE spark_ledger_new RENAME TO spark_ledger;

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

CREATE TRIGGER spark_ledger_no_replace BEFORE INSERT ON spark_ledger
WHEN EXISTS (SELECT 1 FROM spark_ledger WHERE id = NEW.id)
  OR (NEW.ref IS NOT NULL AND EXISTS (
        SELECT 1 FROM spark_ledger
        WHERE category = NEW.category AND agent = NEW.agent AND ref = NEW.ref))
BEGIN
    SELECT RAISE(ABORT, 'spark_ledger is append-only: row already exists');
END;

-- Every provider call records how often it was retried and how long it waited, so a
-- successful retry is visible in the digest (llm_usage.retries, llm_usage.retry_wait_s).
ALTER TABLE llm_calls ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE llm_calls ADD COLUMN retry_wait_s REAL NOT NULL DEFAULT 0;
ALTER TABLE llm_calls ADD COLUMN error_kind TEXT;   -- LLMCallError.kind of a failed call; 'held' = skipped

-- A backend+model a provider asked an agent to leave alone (retry-after beyond the cap,
-- or repeated 429/5xx): that agent's calls to it are skipped without a request until
-- `until` passes. Scoped to one roundtable; the digest lists these as engine.events of
-- kind 'breaker'.
CREATE TABLE llm_holds (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    rt_id      TEXT,
    agent      TEXT,
    backend    TEXT NOT NULL,
    model      TEXT NOT NULL,
    until      REAL NOT NULL,               -- epoch seconds
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX llm_holds_key ON llm_holds(rt_id, agent, backend, model, until);
