"""Collections on both engines: slugs, ordering, owner-only changes and who may see what."""

from __future__ import annotations

import pytest

from paperfeed.community import Collection, Community, User
from paperfeed.errors import InputError, NotFoundError, PermissionDenied
from paperfeed.models import PaperRecord
from paperfeed.storage import Storage
from tests.community.helpers import Clock, arxiv_record, ingest, make_user

PAPERS = ["2501.00001", "2501.00002", "2501.00003"]


@pytest.fixture
def people(community: Community, storage: Storage) -> tuple[User, User]:
    ingest(storage, [arxiv_record(paper_id) for paper_id in PAPERS])
    return make_user(community, "ada"), make_user(community, "bob")


def test_slugs_come_from_names_and_are_unique_per_owner(
    community: Community, people: tuple[User, User]
) -> None:
    ada, bob = people
    first = community.create_collection(ada.id, "  Reading   list: Ünïcode & <Tags>! ")
    assert first.name == "Reading list: Ünïcode & <Tags>!"
    assert first.slug == "reading-list-unicode-tags"
    again = community.create_collection(ada.id, "Reading list: unicode tags")
    assert again.slug == "reading-list-unicode-tags-2"
    assert community.create_collection(bob.id, "Reading list unicode tags").slug == (
        "reading-list-unicode-tags"
    )
    assert community.create_collection(ada.id, "!!!").slug == "collection"
    for bad in ("", "   ", "x" * 101):
        with pytest.raises(InputError, match="1-100 characters"):
            community.create_collection(ada.id, bad)
    with pytest.raises(InputError, match="description"):
        community.create_collection(ada.id, "ok", description="d" * 2001)
    with pytest.raises(NotFoundError):
        community.create_collection(999, "no such owner")
    assert len(community.collections_of(ada.id)) == 3


def test_papers_in_the_order_added_newest_first(
    community: Community, people: tuple[User, User], clock: Clock
) -> None:
    ada, _ = people
    reading = community.create_collection(ada.id, "Reading")
    # All in the same second: the order must not depend on timestamps.
    assert community.add_to_collection(ada.id, reading.id, "2501.00002")
    assert community.add_to_collection(ada.id, reading.id, "https://arxiv.org/abs/2501.00001v3")
    assert community.add_to_collection(ada.id, reading.id, "2501.00003")
    assert not community.add_to_collection(ada.id, reading.id, "2501.00001")  # idempotent
    papers = community.collection_papers(reading.id, viewer_id=ada.id)
    assert [p.id for p in papers] == ["2501.00003", "2501.00001", "2501.00002"]
    assert community.collection(reading.id, viewer_id=ada.id).paper_count == 3

    clock.advance(minutes=5)
    assert community.remove_from_collection(ada.id, reading.id, "2501.00001")
    assert not community.remove_from_collection(ada.id, reading.id, "2501.00001")
    assert community.add_to_collection(ada.id, reading.id, "2501.00001")  # back on top
    updated = community.collection(reading.id, viewer_id=ada.id)
    assert updated.updated_at == clock.now
    assert [p.id for p in community.collection_papers(reading.id, viewer_id=ada.id)] == [
        "2501.00001", "2501.00003", "2501.00002"]  # fmt: skip
    assert [p.id for p in community.collection_papers(reading.id, viewer_id=ada.id,
                                                      limit=1, offset=1)] == ["2501.00003"]  # fmt: skip
    with pytest.raises(NotFoundError, match="no paper"):
        community.add_to_collection(ada.id, reading.id, "2501.99999")
    with pytest.raises(NotFoundError, match="no paper"):
        community.remove_from_collection(ada.id, reading.id, "2501.99999")


def test_no_op_changes_leave_updated_at_alone(
    community: Community, people: tuple[User, User], clock: Clock
) -> None:
    ada, _ = people
    reading = community.create_collection(ada.id, "Reading")
    community.add_to_collection(ada.id, reading.id, "2501.00001")
    before = community.collection(reading.id, viewer_id=ada.id)
    clock.advance(hours=1)
    community.add_to_collection(ada.id, reading.id, "2501.00001")
    community.remove_from_collection(ada.id, reading.id, "2501.00002")
    assert community.collection(reading.id, viewer_id=ada.id) == before


def test_private_collections_are_invisible_except_to_owner_or_share_token(
    community: Community, people: tuple[User, User]
) -> None:
    ada, bob = people
    private = community.create_collection(ada.id, "Secret project")
    community.add_to_collection(ada.id, private.id, "2501.00001")
    assert not private.is_public and private.share_token

    mine = community.collection(private.id, viewer_id=ada.id)
    assert (mine.id, mine.share_token, mine.paper_count) == (private.id, private.share_token, 1)
    missing_message = f"no collection with id {private.id}"
    for viewer in (bob.id, None):
        with pytest.raises(NotFoundError) as hidden:
            community.collection(private.id, viewer_id=viewer)
        assert str(hidden.value) == missing_message  # same as for an id that never existed
        with pytest.raises(NotFoundError):
            community.collection(private.id, viewer_id=viewer, share_token="wrong")
        with pytest.raises(NotFoundError):
            community.collection_papers(private.id, viewer_id=viewer)
    with pytest.raises(NotFoundError) as never:
        community.collection(private.id + 1000, viewer_id=None)
    assert str(never.value) == f"no collection with id {private.id + 1000}"

    shared = community.collection(private.id, viewer_id=bob.id, share_token=private.share_token)
    assert shared.name == "Secret project" and shared.share_token == ""  # not passed on
    assert [p.id for p in community.collection_papers(
        private.id, viewer_id=None, share_token=private.share_token)] == ["2501.00001"]  # fmt: skip
    by_slug = community.collection_by_slug("ADA", private.slug, viewer_id=None,
                                           share_token=private.share_token)  # fmt: skip
    assert by_slug.id == private.id
    with pytest.raises(NotFoundError):
        community.collection_by_slug("ada", private.slug, viewer_id=bob.id)

    assert community.public_collections() == []
    assert community.collections_with_paper("2501.00001", viewer_id=bob.id) == []
    assert [c.id for c in community.collections_with_paper("2501.00001", viewer_id=ada.id)] == [
        private.id
    ]
    assert community.collections_of(ada.id, public_only=True) == []


def test_public_collections_are_seen_by_all_but_changed_by_the_owner_only(
    community: Community, people: tuple[User, User]
) -> None:
    ada, bob = people
    shelf = community.create_collection(ada.id, "Best of 2025", description="<b>mine</b>",
                                        public=True)  # fmt: skip
    community.add_to_collection(ada.id, shelf.id, "2501.00002")
    bobs_own = community.create_collection(bob.id, "Bob's notes")
    community.add_to_collection(bob.id, bobs_own.id, "2501.00002")

    seen: Collection = community.collection(shelf.id, viewer_id=None)
    assert seen.description == "<b>mine</b>" and seen.owner_username == "ada"
    assert seen.share_token == ""  # only the owner gets the share link
    assert [c.id for c in community.public_collections()] == [shelf.id]
    assert all(c.share_token == "" for c in community.public_collections())
    with_paper = community.collections_with_paper("2501.00002", viewer_id=bob.id)
    assert {c.id for c in with_paper} == {shelf.id, bobs_own.id}
    assert {c.id for c in community.collections_with_paper("2501.00002", viewer_id=None)} == {
        shelf.id
    }

    with pytest.raises(PermissionDenied):
        community.add_to_collection(bob.id, shelf.id, "2501.00001")
    with pytest.raises(PermissionDenied):
        community.update_collection(bob.id, shelf.id, name="Hijacked")
    with pytest.raises(PermissionDenied):
        community.delete_collection(bob.id, shelf.id)
    with pytest.raises(NotFoundError):  # private: no hint that it exists
        community.add_to_collection(ada.id, bobs_own.id, "2501.00001")
    assert community.collection(shelf.id, viewer_id=ada.id).paper_count == 1


def test_update_rename_and_new_share_token(community: Community, people: tuple[User, User]) -> None:
    ada, _ = people
    community.create_collection(ada.id, "Graphs")
    notes = community.create_collection(ada.id, "Notes")
    old_token = notes.share_token
    renamed = community.rename_collection(ada.id, notes.id, "Graphs")
    assert (renamed.name, renamed.slug) == ("Graphs", "graphs-2")
    same = community.update_collection(ada.id, notes.id, name="graphs", description="on GNNs")
    assert (same.name, same.slug, same.description) == ("graphs", "graphs-2", "on GNNs")

    reset = community.update_collection(ada.id, notes.id, public=True, new_share_token=True)
    assert reset.is_public and reset.share_token not in ("", old_token)
    private_again = community.update_collection(ada.id, notes.id, public=False)
    with pytest.raises(NotFoundError):
        community.collection(notes.id, viewer_id=None, share_token=old_token)
    assert community.collection(notes.id, viewer_id=None, share_token=reset.share_token).id == (
        private_again.id
    )
    with pytest.raises(InputError):
        community.update_collection(ada.id, notes.id, name=" ")


def test_delete_collection(
    community: Community, people: tuple[User, User], storage: Storage
) -> None:
    ada, _ = people
    gone = community.create_collection(ada.id, "Temporary")
    community.add_to_collection(ada.id, gone.id, "2501.00001")
    community.delete_collection(ada.id, gone.id)
    with pytest.raises(NotFoundError):
        community.collection(gone.id, viewer_id=ada.id)
    with pytest.raises(NotFoundError):
        community.delete_collection(ada.id, gone.id)
    assert storage.db.scalar("SELECT COUNT(*) FROM collection_papers") == 0
    assert storage.papers.get("2501.00001") is not None  # the paper stays


def test_collections_follow_re_keyed_papers_and_lose_deleted_ones(
    community: Community, people: tuple[User, User], storage: Storage
) -> None:
    ada, _ = people
    abstract = "A page-only paper that arXiv will list later."
    ingest(storage, [PaperRecord(source="hf-page", title="Later", abstract=abstract)])
    [page_paper] = [p for p in storage.papers.list(limit=10) if p.id.startswith("pf-")]
    shelf = community.create_collection(ada.id, "Shelf")
    community.add_to_collection(ada.id, shelf.id, page_paper.id)
    community.add_to_collection(ada.id, shelf.id, "2501.00003")

    ingest(storage, [arxiv_record("2502.00042", title="Later", abstract=abstract)])
    assert [p.id for p in community.collection_papers(shelf.id, viewer_id=ada.id)] == [
        "2501.00003", "2502.00042"]  # fmt: skip
    assert [c.id for c in community.collections_with_paper("2502.00042", viewer_id=ada.id)] == [
        shelf.id
    ]
    storage.papers.delete("2501.00003")
    assert [p.id for p in community.collection_papers(shelf.id, viewer_id=ada.id)] == ["2502.00042"]
