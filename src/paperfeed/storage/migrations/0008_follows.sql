-- Follows (an author, a paper, a category or a saved search) and the alerts they
-- bring. Conventions: see storage/base.py. Alerts are made by following the
-- paper_changes log (cursor in checkpoints, key 'alerts'), never by polling papers.
-- Paper references cascade on UPDATE: the ingest pipeline re-keys a "pf-..." paper
-- to its arXiv id.

CREATE TABLE follows (
    id {{serial_pk}},
    user_id {{bigint}} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,                   -- 'paper', 'author', 'category' or 'search'
    -- What is matched: the paper id when followed, an author's name as folded words
    -- ("yann lecun"), a category in lower case ("cs.lg"), a search query's text.
    target TEXT NOT NULL,
    label TEXT NOT NULL,                  -- as the user typed it (the paper's title for papers)
    paper_id TEXT REFERENCES papers (id) ON DELETE CASCADE ON UPDATE CASCADE,  -- paper follows
    muted {{bool}} NOT NULL DEFAULT 0,    -- kept, but brings no alerts
    upvote_threshold INTEGER,             -- paper follows: alert when its upvotes reach this
    top_count INTEGER,                    -- category/search follows: new papers per run (NULL: default)
    created_at TEXT NOT NULL,
    UNIQUE (user_id, kind, target)
);
CREATE INDEX follows_target ON follows (kind, target);
CREATE INDEX follows_paper ON follows (paper_id);

-- What a followed paper looked like when alerts last looked at it: a change is
-- compared against this (new version, new comment, first code link, upvotes).
-- One row per paper anyone follows; updated with the alerts it caused.
CREATE TABLE paper_watch (
    paper_id TEXT PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE ON UPDATE CASCADE,
    version INTEGER,
    revised_at TEXT,                      -- papers.updated_at: the latest version's date
    comments TEXT,
    code_url TEXT,
    upvotes INTEGER NOT NULL DEFAULT 0,
    watched_at TEXT NOT NULL
);

-- One row per thing that happened, per user: the unique key makes "at most once"
-- hold however often detection runs (or re-runs after a crash).
CREATE TABLE alerts (
    id {{serial_pk}},
    user_id {{bigint}} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'version:<paper>:<n>', 'comment:<paper>:<hash>', 'code:<paper>',
    -- 'upvotes:<paper>:<threshold>', 'new:<paper>'
    alert_key TEXT NOT NULL,
    kind TEXT NOT NULL,                   -- 'version', 'comment', 'code', 'upvotes', 'new-paper'
    paper_id TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE ON UPDATE CASCADE,
    follow_ids TEXT NOT NULL DEFAULT '[]',  -- JSON: the follows that brought it
    detail TEXT NOT NULL DEFAULT '{}',      -- JSON: reasons, versions, comment, threshold
    created_at TEXT NOT NULL,
    seen_at TEXT,                         -- when the user saw it on the alerts page
    send_id {{bigint}},                   -- the digest (send log row) carrying it, once claimed
    mailed_at TEXT,                       -- when that digest was accepted by the mail server
    UNIQUE (user_id, alert_key)
);
CREATE INDEX alerts_user ON alerts (user_id, id);
CREATE INDEX alerts_unsent ON alerts (user_id, send_id);
CREATE INDEX alerts_unseen ON alerts (user_id) WHERE seen_at IS NULL;
CREATE INDEX alerts_paper ON alerts (paper_id);
