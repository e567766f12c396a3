"""Every page over HTTP on both engines, its JSON twin, navigation and error pages."""

from __future__ import annotations

import re
from datetime import date

import pytest

from paperfeed.library import Library
from tests.web.conftest import Client, add_papers, record


def card_ids(html: str) -> list[str]:
    """Paper ids in the order their cards appear (each card's title links to its page)."""
    return re.findall(r'class="card-title"><a href="/papers/([^"]+)"', html)


@pytest.fixture
def feed(web_library: Library) -> Library:
    """Papers on three feed days in two ISO weeks and two months, with upvotes."""
    add_papers(
        web_library,
        record("2410.00001", listed_on=date(2024, 10, 25), code_url="https://github.com/a/b",
               facts=None),
        record("2410.00002", listed_on=date(2024, 10, 25)),
        record("2410.00003", listed_on=date(2024, 10, 28)),  # Monday of the next week
        record("2411.00004", listed_on=date(2024, 11, 4)),
    )  # fmt: skip
    add_papers(  # an upvote count from Hugging Face puts 00002 above 00001
        web_library,
        record("2410.00002", source="huggingface", listed_on=date(2024, 10, 25),
               facts=_hf_facts(7)),
    )  # fmt: skip
    return web_library


def _hf_facts(upvotes: int):
    from paperfeed.models import SourceFacts

    return SourceFacts(source="huggingface", upvotes=upvotes)


def test_daily_page_lists_the_days_papers_by_upvotes_with_day_navigation(
    client: Client, feed: Library
) -> None:
    response = client.get("/papers/date/2024-10-25")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert card_ids(response.text) == ["2410.00002", "2410.00001"]
    assert 'href="/papers/date/2024-10-28" rel="next"' in response.text
    assert 'rel="prev"' not in response.text  # nothing before the first day
    assert ">7</span>" in response.text  # the upvote count on the card
    assert "Code</a>" in response.text  # the code badge of 00001
    assert (  # the first three authors, each a link to their page, then how many more
        '<a href="/authors/Zesen%20Cheng">Zesen Cheng</a>, <a href="/authors/Hang%20Zhang">'
        'Hang Zhang</a>, <a href="/authors/Kehan%20Li">Kehan Li</a> and 1 more'
    ) in response.text

    later = client.get("/papers/date/2024-10-28")
    assert card_ids(later.text) == ["2410.00003"]
    assert 'href="/papers/date/2024-10-25" rel="prev"' in later.text
    assert 'href="/papers/date/2024-11-04" rel="next"' in later.text


def test_home_is_the_latest_day(client: Client, feed: Library) -> None:
    home = client.get("/")
    assert home.status_code == 200
    assert card_ids(home.text) == ["2411.00004"]
    assert "Monday 4 November 2024" in home.text
    assert card_ids(client.get("/papers/date").text) == ["2411.00004"]
    assert card_ids(client.get("/papers/week").text) == ["2411.00004"]


def test_an_empty_day_still_links_to_its_neighbours(client: Client, feed: Library) -> None:
    response = client.get("/papers/date/2024-10-26")
    assert response.status_code == 200
    assert card_ids(response.text) == []
    assert "No papers on this day" in response.text
    assert 'href="/papers/date/2024-10-25" rel="prev"' in response.text
    assert 'href="/papers/date/2024-10-28" rel="next"' in response.text


def test_week_and_month_pages(client: Client, feed: Library) -> None:
    week = client.get("/papers/week/2024-W43")
    assert week.status_code == 200
    assert card_ids(week.text) == ["2410.00002", "2410.00001"]
    assert 'href="/papers/week/2024-W44" rel="next"' in week.text
    month = client.get("/papers/month/2024-10")
    assert card_ids(month.text) == ["2410.00002", "2410.00003", "2410.00001"]  # ties: newer first
    assert 'href="/papers/month/2024-11" rel="next"' in month.text
    latest_month = client.get("/papers/month")
    assert card_ids(latest_month.text) == ["2411.00004"]
    assert 'href="/papers/month/2024-10" rel="prev"' in latest_month.text


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/papers/date/2024-13-01", "is not a date"),
        ("/papers/week/2024-W60", "is not an ISO week"),
        ("/papers/month/2024-1", "is not a month"),
        ("/papers/date/2024-10-25?page=zero", "page must be a number"),
    ],
)
def test_bad_feed_urls_are_400_with_the_reason(
    client: Client, feed: Library, url: str, message: str
) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert message in response.text
    twin = client.get(url.replace("?", ".json?") if "?" in url else url + ".json")
    assert twin.status_code == 400
    assert message in twin.json()["error"]


def test_daily_pagination(client: Client, web_library: Library) -> None:
    add_papers(web_library, *(record(f"2410.{i:05d}") for i in range(1, 56)))
    first = client.get("/papers/date/2024-10-25")
    assert len(card_ids(first.text)) == 50
    assert 'href="/papers/date/2024-10-25?page=2" rel="next"' in first.text
    second = client.get("/papers/date/2024-10-25?page=2")
    assert len(card_ids(second.text)) == 5
    assert not set(card_ids(first.text)) & set(card_ids(second.text))
    assert client.get("/papers/date/2024-10-25?page=3").status_code == 404


def test_json_twin_is_the_page_data(client: Client, feed: Library) -> None:
    page = client.get("/papers/date/2024-10-25")
    by_suffix = client.get("/papers/date/2024-10-25.json")
    by_accept = client.get("/papers/date/2024-10-25", headers={"accept": "application/json"})
    assert by_suffix.headers["content-type"] == "application/json"
    assert by_suffix.json() == by_accept.json()
    data = by_suffix.json()
    assert [p["id"] for p in data["papers"]] == card_ids(page.text)
    assert data["start"] == data["end"] == "2024-10-25"
    assert data["next"]["url"] == "/papers/date/2024-10-28"
    assert data["previous"] is None
    first = data["papers"][0]
    assert first["upvotes"] == 7 and first["upvoted"] is None  # anonymous: no vote state
    assert first["title"] in page.text
    assert data["pagination"]["total"] == 2
    home = client.get("/index.json").json()
    assert [p["id"] for p in home["papers"]] == ["2411.00004"]


def test_twin_of_every_page_is_json(client: Client, feed: Library) -> None:
    for url in ("/", "/papers/week/2024-W43", "/papers/month/2024-10", "/trending",
                "/about/ranking", "/papers/2410.00001", "/collections", "/login", "/signup"):  # fmt: skip
        twin = client.get(url + ".json" if url != "/" else "/index.json")
        assert twin.status_code == 200, url
        assert twin.headers["content-type"] == "application/json", url
        assert "<html" not in twin.text


def test_paper_page(client: Client, feed: Library) -> None:
    response = client.get("/papers/2410.00001")
    assert response.status_code == 200
    html = response.text
    assert "Paper 2410.00001: scaling contrastive learning" in html
    assert "Contrastive loss is a powerful approach" in html
    for name in ("Zesen Cheng", "Hang Zhang", "Kehan Li", "Sicong Leng"):  # all, as links
        assert f'<a href="/authors/{name.replace(" ", "%20")}">{name}</a>' in html
    for link in ("https://arxiv.org/abs/2410.00001", "https://arxiv.org/pdf/2410.00001",
                 "https://github.com/a/b"):  # fmt: skip
        assert f'href="{link}"' in html
    assert 'href="/papers/date/2024-10-25"' in html
    assert "cs.CV" in html
    twin = client.get("/papers/2410.00001.json").json()
    assert twin["paper"]["id"] == "2410.00001"
    assert twin["paper"]["abstract"].startswith("Contrastive loss")
    assert {link["label"] for link in twin["links"]} == {"Abstract page", "PDF", "Code"}
    assert twin["collections"]["collections"] == []


def test_paper_page_accepts_versions_urls_and_old_style_ids(
    client: Client, web_library: Library
) -> None:
    add_papers(web_library, record("hep-th/9901001", title="Old style"))
    assert client.get("/papers/hep-th/9901001").status_code == 200
    assert "Old style" in client.get("/papers/hep-th/9901001").text
    assert client.get("/papers/hep-th/9901001.json").json()["paper"]["id"] == "hep-th/9901001"
    add_papers(web_library, record("2410.17243"))
    assert client.get("/papers/2410.17243v2").status_code == 200


def test_unknown_paper_and_page_are_404(client: Client, feed: Library) -> None:
    response = client.get("/papers/2999.99999")
    assert response.status_code == 404
    assert "no paper with id" in response.text
    assert "<html" in response.text
    twin = client.get("/papers/2999.99999.json")
    assert twin.status_code == 404
    assert twin.json() == {"error": "no paper with id '2999.99999'", "status": 404}
    assert client.get("/no/such/page").status_code == 404


def test_trending_explains_each_card(client: Client, feed: Library) -> None:
    response = client.get("/trending")
    assert response.status_code == 200
    assert "Why is this here?" in response.text
    data = client.get("/trending.json").json()
    assert data["formula"] == "score = (upvotes + 1) / (age_hours + 2) ^ 1.5"
    assert data["papers"], "the window falls back to the newest feed days"
    first = data["papers"][0]
    assert first["why"] in response.text
    assert first["rank"] == 1
    assert [p["id"] for p in data["papers"]] == card_ids(response.text)


def test_about_ranking_publishes_the_formula(client: Client, feed: Library) -> None:
    response = client.get("/about/ranking")
    assert response.status_code == 200
    assert "score = (upvotes + 1) / (age_hours + 2) ^ 1.5" in response.text
    data = client.get("/about/ranking.json").json()
    assert data["constants"] == {"vote_prior": 1, "age_offset_hours": 2.0, "gravity": 1.5}
    assert data["examples"][0]["score"] > 0


def test_empty_installation_says_how_to_get_papers(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "paperfeed demo" in response.text


def test_static_assets_are_local(client: Client) -> None:
    page = client.get("/").text
    scripts = re.findall(r'<script src="([^"]+)"', page)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert scripts and styles
    for url in scripts + styles:
        assert url.startswith("/static/"), url
        asset = client.get(url)
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]  # the URL carries a content hash
    assert "http://" not in page.split("<main")[0] and "https://" not in page.split("<main")[0]


def test_pages_are_accessible_by_construction(client: Client, feed: Library) -> None:
    html = client.get("/papers/date/2024-10-25").text
    assert '<html lang="en">' in html
    assert 'class="skip-link" href="#main"' in html and '<main id="main"' in html
    assert html.count("<h1") == 1
    login = client.get("/login").text
    for field in ("login", "password"):
        assert f'<label for="{field}">' in login and f'id="{field}"' in login
