"""The JSON API's write side: bearer tokens only, upvotes, submissions, collections, limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio.from_thread
import pytest

from paperfeed.errors import NotFoundError
from paperfeed.library import Library
from paperfeed.settings import Settings
from paperfeed.web.app import create_app
from tests.web.conftest import PASSWORD, Client, add_papers, csrf_token, record


@pytest.fixture
def papers(web_library: Library) -> Library:
    add_papers(web_library, record("2410.17243"), record("2410.16251"))
    return web_library


def bearer(library: Library, username: str = "ada") -> dict[str, str]:
    """Authorization header with a fresh token of ``username`` (created if needed)."""
    community = library.community
    try:
        user = community.user_by_username(username)
    except NotFoundError:
        user = community.create_user(username, f"{username}@example.org", PASSWORD)
    return {"authorization": f"Bearer {community.create_api_token(user.id, 'tests')}"}


WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/papers/2410.17243/upvote", None),
    ("DELETE", "/api/papers/2410.17243/upvote", None),
    ("POST", "/api/papers/submit", {"id": "2410.17243"}),
    ("POST", "/api/collections", {"name": "Reading"}),
    ("PATCH", "/api/collections/1", {"public": True}),
    ("DELETE", "/api/collections/1", None),
    ("POST", "/api/collections/1/papers", {"id": "2410.17243"}),
    ("DELETE", "/api/collections/1/papers/2410.17243", None),
]


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_writes_without_a_token_are_401_with_a_bearer_challenge(
    client: Client, papers: Library, method: str, url: str, body: dict[str, Any] | None
) -> None:
    response = client.request(method, url, json=body)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer realm="paperfeed"'
    assert "Authorization: Bearer" in response.json()["error"]
    wrong = client.request(method, url, json=body, headers={"authorization": "Bearer pf_nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == 'Bearer realm="paperfeed", error="invalid_token"'
    assert papers.paper("2410.17243").upvotes == 0


def test_a_browser_session_does_not_authorize_the_api(client: Client, papers: Library) -> None:
    """Cookies (and the session's CSRF token) count for pages only: a page on another
    site can make a browser send its cookies, never an Authorization header."""
    client.sign_up()
    token = csrf_token(client.get("/account").text)
    response = client.post("/api/papers/2410.17243/upvote", headers={"x-csrf-token": token})
    assert response.status_code == 401
    assert papers.paper("2410.17243").upvotes == 0
    # The same browser's form post on the page works, through the CSRF check.
    page = client.post("/papers/2410.17243/upvote", data={"csrf_token": token})
    assert page.status_code == 303
    assert papers.paper("2410.17243").upvotes == 1


def test_upvote_and_take_it_back(client: Client, papers: Library) -> None:
    ada, bob = bearer(papers, "ada"), bearer(papers, "bob")
    url = "/api/papers/2410.17243/upvote"
    assert client.post(url, headers=ada).json() == {
        "id": "2410.17243",
        "upvotes": 1,
        "upvoted": True,
    }
    assert client.post(url, headers=ada).json()["upvotes"] == 1  # idempotent
    assert client.post(url, headers=bob).json()["upvotes"] == 2
    assert client.get("/api/papers/2410.17243").json()["upvotes"] == 2
    removed = client.request("DELETE", url, headers=ada)
    assert removed.json() == {"id": "2410.17243", "upvotes": 1, "upvoted": False}
    assert client.request("DELETE", url, headers=ada).json()["upvotes"] == 1
    assert client.post("/api/papers/2410.99999/upvote", headers=ada).status_code == 404
    # Version suffixes name the same paper.
    assert client.post("/api/papers/2410.17243v3/upvote", headers=ada).json()["upvotes"] == 2


def test_submit_stored_queued_and_invalid(client: Client, papers: Library) -> None:
    ada = bearer(papers)
    stored = client.post("/api/papers/submit", json={"id": "https://arxiv.org/abs/2410.16251v2"},
                         headers=ada)  # fmt: skip
    assert stored.status_code == 201, stored.text
    assert stored.json()["submission"]["status"] == "fetched"
    assert stored.json()["paper"]["id"] == "2410.16251"
    assert stored.json()["paper"]["submittedOnDailyBy"]["name"] == "ada"
    # arXiv is unreachable in tests: the paper is queued and the answer says so.
    queued = client.post("/api/papers/submit", json={"id": "2410.19022"}, headers=ada)
    assert queued.status_code == 202
    assert queued.json()["submission"]["status"] == "queued"
    assert "fetched when paperfeed is online" in queued.json()["submission"]["message"]
    assert queued.json()["paper"] is None
    bad = client.post("/api/papers/submit", json={"id": "not a paper"}, headers=ada)
    assert bad.status_code == 400
    assert "not an arXiv id" in bad.json()["error"]
    assert client.post("/api/papers/submit", json={}, headers=ada).status_code == 422


def test_collections_through_the_api(client: Client, papers: Library) -> None:
    ada, bob = bearer(papers, "ada"), bearer(papers, "bob")
    created = client.post("/api/collections", json={"name": "To read"}, headers=ada)
    assert created.status_code == 201, created.text
    collection = created.json()
    assert collection["is_public"] is False and collection["slug"] == "to-read"
    assert collection["share_url"] == f"/c/{collection['id']}/{collection['share_token']}"
    cid = collection["id"]
    url = f"/api/collections/{cid}/papers"
    added = client.post(url, json={"id": "2410.17243"}, headers=ada)
    assert added.json() == {"collection_id": cid, "paper_id": "2410.17243", "in_collection": True,
                            "changed": True}  # fmt: skip
    assert client.post(url, json={"id": "2410.17243"}, headers=ada).json()["changed"] is False
    client.post(url, json={"id": "2410.16251"}, headers=ada)
    page = client.get(f"/api/collections/{cid}", headers=ada).json()
    assert [item["paper"]["id"] for item in page["papers"]] == ["2410.16251", "2410.17243"]
    assert [c["id"] for c in client.get("/api/collections/mine", headers=ada).json()] == [cid]

    # Private: others get 404 (its existence does not leak), the share token opens it.
    assert client.get(f"/api/collections/{cid}").status_code == 404
    assert client.get(f"/api/collections/{cid}", headers=bob).status_code == 404
    assert client.post(url, json={"id": "2410.16251"}, headers=bob).status_code == 404
    shared = client.get(
        f"/api/collections/{cid}", params={"share_token": collection["share_token"]}
    )
    assert shared.status_code == 200
    assert shared.json()["collection"]["share_token"] == ""  # only the owner sees it
    # Public: everyone reads it, nobody else changes it (403).
    changed = client.request("PATCH", f"/api/collections/{cid}", json={"public": True}, headers=ada)
    assert changed.json()["is_public"] is True
    assert cid in [c["id"] for c in client.get("/api/collections").json()]
    assert client.get(f"/api/collections/{cid}").status_code == 200
    forbidden = client.request("DELETE", f"{url}/2410.17243", headers=bob)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "only the owner can change this collection"
    assert client.request("DELETE", f"/api/collections/{cid}", headers=bob).status_code == 403

    removed = client.request("DELETE", f"{url}/2410.17243", headers=ada)
    assert removed.json()["in_collection"] is False and removed.json()["changed"] is True
    assert client.post(url, json={"id": "2410.99999"}, headers=ada).status_code == 404
    assert client.request("DELETE", f"/api/collections/{cid}", headers=ada).status_code == 204
    assert client.get(f"/api/collections/{cid}", headers=ada).status_code == 404


def test_bad_collection_input_is_rejected(client: Client, papers: Library) -> None:
    ada = bearer(papers)
    assert client.post("/api/collections", json={"name": ""}, headers=ada).status_code == 400
    unknown = client.post("/api/collections", json={"name": "x", "owner_id": 2}, headers=ada)
    assert unknown.status_code == 422  # unknown fields are refused, not ignored


def test_whoami_for_hf_clients(client: Client, papers: Library) -> None:
    me = client.get("/api/whoami-v2", headers=bearer(papers)).json()
    assert me["name"] == "ada" and me["type"] == "user" and me["email"] == "ada@example.org"
    assert client.get("/api/whoami-v2").status_code == 401


def test_reads_ignore_tokens_they_do_not_need(client: Client, papers: Library) -> None:
    """HfApi sends a saved Hugging Face token along: reads must not fail because of it."""
    foreign = {"authorization": "Bearer hf_someoneelsestoken"}
    assert client.get("/api/daily_papers", headers=foreign).status_code == 200
    assert client.get("/api/papers/2410.17243", headers=foreign).status_code == 200
    assert client.get("/api/collections", headers=foreign).status_code == 200


# -- rate limits -------------------------------------------------------------------------


@pytest.fixture
def strict_client(
    papers: Library, settings: Settings, portal: anyio.from_thread.BlockingPortal
) -> Iterator[Client]:
    strict = settings.model_copy(update={"api_writes_per_minute": 3,
                                         "api_submissions_per_hour": 2,
                                         "api_bad_tokens_per_minute": 2})  # fmt: skip
    opened = Client(create_app(papers, strict), portal)
    yield opened
    opened.close()


def test_writes_are_rate_limited_per_token_holder(strict_client: Client, papers: Library) -> None:
    ada, bob = bearer(papers, "ada"), bearer(papers, "bob")
    url = "/api/papers/2410.17243/upvote"
    for _ in range(3):
        assert strict_client.post(url, headers=ada).status_code == 200
    limited = strict_client.request("DELETE", url, headers=ada)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "too many changes" in limited.json()["error"]
    assert papers.paper("2410.17243").upvotes == 1  # the refused DELETE changed nothing
    assert strict_client.post(url, headers=bob).status_code == 200  # others are not affected


def test_submissions_have_their_own_hourly_limit(strict_client: Client, papers: Library) -> None:
    ada = bearer(papers)
    for _ in range(2):
        sent = strict_client.post("/api/papers/submit", json={"id": "2410.16251"}, headers=ada)
        assert sent.status_code == 201
    limited = strict_client.post("/api/papers/submit", json={"id": "2410.16251"}, headers=ada)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 60


def test_wrong_tokens_are_rate_limited_per_client(strict_client: Client, papers: Library) -> None:
    good = bearer(papers)
    for _ in range(2):
        wrong = strict_client.get("/api/whoami-v2", headers={"authorization": "Bearer pf_guess"})
        assert wrong.status_code == 401
    # The address is locked out for a minute, even with a real token.
    locked = strict_client.get("/api/whoami-v2", headers=good)
    assert locked.status_code == 429
    assert "wrong token" in locked.json()["error"]
