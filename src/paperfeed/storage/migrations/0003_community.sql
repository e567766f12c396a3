-- Community features: accounts, sessions, API tokens, votes, collections and
-- paper submissions. Conventions: see storage/base.py. No secret is stored in
-- clear: passwords as argon2id hashes, session ids and API tokens as sha256 hex.
-- Paper references cascade on UPDATE because the ingest pipeline re-keys a paper
-- from its content id ("pf-...") to its arXiv id when arXiv later supplies it.

CREATE TABLE users (
    id {{serial_pk}},
    username TEXT NOT NULL UNIQUE,        -- lower case, [a-z0-9_-]{3,32}
    email TEXT NOT NULL,                  -- as typed, for sending
    email_key TEXT NOT NULL UNIQUE,       -- lower-cased: one account per address
    password_hash TEXT NOT NULL,          -- argon2id, PHC string
    is_admin {{bool}} NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

-- Named rows that writers UPDATE to serialise with each other on PostgreSQL
-- (SQLite has a single writer anyway): e.g. two first sign-ups racing to become admin.
CREATE TABLE community_locks (
    name TEXT PRIMARY KEY
);
INSERT INTO community_locks (name) VALUES ('signup');

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,          -- sha256 hex of the cookie value
    user_id {{bigint}} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Failed sign-ins only (a success forgives its own client's earlier failures).
-- In the database so every worker process shares the same counters.
CREATE TABLE login_attempts (
    id {{serial_pk}},
    login_key TEXT NOT NULL,              -- "user:<id>" for an account, else "login:<text>"
    client TEXT NOT NULL,                 -- IP address as the web layer saw it; '' if unknown
    attempted_at TEXT NOT NULL
);
CREATE INDEX login_attempts_login ON login_attempts (login_key, attempted_at);
CREATE INDEX login_attempts_client ON login_attempts (client, attempted_at);
CREATE INDEX login_attempts_at ON login_attempts (attempted_at);

CREATE TABLE api_tokens (
    id {{serial_pk}},
    user_id {{bigint}} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,      -- sha256 hex; the token is shown once
    prefix TEXT NOT NULL,                 -- first characters, to tell tokens apart in lists
    created_at TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE votes (
    user_id {{bigint}} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    paper_id TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE ON UPDATE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, paper_id)
);
CREATE INDEX votes_paper ON votes (paper_id);
CREATE INDEX votes_created_at ON votes (created_at);

CREATE TABLE collections (
    id {{serial_pk}},
    owner_id {{bigint}} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_public {{bool}} NOT NULL DEFAULT 0,
    share_token TEXT NOT NULL UNIQUE,     -- opens a private collection to whoever has it
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (owner_id, slug)
);
CREATE INDEX collections_public ON collections (is_public, updated_at);

CREATE TABLE collection_papers (
    collection_id {{bigint}} NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    paper_id TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE ON UPDATE CASCADE,
    position {{bigint}} NOT NULL,         -- grows with each add: newest first = highest first
    added_at TEXT NOT NULL,
    PRIMARY KEY (collection_id, paper_id)
);
CREATE INDEX collection_papers_paper ON collection_papers (paper_id);

CREATE TABLE submissions (
    id {{serial_pk}},
    user_id {{bigint}} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    arxiv_id TEXT NOT NULL,               -- without version
    status TEXT NOT NULL,                 -- 'fetched', 'queued' or 'failed'
    message TEXT NOT NULL DEFAULT '',
    paper_id TEXT REFERENCES papers (id) ON DELETE SET NULL ON UPDATE CASCADE,
    attempts INTEGER NOT NULL DEFAULT 0,  -- fetches tried
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (user_id, arxiv_id)
);
CREATE INDEX submissions_status ON submissions (status, updated_at);
