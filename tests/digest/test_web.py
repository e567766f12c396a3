"""The subscription pages over HTTP (the real ASGI app), mail through real SMTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import anyio.from_thread
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from paperfeed.community import Community
from paperfeed.library import Library
from paperfeed.settings import Settings
from paperfeed.web.app import create_app
from tests.digest.conftest import (
    FRIDAY,
    add_papers,
    at,
    confirm_token,
    paper_ids_in,
    record,
    text_of,
    with_votes,
)
from tests.digest.smtp_server import Mailbox
from tests.web.conftest import PASSWORD, Client, csrf_token

ORIGIN = "https://papers.example.org"  # = settings.base_url: cookies are Secure


@pytest.fixture
def web_library(library: Library) -> Library:
    library.community = Community(
        library.storage,
        password_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    return library


@pytest.fixture
def app(web_library: Library, settings: Settings) -> FastAPI:
    return create_app(web_library, settings)


@pytest.fixture
def portal() -> Iterator[anyio.from_thread.BlockingPortal]:
    with anyio.from_thread.start_blocking_portal() as running:
        yield running


@pytest.fixture
def browser(app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> Iterator[Client]:
    opened = Client(app, portal, base_url=ORIGIN)
    yield opened
    opened.close()


@pytest.fixture
def mail_client(app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> Iterator[Client]:
    """A mail provider's one-click request: no cookies, no CSRF token, nothing."""
    opened = Client(app, portal, base_url=ORIGIN)
    yield opened
    opened.close()


def path_of(url: str) -> str:
    return urlsplit(url).path


def subscribe(browser: Client, email: str, topics: str = "", cadence: str = "daily") -> str:
    response = browser.form_post(
        "/subscribe", "/subscribe", {"email": email, "cadence": cadence, "topics": topics}
    )
    assert response.status_code == 200, response.text
    return response.text


def test_double_opt_in_to_digest_over_http(
    browser: Client, mail_client: Client, web_library: Library, mailbox: Mailbox
) -> None:
    add_papers(
        web_library,
        *[with_votes(f"2410.0000{n}", 20 - n) for n in range(1, 7)],
        record("2410.10001", title="Sparse <experts> & routing", categories=["cs.LG"]),
        record("2410.10002", categories=["math.AP"]),
    )  # fmt: skip
    page = subscribe(browser, "Ada@Example.org", topics="cat:cs.LG\r\nau:Nobody Here")
    assert "Check your inbox" in page

    # The confirmation mail, and its link: GET shows a button and changes nothing.
    (confirmation,) = mailbox.to("ada@example.org")
    link = re.search(r"https://\S+/subscribe/confirm/\S+", text_of(confirmation)).group(0)  # type: ignore[union-attr]
    shown = browser.get(path_of(link))
    assert shown.status_code == 200 and "Confirm my subscription" in shown.text
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert web_library.delivery.subscribers()[0].status == "pending"
    confirmed = browser.post(path_of(link), data={"csrf_token": csrf_token(shown.text)})
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert web_library.delivery.subscribers()[0].status == "active"

    report = web_library.delivery.send_digests(now=at(FRIDAY))
    assert report.sent == 1
    digest = mailbox.to("ada@example.org")[-1]
    assert paper_ids_in(digest) == [
        "2410.00001", "2410.00002", "2410.00003", "2410.00004", "2410.00005", "2410.10001"
    ]  # fmt: skip
    assert "Sparse <experts> & routing" in text_of(digest)

    # One-click unsubscribe (RFC 8058): a POST with no cookies and no CSRF token.
    unsubscribe_url = str(digest["List-Unsubscribe"]).strip()[1:-1]
    assert mail_client.get(path_of(unsubscribe_url)).status_code == 200  # a page, no change
    assert web_library.delivery.subscribers()[0].status == "active"
    mail_client.cookies.clear()  # the GET's page set a CSRF cookie; a mail client has none
    response = mail_client.post(
        path_of(unsubscribe_url), content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert "cookie" not in response.request.headers
    assert web_library.delivery.subscribers()[0].status == "unsubscribed"
    assert web_library.delivery.send_digests(now=at(FRIDAY, 9)).due == 0


def test_other_changes_still_need_csrf(
    browser: Client, mail_client: Client, web_library: Library, mailbox: Mailbox
) -> None:
    refused = mail_client.post("/subscribe", data={"email": "ada@example.org"})
    assert refused.status_code == 403
    subscribe(browser, "ada@example.org")
    token = confirm_token(mailbox.to("ada@example.org")[0])
    assert mail_client.post(f"/subscribe/confirm/{token}").status_code == 403
    assert mail_client.post(f"/unsubscribe/{token}/x").status_code in (403, 404, 405)
    assert web_library.delivery.subscribers()[0].status == "pending"
    assert len(mailbox.messages) == 1


def test_injection_through_the_form_is_refused(
    browser: Client, web_library: Library, mailbox: Mailbox
) -> None:
    response = browser.form_post("/subscribe", "/subscribe",
                                 {"email": "a@b.co\r\nBcc: evil@x.example", "cadence": "daily"})  # fmt: skip
    assert response.status_code == 400
    assert "must not contain line breaks" in response.text
    assert mailbox.data_commands == 0
    assert web_library.delivery.subscribers() == []


def test_the_answer_does_not_reveal_who_is_subscribed(
    browser: Client, web_library: Library, mailbox: Mailbox
) -> None:
    first = subscribe(browser, "ada@example.org")
    web_library.delivery.confirm(confirm_token(mailbox.to("ada@example.org")[0]))
    again = subscribe(browser, "ada@example.org")
    other = subscribe(browser, "bob@example.org")
    strip = lambda html: re.sub(r'value="[^"]*"|\S+@example\.org', "", html)  # noqa: E731
    assert strip(first) == strip(again) == strip(other)


def test_bad_links_are_not_found(browser: Client, mail_client: Client) -> None:
    for path in ("/subscribe/confirm/nonsense", "/unsubscribe/nonsense"):
        assert browser.get(path).status_code == 404
    assert mail_client.post("/unsubscribe/nonsense").status_code == 404


def test_rate_limit_answers_429(browser: Client, mailbox: Mailbox) -> None:
    for n in range(10):
        subscribe(browser, f"user{n}@example.org")
    page = browser.get("/subscribe")
    refused = browser.post("/subscribe", data={"csrf_token": csrf_token(page.text),
                                               "email": "user10@example.org"})  # fmt: skip
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert len(mailbox.messages) == 10


def test_json_twins(browser: Client, mail_client: Client, web_library: Library,
                    mailbox: Mailbox) -> None:  # fmt: skip
    form = browser.get("/subscribe.json").json()
    assert form["cadences"] == ["daily", "weekly"] and form["email"] == ""
    subscribe(browser, "ada@example.org")
    token = confirm_token(mailbox.to("ada@example.org")[0])
    assert browser.get(f"/subscribe/confirm/{token}.json").json()["status"] == "unconfirmed"
    page = browser.get(f"/subscribe/confirm/{token}")
    confirmed = browser.post(f"/subscribe/confirm/{token}.json",
                             data={"csrf_token": csrf_token(page.text)})  # fmt: skip
    assert confirmed.json()["status"] == "active"
    unsubscribe = web_library.delivery.tokens.unsubscribe_token(
        web_library.delivery.subscribers()[0].id
    )
    assert mail_client.post(f"/unsubscribe/{unsubscribe}.json").json() == {"status": "unsubscribed"}


def test_manage_page_and_saved_searches(
    browser: Client, web_library: Library, mailbox: Mailbox
) -> None:
    assert browser.get("/subscribe/manage").status_code == 303  # log in first
    signed_up = browser.form_post(
        "/signup", "/signup",
        {"username": "ada", "email": "ada@example.org", "password": PASSWORD},
    )  # fmt: skip
    assert signed_up.status_code == 303
    assert 'value="ada@example.org"' in browser.get("/subscribe").text  # the account's address
    subscribe(browser, "ada@example.org", topics="diffusion")
    manage = browser.get("/subscribe/manage")
    assert "Waiting for confirmation" in manage.text
    web_library.delivery.confirm(confirm_token(mailbox.to("ada@example.org")[0]))

    manage = browser.get("/subscribe/manage")
    assert "Active: a daily digest" in manage.text
    added = browser.post("/subscribe/searches",
                         data={"csrf_token": csrf_token(manage.text), "kind": "category",
                               "query": "cs.LG"})  # fmt: skip
    assert added.status_code == 303
    data = browser.get("/subscribe/manage.json").json()
    assert [(t["kind"], t["query"]) for t in data["saved_searches"]] == [
        ("keyword", "diffusion"), ("category", "cs.LG"),
    ]  # fmt: skip
    assert data["subscription"]["topics"] == data["saved_searches"]
    bad = browser.post("/subscribe/searches", data={"csrf_token": csrf_token(manage.text),
                                                    "kind": "category", "query": "<script>"})  # fmt: skip
    assert bad.status_code == 400 and "<script>" not in bad.text

    first_id = data["saved_searches"][0]["id"]
    browser.post(f"/subscribe/searches/{first_id}/delete",
                 data={"csrf_token": csrf_token(manage.text)})  # fmt: skip
    changed = browser.post("/subscribe/manage", data={"csrf_token": csrf_token(manage.text),
                                                      "cadence": "weekly", "max_papers": "7"})  # fmt: skip
    assert changed.status_code == 303
    subscription = browser.get("/subscribe/manage.json").json()["subscription"]
    assert (subscription["cadence"], subscription["max_papers"]) == ("weekly", 7)
    assert [t["query"] for t in subscription["topics"]] == ["cs.LG"]
    browser.post("/subscribe/manage", data={"csrf_token": csrf_token(manage.text),
                                            "action": "unsubscribe"})  # fmt: skip
    assert browser.get("/subscribe/manage.json").json()["subscription"]["status"] == "unsubscribed"


def test_mail_server_down_is_a_503_without_details(
    web_library: Library, settings: Settings, portal: anyio.from_thread.BlockingPortal
) -> None:
    from tests.digest.smtp_server import free_port

    broken = settings.model_copy(update={"smtp_port": free_port(), "smtp_max_attempts": 1})
    web_library.settings = broken  # this library's delivery now mails a closed port
    web_library.delivery = type(web_library.delivery)(web_library.storage, broken)
    client = Client(create_app(web_library, broken), portal, base_url=ORIGIN)
    try:
        response = client.form_post("/subscribe", "/subscribe", {"email": "ada@example.org"})
    finally:
        client.close()
    assert response.status_code == 503
    assert "could not be sent just now" in response.text
    assert "127.0.0.1" not in response.text and "Connection" not in response.text
    assert 'value="ada@example.org"' in response.text  # the form is kept


# -- the signed "manage" link of every digest (no account) -----------------------------

_MANAGE = re.compile(r"https://papers\.example\.org(/subscribe/manage/[A-Za-z0-9_.\-]+)")


def test_a_digest_without_an_account_links_to_its_own_settings(
    browser: Client, mail_client: Client, web_library: Library, mailbox: Mailbox
) -> None:
    add_papers(web_library, with_votes("2410.00001", 9), record("2410.00002", title="Diffusion"))
    subscribe(browser, "zoe@example.org", topics="diffusion")
    web_library.delivery.confirm(confirm_token(mailbox.to("zoe@example.org")[0]))
    web_library.delivery.send_digests("daily", now=at(FRIDAY))
    digest = mailbox.to("zoe@example.org")[-1]
    found = _MANAGE.search(text_of(digest))
    assert found, text_of(digest)
    link = found.group(1)
    # No cookie, no account: the signed link is the key.
    page = mail_client.get(link)
    assert page.status_code == 200 and "keyword:diffusion" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    saved = mail_client.post(link, data={
        "csrf_token": csrf_token(page.text), "cadence": "weekly", "max_papers": "7",
        "topics": "cat:cs.CL\nauthor:Grace Hopper",
    })  # fmt: skip
    assert saved.status_code == 200 and "Saved" in saved.text
    bad = mail_client.post(link, data={"csrf_token": csrf_token(page.text), "topics": "cat:!!"})
    assert bad.status_code == 400 and "cat:!!" in bad.text
    assert mail_client.get(link[:-3] + "abc").status_code == 404
    changed = web_library.delivery.storage.subscriptions.by_email("zoe@example.org")
    assert changed is not None
    assert (changed.cadence, changed.max_papers) == ("weekly", 7)
    assert [t.as_text() for t in changed.topics] == ["category:cs.CL", "author:Grace Hopper"]


def test_an_accounts_digest_links_to_the_account_page(
    browser: Client, web_library: Library, mailbox: Mailbox
) -> None:
    add_papers(web_library, with_votes("2410.00001", 9))
    browser.sign_up("ada", "ada@example.org")
    subscribe(browser, "ada@example.org")
    web_library.delivery.confirm(confirm_token(mailbox.to("ada@example.org")[0]))
    web_library.delivery.send_digests("daily", now=at(FRIDAY))
    text = text_of(mailbox.to("ada@example.org")[-1])
    assert "https://papers.example.org/subscribe/manage\r\n" in text
    subscriber = web_library.delivery.subscription_of_user(
        web_library.community.user_by_username("ada").id
    )
    token = web_library.delivery.tokens.manage_token(subscriber.id)  # type: ignore[union-attr]
    assert browser.get(f"/subscribe/manage/{token}").status_code == 403
