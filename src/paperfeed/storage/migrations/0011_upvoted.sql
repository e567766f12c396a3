-- Search results sorted by most upvoted are ordered by the database's counts (votes
-- are not in the keyword index, so a vote never rewrites it): the papers that have
-- upvotes, most first, in the feeds' order for ties. Few papers have any, so the
-- index is small.
CREATE INDEX papers_upvoted ON papers ((source_upvotes + local_upvotes) DESC, feed_date DESC, id DESC)
    WHERE source_upvotes + local_upvotes > 0;
