"""Paper submissions: a user names an arXiv paper and paperfeed fetches it.

``fetch`` is supplied by the caller (the Library passes one that runs the arXiv
query API), which keeps this module free of network code and lets the scheduler
retry with the same function. Its contract:

* return True when the paper is now stored, False when the source could not be
  reached (the submission stays ``queued`` and is retried later);
* raise :class:`NotFoundError` when the source answered that there is no such
  paper (the submission becomes ``failed``).

A submission is committed as ``queued`` before ``fetch`` runs, so nothing is lost
if the fetch dies; several users submitting the same paper share one fetch, and
the first of them is recorded as the paper's submitter (source ``submission``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from paperfeed.errors import InputError, NotFoundError
from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.models import PaperRecord, SourceFacts, parse_arxiv_id
from paperfeed.models.community import Submission

if TYPE_CHECKING:
    from collections.abc import Callable

    from paperfeed.storage import Storage
    from paperfeed.storage.base import Transaction

ALREADY_STORED = "already on paperfeed"
FETCHED = "fetched from arXiv"
OFFLINE = "arXiv could not be reached; the paper will be fetched when paperfeed is online"
NOT_FETCHED_YET = "queued; the paper will be fetched with the next harvest"


class SubmissionsMixin:
    """Submission methods of :class:`paperfeed.community.Community`."""

    storage: Storage
    _now: Callable[[], datetime]

    def submit(self, user_id: int, text: str, *, fetch: Callable[[str], bool] | None) -> Submission:
        """Submit an arXiv id or abs/pdf URL; fetched now when ``fetch`` is given."""
        parsed = parse_arxiv_id(text or "")
        if parsed is None:
            raise InputError(f"not an arXiv id or arXiv URL: {(text or '').strip()[:100]!r}")
        arxiv_id = parsed[0]
        store = self.storage.submissions
        with self.storage.db.transaction() as tx:
            if self.storage.users.get(user_id) is None:
                raise NotFoundError(f"no user with id {user_id}")
            submission = store.upsert(tx, user_id, arxiv_id, self._now())
            if submission.status != "fetched" and self.storage.papers.get(arxiv_id) is not None:
                self._mark_fetched(tx, arxiv_id, ALREADY_STORED)
        current = store.get(submission.id)
        assert current is not None
        if current.status == "fetched":
            return current
        if fetch is None:
            with self.storage.db.transaction() as tx:
                store.set_status(tx, arxiv_id, "queued", NOT_FETCHED_YET, self._now(),
                                 only_ids=[submission.id])  # fmt: skip
        else:
            self._try_fetch(arxiv_id, fetch)
        current = store.get(submission.id)
        assert current is not None
        return current

    def process_submissions(self, fetch: Callable[[str], bool], *, limit: int = 50) -> int:
        """Retry queued submissions (the scheduler's job); returns how many got fetched.

        Stops at the first paper the source could not be reached for: the rest
        would fail the same way, and the next run tries again.
        """
        fetched = 0
        store = self.storage.submissions
        for arxiv_id in store.queued_ids(limit=limit):
            if self.storage.papers.get(arxiv_id) is not None:  # harvested meanwhile
                with self.storage.db.transaction() as tx:
                    fetched += self._mark_fetched(tx, arxiv_id, ALREADY_STORED)
                continue
            outcome, count = self._try_fetch(arxiv_id, fetch)
            fetched += count
            if outcome == "queued":
                break
        return fetched

    def submissions(self, user_id: int, *, limit: int = 100, offset: int = 0) -> list[Submission]:
        """The user's submissions, newest first."""
        return self.storage.submissions.of_user(user_id, limit=limit, offset=offset)

    def _try_fetch(
        self, arxiv_id: str, fetch: Callable[[str], bool]
    ) -> tuple[Literal["fetched", "queued", "failed"], int]:
        """Run ``fetch`` (outside any transaction: it is network I/O) and record the outcome."""
        store = self.storage.submissions
        try:
            stored = fetch(arxiv_id)
        except NotFoundError as exc:
            with self.storage.db.transaction() as tx:
                store.set_status(tx, arxiv_id, "failed", str(exc), self._now(), count_attempt=True)
            return "failed", 0
        with self.storage.db.transaction() as tx:
            # Trust the paper table rather than the flag: only a stored paper is "fetched".
            if stored and self.storage.papers.get(arxiv_id) is not None:
                return "fetched", self._mark_fetched(tx, arxiv_id, FETCHED)
            store.set_status(tx, arxiv_id, "queued", OFFLINE, self._now(), count_attempt=True)
        return "queued", 0

    def _mark_fetched(self, tx: Transaction, arxiv_id: str, message: str) -> int:
        """Mark every open submission of the paper fetched; credit the first submitter."""
        store = self.storage.submissions
        now = self._now()
        count = store.set_status(tx, arxiv_id, "fetched", message, now, paper_id=arxiv_id)
        submitter = store.first_submitter(tx, arxiv_id)
        stored = self.storage.papers.rows_by_id(tx, [arxiv_id]).get(arxiv_id)
        if submitter and stored:
            # Through the ingest pipeline like every other source: the paper joins the
            # feed of the day it was submitted (as on the hosted service), its hash and
            # the change log stay right. The title only identifies it: the lowest-ranked
            # source never overwrites arXiv's metadata.
            record = PaperRecord(
                source="submission",
                arxiv_id=arxiv_id,
                title=stored["title"],
                abstract=stored["abstract"],
                facts=SourceFacts(source="submission", submitter=submitter, featured_on=now.date()),
            )
            IngestPipeline(self.storage).ingest_records([record])
        return count
