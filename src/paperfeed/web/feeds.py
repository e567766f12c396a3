"""Atom 1.0 and RSS 2.0 feeds: daily, trending, a saved search, a public collection, a group.

``/feeds/daily.atom``, ``/feeds/trending.atom``, ``/feeds/search.atom?q=...&mode=...``,
``/feeds/collections/{id}.atom`` and a group's ``/feeds/groups/{id}/{secret token}.atom``
(a wrong token is a 404, as for a group that does not exist), each also as ``.rss``. Documents are built
with ``xml.etree`` (which escapes text and attributes) after removing characters
XML 1.0 cannot carry at all, so imported metadata cannot break a feed reader.
Links are absolute, on ``settings.base_url``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Literal
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element, SubElement, tostring

from fastapi import APIRouter, Request
from starlette.responses import Response

from paperfeed.errors import InputError, PaperfeedError
from paperfeed.latex import readable
from paperfeed.library import Library
from paperfeed.models import Paper, utc_now
from paperfeed.web.render import safe_url
from paperfeed.web.views.common import library_of

router = APIRouter(include_in_schema=False)

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50
FeedFormat = Literal["atom", "rss"]
MEDIA_TYPES: dict[str, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
}
# Everything XML 1.0 allows: tab, newline, carriage return and the non-control planes.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class SearchUnavailable(PaperfeedError):
    """Search is not installed (HTTP 503)."""


def clean(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


def rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class FeedDocument:
    title: str
    subtitle: str
    #: The HTML page the feed follows, and the feed's own path (both site-relative).
    page_path: str
    self_path: str
    papers: Sequence[Paper]


def _updated(paper: Paper) -> datetime:
    return paper.modified_at or paper.updated_at or paper.published_at or utc_now()


def _text(parent: Element, tag: str, text: str, **attributes: str) -> Element:
    element = SubElement(parent, tag, attributes)
    element.text = clean(text)
    return element


def atom(document: FeedDocument, base_url: str) -> bytes:
    base = base_url.rstrip("/")
    feed = Element("feed", {"xmlns": ATOM_NS})
    _text(feed, "id", base + document.self_path)
    _text(feed, "title", document.title)
    _text(feed, "subtitle", document.subtitle)
    newest = max((_updated(p) for p in document.papers), default=utc_now())
    _text(feed, "updated", rfc3339(newest))
    SubElement(feed, "link", {"rel": "self", "type": MEDIA_TYPES["atom"].split(";")[0],
                              "href": clean(base + document.self_path)})  # fmt: skip
    SubElement(feed, "link", {"rel": "alternate", "type": "text/html",
                              "href": clean(base + document.page_path)})  # fmt: skip
    author = SubElement(feed, "author")  # entries without author names inherit this one
    _text(author, "name", "paperfeed")
    _text(feed, "generator", "paperfeed")
    for paper in document.papers:
        url = f"{base}/papers/{quote(paper.id, safe='/')}"
        entry = SubElement(feed, "entry")
        _text(entry, "id", url)
        _text(entry, "title", readable(paper.display_title), type="text")
        _text(entry, "updated", rfc3339(_updated(paper)))
        if paper.published_at:
            _text(entry, "published", rfc3339(paper.published_at))
        SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": clean(url)})
        arxiv = safe_url(paper.abs_url)
        if arxiv:
            SubElement(entry, "link", {"rel": "related", "href": clean(arxiv)})
        for name in paper.authors:
            _text(SubElement(entry, "author"), "name", readable(name))
        for category in paper.categories:
            SubElement(entry, "category", {"term": clean(category)})
        _text(entry, "summary", readable(paper.abstract), type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(feed, encoding="unicode").encode()


def rss(document: FeedDocument, base_url: str) -> bytes:
    base = base_url.rstrip("/")
    root = Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS})
    channel = SubElement(root, "channel")
    _text(channel, "title", document.title)
    _text(channel, "link", base + document.page_path)
    _text(channel, "description", document.subtitle)
    SubElement(channel, "atom:link", {"rel": "self", "type": MEDIA_TYPES["rss"].split(";")[0],
                                      "href": clean(base + document.self_path)})  # fmt: skip
    newest = max((_updated(p) for p in document.papers), default=utc_now())
    _text(channel, "lastBuildDate", format_datetime(newest, usegmt=True))
    _text(channel, "generator", "paperfeed")
    for paper in document.papers:
        url = f"{base}/papers/{quote(paper.id, safe='/')}"
        item = SubElement(channel, "item")
        _text(item, "title", readable(paper.display_title))
        _text(item, "link", url)
        _text(item, "guid", url, isPermaLink="true")
        _text(item, "description", readable(paper.abstract))
        if paper.published_at:
            _text(item, "pubDate", format_datetime(paper.published_at, usegmt=True))
        for category in paper.categories:
            _text(item, "category", category)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(root, encoding="unicode").encode()


def respond(request: Request, document: FeedDocument, kind: FeedFormat) -> Response:
    body = (atom if kind == "atom" else rss)(document, request.app.state.settings.base_url)
    return Response(body, media_type=MEDIA_TYPES[kind],
                    headers={"cache-control": "public, max-age=300"})  # fmt: skip


def _self_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


# -- the feeds ------------------------------------------------------------------------------


def daily_document(library: Library, self_path: str) -> FeedDocument:
    feed = library.feed("day", limit=FEED_SIZE)
    label = f"{feed.start:%-d %B %Y}" if feed.start else "no papers yet"
    page_path = f"/papers/date/{feed.start.isoformat()}" if feed.start else "/"
    return FeedDocument(f"paperfeed: daily papers, {label}",
                        "The latest day's papers, most upvoted first.",
                        page_path, self_path, feed.papers)  # fmt: skip


def trending_document(library: Library, self_path: str) -> FeedDocument:
    papers = [score.paper for score in library.trending(limit=FEED_SIZE)]
    return FeedDocument("paperfeed: trending papers",
                        "Papers ranked by the published trending formula (/about/ranking).",
                        "/trending", self_path, papers)  # fmt: skip


def search_document(library: Library, self_path: str, q: str, mode: str) -> FeedDocument:
    from paperfeed.search.models import SEARCH_MODES

    query = (q or "").strip()
    if not query:
        raise InputError("a search feed needs a query: /feeds/search.atom?q=...")
    if mode not in SEARCH_MODES:
        raise InputError(f"mode must be one of {', '.join(SEARCH_MODES)}, not {mode[:20]!r}")
    search = getattr(library, "search", None)
    if search is None:
        raise SearchUnavailable("search is not available on this server")
    results = search(query, mode=mode, sort="newest", limit=FEED_SIZE)
    page_path = "/search?" + urlencode({"q": query, "mode": mode})
    return FeedDocument(f"paperfeed: search for {query}",
                        f"Newest papers matching {query!r} ({results.mode_used} search).",
                        page_path, self_path, [hit.paper for hit in results.hits])  # fmt: skip


def collection_document(library: Library, self_path: str, collection_id: int) -> FeedDocument:
    community = library.community
    # Anonymous: only public collections are found; a private one is a 404, like its page.
    found = community.collection(collection_id, viewer_id=None)
    papers = community.collection_papers(collection_id, viewer_id=None, limit=FEED_SIZE)
    return FeedDocument(f"paperfeed: {found.name} by {found.owner_username}",
                        found.description or f"Papers in the collection {found.name}.",
                        f"/collections/{collection_id}", self_path, papers)  # fmt: skip


def group_document(library: Library, self_path: str, group_id: int, token: str) -> FeedDocument:
    group, ranked = library.community.group_feed_by_token(group_id, token, limit=FEED_SIZE)
    return FeedDocument(f"paperfeed: {group.name}",
                        f"Papers ranked by the upvotes of the members of {group.name}.",
                        f"/groups/{group.id}", self_path, [s.paper for s in ranked])  # fmt: skip


@router.get("/feeds/groups/{group_id:int}/{token}.atom")
def group_atom(request: Request, group_id: int, token: str) -> Response:
    document = group_document(library_of(request), _self_path(request), group_id, token)
    return respond(request, document, "atom")


@router.get("/feeds/groups/{group_id:int}/{token}.rss")
def group_rss(request: Request, group_id: int, token: str) -> Response:
    document = group_document(library_of(request), _self_path(request), group_id, token)
    return respond(request, document, "rss")


@router.get("/feeds/daily.atom")
def daily_atom(request: Request) -> Response:
    return respond(request, daily_document(library_of(request), _self_path(request)), "atom")


@router.get("/feeds/daily.rss")
def daily_rss(request: Request) -> Response:
    return respond(request, daily_document(library_of(request), _self_path(request)), "rss")


@router.get("/feeds/trending.atom")
def trending_atom(request: Request) -> Response:
    return respond(request, trending_document(library_of(request), _self_path(request)), "atom")


@router.get("/feeds/trending.rss")
def trending_rss(request: Request) -> Response:
    return respond(request, trending_document(library_of(request), _self_path(request)), "rss")


def _search_feed(request: Request, q: str, mode: str, kind: FeedFormat) -> Response:
    try:
        document = search_document(library_of(request), _self_path(request), q, mode)
    except SearchUnavailable as exc:
        return request.app.state.renderer.error(request, 503, str(exc))
    return respond(request, document, kind)


@router.get("/feeds/search.atom")
def search_atom(request: Request, q: str = "", mode: str = "hybrid") -> Response:
    return _search_feed(request, q, mode, "atom")


@router.get("/feeds/search.rss")
def search_rss(request: Request, q: str = "", mode: str = "hybrid") -> Response:
    return _search_feed(request, q, mode, "rss")


@router.get("/feeds/collections/{collection_id:int}.atom")
def collection_atom(request: Request, collection_id: int) -> Response:
    document = collection_document(library_of(request), _self_path(request), collection_id)
    return respond(request, document, "atom")


@router.get("/feeds/collections/{collection_id:int}.rss")
def collection_rss(request: Request, collection_id: int) -> Response:
    document = collection_document(library_of(request), _self_path(request), collection_id)
    return respond(request, document, "rss")
