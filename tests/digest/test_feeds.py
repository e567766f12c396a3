"""Atom and RSS feeds, parsed back with feedparser (and checked as well-formed XML)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from xml.etree import ElementTree

import anyio.from_thread
import feedparser
import pytest
from fastapi import FastAPI

from paperfeed.library import Library
from paperfeed.settings import Settings
from paperfeed.web.app import create_app
from tests.digest.conftest import FRIDAY, add_papers, record, with_votes
from tests.web.conftest import Client

TRICKY_TITLE = "Attention <is> all & $\\alpha$-entmax\x01 needs"  # \x01: not allowed in XML
TRICKY_ABSTRACT = (
    "We show that x < y && z > 0 for $O(n^2)$ cost </summary><script>alert(1)</script>"
)


@pytest.fixture
def papers(library: Library) -> Library:
    add_papers(
        library,
        with_votes("2410.00001", 40, title=TRICKY_TITLE, abstract=TRICKY_ABSTRACT,
                   authors=["Zoë Müller", "Yann LeCun"], categories=["cs.LG", "stat.ML"]),
        with_votes("2410.00002", 10, title="Diffusion for graphs"),
        record("2410.00003", day=FRIDAY - timedelta(days=1), title="Yesterday's paper"),
    )  # fmt: skip
    return library


@pytest.fixture
def client(papers: Library, settings: Settings) -> Iterator[Client]:
    app: FastAPI = create_app(papers, settings)
    with anyio.from_thread.start_blocking_portal() as portal:
        opened = Client(app, portal, base_url="https://papers.example.org")
        yield opened
        opened.close()


def fetch(client: Client, path: str, media_type: str) -> feedparser.FeedParserDict:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    ElementTree.fromstring(response.content)  # well-formed XML, or this raises
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_daily_atom(client: Client) -> None:
    feed = fetch(client, "/feeds/daily.atom", "application/atom+xml")
    assert feed.version == "atom10"
    assert feed.feed.title == "paperfeed: daily papers, 25 October 2024"
    assert feed.feed.link == "https://papers.example.org/papers/date/2024-10-25"
    assert [e.id for e in feed.entries] == [
        "https://papers.example.org/papers/2410.00001",
        "https://papers.example.org/papers/2410.00002",
    ]
    first = feed.entries[0]
    assert first.title == "Attention <is> all & α-entmax needs"
    assert "x < y && z > 0" in first.summary and "O(n²)" in first.summary
    assert "<script>" in first.summary  # as text, not markup: feedparser decoded the escapes
    assert [a.name for a in first.authors] == ["Zoë Müller", "Yann LeCun"]
    assert [t.term for t in first.tags] == ["cs.LG", "stat.ML"]
    assert any(link.href == "https://arxiv.org/abs/2410.00001" for link in first.links)
    raw = client.get("/feeds/daily.atom").text
    assert "<script>" not in raw and "&lt;script&gt;" in raw


def test_daily_rss(client: Client) -> None:
    feed = fetch(client, "/feeds/daily.rss", "application/rss+xml")
    assert feed.version == "rss20"
    assert [e.link for e in feed.entries] == [
        "https://papers.example.org/papers/2410.00001",
        "https://papers.example.org/papers/2410.00002",
    ]
    assert feed.entries[0].published_parsed[:3] == (2024, 10, 25)
    assert feed.entries[0].title == "Attention <is> all & α-entmax needs"


def test_trending_feeds(client: Client) -> None:
    atom = fetch(client, "/feeds/trending.atom", "application/atom+xml")
    assert atom.entries[0].id.endswith("/2410.00001")
    assert {e.id.rsplit("/", 1)[1] for e in atom.entries} == {
        "2410.00001",
        "2410.00002",
        "2410.00003",
    }
    rss = fetch(client, "/feeds/trending.rss", "application/rss+xml")
    assert len(rss.entries) == 3


def test_search_feed(client: Client) -> None:
    feed = fetch(client, "/feeds/search.atom?q=diffusion&mode=keyword", "application/atom+xml")
    assert [e.id.rsplit("/", 1)[1] for e in feed.entries] == ["2410.00002"]
    assert feed.feed.link == "https://papers.example.org/search?q=diffusion&mode=keyword"
    rss = fetch(client, "/feeds/search.rss?q=diffusion&mode=keyword", "application/rss+xml")
    assert len(rss.entries) == 1
    assert client.get("/feeds/search.atom").status_code == 400
    assert client.get("/feeds/search.atom?q=x&mode=telepathy").status_code == 400


def test_collection_feeds_only_for_public_collections(client: Client, papers: Library) -> None:
    community = papers.community
    ada = community.create_user("ada", "ada@example.org", "correct horse battery")
    public = community.create_collection(ada.id, "Reading <list> & more", public=True)
    private = community.create_collection(ada.id, "Secret", public=False)
    for collection in (public, private):
        community.add_to_collection(ada.id, collection.id, "2410.00002")
    feed = fetch(client, f"/feeds/collections/{public.id}.atom", "application/atom+xml")
    assert feed.feed.title == "paperfeed: Reading <list> & more by ada"
    assert [e.id.rsplit("/", 1)[1] for e in feed.entries] == ["2410.00002"]
    assert fetch(client, f"/feeds/collections/{public.id}.rss", "application/rss+xml").entries
    for suffix in ("atom", "rss"):
        assert client.get(f"/feeds/collections/{private.id}.{suffix}").status_code == 404
        assert client.get(f"/feeds/collections/999.{suffix}").status_code == 404


def test_empty_site_has_valid_feeds(settings: Settings, library: Library) -> None:
    app = create_app(library, settings)
    with anyio.from_thread.start_blocking_portal() as portal:
        client = Client(app, portal, base_url="https://papers.example.org")
        try:
            for path, media in (("/feeds/daily.atom", "application/atom+xml"),
                                ("/feeds/trending.rss", "application/rss+xml")):  # fmt: skip
                assert fetch(client, path, media).entries == []
        finally:
            client.close()
