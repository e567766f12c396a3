"""Upvotes cast on this installation.

``papers.local_upvotes`` is a denormalised count of ``votes`` so feeds can sort
by ``source_upvotes + local_upvotes`` without a join; every change to ``votes``
adjusts it in the same transaction, by a relative ``UPDATE`` so concurrent voters
never overwrite each other. ``recount`` rebuilds it from ``votes`` if it ever drifts
(e.g. after deleting users by hand).

Every vote also appends the paper to the ``paper_changes`` log: the keyword index
re-reads its upvote count from there, and alerts see a followed paper's upvotes
reach a follower's threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from paperfeed.models import utc_now
from paperfeed.models.community import Vote
from paperfeed.storage.base import Database, Transaction
from paperfeed.storage.values import instant_text, parse_instant

_CHUNK = 500


def _log_change(tx: Transaction, paper_id: str, at: datetime | None) -> None:
    tx.execute(
        "INSERT INTO paper_changes (paper_id, kind, changed_at) VALUES (?, 'upsert', ?)",
        (paper_id, instant_text(at or utc_now())),
    )


class VoteStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, tx: Transaction, user_id: int, paper_id: str, at: datetime) -> bool:
        """Record a vote; False if it already existed or the paper does not exist."""
        # INSERT ... SELECT so a missing paper inserts nothing instead of failing
        # the foreign key (SQLite needs the WHERE to parse ON CONFLICT here).
        added = tx.execute(
            "INSERT INTO votes (user_id, paper_id, created_at)"
            " SELECT ?, id, ? FROM papers WHERE id = ? ON CONFLICT DO NOTHING",
            (user_id, instant_text(at), paper_id),
        )
        if added:
            tx.execute(
                "UPDATE papers SET local_upvotes = local_upvotes + 1 WHERE id = ?", (paper_id,)
            )
            _log_change(tx, paper_id, at)
        return bool(added)

    def remove(self, tx: Transaction, user_id: int, paper_id: str) -> bool:
        removed = tx.execute(
            "DELETE FROM votes WHERE user_id = ? AND paper_id = ?", (user_id, paper_id)
        )
        if removed:
            tx.execute(
                "UPDATE papers SET local_upvotes = local_upvotes - 1 WHERE id = ?", (paper_id,)
            )
            _log_change(tx, paper_id, None)
        return bool(removed)

    def total(self, tx: Transaction, paper_id: str) -> int | None:
        """Source plus local upvotes of a paper; None if there is no such paper."""
        value = tx.scalar(
            "SELECT source_upvotes + local_upvotes FROM papers WHERE id = ?", (paper_id,)
        )
        return None if value is None else int(value)

    def voted(self, user_id: int, paper_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        unique = list(dict.fromkeys(paper_ids))
        with self.db.transaction(readonly=True) as tx:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                rows = tx.query(
                    "SELECT paper_id FROM votes WHERE user_id = ? AND paper_id IN"
                    f" ({', '.join('?' * len(chunk))})",
                    [user_id, *chunk],
                )
                found.update(row["paper_id"] for row in rows)
        return found

    def recent_paper_ids(self, user_id: int, *, limit: int, offset: int = 0) -> list[str]:
        rows = self.db.query(
            "SELECT paper_id FROM votes WHERE user_id = ?"
            " ORDER BY created_at DESC, paper_id DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [row["paper_id"] for row in rows]

    def since(
        self, *, user_id: int | None = None, since: datetime | None = None, limit: int = 10_000
    ) -> list[Vote]:
        """Votes oldest first, optionally of one user and at or after ``since``."""
        clauses, params = [], []
        if user_id is not None:
            clauses.append("user_id = ?")
            params.append(user_id)
        if since is not None:
            clauses.append("created_at >= ?")
            params.append(instant_text(since))
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = self.db.query(
            f"SELECT user_id, paper_id, created_at FROM votes{where}"
            " ORDER BY created_at, user_id, paper_id LIMIT ?",
            [*params, limit],
        )
        return [
            Vote(int(r["user_id"]), r["paper_id"], parse_instant(r["created_at"]))  # type: ignore[arg-type]
            for r in rows
        ]

    def count(self, paper_id: str) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM votes WHERE paper_id = ?", (paper_id,)))

    def recount(self) -> int:
        """Set every paper's ``local_upvotes`` from ``votes``; returns papers corrected."""
        with self.db.transaction() as tx:
            return tx.execute(
                "UPDATE papers SET local_upvotes ="
                " (SELECT COUNT(*) FROM votes v WHERE v.paper_id = papers.id)"
                " WHERE local_upvotes <> (SELECT COUNT(*) FROM votes v WHERE v.paper_id = papers.id)"
            )
