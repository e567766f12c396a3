"""Password reset, a new e-mail address and deleting an account, over the community API."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.community import Community, RateLimited
from paperfeed.errors import InputError, NotFoundError, PermissionDenied
from paperfeed.storage import Storage
from tests.community.helpers import PASSWORD, Clock, arxiv_record, fast_hasher, ingest, make_user

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def community(storage: Storage, clock: Clock) -> Community:
    return Community(storage, password_hasher=fast_hasher(), clock=clock,
                     secret=lambda: "k" * 32, reset_minutes=60, email_change_hours=72)  # fmt: skip


def test_reset_links_exist_only_for_accounts_and_are_limited_for_every_address(
    community: Community, clock: Clock
) -> None:
    ada = make_user(community, "ada")
    found = community.password_reset_token("ADA@example.org", client="198.51.100.1")
    assert found is not None and found[0].id == ada.id
    assert community.password_reset_token("nobody@example.org", client="198.51.100.1") is None
    with pytest.raises(InputError, match="not an e-mail address"):
        community.password_reset_token("ada", client="")  # a username is no address
    # Three a hour per address, known or not: the limit tells nothing about accounts.
    for address in ("ada@example.org", "nobody@example.org"):
        community.password_reset_token(address)
        community.password_reset_token(address)
        with pytest.raises(RateLimited, match="try again in"):
            community.password_reset_token(address)
    # Ten an hour from one client address.
    for n in range(8):
        community.password_reset_token(f"x{n}@example.org", client="198.51.100.1")
    with pytest.raises(RateLimited, match="from your network"):
        community.password_reset_token("y@example.org", client="198.51.100.1")
    clock.advance(hours=1, seconds=1)
    assert community.password_reset_token("ada@example.org") is not None


def test_a_reset_link_works_once_within_its_time_and_ends_every_session(
    community: Community, clock: Clock
) -> None:
    ada = make_user(community, "ada")
    session = community.start_session(ada.id)
    _, token = community.password_reset_token("ada@example.org")  # type: ignore[misc]
    _, older = community.password_reset_token("ada@example.org")  # type: ignore[misc]
    assert community.reset_link_user(token).id == ada.id
    with pytest.raises(InputError, match="at least 10"):
        community.reset_password(token, "short")
    community.reset_password(token, NEW_PASSWORD)
    assert community.session(session.token) is None
    assert community.authenticate("ada", NEW_PASSWORD).id == ada.id
    for used in (token, older):  # single-use: any link made before stops working
        with pytest.raises(InputError, match="used already"):
            community.reset_password(used, "another new passphrase")
    _, late = community.password_reset_token("ada@example.org")  # type: ignore[misc]
    clock.advance(minutes=61)
    with pytest.raises(InputError, match="expired"):
        community.reset_link_user(late)
    with pytest.raises(NotFoundError):
        community.reset_link_user(late[:-4] + "AAAA")


def test_a_new_address_takes_effect_when_its_link_is_followed(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ada, _ = make_user(community, "ada"), make_user(community, "bob")
    with pytest.raises(PermissionDenied, match="wrong password"):
        community.email_change_token(ada.id, "ada@new.example.org", "not my password")
    with pytest.raises(InputError, match="already exists"):
        community.email_change_token(ada.id, "BOB@example.org", PASSWORD)
    with pytest.raises(InputError, match="already your address"):
        community.email_change_token(ada.id, "ada@example.org", PASSWORD)
    user, address, token = community.email_change_token(ada.id, "Ada@New.Example.org", PASSWORD)
    assert (user.email, address) == ("ada@example.org", "Ada@New.Example.org")
    assert community.user(ada.id).email == "ada@example.org"  # not until confirmed
    assert community.email_link(token)[1] == "Ada@New.Example.org"
    changed = community.confirm_email_change(token)
    assert changed.email == "Ada@New.Example.org"
    assert community.authenticate("ada@new.example.org", PASSWORD).id == ada.id
    with pytest.raises(InputError, match="used already"):
        community.confirm_email_change(token)
    _, _, late = community.email_change_token(ada.id, "ada@third.example.org", PASSWORD)
    clock.advance(hours=73)
    with pytest.raises(InputError, match="expired"):
        community.confirm_email_change(late)


def test_deleting_an_account_removes_its_things_and_hands_over_its_groups(
    community: Community, storage: Storage
) -> None:
    ingest(storage, [arxiv_record("2410.00001", listed_on=date(2026, 3, 2)),
                     arxiv_record("2410.00002", listed_on=date(2026, 3, 2))])  # fmt: skip
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    before = storage.papers.get("2410.00001").upvotes  # type: ignore[union-attr]
    community.upvote(ada.id, "2410.00001")
    community.upvote(bob.id, "2410.00001")
    mine = community.create_collection(ada.id, "Reading list", public=True)
    community.add_to_collection(ada.id, mine.id, "2410.00002")
    community.follow(ada.id, "author", "Ada Lovelace")
    lab = community.create_group(ada.id, "Lab")  # ada alone owns it; bob is a member
    community.add_member(lab.id, bob.id, actor_id=ada.id)
    bobs_list = community.create_collection(bob.id, "Reading list")  # the same slug as ada's
    shared = community.create_group_collection(lab.id, ada.id, "Reading list")
    community.add_to_collection(bob.id, shared.id, "2410.00001")
    solo = community.create_group(ada.id, "Just me")
    with storage.db.transaction() as tx:
        sub = storage.subscriptions.insert(tx, email="ada@example.org", email_key="ada@example.org",
                                           cadence="daily", at=community._now(), user_id=ada.id,
                                           status="active")  # fmt: skip
    with pytest.raises(PermissionDenied):
        community.delete_account(ada.id, "wrong password")
    removed = community.delete_account(ada.id, PASSWORD)
    assert removed["upvotes"] == 1 and removed["collections"] == 1
    assert removed["groups"] == {"handed_over": 1, "deleted": 1}
    with pytest.raises(NotFoundError):
        community.user(ada.id)
    assert storage.papers.get("2410.00001").upvotes == before + 1  # type: ignore[union-attr]
    assert community.public_collections() == []
    assert community.group_members(lab.id, viewer_id=bob.id)[0].role == "owner"
    kept = community.collection(shared.id, viewer_id=bob.id)
    assert (kept.owner_id, kept.group_id) == (bob.id, lab.id) and kept.slug != bobs_list.slug
    assert [p.id for p in community.collection_papers(shared.id, viewer_id=bob.id)] == [
        "2410.00001"
    ]
    with pytest.raises(NotFoundError):
        community.group(solo.id, viewer_id=bob.id)
    assert storage.subscriptions.get(sub) is None  # type: ignore[arg-type]
    assert storage.db.scalar("SELECT COUNT(*) FROM follows") == 0
