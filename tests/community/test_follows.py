"""Follows: what can be followed, how values are normalised, privacy, limits."""

from __future__ import annotations

import pytest

from paperfeed.community import Community
from paperfeed.community.follows import UNCHANGED, author_key
from paperfeed.errors import InputError, NotFoundError
from paperfeed.storage import Storage
from tests.community.helpers import arxiv_record, ingest, make_user


def test_follow_each_kind_and_again_is_the_same_follow(
    community: Community, storage: Storage
) -> None:
    ingest(storage, [arxiv_record("2410.17243", title="Scaling contrastive learning")])
    ada = make_user(community, "ada")
    paper = community.follow(ada.id, "paper", "https://arxiv.org/abs/2410.17243v2")
    assert (paper.kind, paper.paper_id, paper.label) == (
        "paper", "2410.17243", "Scaling contrastive learning",
    )  # fmt: skip
    author = community.follow(ada.id, "author", "  Jürgen   Schmidhuber ")
    assert (author.target, author.label) == ("jurgen schmidhuber", "Jürgen Schmidhuber")
    category = community.follow(ada.id, "cat", "CS.LG")
    assert (category.kind, category.target, category.label) == ("category", "cs.lg", "cs.LG")
    search = community.follow(ada.id, "search", '"mixture of experts" -vision', top=5)
    assert search.top == 5
    # The same thing again (typed differently) is the existing follow.
    assert community.follow(ada.id, "author", "jurgen schmidhuber").id == author.id
    assert community.follow(ada.id, "paper", "2410.17243").id == paper.id
    assert [f.kind for f in community.follows(ada.id)] == ["author", "category", "paper", "search"]
    assert community.follows(ada.id, kind="paper") == [paper]


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("paper", "2501.99999", "no paper"),
        ("author", " -- ", "no letters"),
        ("category", "not a category!", "arXiv category"),
        ("search", '"unclosed phrase', "quote"),
        ("search", "   ", "empty search"),
        ("planet", "Mars", "follow kind"),
    ],
)
def test_bad_follows_are_refused_with_a_reason(
    community: Community, kind: str, value: str, message: str
) -> None:
    ada = make_user(community, "ada")
    with pytest.raises((InputError, NotFoundError), match=message):
        community.follow(ada.id, kind, value)
    assert community.follows(ada.id) == []


def test_options_belong_to_their_kinds(community: Community, storage: Storage) -> None:
    ingest(storage, [arxiv_record()])
    ada = make_user(community, "ada")
    with pytest.raises(InputError, match="paper follows only"):
        community.follow(ada.id, "author", "Ada Lovelace", upvote_threshold=10)
    with pytest.raises(InputError, match="category and search"):
        community.follow(ada.id, "paper", "2410.17243", top=3)
    with pytest.raises(InputError, match="threshold"):
        community.follow(ada.id, "paper", "2410.17243", upvote_threshold=0)
    paper = community.follow(ada.id, "paper", "2410.17243", upvote_threshold=50)
    changed = community.update_follow(ada.id, paper.id, muted=True, upvote_threshold=None)
    assert (changed.muted, changed.upvote_threshold) == (True, None)
    kept = community.update_follow(ada.id, paper.id, upvote_threshold=UNCHANGED, muted=False)
    assert (kept.muted, kept.upvote_threshold) == (False, None)


def test_follows_are_private_to_their_owner(community: Community, storage: Storage) -> None:
    ingest(storage, [arxiv_record()])
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    mine = community.follow(ada.id, "paper", "2410.17243")
    for attempt in (
        lambda: community.get_follow(bob.id, mine.id),
        lambda: community.update_follow(bob.id, mine.id, muted=True),
        lambda: community.unfollow(bob.id, mine.id),
    ):
        with pytest.raises(NotFoundError, match=f"no follow {mine.id}"):
            attempt()
    assert community.follows(bob.id) == []
    assert community.get_follow(ada.id, mine.id).muted is False


def test_unfollow_by_value_and_the_watch_goes_with_the_last_follower(
    community: Community, storage: Storage
) -> None:
    ingest(storage, [arxiv_record()])
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    community.follow(ada.id, "paper", "2410.17243")
    community.follow(bob.id, "paper", "2410.17243")
    watched = "SELECT COUNT(*) FROM paper_watch WHERE paper_id = '2410.17243'"
    community.unfollow_value(ada.id, "paper", "2410.17243v1")
    assert storage.db.scalar(watched) == 1
    community.unfollow_value(bob.id, "paper", "2410.17243")
    assert storage.db.scalar(watched) == 0
    with pytest.raises(NotFoundError, match="you do not follow"):
        community.unfollow_value(bob.id, "author", "Nobody")


def test_author_key_is_author_search_folding() -> None:
    assert author_key("Yann LeCun") == "yann lecun"
    assert author_key("Zoë  Kravitz-Ng") == "zoe kravitz ng"
    with pytest.raises(InputError, match="at most 8 words"):
        author_key("a b c d e f g h i")


def test_an_account_follows_at_most_max_follows(
    community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("paperfeed.community.follows.MAX_FOLLOWS", 3)
    ada = make_user(community, "ada")
    for name in ("Ada", "Grace", "Alan"):
        community.follow(ada.id, "author", name)
    with pytest.raises(InputError, match="at most 3"):
        community.follow(ada.id, "author", "Edsger")
