-- Cost you can bound: one meaning for input tokens, the size of each prompt, and ceilings.
--
-- input_tokens now counts ALL input the provider processed (cache reads and writes included)
-- on every backend. Rows recorded before this migration by the Anthropic-protocol backends
-- (anthropic-sdk, claude-code) counted only the uncached part; they are brought to the new
-- meaning here so old and new rows add up the same way.

UPDATE llm_calls
   SET input_tokens = input_tokens + cache_read_tokens + cache_write_tokens
 WHERE backend IN ('anthropic-sdk', 'claude-code');

ALTER TABLE llm_calls ADD COLUMN uncached_input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE llm_calls ADD COLUMN prompt_chars INTEGER;     -- characters sent (system + prompt); NULL when unknown

UPDATE llm_calls
   SET uncached_input_tokens = MAX(0, input_tokens - cache_read_tokens - cache_write_tokens);

-- The limits a roundtable runs under (NULL = no such limit) and, once it stopped on one, why.
CREATE TABLE rt_ceilings (
    rt_id          TEXT PRIMARY KEY REFERENCES roundtables(id),
    max_cost_usd   REAL,
    max_tokens     INTEGER,
    max_minutes    REAL,
    reserve_share  REAL NOT NULL DEFAULT 0.1,   -- kept for the closing decision synthesis
    started_ts     REAL NOT NULL,               -- unix seconds; max_minutes counts from here
    stop_reason    TEXT,                        -- set once, by the first call that did not fit
    stopped_on     TEXT                         -- max_cost_usd | max_tokens | max_minutes
);

-- Worst-case amounts held by calls in flight, so concurrent calls cannot overrun a ceiling together.
CREATE TABLE llm_reservations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rt_id       TEXT NOT NULL,
    agent       TEXT,
    role        TEXT,
    cost_usd    REAL NOT NULL DEFAULT 0,
    tokens      INTEGER NOT NULL DEFAULT 0,
    created_ts  REAL NOT NULL
);
CREATE INDEX llm_reservations_rt ON llm_reservations(rt_id);
