"""Submissions on both engines: stored already, fetched now, queued while offline, failed.

The Library tests fetch from arXiv's query API as served by a real local HTTP
server replaying a saved arXiv response (``tests/support/replay_server.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paperfeed.community import Community, User
from paperfeed.errors import InputError, NotFoundError
from paperfeed.library import Library
from paperfeed.models import utc_now
from paperfeed.settings import Settings
from paperfeed.storage import Storage
from tests.community.helpers import arxiv_record, ingest, make_user
from tests.support.replay_server import ReplayServer, Reply

pytest_plugins = ("tests.support.replay_server",)

ATOM = Path(__file__).parents[1] / "fixtures" / "arxiv" / "atom"


class Fetcher:
    """A ``fetch`` that really ingests (as the Library's does), or reports the network down."""

    def __init__(self, storage: Storage, *, online: bool = True) -> None:
        self.storage = storage
        self.online = online
        self.calls: list[str] = []

    def __call__(self, arxiv_id: str) -> bool:
        self.calls.append(arxiv_id)
        if not self.online:
            return False
        ingest(self.storage, [arxiv_record(arxiv_id, facts=None)])
        return True


def submitters(storage: Storage, paper_id: str) -> list[str | None]:
    paper = storage.papers.get(paper_id)
    assert paper is not None
    return [s.submitter for s in paper.sources if s.source == "submission"]


@pytest.fixture
def ada(community: Community) -> User:
    return make_user(community, "ada")


def test_a_stored_paper_is_fetched_at_once_without_fetching(
    community: Community, storage: Storage, ada: User
) -> None:
    ingest(storage, [arxiv_record("2410.17243")])
    seq = storage.papers.last_change_seq()
    fetch = Fetcher(storage)
    submission = community.submit(ada.id, " https://arxiv.org/pdf/2410.17243v2.pdf ", fetch=fetch)
    assert (submission.status, submission.arxiv_id, submission.paper_id) == (
        "fetched", "2410.17243", "2410.17243")  # fmt: skip
    assert submission.message == "already on paperfeed"
    assert fetch.calls == []
    assert submitters(storage, "2410.17243") == ["ada"]
    # indexers learn about the new source through the change log
    assert storage.papers.changes_since(seq)[-1]["paper_id"] == "2410.17243"
    again = community.submit(ada.id, "arXiv:2410.17243", fetch=fetch)
    assert again.id == submission.id and again.status == "fetched"
    assert community.submissions(ada.id) == [again]


def test_a_new_paper_is_fetched_and_credited_to_its_submitter(
    community: Community, storage: Storage, ada: User
) -> None:
    fetch = Fetcher(storage)
    submission = community.submit(ada.id, "2501.00001", fetch=fetch)
    assert fetch.calls == ["2501.00001"]
    assert (submission.status, submission.paper_id) == ("fetched", "2501.00001")
    assert submission.message == "fetched from arXiv"
    assert submitters(storage, "2501.00001") == ["ada"]
    # a later submitter is not credited: the first one stays
    bob = make_user(community, "bob")
    assert community.submit(bob.id, "2501.00001", fetch=fetch).status == "fetched"
    assert submitters(storage, "2501.00001") == ["ada"]


def test_offline_submissions_queue_then_process_later(
    community: Community, storage: Storage, ada: User
) -> None:
    bob = make_user(community, "bob")
    offline = Fetcher(storage, online=False)
    first = community.submit(ada.id, "2501.00001", fetch=offline)
    assert first.status == "queued" and "when paperfeed is online" in first.message
    assert first.paper_id is None
    community.submit(bob.id, "2501.00001", fetch=offline)
    community.submit(bob.id, "2501.00002", fetch=None)  # no fetcher at hand: just queued
    assert storage.papers.count() == 0

    # Still offline: the scheduler stops at the first failure and keeps everything queued.
    offline.calls.clear()
    assert community.process_submissions(offline) == 0
    assert len(offline.calls) == 1
    assert {s.status for s in community.submissions(bob.id)} == {"queued"}

    online = Fetcher(storage)
    assert community.process_submissions(online) == 3  # three submissions, two papers
    assert sorted(online.calls) == ["2501.00001", "2501.00002"]  # one fetch per paper
    assert {s.status for s in community.submissions(ada.id) + community.submissions(bob.id)} == {
        "fetched"
    }
    assert submitters(storage, "2501.00001") == ["ada"]  # first to submit
    assert submitters(storage, "2501.00002") == ["bob"]
    assert community.process_submissions(online) == 0  # nothing left


def test_a_queued_paper_harvested_meanwhile_needs_no_fetch(
    community: Community, storage: Storage, ada: User
) -> None:
    community.submit(ada.id, "2501.00007", fetch=None)
    ingest(storage, [arxiv_record("2501.00007")])  # e.g. the nightly OAI-PMH harvest
    fetch = Fetcher(storage)
    assert community.process_submissions(fetch) == 1
    assert fetch.calls == []
    [done] = community.submissions(ada.id)
    assert done.status == "fetched" and done.paper_id == "2501.00007"


def test_a_paper_the_source_does_not_know_fails(
    community: Community, storage: Storage, ada: User
) -> None:
    def unknown(arxiv_id: str) -> bool:
        raise NotFoundError(f"arXiv has no paper {arxiv_id}")

    failed = community.submit(ada.id, "2501.99999", fetch=unknown)
    assert (failed.status, failed.message) == ("failed", "arXiv has no paper 2501.99999")
    assert community.process_submissions(Fetcher(storage)) == 0  # failed ones are not retried


@pytest.mark.parametrize("text", ["", "   ", "not an id", "https://example.org/abs/2501.00001",
                                  "2501.000001", "https://arxiv.org/list/cs.LG/new"])  # fmt: skip
def test_bad_submissions_are_refused_and_store_nothing(
    community: Community, storage: Storage, ada: User, text: str
) -> None:
    with pytest.raises(InputError, match="not an arXiv id or arXiv URL"):
        community.submit(ada.id, text, fetch=Fetcher(storage))
    assert community.submissions(ada.id) == []


def test_unknown_user_cannot_submit(community: Community, storage: Storage) -> None:
    with pytest.raises(NotFoundError):
        community.submit(42, "2501.00001", fetch=Fetcher(storage))
    assert storage.db.scalar("SELECT COUNT(*) FROM submissions") == 0


# -- through the Library, over HTTP ------------------------------------------------------------


@pytest.fixture
def arxiv_library(settings: Settings, replay_server: ReplayServer) -> Iterator[Library]:
    replay_server.add(
        "/api/query",
        Reply.file(ATOM / "2026-02-11-113450.xml", content_type="application/atom+xml"),
        query={"id_list": "2410.19022"},
    )
    online = settings.model_copy(
        update={"arxiv_api_url": replay_server.url + "/api/query", "http_delay_seconds": 0.0}
    )
    with Library.open(online) as library:
        yield library


def test_library_submission_fetches_from_the_arxiv_api(
    arxiv_library: Library, replay_server: ReplayServer
) -> None:
    user = arxiv_library.community.create_user("ada", "ada@example.org", "correct horse battery")
    submission = arxiv_library.submit_paper(user.id, "https://arxiv.org/abs/2410.19022v1")
    assert submission.status == "fetched"
    paper = arxiv_library.paper("2410.19022")
    assert paper.title == "Heterogeneous Random Forest"
    assert {s.source: s.submitter for s in paper.sources}["submission"] == "ada"
    # like on the hosted service, a submitted paper is on the feed of the day it was submitted
    assert paper.feed_date == utc_now().date()
    [request] = replay_server.requests
    assert request.param("id_list") == "2410.19022"


def test_library_queues_while_arxiv_is_unreachable(
    settings: Settings, arxiv_library: Library
) -> None:
    # Same database, but arXiv pointed at a port nobody listens on.
    offline_settings = settings.model_copy(
        update={"arxiv_api_url": "http://127.0.0.1:9/api/query", "http_delay_seconds": 0.0}
    )
    with Library.open(offline_settings) as offline:
        user = offline.community.create_user("ada", "ada@example.org", "correct horse battery")
        queued = offline.submit_paper(user.id, "2410.19022")
        assert queued.status == "queued"
        assert offline.process_submissions() == 0
    # Back online (the scheduler's run): the queued submission is fetched.
    assert arxiv_library.process_submissions() == 1
    [done] = arxiv_library.community.submissions(user.id)
    assert (done.status, done.paper_id) == ("fetched", "2410.19022")


def test_library_marks_ids_arxiv_does_not_know_as_failed(
    arxiv_library: Library, replay_server: ReplayServer
) -> None:
    replay_server.add(
        "/api/query",
        Reply.file(ATOM / "empty-page.xml", content_type="application/atom+xml"),
        query={"id_list": "2501.99999"},
    )
    user = arxiv_library.community.create_user("ada", "ada@example.org", "correct horse battery")
    failed = arxiv_library.submit_paper(user.id, "2501.99999")
    assert (failed.status, failed.message) == ("failed", "arXiv has no paper 2501.99999")
