-- Papers, what each source says about them, the change log indexers follow,
-- and harvest checkpoints. Types and conventions: see storage/base.py.

CREATE TABLE papers (
    id TEXT PRIMARY KEY,              -- arXiv id without version, else "pf-" + content hash
    version INTEGER,                  -- latest arXiv version seen
    title TEXT NOT NULL DEFAULT '',
    abstract TEXT NOT NULL DEFAULT '',
    authors TEXT NOT NULL DEFAULT '[]',       -- JSON list, in byline order
    author_count INTEGER NOT NULL DEFAULT 0,  -- pages sometimes give a count without names
    categories TEXT NOT NULL DEFAULT '[]',    -- JSON list, primary first
    primary_category TEXT,
    published_at TEXT,                -- first version (UTC instant)
    updated_at TEXT,                  -- latest version (UTC instant)
    first_listed_on TEXT,             -- day the paper first appeared in a listing
    feed_date TEXT,                   -- day it belongs to in the daily feed
    comments TEXT,
    journal_ref TEXT,
    doi TEXT,
    abs_url TEXT,
    pdf_url TEXT,
    code_url TEXT,
    project_url TEXT,
    source_upvotes INTEGER NOT NULL DEFAULT 0,  -- highest upvote count any source reports
    local_upvotes INTEGER NOT NULL DEFAULT 0,   -- votes cast on this installation
    metadata_source TEXT NOT NULL,    -- source whose metadata won the merge
    metadata_rank INTEGER NOT NULL,
    title_key TEXT,                   -- match keys: recognise a paper without an arXiv id
    abstract_key TEXT,
    content_hash TEXT NOT NULL,       -- of the merged row: unchanged input writes nothing
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL
);
CREATE INDEX papers_feed_date ON papers (feed_date);
CREATE INDEX papers_published_at ON papers (published_at);
CREATE INDEX papers_title_key ON papers (title_key);
CREATE INDEX papers_abstract_key ON papers (abstract_key);

CREATE TABLE paper_sources (
    paper_id TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE ON UPDATE CASCADE,
    source TEXT NOT NULL,
    external_id TEXT,
    upvotes INTEGER,
    submitter TEXT,
    num_comments INTEGER,
    github_stars INTEGER,
    featured_on TEXT,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (paper_id, source)
);
CREATE INDEX paper_sources_featured_on ON paper_sources (featured_on);

-- Every insert/update/delete of a paper appends here; search indexes remember
-- the last seq they applied and catch up from it.
CREATE TABLE paper_changes (
    seq {{serial_pk}},
    paper_id TEXT NOT NULL,
    kind TEXT NOT NULL,               -- 'upsert' or 'delete'
    changed_at TEXT NOT NULL
);
CREATE INDEX paper_changes_paper ON paper_changes (paper_id);

CREATE TABLE checkpoints (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,              -- JSON, source-specific
    done INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
