"""Groups through the pages, the API and the feeds; and every route checked for leaks."""

from __future__ import annotations

import re
from datetime import date

import feedparser
import pytest

from paperfeed.library import Library
from tests.web.conftest import Client, add_papers, csrf_token, record
from tests.web.test_api_writes import bearer

TODAY = date.today()
SECRET_NAME = "Zyxwv Reading Circle"
COLLECTION_NAME = "Qwerty shared list"


@pytest.fixture
def papers(web_library: Library) -> Library:
    add_papers(web_library, record("2410.17243", listed_on=TODAY),
               record("2410.16251", listed_on=TODAY))  # fmt: skip
    return web_library


def group_id_of(response_location: str) -> int:
    found = re.fullmatch(r"/groups/(\d+)", response_location)
    assert found, response_location
    return int(found.group(1))


@pytest.fixture
def lab(client: Client, other_client: Client, papers: Library) -> dict[str, object]:
    """ada owns the group, bob joined through an invite link; both upvoted papers."""
    client.sign_up("ada")
    made = client.form_post("/groups", "/groups", {"name": SECRET_NAME})
    assert made.status_code == 303
    gid = group_id_of(made.headers["location"])
    page = client.get(f"/groups/{gid}")
    invite = client.post(f"/groups/{gid}/invite", data={"csrf_token": csrf_token(page.text)})
    assert invite.status_code == 201
    link = re.search(r"http://127\.0\.0\.1:8000(/groups/join/[A-Za-z0-9_.\-]+)", invite.text)
    assert link, invite.text
    other_client.sign_up("bob")
    join_page = other_client.get(link.group(1))
    assert join_page.status_code == 200 and SECRET_NAME in join_page.text
    joined = other_client.post(link.group(1), data={"csrf_token": csrf_token(join_page.text)})
    assert joined.status_code == 303 and joined.headers["location"] == f"/groups/{gid}"
    for who in (client, other_client):
        token = csrf_token(who.get("/").text)
        who.post("/papers/2410.17243/upvote", data={"csrf_token": token})
    client.post("/papers/2410.16251/upvote", data={"csrf_token": csrf_token(page.text)})
    made = other_client.form_post(f"/groups/{gid}", f"/groups/{gid}/collections",
                                  {"name": COLLECTION_NAME})  # fmt: skip
    cid = int(made.headers["location"].rsplit("/", 1)[1])
    client.post("/collections/add", data={"csrf_token": csrf_token(page.text),
                                          "collection_id": cid, "paper_id": "2410.17243"})  # fmt: skip
    feed = client.post(f"/groups/{gid}/feed-token", data={"csrf_token": csrf_token(page.text)})
    feed_url = re.search(r"http://127\.0\.0\.1:8000(/feeds/groups/\d+/pfg_[A-Za-z0-9_\-]+)\.atom",
                         feed.text)  # fmt: skip
    assert feed_url, feed.text
    return {"id": gid, "collection": cid, "feed": feed_url.group(1), "invite": link.group(1)}


def test_group_page_feed_members_and_collections(
    client: Client, other_client: Client, lab: dict[str, object], papers: Library
) -> None:
    gid = lab["id"]
    data = other_client.get(f"/groups/{gid}.json").json()
    assert data["group"]["name"] == SECRET_NAME and data["me"]["role"] == "member"
    assert [(c["id"], c["group_votes"]) for c in data["feed"]] == [
        ("2410.17243", 2),
        ("2410.16251", 1),
    ]
    assert "2 member upvotes" in data["feed"][0]["why"]
    api = client.get(f"/api/groups/{gid}", headers=bearer(papers, "bob")).json()
    assert [p["paper"]["id"] for p in api["papers"]] == ["2410.17243", "2410.16251"]
    assert api["member_upvotes"] == {"2410.17243": 2, "2410.16251": 1} and api["total"] == 2
    assert [(m["username"], m["role"]) for m in data["members"]] == [
        ("ada", "owner"),
        ("bob", "member"),
    ]
    assert [c["name"] for c in data["collections"]] == [COLLECTION_NAME]
    assert data["collections"][0]["share_token"] == ""
    page = other_client.get(f"/groups/{gid}")
    assert "Make an invite link" not in page.text  # members do not invite
    assert "Trending in the group" in page.text
    # The member's digest choice.
    other_client.post(f"/groups/{gid}/digest", data={"csrf_token": csrf_token(page.text),
                                                     "digest": "weekly"})  # fmt: skip
    assert other_client.get(f"/groups/{gid}.json").json()["me"]["digest"] == "weekly"
    # The secret Atom feed: with the token, no login.
    parsed = feedparser.parse(client.get(str(lab["feed"]) + ".atom").text)
    assert [e.link.rsplit("/", 1)[1] for e in parsed.entries] == ["2410.17243", "2410.16251"]


def leaks(response_text: str) -> bool:
    return SECRET_NAME in response_text or COLLECTION_NAME in response_text


def test_no_route_shows_a_group_to_a_non_member(
    app: object, portal: object, lab: dict[str, object], papers: Library
) -> None:
    gid, cid = lab["id"], lab["collection"]
    share = papers.storage.db.scalar("SELECT share_token FROM collections WHERE id = ?", (cid,))
    outsider = Client(app, portal)  # type: ignore[arg-type]
    anonymous = Client(app, portal)  # type: ignore[arg-type]
    try:
        outsider.sign_up("eve")
        eve_token = bearer(papers, "eve")
        tokens = {id(outsider): csrf_token(outsider.get("/").text),
                  id(anonymous): csrf_token(anonymous.get("/login").text)}  # fmt: skip
        missing = 999_999
        for who in (outsider, anonymous):
            token = tokens[id(who)]
            reads = [
                f"/groups/{gid}",
                f"/groups/{gid}.json",
                f"/collections/{cid}",
                f"/collections/{cid}.json",
                f"/c/{cid}/{share}",
                f"/c/{cid}/{share}.json",
                f"/feeds/collections/{cid}.atom",
                f"/feeds/collections/{cid}.rss",
                f"/feeds/groups/{gid}/pfg_wrong.atom",
                f"/feeds/groups/{gid}/pfg_wrong.rss",
                f"/api/collections/{cid}",
                f"/api/collections/{cid}?share_token={share}",
            ]
            for url in reads:
                response = who.get(url)
                assert response.status_code in (303, 401, 404), (url, response.status_code)
                assert not leaks(response.text), url
            # A group that exists answers exactly as one that does not.
            if who is outsider:
                real = who.get(f"/groups/{gid}.json")
                fake = who.get(f"/groups/{missing}.json")
                assert (real.status_code, real.json()["error"].replace(str(gid), "N")) == (
                    fake.status_code, fake.json()["error"].replace(str(missing), "N"),
                )  # fmt: skip
            # Lists and pages that show collections or groups do not show these.
            for url in ("/collections", "/collections.json", "/api/collections",
                        "/papers/2410.17243", "/papers/2410.17243.json", "/groups",
                        "/search?q=contrastive&mode=keyword", "/trending", "/"):  # fmt: skip
                response = who.get(url)
                assert not leaks(response.text), url
            writes = [
                (f"/groups/{gid}/invite", {}), (f"/groups/{gid}/invites/void", {}),
                (f"/groups/{gid}/feed-token", {}), (f"/groups/{gid}/members", {"username": "eve"}),
                (f"/groups/{gid}/members/bob/role", {"role": "owner"}),
                (f"/groups/{gid}/members/bob/remove", {}), (f"/groups/{gid}/digest", {"digest": "daily"}),
                (f"/groups/{gid}/collections", {"name": "x"}), (f"/groups/{gid}/delete", {}),
                (f"/collections/{cid}/add", {"paper_id": "2410.16251"}),
                (f"/collections/{cid}/remove", {"paper_id": "2410.17243"}),
                (f"/collections/{cid}", {"name": "taken"}), (f"/collections/{cid}/delete", {}),
                (f"/collections/{cid}/share", {}),
            ]  # fmt: skip
            for url, data in writes:
                response = who.post(url, data={"csrf_token": token, **data})
                expected = 404 if who is outsider else 303  # anonymous: log in first
                assert response.status_code == expected, (url, response.status_code)
                assert not leaks(response.text), url
        for method, url in (("GET", f"/api/collections/{cid}"),
                            ("POST", f"/api/collections/{cid}/papers"),
                            ("PATCH", f"/api/collections/{cid}"),
                            ("DELETE", f"/api/collections/{cid}")):  # fmt: skip
            body = (
                {"id": "2410.16251"}
                if method == "POST"
                else ({"public": True} if method == "PATCH" else None)
            )
            response = outsider.request(method, url, headers=eve_token, json=body)
            assert response.status_code == 404, (method, url, response.status_code)
            assert not leaks(response.text)
        for url in ("/api/collections/mine", "/api/groups", f"/api/groups/{gid}"):
            response = outsider.get(url, headers=eve_token)
            assert not leaks(response.text), url
        assert outsider.get(f"/api/groups/{gid}", headers=eve_token).status_code == 404
    finally:
        outsider.close()
        anonymous.close()
    # Nothing changed for the members.
    listed = papers.community.collection_papers(
        cid, viewer_id=papers.community.user_by_username("ada").id
    )
    assert [p.id for p in listed] == ["2410.17243"]


def test_leaving_loses_everything_and_the_creator_loses_their_collection(
    client: Client, other_client: Client, lab: dict[str, object], papers: Library
) -> None:
    gid, cid = lab["id"], lab["collection"]
    page = other_client.get(f"/groups/{gid}")
    left = other_client.post(f"/groups/{gid}/members/bob/remove",
                             data={"csrf_token": csrf_token(page.text)})  # fmt: skip
    assert left.status_code == 303 and left.headers["location"] == "/groups"
    for url in (f"/groups/{gid}", f"/collections/{cid}", f"/api/collections/{cid}"):
        assert other_client.get(url).status_code == 404, url
    bob = bearer(papers, "bob")
    assert not leaks(other_client.get("/api/collections/mine", headers=bob).text)
    # The group keeps its collection (bob started it).
    assert client.get(f"/collections/{cid}").status_code == 200


def test_group_invite_edges(client: Client, other_client: Client, lab: dict[str, object]) -> None:
    gid = lab["id"]
    assert other_client.get("/groups/join/not-a-token").status_code == 404
    page = client.get(f"/groups/{gid}")
    client.post(f"/groups/{gid}/invites/void", data={"csrf_token": csrf_token(page.text)})
    withdrawn = other_client.get(str(lab["invite"]))
    assert withdrawn.status_code == 400 and "withdrawn" in withdrawn.text
    assert f"/groups/{gid}" in other_client.get("/groups").text  # bob is still a member
