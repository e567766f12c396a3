"""Follow buttons, the follows and alerts pages, and /api/follows + /api/alerts."""

from __future__ import annotations

import re
from datetime import date

import pytest

from paperfeed.library import Library
from tests.web.conftest import Client, add_papers, csrf_token, record
from tests.web.test_api_writes import bearer


@pytest.fixture
def papers(web_library: Library) -> Library:
    add_papers(web_library, record("2410.17243"), record("2410.16251"))
    return web_library


def follow_forms(html: str) -> list[tuple[str, str]]:
    """(kind, value) of every "Follow" button on a page."""
    return re.findall(
        r'name="kind" value="([^"]+)"><input type="hidden" name="value" value="([^"]+)"', html
    )


def test_anonymous_visitors_see_follow_links_to_log_in(client: Client, papers: Library) -> None:
    page = client.get("/papers/2410.17243")
    assert page.status_code == 200
    assert "Log in</a> to follow this paper, its authors or its categories" in page.text
    assert client.get("/papers/2410.17243.json").json()["follow"] is None
    for url in ("/follows", "/alerts"):
        assert client.get(url).headers["location"].startswith("/login?next=")
        assert client.get(url + ".json").status_code == 401


def test_follow_paper_author_category_from_the_paper_page(client: Client, papers: Library) -> None:
    client.sign_up("ada")
    page = client.get("/papers/2410.17243")
    forms = follow_forms(page.text)
    assert ("paper", "2410.17243") in forms
    assert ("author", "Zesen Cheng") in forms and ("category", "cs.CV") in forms
    token = csrf_token(page.text)
    for kind, value in (("paper", "2410.17243"), ("author", "Zesen Cheng"), ("category", "cs.CV")):
        response = client.post("/follows", data={
            "csrf_token": token, "kind": kind, "value": value, "next": "/papers/2410.17243",
        })  # fmt: skip
        assert response.status_code == 303
        assert response.headers["location"] == "/papers/2410.17243"
    state = client.get("/papers/2410.17243.json").json()["follow"]
    assert state["paper"]["follow_id"] and state["categories"][0]["follow_id"]
    assert [a["follow_id"] is not None for a in state["authors"]] == [True, False, False, False]
    page = client.get("/papers/2410.17243")
    assert ("paper", "2410.17243") not in follow_forms(page.text)
    assert page.text.count('aria-pressed="true"') >= 3  # "Following" buttons
    # A threshold from the paper page's form.
    follow_id = state["paper"]["follow_id"]
    client.post(f"/follows/{follow_id}", data={"csrf_token": token, "upvote_threshold": "25"})
    assert client.get("/papers/2410.17243.json").json()["follow"]["paper"]["upvote_threshold"] == 25
    # The other paper's page knows nothing of these but the shared author and category.
    other = client.get("/papers/2410.16251.json").json()["follow"]
    assert other["paper"]["follow_id"] is None and other["categories"][0]["follow_id"]


def test_follows_page_mute_unfollow_and_errors(client: Client, papers: Library) -> None:
    client.sign_up("ada")
    added = client.form_post(
        "/follows", "/follows", {"kind": "search", "value": "contrastive loss"}
    )
    assert added.status_code == 303 and added.headers["location"] == "/follows"
    listed = client.get("/follows.json").json()["follows"]
    assert [(f["kind"], f["value"], f["muted"], f["top"]) for f in listed] == [
        ("search", "contrastive loss", False, 3)
    ]
    fid = listed[0]["id"]
    token = csrf_token(client.get("/follows").text)
    client.post(f"/follows/{fid}", data={"csrf_token": token, "muted": "true", "top": "5"})
    assert (
        client.get("/follows.json").json()["follows"][0] | {"muted": True, "top": 5}
        == (client.get("/follows.json").json()["follows"][0])
    )
    bad = client.post("/follows", data={"csrf_token": token, "kind": "search", "value": '"open'})
    assert (
        bad.status_code == 400
        and "unbalanced quote" in bad.text
        and 'value="&#34;open"' in bad.text
    )
    assert client.post(f"/follows/{fid}/delete", data={"csrf_token": token}).status_code == 303
    assert client.get("/follows.json").json()["follows"] == []


def test_nobody_else_can_touch_a_follow(
    client: Client, other_client: Client, papers: Library
) -> None:
    client.sign_up("ada")
    client.form_post("/follows", "/follows", {"kind": "author", "value": "Ada Lovelace"})
    fid = client.get("/follows.json").json()["follows"][0]["id"]
    other_client.sign_up("bob")
    token = csrf_token(other_client.get("/follows").text)
    assert other_client.get("/follows.json").json()["follows"] == []
    for url in (f"/follows/{fid}", f"/follows/{fid}/delete"):
        assert other_client.post(url, data={"csrf_token": token, "muted": "1"}).status_code == 404
    assert client.get("/follows.json").json()["follows"][0]["muted"] is False


def test_search_page_offers_to_follow_the_search(client: Client, papers: Library) -> None:
    client.sign_up("ada")
    page = client.get("/search", params={"q": "contrastive", "mode": "keyword"})
    assert ("search", "contrastive") in follow_forms(page.text)
    client.post("/follows", data={"csrf_token": csrf_token(page.text), "kind": "search",
                                  "value": "contrastive", "next": "/search?q=contrastive"})  # fmt: skip
    page = client.get("/search.json", params={"q": "contrastive", "mode": "keyword"})
    assert page.json()["follow_search"]["follow_id"] is not None


def test_alerts_page_badge_and_mark_seen(client: Client, papers: Library) -> None:
    client.sign_up("ada")
    client.form_post("/follows", "/follows", {"kind": "author", "value": "Kehan Li"})
    client.form_post("/follows", "/follows", {"kind": "paper", "value": "2410.16251"})
    today = date.today()
    add_papers(papers, record("2501.00001", listed_on=today),
               record("2410.16251", version=2, comments="Accepted at NeurIPS"))  # fmt: skip
    papers.detect_alerts()
    page = client.get("/alerts")
    assert page.status_code == 200
    assert re.search(r'Alerts <span class="count-badge">2<', page.text)
    assert re.search(r"New version v2 \(2024-10-22\) — Accepted at NeurIPS", page.text)
    assert "By Kehan Li, whom you follow" in page.text
    data = client.get("/alerts.json").json()
    assert data["unseen"] == 2 and {a["kind"] for a in data["alerts"]} == {"version", "new-paper"}
    client.post("/alerts/seen", data={"csrf_token": csrf_token(page.text)})
    assert client.get("/alerts.json").json()["unseen"] == 0
    assert "count-badge" not in client.get("/").text


def test_api_follows_and_alerts(client: Client, papers: Library) -> None:
    ada, bob = bearer(papers, "ada"), bearer(papers, "bob")
    assert client.get("/api/follows").status_code == 401
    made = client.post("/api/follows", headers=ada,
                       json={"kind": "paper", "value": "2410.17243", "upvote_threshold": 10})  # fmt: skip
    assert made.status_code == 201
    follow = made.json()
    assert (follow["kind"], follow["value"], follow["upvote_threshold"]) == (
        "paper",
        "2410.17243",
        10,
    )
    again = client.post(
        "/api/follows", headers=ada, json={"kind": "paper", "value": "2410.17243v1"}
    )
    assert again.status_code == 200 and again.json()["id"] == follow["id"]
    assert client.post("/api/follows", headers=ada,
                       json={"kind": "paper", "value": "2501.99999"}).status_code == 404  # fmt: skip
    assert client.post("/api/follows", headers=ada,
                       json={"kind": "cat", "value": "cs.LG"}).status_code == 422  # fmt: skip
    fid = follow["id"]
    changed = client.request("PATCH", f"/api/follows/{fid}", headers=ada,
                             json={"muted": True, "upvote_threshold": None})  # fmt: skip
    assert (changed.json()["muted"], changed.json()["upvote_threshold"]) == (True, None)
    # Bob sees and changes nothing of Ada's.
    assert client.get("/api/follows", headers=bob).json() == []
    assert client.request("PATCH", f"/api/follows/{fid}", headers=bob,
                          json={"muted": False}).status_code == 404  # fmt: skip
    assert client.request("DELETE", f"/api/follows/{fid}", headers=bob).status_code == 404
    # Alerts come to the right token only.
    client.request("PATCH", f"/api/follows/{fid}", headers=ada, json={"muted": False})
    add_papers(papers, record("2410.17243", version=3))
    papers.detect_alerts()
    alerts = client.get("/api/alerts", headers=ada).json()
    assert [(a["kind"], a["paper_id"], a["seen_at"]) for a in alerts] == [
        ("version", "2410.17243", None)
    ]
    assert client.get("/api/alerts", headers=bob).json() == []
    seen = client.post("/api/alerts/seen", headers=ada, json={"ids": [alerts[0]["id"]]})
    assert seen.json() == {"marked_seen": 1}
    assert client.get("/api/alerts", headers=ada, params={"unseen": True}).json() == []
    assert client.request("DELETE", f"/api/follows/{fid}", headers=ada).status_code == 204
    assert client.get("/api/follows", headers=ada).json() == []
