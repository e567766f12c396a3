"""Upvotes: one per user and paper, reflected in the paper's total at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from paperfeed.errors import NotFoundError
from paperfeed.models import Paper, parse_arxiv_id
from paperfeed.models.community import Vote

if TYPE_CHECKING:
    from collections.abc import Callable

    from paperfeed.storage import Storage


def paper_key(paper_id: str) -> str:
    """The stored id for what a user passed: arXiv ids lose their version, URLs their host."""
    parsed = parse_arxiv_id(paper_id or "")
    return parsed[0] if parsed else (paper_id or "").strip()


class VotesMixin:
    """Vote methods of :class:`paperfeed.community.Community`."""

    storage: Storage
    _now: Callable[[], datetime]

    def upvote(self, user_id: int, paper_id: str) -> int:
        """Vote for a paper (again is a no-op); returns its new total upvotes."""
        return self._vote(user_id, paper_id, add=True)

    def remove_upvote(self, user_id: int, paper_id: str) -> int:
        """Withdraw a vote (none is a no-op); returns the paper's new total upvotes."""
        return self._vote(user_id, paper_id, add=False)

    def _vote(self, user_id: int, paper_id: str, *, add: bool) -> int:
        key = paper_key(paper_id)
        votes = self.storage.votes
        with self.storage.db.transaction() as tx:
            # Checked first: a foreign-key failure would abort a PostgreSQL transaction.
            if self.storage.users.get(user_id) is None:
                raise NotFoundError(f"no user with id {user_id}")
            if add:
                votes.add(tx, user_id, key, self._now())
            else:
                votes.remove(tx, user_id, key)
            total = votes.total(tx, key)
            if total is None:
                raise NotFoundError(f"no paper with id {paper_id!r}")
        return total

    def upvoted(self, user_id: int, paper_ids: Sequence[str]) -> set[str]:
        """Which of ``paper_ids`` (stored ids) the user has voted for."""
        return self.storage.votes.voted(user_id, list(paper_ids))

    def upvoted_papers(self, user_id: int, limit: int = 100, offset: int = 0) -> list[Paper]:
        """Papers the user voted for, most recent vote first."""
        ids = self.storage.votes.recent_paper_ids(user_id, limit=limit, offset=offset)
        return self.storage.papers.get_many(ids)

    def votes_since(
        self,
        user_id: int | None = None,
        *,
        since: datetime | None = None,
        limit: int = 10_000,
    ) -> list[Vote]:
        """Votes cast at or after ``since`` (all users when ``user_id`` is None), oldest first.

        For recommendations and local trending: page forward by passing the last
        ``created_at`` seen; votes of that second come again (instants have one-second
        precision), so dedupe by ``(user_id, paper_id)`` rather than lose any.
        """
        return self.storage.votes.since(user_id=user_id, since=since, limit=limit)
