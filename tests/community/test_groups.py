"""Groups: members only, roles, signed expiring invites, the members-only trending feed,
shared collections and the secret feed token."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from paperfeed.community import Community
from paperfeed.errors import InputError, NotFoundError, PermissionDenied
from paperfeed.models import SourceFacts
from paperfeed.rank.trending import rank_trending
from paperfeed.storage import Storage
from tests.community.helpers import Clock, arxiv_record, ingest, make_user

TODAY = date(2026, 3, 2)  # the Clock's day


@pytest.fixture
def community(storage: Storage, clock: Clock) -> Community:
    from tests.community.helpers import fast_hasher

    return Community(storage, password_hasher=fast_hasher(), clock=clock,
                     secret=lambda: "s" * 32, invite_days=7)  # fmt: skip


def paper(arxiv_id: str, day: date = TODAY, votes: int = 0) -> Any:
    return arxiv_record(arxiv_id, listed_on=day,
                        facts=SourceFacts("huggingface", external_id=arxiv_id, upvotes=votes))  # fmt: skip


def test_a_group_is_invisible_to_non_members(community: Community) -> None:
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    lab = community.create_group(ada.id, "  Vision   lab ", description="We read papers.")
    assert (lab.name, lab.member_count) == ("Vision lab", 1)
    assert community.membership(lab.id, ada.id).role == "owner"
    assert [g.id for g in community.groups_of(ada.id)] == [lab.id]
    missing = lab.id + 100
    for group_id in (lab.id, missing):  # a group bob is not in reads as one that does not exist
        for attempt in (
            lambda g=group_id: community.group(g, viewer_id=bob.id),
            lambda g=group_id: community.group(g, viewer_id=None),
            lambda g=group_id: community.group_members(g, viewer_id=bob.id),
            lambda g=group_id: community.group_feed(g, viewer_id=bob.id),
            lambda g=group_id: community.group_collections(g, viewer_id=bob.id),
            lambda g=group_id: community.invite_token(g, bob.id),
            lambda g=group_id: community.set_group_digest(g, bob.id, "daily"),
            lambda g=group_id: community.create_group_collection(g, bob.id, "Sneaky"),
        ):
            with pytest.raises(NotFoundError, match=f"no group {group_id}$"):
                attempt()
    assert community.groups_of(bob.id) == []


def test_invites_are_signed_expire_and_can_be_withdrawn(community: Community, clock: Clock) -> None:
    ada, bob, cyd = (make_user(community, n) for n in ("ada", "bob", "cyd"))
    lab = community.create_group(ada.id, "Lab")
    token = community.invite_token(lab.id, ada.id)
    assert community.read_invite(token).name == "Lab"
    member = community.join(token, bob.id)
    assert (member.role, member.username) == ("member", "bob")
    assert community.join(token, bob.id).role == "member"  # again: nothing changes
    with pytest.raises(PermissionDenied, match="only an owner"):
        community.invite_token(lab.id, bob.id)
    with pytest.raises(NotFoundError, match="not a valid invite"):
        community.read_invite(token[:-2] + "xx")
    clock.advance(days=7, seconds=1)
    with pytest.raises(InputError, match="expired"):
        community.join(token, cyd.id)
    fresh = community.invite_token(lab.id, ada.id)
    community.void_invites(lab.id, ada.id)
    with pytest.raises(InputError, match="withdrawn"):
        community.join(fresh, cyd.id)
    assert [m.username for m in community.group_members(lab.id, viewer_id=ada.id)] == ["ada", "bob"]


def test_roles_and_a_group_always_keeps_an_owner(community: Community) -> None:
    ada, bob, cyd = (make_user(community, n) for n in ("ada", "bob", "cyd"))
    lab = community.create_group(ada.id, "Lab")
    community.add_member(lab.id, bob.id, actor_id=ada.id)
    with pytest.raises(PermissionDenied):
        community.add_member(lab.id, cyd.id, actor_id=bob.id)
    with pytest.raises(InputError, match="needs an owner"):
        community.remove_member(lab.id, ada.id, ada.id)
    with pytest.raises(InputError, match="needs an owner"):
        community.set_member_role(lab.id, ada.id, ada.id, "member")
    community.set_member_role(lab.id, ada.id, bob.id, "owner")
    community.remove_member(lab.id, ada.id, ada.id)  # ada leaves; bob owns it now
    with pytest.raises(NotFoundError):
        community.group(lab.id, viewer_id=ada.id)
    community.add_member(lab.id, cyd.id, actor_id=bob.id)
    community.remove_member(lab.id, bob.id, cyd.id)  # an owner removes a member
    assert [m.username for m in community.group_members(lab.id, viewer_id=bob.id)] == ["bob"]
    community.delete_group(lab.id, bob.id)
    assert community.groups_of(bob.id) == []


def test_group_feed_ranks_by_the_formula_with_members_votes_only(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ingest(storage, [paper("2603.00001", votes=500), paper("2603.00002"), paper("2603.00003"),
                     paper("2602.00009", day=date(2026, 2, 1))])  # fmt: skip
    ada, bob, out = (make_user(community, n) for n in ("ada", "bob", "out"))
    lab = community.create_group(ada.id, "Lab")
    community.add_member(lab.id, bob.id, actor_id=ada.id)
    for user, paper_id in ((ada, "2603.00002"), (bob, "2603.00002"), (ada, "2603.00003"),
                           (out, "2603.00001"), (out, "2603.00003"), (ada, "2602.00009")):  # fmt: skip
        community.upvote(user.id, paper_id)
        clock.advance(minutes=1)
    page, total = community.group_feed(lab.id, viewer_id=bob.id)
    # 2603.00001 has 500 upvotes elsewhere but none from members; 2602.00009 is too old.
    assert [(s.paper.id, s.upvotes) for s in page] == [("2603.00002", 2), ("2603.00003", 1)]
    assert total == 2
    # The very same formula as the site's, fed the members' votes.
    papers = storage.papers.get_many(["2603.00002", "2603.00003"])
    expected = rank_trending(papers, clock(), votes={"2603.00002": 2, "2603.00003": 1})
    assert [(s.paper.id, s.score) for s in page] == [(s.paper.id, s.score) for s in expected]
    assert [(p.id, n) for p, n in community.group_recent_votes(lab.id, viewer_id=ada.id)] == [
        ("2602.00009", 1), ("2603.00003", 1), ("2603.00002", 2),
    ]  # fmt: skip
    second, _ = community.group_feed(lab.id, viewer_id=ada.id, limit=1, offset=1)
    assert [s.paper.id for s in second] == ["2603.00003"]


def test_shared_collections_are_for_current_members_only(
    community: Community, storage: Storage
) -> None:
    ingest(storage, [paper("2603.00001"), paper("2603.00002")])
    ada, bob, out = (make_user(community, n) for n in ("ada", "bob", "out"))
    lab = community.create_group(ada.id, "Lab")
    community.add_member(lab.id, bob.id, actor_id=ada.id)
    shared = community.create_group_collection(lab.id, bob.id, "Reading list")
    assert shared.group_id == lab.id and not shared.is_public
    assert community.add_to_collection(ada.id, shared.id, "2603.00001")  # any member adds
    assert community.add_to_collection(bob.id, shared.id, "2603.00002")
    assert [c.id for c in community.group_collections(lab.id, viewer_id=ada.id)] == [shared.id]
    # Not bob's own: not in his list, not public, no share link that opens it.
    assert community.collections_of(bob.id) == []
    assert community.public_collections() == []
    with pytest.raises(InputError, match="members only"):
        community.update_collection(bob.id, shared.id, public=True)
    with pytest.raises(InputError, match="members only"):
        community.update_collection(bob.id, shared.id, new_share_token=True)
    token = storage.db.scalar("SELECT share_token FROM collections WHERE id = ?", (shared.id,))
    for viewer in (out.id, None):
        with pytest.raises(NotFoundError):
            community.collection(shared.id, viewer_id=viewer, share_token=token)
        with pytest.raises(NotFoundError):
            community.collection_papers(shared.id, viewer_id=viewer, share_token=token)
        assert community.collections_with_paper("2603.00001", viewer_id=viewer) == []
    with pytest.raises(NotFoundError):
        community.add_to_collection(out.id, shared.id, "2603.00001")
    assert community.collection(shared.id, viewer_id=ada.id).share_token == ""
    assert [c.id for c in community.collections_with_paper("2603.00001", viewer_id=ada.id)] == [
        shared.id
    ]
    # Only its creator or an owner renames it; a member who leaves loses it.
    community.add_member(lab.id, out.id, actor_id=ada.id)
    with pytest.raises(PermissionDenied):
        community.rename_collection(out.id, shared.id, "Mine now")
    assert community.rename_collection(ada.id, shared.id, "Reading").name == "Reading"
    community.remove_member(lab.id, bob.id, bob.id)
    with pytest.raises(NotFoundError):
        community.collection(shared.id, viewer_id=bob.id)
    with pytest.raises(NotFoundError):
        community.remove_from_collection(bob.id, shared.id, "2603.00001")
    community.delete_group(lab.id, ada.id)
    assert storage.db.scalar("SELECT COUNT(*) FROM collections") == 0


def test_the_feed_token_opens_the_feed_and_a_new_one_closes_the_old(
    community: Community, storage: Storage
) -> None:
    ingest(storage, [paper("2603.00001")])
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    lab = community.create_group(ada.id, "Lab")
    community.upvote(ada.id, "2603.00001")
    token = community.new_group_feed_token(lab.id, ada.id)
    assert token.startswith("pfg_")
    group, ranked = community.group_feed_by_token(lab.id, token)
    assert group.id == lab.id and [s.paper.id for s in ranked] == ["2603.00001"]
    with pytest.raises(NotFoundError):
        community.group_feed_by_token(lab.id, token + "x")
    with pytest.raises(NotFoundError):
        community.group_feed_by_token(lab.id + 1, token)
    community.add_member(lab.id, bob.id, actor_id=ada.id)
    with pytest.raises(PermissionDenied):
        community.new_group_feed_token(lab.id, bob.id)
    community.new_group_feed_token(lab.id, ada.id)
    with pytest.raises(NotFoundError):
        community.group_feed_by_token(lab.id, token)
    assert token not in repr(storage.db.query("SELECT * FROM user_groups"))


def test_find_group_by_id_or_name(community: Community) -> None:
    ada = make_user(community, "ada")
    first = community.create_group(ada.id, "Lab")
    assert community.find_group("lab").id == first.id
    assert community.find_group(str(first.id)).id == first.id
    community.create_group(ada.id, "LAB")
    with pytest.raises(InputError, match="several groups"):
        community.find_group("Lab")
    with pytest.raises(NotFoundError):
        community.find_group("nope")
