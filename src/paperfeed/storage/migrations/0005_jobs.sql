-- The scheduler's queue: one row per job, the database being the only coordinator
-- between `paperfeed serve` threads and `paperfeed worker` processes.
-- A worker owns a job while `locked_until` (its lease) lies in the future; it
-- extends the lease while the job runs and clears it when the job ends. A crashed
-- worker's lease simply expires and another worker takes the job over.
-- Conventions (text instants, JSON as text): see storage/base.py.

CREATE TABLE jobs (
    name TEXT PRIMARY KEY,                -- 'harvest-arxiv', 'digest-daily', ...
    kind TEXT NOT NULL,                   -- what runs: 'harvest-arxiv', 'digest', ...
    params TEXT NOT NULL DEFAULT '{}',    -- JSON, kind-specific
    schedule TEXT NOT NULL,               -- 'every 300s', 'daily 03:30', 'weekly monday 06:00' (UTC)
    next_run_at TEXT NOT NULL,
    paused {{bool}} NOT NULL DEFAULT 0,
    locked_by TEXT,                       -- worker id (host:pid) holding the lease
    locked_until TEXT,                    -- lease end
    last_started_at TEXT,
    last_finished_at TEXT,
    last_status TEXT NOT NULL DEFAULT '', -- 'ok', 'error', 'interrupted', 'skipped: <why>'
    last_error TEXT NOT NULL DEFAULT '',
    last_result TEXT NOT NULL DEFAULT '{}', -- JSON summary of the last run
    error_count INTEGER NOT NULL DEFAULT 0, -- consecutive failures (drives the backoff)
    run_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX jobs_next_run_at ON jobs (next_run_at);
