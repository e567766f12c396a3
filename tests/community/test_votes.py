"""Upvotes on both engines: idempotence, the paper's total in step, re-keyed papers, races."""

from __future__ import annotations

import threading

import pytest

from paperfeed.community import Community
from paperfeed.errors import NotFoundError
from paperfeed.models import PaperRecord, SourceFacts
from paperfeed.storage import Storage
from tests.community.helpers import Clock, arxiv_record, ingest, make_user


def local_upvotes(storage: Storage, paper_id: str) -> int:
    return int(storage.db.scalar("SELECT local_upvotes FROM papers WHERE id = ?", (paper_id,)))


def test_upvote_is_idempotent_and_keeps_local_upvotes_in_step(
    community: Community, storage: Storage
) -> None:
    ingest(storage, [arxiv_record("2410.17243")])  # 7 upvotes from Hugging Face
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    assert community.upvote(ada.id, "2410.17243") == 8
    assert community.upvote(ada.id, "2410.17243") == 8  # again: no change
    assert community.upvote(bob.id, "https://arxiv.org/abs/2410.17243v2") == 9  # any id form
    assert local_upvotes(storage, "2410.17243") == 2
    assert storage.papers.get("2410.17243").upvotes == 9  # type: ignore[union-attr]

    assert community.remove_upvote(ada.id, "2410.17243") == 8
    assert community.remove_upvote(ada.id, "2410.17243") == 8  # again: no change
    assert local_upvotes(storage, "2410.17243") == 1
    assert community.upvoted(ada.id, ["2410.17243"]) == set()
    assert community.upvoted(bob.id, ["2410.17243", "2501.00001"]) == {"2410.17243"}


def test_re_ingesting_a_paper_keeps_its_local_votes(community: Community, storage: Storage) -> None:
    ingest(storage, [arxiv_record("2410.17243")])
    ada = make_user(community, "ada")
    community.upvote(ada.id, "2410.17243")
    ingest(storage, [arxiv_record("2410.17243", version=2, title="Revised",
                                  facts=SourceFacts(source="huggingface", upvotes=20))])  # fmt: skip
    paper = storage.papers.get("2410.17243")
    assert paper is not None and paper.title == "Revised" and paper.upvotes == 21


def test_unknown_paper_or_user_is_not_found_and_changes_nothing(
    community: Community, storage: Storage
) -> None:
    ingest(storage, [arxiv_record("2410.17243")])
    ada = make_user(community, "ada")
    with pytest.raises(NotFoundError, match=r"no paper with id '2501\.99999'"):
        community.upvote(ada.id, "2501.99999")
    with pytest.raises(NotFoundError):
        community.remove_upvote(ada.id, "2501.99999")
    with pytest.raises(NotFoundError, match="no user"):
        community.upvote(12345, "2410.17243")
    assert storage.db.scalar("SELECT COUNT(*) FROM votes") == 0
    assert local_upvotes(storage, "2410.17243") == 0


def test_votes_follow_a_paper_re_keyed_to_its_arxiv_id(
    community: Community, storage: Storage
) -> None:
    abstract = "We propose a new method for testing storage engines thoroughly."
    ingest(storage, [PaperRecord(source="hf-page", title="Testing Storage", abstract=abstract,
                                 facts=SourceFacts(source="hf-page", upvotes=3))])  # fmt: skip
    [paper] = storage.papers.list(limit=10)
    assert paper.id.startswith("pf-")
    ada = make_user(community, "ada")
    assert community.upvote(ada.id, paper.id) == 4

    ingest(storage, [arxiv_record("2501.00001", title="Testing Storage", abstract=abstract,
                                  facts=None)])  # fmt: skip
    assert storage.papers.count() == 1
    moved = storage.papers.get("2501.00001")
    assert moved is not None and moved.upvotes == 3 + 1  # source votes kept, local vote too
    assert community.upvoted(ada.id, ["2501.00001", paper.id]) == {"2501.00001"}
    assert [p.id for p in community.upvoted_papers(ada.id)] == ["2501.00001"]
    assert community.remove_upvote(ada.id, "2501.00001") == 3
    with pytest.raises(NotFoundError):
        community.upvote(ada.id, paper.id)  # the old id is gone


def test_deleting_a_paper_deletes_its_votes(community: Community, storage: Storage) -> None:
    ingest(storage, [arxiv_record("2410.17243")])
    ada = make_user(community, "ada")
    community.upvote(ada.id, "2410.17243")
    assert storage.papers.delete("2410.17243")
    assert community.upvoted_papers(ada.id) == []
    assert storage.db.scalar("SELECT COUNT(*) FROM votes") == 0


def test_upvoted_papers_and_votes_since(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ingest(storage, [arxiv_record(f"2501.0000{i}") for i in range(1, 4)])
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    start = clock.now
    for paper_id in ("2501.00002", "2501.00001", "2501.00003"):
        community.upvote(ada.id, paper_id)
        clock.advance(minutes=1)
    community.upvote(bob.id, "2501.00001")
    assert [p.id for p in community.upvoted_papers(ada.id)] == [
        "2501.00003", "2501.00001", "2501.00002"]  # fmt: skip
    assert [p.id for p in community.upvoted_papers(ada.id, limit=1)] == ["2501.00003"]

    mine = community.votes_since(ada.id)
    assert [(v.paper_id, v.created_at) for v in mine] == [
        ("2501.00002", start),
        ("2501.00001", start.replace(minute=1)),
        ("2501.00003", start.replace(minute=2)),
    ]
    recent = community.votes_since(since=start.replace(minute=2))
    assert {(v.user_id, v.paper_id) for v in recent} == {
        (ada.id, "2501.00003"), (bob.id, "2501.00001")}  # fmt: skip


def test_recount_repairs_a_drifted_count(community: Community, storage: Storage) -> None:
    ingest(storage, [arxiv_record("2410.17243")])
    ada = make_user(community, "ada")
    community.upvote(ada.id, "2410.17243")
    storage.db.execute("UPDATE papers SET local_upvotes = 40")
    assert storage.votes.recount() == 1
    assert local_upvotes(storage, "2410.17243") == 1
    assert storage.votes.recount() == 0


def test_concurrent_upvotes_count_exactly(community: Community, storage: Storage) -> None:
    ingest(storage, [arxiv_record("2410.17243")])
    users = [make_user(community, f"user{i:03d}") for i in range(100)]
    errors: list[BaseException] = []

    def vote(voters: list[int], remove: bool = False) -> None:
        try:
            for user_id in voters:
                if remove:
                    community.remove_upvote(user_id, "2410.17243")
                else:
                    community.upvote(user_id, "2410.17243")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def run(*jobs: tuple[list[int], bool]) -> None:
        threads = [threading.Thread(target=vote, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []

    ids = [u.id for u in users]
    # Two threads, 50 different voters each.
    run((ids[:50], False), (ids[50:], False))
    assert local_upvotes(storage, "2410.17243") == 100 == storage.votes.count("2410.17243")
    # Two threads racing over the same 50 voters: each vote counts once.
    run((ids[:50], True), (ids[:50], True))
    assert local_upvotes(storage, "2410.17243") == 50 == storage.votes.count("2410.17243")
    run((ids[:50], False), (ids[:50], False))
    assert local_upvotes(storage, "2410.17243") == 100 == storage.votes.count("2410.17243")
    assert storage.papers.get("2410.17243").upvotes == 107  # type: ignore[union-attr]
