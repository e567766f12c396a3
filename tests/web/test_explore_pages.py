"""Trend, author and category pages over HTTP: HTML with charts, JSON twins, links."""

from __future__ import annotations

import re

import pytest

from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.library import Library
from tests.explore.conftest import corpus_records
from tests.web.conftest import Client


@pytest.fixture
def corpus(web_library: Library) -> Library:
    IngestPipeline(web_library.storage).ingest_records(corpus_records())
    web_library.sync_search(embed=False)
    return web_library


def test_trends_page_compares_queries(corpus: Library, client: Client) -> None:
    response = client.get("/trends", params=[("q", "diffusion"), ("q", '"flow matching"'),
                                             ("granularity", "month")])  # fmt: skip
    assert response.status_code == 200
    html = response.text
    assert html.count('<polyline class="line') == 2
    assert "<figcaption>" in html and "“diffusion”: 4 papers" in html
    # Every point links to that period's papers, newest first.
    assert (
        "/search?q=diffusion&amp;mode=keyword&amp;sort=newest&amp;from=2025-03-01&amp;to=2025-03-31"
        in html
    )
    assert 'aria-label="diffusion, 2025-04: 2 papers"' in html
    twin = client.get("/trends.json", params=[("q", "diffusion"), ("q", '"flow matching"'),
                                              ("granularity", "month"), ("share", "1")]).json()  # fmt: skip
    numbers = twin["trend"]["numbers"]
    assert numbers["totals"] == [5, 4, 1]
    assert [s["counts"] for s in numbers["series"]] == [[2, 2, 0], [1, 2, 0]]
    assert numbers["series"][0]["shares"] == [0.4, 0.5, 0.0]
    assert "svg" not in twin["trend"]["chart"]  # the picture stays on the page


def test_trends_page_errors_and_empty(corpus: Library, client: Client) -> None:
    assert client.get("/trends").status_code == 200
    bad = client.get("/trends", params={"q": '"unclosed'})
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    five = client.get("/trends", params=[("q", w) for w in "abcde"])
    assert five.status_code == 400
    assert client.get("/trends", params={"q": "x", "granularity": "year"}).status_code == 400
    assert client.get("/trends.json", params={"q": "x", "from": "nope"}).status_code == 400


def test_search_page_links_its_trend(corpus: Library, client: Client) -> None:
    html = client.get("/search", params={"q": "diffusion", "mode": "keyword"}).text
    assert "/trends?q=diffusion" in html


def test_author_page(corpus: Library, client: Client) -> None:
    response = client.get("/authors/Jose%20Garcia")
    assert response.status_code == 200
    html = response.text
    assert "Merged spellings" in html and "JOSÉ GARCÍA (1)" in html
    assert 'href="/authors/J.%20Garc%C3%ADa"' in html  # the initials form, not merged
    assert html.count('class="card"') == 3
    assert 'class="chart chart-bars"' in html and "Papers per year by" in html
    twin = client.get("/authors/Jose%20Garcia.json").json()
    assert twin["author"]["papers"] == 3
    assert [p["id"] for p in twin["papers"]] == ["2504.00001", "2503.00003", "2503.00001"]
    assert twin["per_year"] == [{"year": 2025, "papers": 3}]
    assert {c["name"] for c in twin["coauthors"]} == {"Ada Lovelace", "Grace Hopper"}
    assert twin["years_chart"]["rows"] == [["2025", "3"]]
    assert client.get("/authors/Nobody").status_code == 404
    assert client.get("/authors/%20").status_code in (400, 404)


def test_author_and_category_names_are_links(corpus: Library, client: Client) -> None:
    html = client.get("/papers/2503.00001").text
    assert 'href="/authors/Jos%C3%A9%20Garc%C3%ADa"' in html
    assert 'href="/categories/cs.CV"' in html
    feed = client.get("/papers/date/2025-03-03").text
    assert 'href="/authors/Ada%20Lovelace"' in feed and 'href="/categories/cs.LG"' in feed


def test_category_page(corpus: Library, client: Client) -> None:
    response = client.get("/categories/cs.LG", params={"period": "week", "date": "2025-04-09"})
    assert response.status_code == 200
    html = response.text
    assert "Machine Learning" in html and html.count('class="card"') >= 2
    assert 'class="chart chart-bars"' in html
    assert 'href="/categories/stat.ML"' in html  # a neighbour
    twin = client.get("/categories/cs.LG.json").json()
    assert twin["category"]["papers"] == 8
    volume = {row["period"]: row["papers"] for row in twin["volume"]["periods"]}
    assert (
        volume["2025-W10"] == 2
        and volume["2025-W11"] == 1
        and volume["2025-W15"] == 2
        and volume["2025-W12"] == 0
    )
    assert {n["code"] for n in twin["neighbours"]} == {"cs.CV", "stat.ML", "cs.RO", "cs.SD"}
    assert client.get("/categories/cs.XX").status_code == 404
    assert client.get("/categories/cs.LG", params={"period": "year"}).status_code == 400
    assert client.get("/categories/cs.LG", params={"date": "soon"}).status_code == 400
    index = client.get("/categories").text
    assert re.search(r'href="/categories/cs.LG">cs.LG</a> Machine Learning', index)
