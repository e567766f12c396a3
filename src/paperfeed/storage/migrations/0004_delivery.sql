-- E-mail digests: subscribers, their topics (saved searches), the send log and the
-- papers each subscriber has been sent. Conventions: see storage/base.py.

CREATE TABLE subscribers (
    id {{serial_pk}},
    email TEXT NOT NULL,                  -- validated, domain lower-cased: the To address
    email_key TEXT NOT NULL UNIQUE,       -- fully lower-cased: one subscription per address
    status TEXT NOT NULL,                 -- 'pending', 'active' or 'unsubscribed'
    cadence TEXT NOT NULL,                -- 'daily' or 'weekly'
    max_papers INTEGER,                   -- NULL: settings.digest_max_papers
    user_id {{bigint}} REFERENCES users (id) ON DELETE SET NULL,
    -- Changes asked for by someone who typed an active address: applied only when
    -- the owner follows the confirmation link (JSON: cadence, topics, user_id).
    pending_changes TEXT,
    confirm_nonce TEXT,                   -- in the current confirmation link; NULL once used
    confirm_sent_at TEXT,
    created_at TEXT NOT NULL,
    confirmed_at TEXT,
    unsubscribed_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX subscribers_due ON subscribers (status, cadence);
CREATE INDEX subscribers_user ON subscribers (user_id);

-- Saved searches. An account's (user_id) are its digest topics and, later, input to
-- recommendations; an address subscribed without an account has its own (subscriber_id).
CREATE TABLE topics (
    id {{serial_pk}},
    subscriber_id {{bigint}} REFERENCES subscribers (id) ON DELETE CASCADE,
    user_id {{bigint}} REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,                   -- 'keyword', 'semantic', 'author' or 'category'
    query TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CHECK ((subscriber_id IS NULL) <> (user_id IS NULL))
);
CREATE UNIQUE INDEX topics_subscriber ON topics (subscriber_id, kind, query);
CREATE UNIQUE INDEX topics_user ON topics (user_id, kind, query);

-- The send log: one row per (subscriber, cadence, period), inserted to claim the
-- digest before it is sent (the unique key makes the claim atomic on both engines).
CREATE TABLE digest_sends (
    id {{serial_pk}},
    subscriber_id {{bigint}} NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    cadence TEXT NOT NULL,
    period_key TEXT NOT NULL,             -- '2024-10-25' (daily) or '2024-W43' (weekly)
    status TEXT NOT NULL,                 -- 'claimed', 'sent', 'failed' or 'skipped'
    worker TEXT NOT NULL DEFAULT '',      -- who holds (or held) the claim
    lease_until TEXT,                     -- a claim older than this may be taken over
    attempts INTEGER NOT NULL DEFAULT 0,  -- delivery attempts (runs) so far
    window_from TEXT NOT NULL,            -- feed days the digest covers
    window_to TEXT NOT NULL,
    content TEXT NOT NULL DEFAULT '[]',   -- JSON [{"id", "reasons", "trending"}]: resent as is
    message_id TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    UNIQUE (subscriber_id, cadence, period_key)
);
CREATE INDEX digest_sends_claims ON digest_sends (status, cadence, lease_until);

-- Every paper a subscriber was sent: a paper reaches a subscriber at most once.
CREATE TABLE digest_papers (
    subscriber_id {{bigint}} NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    paper_id TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE ON UPDATE CASCADE,
    send_id {{bigint}} NOT NULL REFERENCES digest_sends (id) ON DELETE CASCADE,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (subscriber_id, paper_id)
);
CREATE INDEX digest_papers_paper ON digest_papers (paper_id);

-- Confirmation mails sent, for the per-address and per-client rate limits.
CREATE TABLE mail_events (
    id {{serial_pk}},
    kind TEXT NOT NULL,                   -- 'confirm'
    email_key TEXT NOT NULL,
    client TEXT NOT NULL,                 -- IP address as the web layer saw it; '' if unknown
    sent_at TEXT NOT NULL
);
CREATE INDEX mail_events_email ON mail_events (email_key, sent_at);
CREATE INDEX mail_events_client ON mail_events (client, sent_at);
CREATE INDEX mail_events_at ON mail_events (sent_at);
