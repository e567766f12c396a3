-- Groups (a lab, a reading group): members with roles, signed expiring invites, a
-- feed ranked by the members' own votes, shared collections, a group digest and a
-- secret Atom feed. Conventions: see storage/base.py. Everything of a group is
-- visible to its members only (community/groups.py says how each route checks it).

CREATE TABLE user_groups (
    id {{serial_pk}},
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- In every invite link; a new nonce voids the links handed out before.
    invite_nonce TEXT NOT NULL,
    -- The Atom feed's secret: sha256 hex of the token (shown to members), and its
    -- first characters to tell tokens apart.
    feed_token_hash TEXT NOT NULL UNIQUE,
    created_by {{bigint}} REFERENCES users (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE group_members (
    group_id {{bigint}} NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id {{bigint}} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,                   -- 'owner' or 'member'
    digest TEXT NOT NULL DEFAULT 'off',   -- the group digest: 'off', 'daily' or 'weekly'
    joined_at TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- A collection can belong to a group: then every member may add to it, and only
-- members see it (never public, no share link), whoever created it.
ALTER TABLE collections ADD COLUMN group_id {{bigint}} REFERENCES user_groups (id) ON DELETE CASCADE;
CREATE INDEX collections_group ON collections (group_id);



