"""Papers users asked this installation to fetch, and who submitted what.

A submission is written (as ``queued``) before any network request, so a fetch
that dies half-way loses nothing: ``process_submissions`` picks it up later.
"""

from __future__ import annotations

from datetime import datetime

from paperfeed.models.community import Submission, SubmissionStatus
from paperfeed.storage.base import Database, Row, Transaction
from paperfeed.storage.values import instant_text, parse_instant

_COLUMNS = "id, user_id, arxiv_id, status, message, paper_id, created_at, updated_at"


def submission_from_row(row: Row) -> Submission:
    return Submission(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        arxiv_id=row["arxiv_id"],
        status=row["status"],
        message=row["message"],
        paper_id=row["paper_id"],
        created_at=parse_instant(row["created_at"]),  # type: ignore[arg-type]
        updated_at=parse_instant(row["updated_at"]),  # type: ignore[arg-type]
    )


class SubmissionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, submission_id: int) -> Submission | None:
        row = self.db.query_one(f"SELECT {_COLUMNS} FROM submissions WHERE id = ?",
                                (submission_id,))  # fmt: skip
        return submission_from_row(row) if row else None

    def upsert(self, tx: Transaction, user_id: int, arxiv_id: str, at: datetime) -> Submission:
        """The user's submission of ``arxiv_id``, created as ``queued`` if new."""
        tx.execute(
            "INSERT INTO submissions (user_id, arxiv_id, status, message, created_at, updated_at)"
            " VALUES (?, ?, 'queued', '', ?, ?) ON CONFLICT (user_id, arxiv_id) DO NOTHING",
            (user_id, arxiv_id, instant_text(at), instant_text(at)),
        )
        row = tx.query_one(
            f"SELECT {_COLUMNS} FROM submissions WHERE user_id = ? AND arxiv_id = ?",
            (user_id, arxiv_id),
        )
        assert row is not None
        return submission_from_row(row)

    def set_status(
        self,
        tx: Transaction,
        arxiv_id: str,
        status: SubmissionStatus,
        message: str,
        at: datetime,
        *,
        paper_id: str | None = None,
        only_ids: list[int] | None = None,
        count_attempt: bool = False,
    ) -> int:
        """Update every not-yet-fetched submission of ``arxiv_id`` (or just ``only_ids``)."""
        sql = (
            "UPDATE submissions SET status = ?, message = ?, paper_id = ?, updated_at = ?,"
            f" attempts = attempts + {1 if count_attempt else 0}"
            " WHERE arxiv_id = ? AND status <> 'fetched'"
        )
        params: list[object] = [status, message, paper_id, instant_text(at), arxiv_id]
        if only_ids is not None:
            sql += f" AND id IN ({', '.join('?' * len(only_ids))})"
            params.extend(only_ids)
        return tx.execute(sql, params)

    def of_user(self, user_id: int, *, limit: int = 100, offset: int = 0) -> list[Submission]:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM submissions WHERE user_id = ?"
            " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [submission_from_row(row) for row in rows]

    def queued_ids(self, *, limit: int) -> list[str]:
        """Distinct queued arXiv ids, least recently tried first."""
        rows = self.db.query(
            "SELECT arxiv_id, MIN(updated_at) AS tried FROM submissions WHERE status = 'queued'"
            " GROUP BY arxiv_id ORDER BY tried, arxiv_id LIMIT ?",
            (limit,),
        )
        return [row["arxiv_id"] for row in rows]

    def first_submitter(self, tx: Transaction, arxiv_id: str) -> str | None:
        return tx.scalar(
            "SELECT u.username FROM submissions s JOIN users u ON u.id = s.user_id"
            " WHERE s.arxiv_id = ? ORDER BY s.created_at, s.id LIMIT 1",
            (arxiv_id,),
        )
