-- Search: one embedding per paper, the source of truth the ANN index files
-- (data_dir/index/vectors/) are rebuilt from. Conventions: see storage/base.py.
-- A vector is stale, and gets re-made, when the embedding model changes
-- (model_id) or the text it was made from changes (text_hash); paper_hash
-- (papers.content_hash when embedded) lets a sync find changed papers in SQL
-- and skip re-embedding when only upvotes or links changed.
-- Cascades: the ingest pipeline re-keys a "pf-..." paper to its arXiv id.

CREATE TABLE paper_vectors (
    paper_id TEXT PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE ON UPDATE CASCADE,
    model_id TEXT NOT NULL,
    text_hash TEXT NOT NULL,          -- sha256 (32 hex) of search.embed.document_text(paper)
    paper_hash TEXT NOT NULL,         -- papers.content_hash at embedding time
    dim INTEGER NOT NULL,
    vector {{blob}} NOT NULL,         -- dim little-endian float16 values, L2-normalised
    created_at TEXT NOT NULL
);
CREATE INDEX paper_vectors_model ON paper_vectors (model_id, paper_id);
