-- Roundtables, their typed messages, the turn protocol, read cursors, and every LLM call.

CREATE TABLE roundtables (
    id           TEXT PRIMARY KEY,              -- short hex id
    topic        TEXT NOT NULL,
    participants TEXT NOT NULL DEFAULT '[]',    -- JSON list of agent names
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'cut')),
    cut_reason   TEXT,
    runner_pid   INTEGER,
    runner_host  TEXT,
    created_at   TEXT NOT NULL,
    closed_at    TEXT
);
CREATE INDEX roundtables_status ON roundtables(status);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    rt_id      TEXT NOT NULL REFERENCES roundtables(id),
    agent      TEXT NOT NULL,
    kind       TEXT NOT NULL DEFAULT 'chat',    -- briefing, phase, turn, speech, judge, steward, system, ...
    round      INTEGER,
    phase      TEXT,
    content    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_ts REAL NOT NULL                    -- unix seconds, for latency measurements
);
CREATE INDEX messages_rt ON messages(rt_id, id);

CREATE TABLE turns (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    rt_id        TEXT NOT NULL REFERENCES roundtables(id),
    agent        TEXT NOT NULL,
    round        INTEGER NOT NULL,
    phase        TEXT NOT NULL,
    instructions TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'claimed', 'done', 'timeout', 'cancelled', 'failed')),
    requested_at REAL NOT NULL,
    deadline     REAL,
    claimed_at   REAL,
    completed_at REAL,
    worker_pid   INTEGER,
    message_id   INTEGER REFERENCES messages(id),
    error        TEXT
);
CREATE INDEX turns_open ON turns(rt_id, agent, status);

CREATE TABLE read_cursors (
    rt_id           TEXT NOT NULL REFERENCES roundtables(id),
    agent           TEXT NOT NULL,
    last_message_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (rt_id, agent)
);

CREATE TABLE llm_calls (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    rt_id              TEXT,                    -- NULL for calls outside a roundtable
    agent              TEXT,
    role               TEXT,                    -- speak, rebuttal, floor, gate, score, distill, therapist, steward, ...
    backend            TEXT NOT NULL,
    model              TEXT NOT NULL,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    latency_ms         REAL NOT NULL DEFAULT 0,
    cost_usd           REAL,
    status             TEXT NOT NULL DEFAULT 'ok',  -- ok | error
    error              TEXT,
    created_at         TEXT NOT NULL
);
CREATE INDEX llm_calls_rt ON llm_calls(rt_id);
