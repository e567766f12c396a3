"""The search page and related papers, through the real search service."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.library import Library
from tests.web.conftest import Client, add_papers, record
from tests.web.test_pages import card_ids


@pytest.fixture
def corpus(web_library: Library) -> Library:
    add_papers(
        web_library,
        record("2410.00001", title="Contrastive learning at scale",
               abstract="We scale contrastive losses to huge batches.",
               code_url="https://github.com/a/b"),
        record("2410.00002", title="Diffusion models for images",
               abstract="Denoising diffusion generates images.", categories=["cs.CV"],
               listed_on=date(2024, 10, 28)),
        record("2410.00003", title="Contrastive diffusion",
               abstract="Combining contrastive learning with diffusion models.",
               categories=["cs.LG"], listed_on=date(2024, 11, 4)),
    )  # fmt: skip
    web_library.sync_search()
    return web_library


def test_search_page_without_a_query_shows_the_form(client: Client) -> None:
    response = client.get("/search")
    assert response.status_code == 200
    assert 'role="search"' in response.text and '<label for="q"' in response.text
    assert 'hx-get="/search"' in response.text and "delay:300ms" in response.text
    assert 'hx-push-url="true"' in response.text
    data = client.get("/search.json").json()
    assert data["results"] is None and data["form"]["mode"] == "hybrid"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("q=x&mode=fuzzy", "mode must be one of"),
        ("q=x&sort=random", "sort must be one of"),
        ("q=x&from=yesterday", "is not a date"),
        ("q=x&from=2024-12-01&to=2024-01-01", "is after"),
        ("q=x&has_code=maybe", "has_code must be true or false"),
        ("q=x&page=0", "page must be between"),
    ],
)
def test_bad_search_parameters_are_400_and_keep_the_form(
    client: Client, query: str, message: str
) -> None:
    response = client.get(f"/search?{query}")
    assert response.status_code == 400
    assert message in response.text
    assert 'value="x"' in response.text  # what was typed stays in the box
    assert message in client.get(f"/search.json?{query}").json()["error"]
    fragment = client.get(
        f"/search?{query}", headers={"hx-request": "true", "hx-target": "results"}
    )
    assert fragment.status_code == 400
    assert fragment.text.lstrip().startswith('<section id="results"') and message in fragment.text


def test_search_finds_papers_and_the_twin_matches(client: Client, corpus: Library) -> None:
    response = client.get("/search?q=contrastive&mode=keyword")
    assert response.status_code == 200
    found = card_ids(response.text)
    assert set(found) == {"2410.00001", "2410.00003"}
    data = client.get("/search.json?q=contrastive&mode=keyword").json()
    assert [hit["id"] for hit in data["results"]["hits"]] == found
    assert data["results"]["mode_used"] == "keyword"
    assert data["results"]["total"] == 2


def test_search_filters_and_sorts(client: Client, corpus: Library) -> None:
    with_code = client.get("/search.json?q=contrastive&mode=keyword&has_code=1").json()
    assert [hit["id"] for hit in with_code["results"]["hits"]] == ["2410.00001"]
    newest = client.get("/search.json?q=contrastive&mode=keyword&sort=newest").json()
    assert [hit["id"] for hit in newest["results"]["hits"]] == ["2410.00003", "2410.00001"]
    dated = client.get("/search.json?q=diffusion&mode=keyword&from=2024-11-01").json()
    assert [hit["id"] for hit in dated["results"]["hits"]] == ["2410.00003"]
    category = client.get("/search.json?q=diffusion&mode=keyword&category=cs.CV").json()
    assert [hit["id"] for hit in category["results"]["hits"]] == ["2410.00002"]


def test_search_as_you_type_returns_only_the_results_fragment(
    client: Client, corpus: Library
) -> None:
    headers = {"hx-request": "true", "hx-target": "results"}
    fragment = client.get("/search?q=diffusion&mode=keyword", headers=headers)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="results"')
    assert "<html" not in fragment.text
    assert set(card_ids(fragment.text)) == {"2410.00002", "2410.00003"}
    restore = client.get("/search?q=diffusion&mode=keyword",
                         headers={**headers, "hx-history-restore-request": "true"})  # fmt: skip
    assert "<html" in restore.text  # history restores need the whole page


def test_search_pagination(client: Client, web_library: Library) -> None:
    add_papers(web_library, *(record(f"2410.{i:05d}", title=f"Sparse experts {i}")
                              for i in range(1, 26)))  # fmt: skip
    web_library.sync_search()
    first = client.get("/search?q=experts&mode=keyword")
    assert len(card_ids(first.text)) == 20
    assert "page=2" in first.text
    second = client.get("/search?q=experts&mode=keyword&page=2")
    assert len(card_ids(second.text)) == 5


def test_paper_page_shows_related_papers(client: Client, corpus: Library) -> None:
    data = client.get("/papers/2410.00003.json").json()
    related = [card["id"] for card in data["related"]]
    assert "2410.00003" not in related
    assert related, "a paper about contrastive diffusion has neighbours here"
    html = client.get("/papers/2410.00003").text
    assert "Related papers" in html and related[0] in html


def test_bad_query_syntax_is_400_with_the_parsers_message(client: Client, corpus: Library) -> None:
    response = client.get('/search?q="unclosed')
    assert response.status_code == 400
    assert "unbalanced quote" in response.text
    assert 'value="&#34;unclosed"' in response.text or 'value="&quot;unclosed"' in response.text
    assert client.get('/search.json?q="unclosed').status_code == 400


def test_default_hybrid_search_says_which_branches_found_each_paper(
    client: Client, corpus: Library
) -> None:
    data = client.get("/search.json?q=contrastive").json()["results"]
    assert data["mode_requested"] == "hybrid"
    assert {hit["id"] for hit in data["hits"]} >= {"2410.00001", "2410.00003"}
    html = client.get("/search?q=contrastive").text
    if data["mode_used"] != "hybrid":  # no embedding model here: the page must say so
        assert data["notice"] and data["notice"] in html
    first = data["hits"][0]
    assert first["ranks"], "each hit names the branches that found it"
    assert "Found by" in html
