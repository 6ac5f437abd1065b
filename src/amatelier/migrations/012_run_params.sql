-- What a runner decided when it opened a roundtable (workers, models, order, budgets, limits),
-- so a later `amatelier roundtable --resume ID` continues the same debate. One row per roundtable,
-- written once at open; `resumes` counts how often it was resumed.

CREATE TABLE run_params (
    rt_id      TEXT PRIMARY KEY REFERENCES roundtables(id),
    params     TEXT NOT NULL,                  -- JSON: see amatelier.chat.run_params
    resumes    INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
