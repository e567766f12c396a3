"""Accounts, upvotes, collections and submissions through the pages, on both engines."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from paperfeed.library import Library
from paperfeed.settings import Settings
from paperfeed.web.app import create_app
from tests.support.replay_server import ReplayServer, Reply
from tests.web.conftest import Client, add_papers, csrf_token, record

pytest_plugins = ("tests.support.replay_server",)

ATOM = Path(__file__).parents[1] / "fixtures" / "arxiv" / "atom"


@pytest.fixture
def papers(web_library: Library) -> Library:
    add_papers(web_library, record("2410.00001"), record("2410.00002"),
               record("2410.00003", listed_on=date(2024, 10, 28)))  # fmt: skip
    return web_library


def test_sign_up_logs_in_and_the_first_user_is_admin(client: Client, web_library: Library) -> None:
    response = client.sign_up("ada")
    assert response.headers["location"] == "/"
    account = client.get("/account")
    assert account.status_code == 200
    assert "ada@example.org" in account.text and "administrator" in account.text
    assert client.get("/").headers["cache-control"] == "private, no-cache"
    assert client.get("/account.json").json()["user"]["is_admin"] is True


def test_sign_up_errors_keep_the_form(client: Client, web_library: Library) -> None:
    client.sign_up("ada")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    taken = client.form_post("/signup", "/signup", {"username": "ADA", "email": "x@example.org",
                                                    "password": "long enough password"})  # fmt: skip
    assert taken.status_code == 400
    assert 'value="ADA"' in taken.text and 'value="x@example.org"' in taken.text
    short = client.form_post("/signup", "/signup", {"username": "bob", "email": "b@example.org",
                                                    "password": "short"})  # fmt: skip
    assert short.status_code == 400
    assert "password" in short.text.lower()
    assert "pf_session" not in client.cookies


def test_pages_that_need_an_account_send_you_to_log_in(client: Client) -> None:
    for url in ("/submit", "/account"):
        response = client.get(url)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next=%2F{url[1:]}"
    assert client.get("/account.json").status_code == 401


def test_login_then_next_page(client: Client, web_library: Library) -> None:
    client.sign_up("ada")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    assert client.get("/account").status_code == 303
    page = client.get("/login?next=/submit")
    assert 'name="next" value="/submit"' in page.text
    response = client.post("/login", data={"csrf_token": csrf_token(page.text), "login":
                                           "ada@example.org", "password": "correct horse battery",
                                           "next": "/submit"})  # fmt: skip
    assert response.status_code == 303 and response.headers["location"] == "/submit"
    assert client.get("/submit").status_code == 200


def test_anonymous_cards_link_to_login_and_logged_in_cards_have_vote_forms(
    client: Client, papers: Library
) -> None:
    anonymous = client.get("/papers/date/2024-10-25").text
    assert 'href="/login?next=%2Fpapers%2F2410.00001"' in anonymous
    assert "/upvote" not in anonymous
    client.sign_up()
    logged_in = client.get("/papers/date/2024-10-25").text
    assert 'action="/papers/2410.00001/upvote"' in logged_in
    assert 'hx-post="/papers/2410.00001/upvote"' in logged_in


def test_upvote_and_unvote_without_javascript(client: Client, papers: Library) -> None:
    client.sign_up()
    page = client.get("/papers/date/2024-10-25")
    token = csrf_token(page.text)
    voted = client.post("/papers/2410.00002/upvote",
                        data={"csrf_token": token, "next": "/papers/date/2024-10-25"})  # fmt: skip
    assert voted.status_code == 303
    assert voted.headers["location"] == "/papers/date/2024-10-25"
    data = client.get("/papers/date/2024-10-25.json").json()
    assert [(p["id"], p["upvotes"], p["upvoted"]) for p in data["papers"]] == [
        ("2410.00002", 1, True), ("2410.00001", 0, False)]  # fmt: skip
    again = client.post("/papers/2410.00002/upvote", data={"csrf_token": token})  # idempotent
    assert again.status_code == 303 and again.headers["location"] == "/papers/2410.00002"
    assert papers.paper("2410.00002").upvotes == 1
    client.post("/papers/2410.00002/unvote", data={"csrf_token": token})
    assert papers.paper("2410.00002").upvotes == 0
    page = client.get("/papers/2410.00002").text
    assert 'action="/papers/2410.00002/upvote"' in page


def test_upvote_with_htmx_returns_the_new_button(client: Client, papers: Library) -> None:
    client.sign_up()
    token = csrf_token(client.get("/papers/date/2024-10-25").text)
    htmx = {"hx-request": "true", "hx-target": "vote-2410-00001"}
    response = client.post("/papers/2410.00001/upvote", data={"csrf_token": token}, headers=htmx)
    assert response.status_code == 200
    fragment = response.text
    assert fragment.lstrip().startswith('<form id="vote-2410-00001" class="vote voted"')
    assert "<html" not in fragment
    assert 'action="/papers/2410.00001/unvote"' in fragment
    assert '<span class="count">1</span>' in fragment
    back = client.post("/papers/2410.00001/unvote", data={"csrf_token": token}, headers=htmx)
    assert '<span class="count">0</span>' in back.text and "/upvote" in back.text


def test_votes_need_an_account_and_a_known_paper(client: Client, papers: Library) -> None:
    token = csrf_token(client.get("/login").text)  # an anonymous (signed) token
    anonymous = client.post("/papers/2410.00001/upvote", data={"csrf_token": token},
                            headers={"referer": "http://testserver/papers/2410.00001"})  # fmt: skip
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Fpapers%2F2410.00001"
    client.sign_up()
    token = csrf_token(client.get("/account").text)
    missing = client.post("/papers/2999.00001/upvote", data={"csrf_token": token})
    assert missing.status_code == 404


def test_collections_create_add_remove_and_visibility(
    client: Client, other_client: Client, papers: Library
) -> None:
    client.sign_up("ada")
    created = client.form_post("/collections", "/collections",
                               {"name": "Reading list", "description": "for <Friday>"})  # fmt: skip
    assert created.status_code == 303
    url = created.headers["location"]
    collection_id = int(url.rsplit("/", 1)[1])
    page = client.get(url)
    assert "Reading list" in page.text and "for &lt;Friday&gt;" in page.text
    assert "private" in page.text

    paper_page = client.get("/papers/2410.00001")
    assert f'<option value="{collection_id}">Reading list</option>' in paper_page.text
    added = client.post("/collections/add", data={
        "csrf_token": csrf_token(paper_page.text), "collection_id": collection_id,
        "paper_id": "2410.00001", "next": "/papers/2410.00001"})  # fmt: skip
    assert added.status_code == 303 and added.headers["location"] == "/papers/2410.00001"
    client.form_post(url, f"/collections/{collection_id}/add", {"paper_id": "2410.00002"})
    data = client.get(url + ".json").json()
    assert [p["id"] for p in data["papers"]] == ["2410.00002", "2410.00001"]  # newest first
    assert data["collection"]["paper_count"] == 2
    share_url = data["share_url"]
    assert share_url.startswith(f"/c/{collection_id}/")

    # private: others get 404, with the share link they can read it
    assert other_client.get(url).status_code == 404
    assert other_client.get(f"/c/{collection_id}/wrong-token").status_code == 404
    shared = other_client.get(share_url)
    assert shared.status_code == 200 and "Reading list" in shared.text
    assert "Settings and sharing" not in shared.text
    assert other_client.get(share_url + ".json").json()["share_url"] is None
    assert "Reading list" not in other_client.get("/papers/2410.00001").text

    client.form_post(url, f"/collections/{collection_id}/remove", {"paper_id": "2410.00002"})
    assert [p["id"] for p in client.get(url + ".json").json()["papers"]] == ["2410.00001"]

    # made public: listed, and shown on the paper page to everyone
    client.form_post(url, url, {"name": "Reading list", "description": "", "public": "1"})
    assert other_client.get(url).status_code == 200
    assert "Reading list" in other_client.get("/collections").text
    assert "Reading list" in other_client.get("/papers/2410.00001").text

    # a new share link invalidates the old one; deleting removes it
    client.form_post(url, f"/collections/{collection_id}/share", {})
    client.form_post(url, url, {"name": "Reading list", "description": ""})  # private again
    assert other_client.get(share_url).status_code == 404
    client.form_post(url, f"/collections/{collection_id}/delete", {})
    assert client.get(url).status_code == 404


def test_only_the_owner_changes_a_collection(
    client: Client, other_client: Client, papers: Library
) -> None:
    client.sign_up("ada")
    url = client.form_post("/collections", "/collections",
                           {"name": "Public one", "public": "1"}).headers["location"]  # fmt: skip
    collection_id = int(url.rsplit("/", 1)[1])
    other_client.sign_up("bob")
    attempt = other_client.form_post(url, f"/collections/{collection_id}/add",
                                     {"paper_id": "2410.00001"})  # fmt: skip
    assert attempt.status_code == 403
    assert client.get(url + ".json").json()["papers"] == []


def test_add_to_collection_with_htmx_swaps_the_box(client: Client, papers: Library) -> None:
    client.sign_up()
    collection = client.form_post("/collections", "/collections", {"name": "Mine"})
    collection_id = int(collection.headers["location"].rsplit("/", 1)[1])
    page = client.get("/papers/2410.00003")
    response = client.post(
        "/collections/add",
        data={"csrf_token": csrf_token(page.text), "collection_id": collection_id,
              "paper_id": "2410.00003"},
        headers={"hx-request": "true", "hx-target": "collections-box"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="collections-box"')
    assert "Remove from Mine" in response.text


def test_bad_collection_input_is_400_with_the_message(client: Client, papers: Library) -> None:
    client.sign_up()
    response = client.form_post("/collections", "/collections", {"name": "   "})
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert client.get("/collections/not-a-number").status_code == 404


def test_submit_offline_is_queued_and_the_page_says_so(client: Client, papers: Library) -> None:
    client.sign_up()
    response = client.form_post(
        "/submit", "/submit", {"text": "https://arxiv.org/abs/2501.01234v2"}
    )
    assert response.status_code == 202
    assert "will be fetched from arXiv when this server is online" in response.text
    twin = client.get("/submit.json").json()
    assert twin["submissions"][0]["arxiv_id"] == "2501.01234"
    assert twin["submissions"][0]["status"] == "queued"


def test_submit_a_stored_paper_is_fetched_at_once(client: Client, papers: Library) -> None:
    client.sign_up()
    response = client.form_post("/submit", "/submit", {"text": "2410.00001"})
    assert response.status_code == 201
    assert 'href="/papers/2410.00001"' in response.text


def test_submit_garbage_is_400(client: Client, papers: Library) -> None:
    client.sign_up()
    response = client.form_post("/submit", "/submit", {"text": "not an id <b>"})
    assert response.status_code == 400
    assert "not an arXiv id" in response.text
    assert "<b>" not in response.text.split("<main", 1)[1]


def test_submit_online_fetches_from_arxiv(
    web_library: Library, settings: Settings, portal, replay_server: ReplayServer
) -> None:
    replay_server.add("/api/query", Reply.file(ATOM / "2026-02-11-113450.xml",
                                               content_type="application/atom+xml"))  # fmt: skip
    online = settings.model_copy(update={"arxiv_api_url": f"{replay_server.url}/api/query"})
    library = Library(online, web_library.storage)
    library.community = web_library.community
    client = Client(create_app(library, online), portal)
    try:
        client.sign_up()
        response = client.form_post("/submit", "/submit", {"text": "2410.19022"})
        assert response.status_code == 201, response.text
        assert "Added" in response.text
        assert replay_server.requests[0].param("id_list") == "2410.19022"
        paper = client.get("/papers/2410.19022.json").json()["paper"]
        assert "ada" in paper["submitters"]
        assert re.search(r"Submitted by</dt><dd>ada", client.get("/papers/2410.19022").text)
    finally:
        client.close()


def test_api_tokens_are_listed_and_revoked(client: Client, web_library: Library) -> None:
    client.sign_up()
    client.form_post("/account", "/account/tokens", {"name": "laptop"})
    tokens = client.get("/account.json").json()["tokens"]
    assert [t["name"] for t in tokens] == ["laptop"]
    assert "token" not in tokens[0]
    revoked = client.form_post("/account", f"/account/tokens/{tokens[0]['id']}/revoke", {})
    assert revoked.status_code == 303
    assert client.get("/account.json").json()["tokens"] == []


def test_log_out_everywhere(client: Client, other_client: Client, web_library: Library) -> None:
    client.sign_up("ada")
    other_client.log_in("ada")
    assert other_client.get("/account").status_code == 200
    response = client.form_post("/account", "/account/sessions/end", {})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert other_client.get("/account").status_code == 303
    assert client.get("/account").status_code == 303
