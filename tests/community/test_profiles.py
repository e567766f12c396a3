"""The portable profile: exported on one instance, imported into another with every item
accounted for; idempotent; newer versions and malformed files refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bibtexparser
import pytest

from paperfeed.community import Community
from paperfeed.community.profiles import VERSION, parse_profile, profile_bibtex
from paperfeed.errors import InputError
from paperfeed.storage import Storage, open_storage
from tests.community.helpers import Clock, arxiv_record, fast_hasher, ingest, make_user


def paper(arxiv_id: str, **overrides: Any) -> Any:
    return arxiv_record(arxiv_id, **{"title": f"On the theory of {arxiv_id}", **overrides})


@pytest.fixture
def other(tmp_path: Path, clock: Clock) -> Iterator[Community]:
    """Another instance: its own database, knowing some of the papers differently."""
    storage = open_storage(f"sqlite:///{tmp_path / 'other.db'}")
    ingest(storage, [
        paper("2410.00001"),                                    # same arXiv id
        arxiv_record(None, source="bibtex", title="Matched by its DOI", doi="10.1000/ABC",
                     abstract="Known here by its DOI only."),
        arxiv_record(None, source="bibtex", title="On the theory of 2410.00003",
                     abstract="Known here by its title only."),
    ])  # fmt: skip
    yield Community(storage, password_hasher=fast_hasher(), clock=clock, secret=lambda: "s" * 32)
    storage.close()


def test_a_profile_moves_to_another_instance_with_every_item_accounted_for(
    community: Community, storage: Storage, other: Community
) -> None:
    ingest(storage, [paper("2410.00001"), paper("2410.00002", doi="10.1000/abc"),
                     paper("2410.00003"), paper("2410.00004")])  # fmt: skip
    ada = make_user(community, "ada")
    for pid in ("2410.00001", "2410.00002", "2410.00004"):
        community.upvote(ada.id, pid)
    reading = community.create_collection(
        ada.id, "Reading list", description="Fridays", public=True
    )
    for pid in ("2410.00003", "2410.00004", "2410.00001"):
        community.add_to_collection(ada.id, reading.id, pid)
    community.follow(ada.id, "author", "Ada Lovelace")
    community.follow(ada.id, "paper", "2410.00002", upvote_threshold=50)
    muted = community.follow(ada.id, "category", "cs.LG", top=5)
    community.update_follow(ada.id, muted.id, muted=True)
    community.follow(ada.id, "paper", "2410.00004")
    with storage.db.transaction() as tx:
        from paperfeed.models.digest import Topic

        storage.subscriptions.add_topics(tx, [Topic.make("keyword", "diffusion")], community._now(),
                                         user_id=ada.id)  # fmt: skip
    document = json.loads(json.dumps(community.export_profile(ada.id, source="https://a.example")))
    assert (document["format"], document["version"]) == ("paperfeed-profile", VERSION)
    assert {u["paper"]["arxiv_id"] for u in document["upvotes"]} == {
        "2410.00001",
        "2410.00002",
        "2410.00004",
    }
    assert [p["paper"]["id"] for p in document["collections"][0]["papers"]] == [
        "2410.00001",
        "2410.00004",
        "2410.00003",
    ]  # newest addition first

    bob = make_user(other, "bob")
    report = other.import_profile(bob.id, document).as_dict()
    sections = report["sections"]
    assert report["all_accounted_for"] is True
    assert (sections["upvotes"]["added"], sections["upvotes"]["unmatched"]) == (2, 1)
    assert sections["upvotes"]["matched_by"] == {"arxiv": 1, "doi": 1}
    assert [ref["arxiv_id"] for ref in sections["upvotes"]["unmatched_items"]] == ["2410.00004"]
    assert (sections["collections"]["added"], sections["collections"]["unmatched"]) == (2, 1)
    assert sections["collections"]["matched_by"] == {"title": 1, "arxiv": 1}
    assert (sections["follows"]["added"], sections["follows"]["unmatched"]) == (3, 1)
    assert sections["saved_searches"]["added"] == 1
    # What arrived, as the other instance holds it.
    (imported,) = other.collections_of(bob.id)
    assert (imported.name, imported.description, imported.is_public) == (
        "Reading list",
        "Fridays",
        True,
    )
    ids = [p.id for p in other.collection_papers(imported.id, viewer_id=bob.id)]
    title_match = other.storage.db.scalar("SELECT id FROM papers WHERE title_key IS NOT NULL"
                                          " AND title = 'On the theory of 2410.00003'")  # fmt: skip
    assert ids == ["2410.00001", title_match]
    follows = {f.kind: f for f in other.follows(bob.id)}
    assert follows["category"].muted and follows["category"].top == 5
    assert follows["paper"].upvote_threshold == 50
    # The same file again changes nothing.
    again = other.import_profile(bob.id, document).as_dict()["sections"]
    assert all(s["added"] == 0 for s in again.values())
    assert again["upvotes"]["already"] == 2 and again["follows"]["already"] == 3


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"format": "paperfeed-profile", "version": VERSION + 1}, "version 2, made by a newer"),
        ({"format": "something-else", "version": 1}, "not a paperfeed profile"),
        ({"format": "paperfeed-profile", "version": "1"}, "no valid version"),
        ({"format": "paperfeed-profile", "version": 1, "upvotes": {}}, "must be a list"),
        ({"format": "paperfeed-profile", "version": 1, "follows": [1]}, "must be an object"),
    ],
)
def test_unreadable_profiles_are_refused_whole(
    community: Community, document: dict[str, Any], message: str
) -> None:
    ada = make_user(community, "ada")
    with pytest.raises(InputError, match=message):
        community.import_profile(ada.id, document)
    assert community.follows(ada.id) == []


def test_bad_bytes_and_bad_items_are_explained(community: Community) -> None:
    with pytest.raises(InputError, match="not text"):
        parse_profile(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="is JSON; this file is not"):
        parse_profile(b"{nope")
    ada = make_user(community, "ada")
    report = community.import_profile(ada.id, {
        "format": "paperfeed-profile", "version": 1,
        "upvotes": [{"at": "2026-01-01T00:00:00Z"}],
        "saved_searches": [{"kind": "telepathy", "query": "x"}],
        "follows": [{"kind": "search", "value": '"unclosed'}],
    }).as_dict()  # fmt: skip
    sections = report["sections"]
    assert sections["upvotes"]["refused_items"][0]["reason"] == "an item without a 'paper' object"
    assert "topic kind" in sections["saved_searches"]["refused_items"][0]["reason"]
    assert "unbalanced quote" in sections["follows"]["refused_items"][0]["reason"]
    assert report["all_accounted_for"] is True


def test_bibtex_of_the_library_and_collections(community: Community, storage: Storage) -> None:
    ingest(storage, [paper("2410.00001", authors=["Ada Lovelace", "Charles Babbage"],
                           title="Notes {on} the engine"),
                     paper("2410.00002", doi="10.1000/xyz")])  # fmt: skip
    ada = make_user(community, "ada")
    first = community.create_collection(ada.id, "Engines")
    second = community.create_collection(ada.id, "Everything")
    for collection in (first, second):
        community.add_to_collection(ada.id, collection.id, "2410.00001")
    community.add_to_collection(ada.id, second.id, "2410.00002")
    text = profile_bibtex(community.export_profile(ada.id))
    entries = {e["eprint"]: e for e in bibtexparser.loads(text).entries}
    assert set(entries) == {"2410.00001", "2410.00002"}
    notes = entries["2410.00001"]
    assert notes["author"] == "Ada Lovelace and Charles Babbage"
    assert notes["title"] == "Notes on the engine"  # braces taken out: the file stays valid
    assert set(notes["keywords"].split(", ")) == {"Engines", "Everything"}
    assert (
        entries["2410.00002"]["doi"] == "10.1000/xyz"
        and entries["2410.00002"]["ENTRYTYPE"] == "article"
    )
