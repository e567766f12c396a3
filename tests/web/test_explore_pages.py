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
    assert "Log in to follow" in html  # the follow button, for anonymous visitors
    client.sign_up()
    signed_in = client.get("/authors/Jose%20Garcia").text
    assert 'name="kind" value="author"' in signed_in
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


# -- the map -------------------------------------------------------------------------------


@pytest.fixture
def mapped(web_library: Library, tmp_path) -> Library:  # type: ignore[no-untyped-def]
    from paperfeed.explore.fieldmap import FieldMap
    from tests.explore.test_fieldmap import MODEL, add, corpus

    add(web_library.storage, corpus())
    web_library.sync_search(embed=False)
    web_library.field_map = FieldMap(web_library.storage, tmp_path / "map", lambda: MODEL)
    web_library.field_map.sync()
    return web_library


def test_map_page_draws_named_neighbourhoods(mapped: Library, client: Client) -> None:
    response = client.get("/map")
    assert response.status_code == 200
    html = response.text
    assert '<svg class="map"' in html and 'class="dots c' in html
    assert "Map of 90 papers in 3 neighbourhoods" in html
    assert 'class="label"' in html and "diffusion" in html
    assert "/static/map.js" in html
    twin = client.get("/map.json").json()
    assert twin["map"]["papers"] == 90 and len(twin["map"]["points"]) == 90
    assert sum(n["papers"] for n in twin["map"]["neighbourhoods"]) == 90
    assert "svg" not in twin["map"]


def test_map_highlights_a_search_and_zooms(mapped: Library, client: Client) -> None:
    twin = client.get("/map.json", params={"q": "robot"}).json()
    assert twin["map"]["highlight"]["matches"] == 30 and len(twin["map"]["highlights"]) == 30
    html = client.get("/map", params={"q": "robot"}).text
    assert html.count('<circle class="hl"') == 30 and "30 papers match" in html
    first = twin["map"]["highlights"][0]
    zoomed = client.get("/map.json", params={"x": first["x"], "y": first["y"], "z": 8}).json()
    assert zoomed["map"]["zoom"] == 8 and zoomed["map"]["in_view"] < 90
    fragment = client.get("/map/view", params={"z": 2})
    assert fragment.status_code == 200 and fragment.text.startswith('<div id="map-canvas"')
    for bad in ({"z": "0"}, {"z": "1e9"}, {"x": "nan"}, {"x": "west"}, {"show": "everything"},
                {"q": '"unclosed'}):  # fmt: skip
        assert client.get("/map", params=bad).status_code == 400, bad


def test_map_shows_a_users_upvotes(mapped: Library, client: Client) -> None:
    client.sign_up()
    client.form_post("/papers/2503.00001", "/papers/2503.00001/upvote", {})
    twin = client.get("/map.json", params={"show": "upvotes"}).json()
    assert [p["id"] for p in twin["map"]["highlights"]] == ["2503.00001"]
    assert 'name="show"' in client.get("/map").text  # the choice is offered when signed in


def test_paper_page_shows_where_it_sits(mapped: Library, client: Client) -> None:
    html = client.get("/papers/2503.00031").text
    assert '<svg class="map map-compact"' in html and 'class="focus-ring"' in html
    assert "/map?focus=2503.00031&amp;z=4" in html
    twin = client.get("/papers/2503.00031.json").json()
    assert "robot" in twin["map"]["neighbourhood"]


def test_map_page_before_the_map_exists(web_library: Library, client: Client) -> None:
    response = client.get("/map")
    assert response.status_code == 200 and "not drawn yet" in response.text
