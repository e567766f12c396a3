"""The JSON API's read side: Hugging Face shapes, periods, sorts, paging, errors, /docs.

Every test runs the real app over HTTP (ASGI) on each storage engine. Write
endpoints and their authentication are in ``test_api_writes.py``; the official
``huggingface_hub`` client against a real server is in ``test_hf_client.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import TypeAdapter

from paperfeed.library import Library
from paperfeed.models import SourceFacts
from paperfeed.sources.huggingface import parse_daily_papers
from paperfeed.web.api_hf import HFDailyPaper
from tests.conftest import FIXTURES
from tests.web.conftest import Client, add_papers, record

HF_DAY = date(2024, 10, 25)
HF_RESPONSE = FIXTURES / "huggingface" / "daily_papers_2024-10-25.json"
HF_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
#: Lists of papers skip FastAPI's response check for speed; the tests hold them to the
#: documented schema instead (unknown keys are refused).
PAPER_LIST = TypeAdapter(list[HFDailyPaper])


@pytest.fixture
def hf_day(web_library: Library) -> Library:
    """The recorded Hugging Face response for 2024-10-25, imported as a user would."""
    web_library.import_files([HF_RESPONSE], format="hf-daily-json")
    return web_library


def test_daily_papers_answers_in_the_shape_of_the_recorded_hub_response(
    client: Client, hf_day: Library
) -> None:
    recorded = json.loads(HF_RESPONSE.read_text())
    response = client.get("/api/daily_papers", params={"date": "2024-10-25"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    PAPER_LIST.validate_python(served)
    assert [item["paper"]["id"] for item in served] == [item["paper"]["id"] for item in recorded]
    for ours, theirs in zip(served, recorded, strict=True):
        # Every key the Hub sends, except its media (thumbnails, uploads) we have none of.
        assert set(theirs) - {"mediaUrls", "thumbnail"} <= set(ours)
        assert set(theirs["paper"]) - {"discussionId"} <= set(ours["paper"])
        assert ours["paper"]["upvotes"] == theirs["paper"]["upvotes"]
        assert ours["paper"]["publishedAt"] == theirs["paper"]["publishedAt"]
        assert [a["name"] for a in ours["paper"]["authors"]] == [
            a["name"] for a in theirs["paper"]["authors"]
        ]
        assert all(a["hidden"] is False for a in ours["paper"]["authors"])
        assert ours["numComments"] == theirs["numComments"]
        assert ours["submittedBy"]["name"] == theirs["submittedBy"]["name"]
        assert ours["publishedAt"] == "2024-10-25T00:00:00.000Z"  # the feed day
        assert ours["isAuthorParticipating"] is False
    # Read back by the importer that reads the Hub: the same records come out.
    mine = parse_daily_papers(response.content, featured_on=HF_DAY)
    hub = parse_daily_papers(HF_RESPONSE.read_bytes(), featured_on=HF_DAY)
    assert [(r.arxiv_id, r.title, r.abstract, r.authors, r.facts) for r in mine] == [
        (r.arxiv_id, r.title, r.abstract, r.authors, r.facts) for r in hub
    ]


def test_paper_info_is_the_flat_paper_object(client: Client, hf_day: Library) -> None:
    info = client.get("/api/papers/2410.17243").json()
    assert info["id"] == "2410.17243"
    assert info["title"].startswith("Breaking the Memory Barrier")
    assert info["summary"].startswith("Contrastive loss is a powerful approach")
    assert info["upvotes"] == 64
    assert HF_TIME.match(info["publishedAt"])
    assert info["numComments"] == 3
    assert info["submittedOnDailyAt"] == "2024-10-25T00:00:00.000Z"
    assert info["submittedOnDailyBy"]["name"] == "ClownRat"
    assert info["url"] == "/papers/2410.17243"
    # A version suffix finds the same paper; an unknown one is a JSON 404.
    assert client.get("/api/papers/2410.17243v2").json()["id"] == "2410.17243"
    missing = client.get("/api/papers/2410.99999")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no paper with id '2410.99999'", "status": 404}


def test_links_and_old_style_ids(client: Client, web_library: Library) -> None:
    add_papers(
        web_library,
        record("hep-th/9901001", code_url="https://github.com/ada/strings",
               project_url="javascript:alert(1)"),
    )  # fmt: skip
    info = client.get("/api/papers/hep-th/9901001").json()
    assert info["id"] == "hep-th/9901001"
    assert info["githubRepo"] == "https://github.com/ada/strings"
    assert "projectPage" not in info  # only http(s) links leave the site
    assert info["categories"] == ["cs.CV", "cs.LG"]
    assert info["feedDate"] == "2024-10-25"
    item = PAPER_LIST.validate_python(
        client.get("/api/daily_papers", params={"date": "2024-10-25"}).json()
    )[0].model_dump(exclude_unset=True)
    assert item["paper"]["githubRepo"] == "https://github.com/ada/strings"
    assert item["submittedBy"]["name"] == ""  # nobody submitted it: empty, not missing


def test_markdown_page_for_read_paper(client: Client, hf_day: Library) -> None:
    response = client.get("/papers/2410.17243.md")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    text = response.text
    assert text.startswith("# Breaking the Memory Barrier")
    assert "**Authors:** Zesen Cheng, Hang Zhang" in text
    assert "## Abstract\n\nContrastive loss is a powerful approach" in text
    assert "- Submitted by: ClownRat" in text
    assert client.get("/papers/2410.99999.md").status_code == 404
    assert client.get("/papers/2410.17243").headers["content-type"].startswith("text/html")


@pytest.fixture
def two_weeks(web_library: Library) -> Library:
    """Papers on 21, 23 and 25 October 2024 (ISO week 43) and 1 November (week 44)."""
    add_papers(
        web_library,
        record("2410.00021", listed_on=date(2024, 10, 21), facts=_votes(5)),
        record("2410.00023", listed_on=date(2024, 10, 23), facts=_votes(30)),
        record("2410.00025", listed_on=date(2024, 10, 25), facts=_votes(1)),
        record("2410.00026", listed_on=date(2024, 10, 25), facts=_votes(9)),
        record("2411.00001", listed_on=date(2024, 11, 1), facts=_votes(2)),
    )
    return web_library


def _votes(upvotes: int, submitter: str | None = None) -> SourceFacts:
    return SourceFacts(source="huggingface", upvotes=upvotes, submitter=submitter)


def _ids(client: Client, **params: object) -> list[str]:
    response = client.get("/api/daily_papers", params=params)
    assert response.status_code == 200, response.text
    return [item["paper"]["id"] for item in response.json()]


def test_day_week_month_and_paging(client: Client, two_weeks: Library) -> None:
    assert _ids(client, date="2024-10-25") == ["2410.00026", "2410.00025"]  # most upvoted first
    assert _ids(client, date="2024-10-24") == []
    assert _ids(client, week="2024-W43") == ["2410.00023", "2410.00026", "2410.00021", "2410.00025"]
    assert _ids(client, week="2024-W44") == ["2411.00001"]
    assert _ids(client, month="2024-10") == _ids(client, week="2024-W43")
    # No period: the newest day first, the most upvoted first within a day.
    everything = ["2411.00001", "2410.00026", "2410.00025", "2410.00023", "2410.00021"]
    assert _ids(client) == everything
    pages = [_ids(client, p=page, limit=2) for page in range(4)]
    assert pages == [everything[0:2], everything[2:4], everything[4:], []]


def test_sort_published_at_and_trending(client: Client, web_library: Library) -> None:
    """Three recent papers whose order differs under each sort (ages are relative to now,
    as the trending formula's are)."""
    today = datetime.now(UTC).date()

    def at(days_ago: int) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), datetime.min.time(), UTC)

    add_papers(
        web_library,
        # old and much upvoted, newest arXiv version
        record("2501.00001", listed_on=today - timedelta(days=6), facts=_votes(60, "kim"),
               published_at=at(1), updated_at=at(1)),
        # two days old, well upvoted
        record("2501.00002", listed_on=today - timedelta(days=2), facts=_votes(50, "kim"),
               published_at=at(3), updated_at=at(3)),
        # newest on the feed, no votes
        record("2501.00003", listed_on=today - timedelta(days=1), facts=_votes(0, "kim"),
               published_at=at(5), updated_at=at(5)),
    )  # fmt: skip
    assert _ids(client) == ["2501.00003", "2501.00002", "2501.00001"]
    assert _ids(client, sort="publishedAt") == ["2501.00001", "2501.00002", "2501.00003"]
    # (50+1)/(~48+2)^1.5 beats (60+1)/(~144+2)^1.5, which beats (0+1)/(~24+2)^1.5
    assert _ids(client, sort="trending") == ["2501.00002", "2501.00001", "2501.00003"]
    assert _ids(client, sort="trending", submitter="kim") == _ids(client, sort="trending")
    assert _ids(client, sort="trending", p=1, limit=2) == ["2501.00003"]


def test_submitter_filter(client: Client, hf_day: Library) -> None:
    assert _ids(client, submitter="ClownRat") == ["2410.17243"]
    assert _ids(client, submitter="clownrat", date="2024-10-25") == ["2410.17243"]
    assert _ids(client, submitter="clownrat", date="2024-10-24") == []
    assert _ids(client, submitter="nobody") == []
    # A submission on this site counts as well.
    community = hf_day.community
    ada = community.create_user("ada", "ada@example.org", "correct horse battery")
    assert community.submit(ada.id, "2410.16251", fetch=None).status == "fetched"
    assert _ids(client, submitter="ada") == ["2410.16251"]
    info = client.get("/api/papers/2410.16251").json()
    assert info["submittedOnDailyBy"]["name"] == "ada"  # this site's submitter comes first


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date": "2024-13-01"}, "'2024-13-01' is not a date like 2024-10-25"),
        ({"week": "2024-W60"}, "'2024-W60' is not an ISO week like 2024-W43"),
        ({"month": "October"}, "'October' is not a month like 2024-10"),
        ({"date": "2024-10-25", "month": "2024-10"}, "give one of date, week and month"),
    ],
)
def test_bad_periods_are_400_with_a_message(
    client: Client, params: dict[str, str], message: str
) -> None:
    response = client.get("/api/daily_papers", params=params)
    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"p": -1}, {"p": "x"}, {"sort": "upvotes"}]
)
def test_bad_paging_and_sort_are_422(client: Client, params: dict[str, object]) -> None:
    response = client.get("/api/daily_papers", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_api_json_is_data_not_html(client: Client, web_library: Library) -> None:
    script = "<script>alert(1)</script>"
    add_papers(web_library, record("2410.66666", title=f"Title {script}", abstract=f"A {script} &"))
    response = client.get("/api/papers/2410.66666")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["title"] == f"Title {script}"  # raw text; escaping is the page's job


# -- search and related ------------------------------------------------------------------


@pytest.fixture
def searchable(web_library: Library) -> Library:
    add_papers(
        web_library,
        record("2410.10001", title="Diffusion models for protein design",
               abstract="We train a diffusion model that designs proteins."),
        record("2410.10002", title="Denoising diffusion for images",
               abstract="Image generation with denoising diffusion probabilistic models."),
        record("2410.10003", title="Contrastive language image pretraining",
               abstract="Aligning text and images with a contrastive loss.",
               listed_on=date(2024, 10, 24)),
    )  # fmt: skip
    web_library.sync_search()
    return web_library


def test_search_answers_in_list_papers_shape(client: Client, searchable: Library) -> None:
    response = client.get("/api/papers/search", params={"q": "diffusion", "mode": "keyword"})
    assert response.status_code == 200, response.text
    found = {item["paper"]["id"] for item in response.json()}
    assert found == {"2410.10001", "2410.10002"}
    assert response.headers["x-search-mode"] == "keyword"
    assert response.headers["x-total-count"] == "2"
    PAPER_LIST.validate_python(response.json())
    titled = client.get("/api/papers/search", params={"q": "ti:protein", "mode": "keyword"})
    assert [i["paper"]["id"] for i in titled.json()] == ["2410.10001"]
    dated = client.get("/api/papers/search",
                       params={"q": "images", "mode": "keyword", "from": "2024-10-25"})  # fmt: skip
    assert [i["paper"]["id"] for i in dated.json()] == ["2410.10002"]
    # No query: the most recent papers, as the Hub lists them.
    assert len(client.get("/api/papers/search").json()) == 3


def test_search_errors(client: Client, searchable: Library) -> None:
    bad = client.get(
        "/api/papers/search", params={"q": "x", "from": "2024-10-26", "to": "2024-10-01"}
    )
    assert bad.status_code == 400 and "is after" in bad.json()["error"]
    assert client.get("/api/papers/search", params={"q": "x" * 501}).status_code == 422
    assert client.get("/api/papers/search", params={"q": "x", "mode": "magic"}).status_code == 422


def test_related_papers(client: Client, searchable: Library) -> None:
    response = client.get("/api/papers/2410.10001/related", params={"limit": 5})
    assert response.status_code == 200, response.text
    ids = [item.paper.id for item in PAPER_LIST.validate_python(response.json())]
    assert "2410.10001" not in ids  # never the paper itself
    assert set(ids) <= {"2410.10002", "2410.10003"}
    assert client.get("/api/papers/2410.99999/related").status_code == 404


# -- OpenAPI and the offline /docs -------------------------------------------------------


def test_openapi_lists_the_api_and_no_pages(client: Client) -> None:
    schema = client.get("/openapi.json").json()
    paths = set(schema["paths"])
    for path in ("/api/daily_papers", "/api/papers/{paper_id}", "/api/papers/search",
                 "/api/papers/{paper_id}/related", "/api/papers/{paper_id}/upvote",
                 "/api/papers/submit", "/api/collections", "/api/collections/{collection_id}/papers"):  # fmt: skip
        assert path in paths, path
    assert all(path.startswith("/api/") for path in paths)  # HTML pages stay out
    daily = schema["paths"]["/api/daily_papers"]["get"]
    assert {p["name"] for p in daily["parameters"]} == {
        "date", "week", "month", "submitter", "sort", "p", "limit"
    }  # fmt: skip
    upvote = schema["paths"]["/api/papers/{paper_id}/upvote"]["post"]
    assert upvote["security"] == [{"API token": []}]
    assert schema["components"]["securitySchemes"]["API token"]["scheme"] == "bearer"


def test_docs_load_nothing_from_other_sites(client: Client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    html = response.text
    assert "SwaggerUIBundle" in html
    # Every URL on the page is a path on this site.
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+", html, re.IGNORECASE)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 3  # the bundle, its CSS and the icon
    for asset in assets:
        assert asset.startswith("/static/vendor/swagger-ui/"), asset
        assert client.get(asset).status_code == 200, asset
    assert 'validatorUrl": null' in html  # no schema sent to validator.swagger.io
    # The one inline script is allowed by its hash, on this page only.
    policy = response.headers["content-security-policy"]
    script = re.search(r"<script>(.*?)</script>", html, re.DOTALL).group(1)  # type: ignore[union-attr]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert policy.endswith(f"script-src 'self' 'sha256-{digest}'")
    assert "'unsafe-inline'" not in policy
    assert "sha256" not in client.get("/").headers["content-security-policy"]
    assert client.get("/redoc").status_code == 404
