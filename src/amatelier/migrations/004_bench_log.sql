-- Every bench decision with its reason and who made it: the user (`amatelier bench`) or the
-- agent itself (its relegation choice in a debrief). The `bench` table holds who sits out now;
-- this log keeps the history, including unbenching.

CREATE TABLE bench_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    agent      TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('bench', 'unbench')),
    reason     TEXT NOT NULL DEFAULT '',
    source     TEXT NOT NULL DEFAULT 'cli',
    rt_id      TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX bench_log_agent ON bench_log(agent);
