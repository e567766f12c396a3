"""Account basics over HTTP with a real SMTP server: forgotten password, new password,
new address (re-confirmed), deleting the account with the profile offered first."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage

import anyio.from_thread
import pytest
from fastapi import FastAPI

from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.digest.smtp_server import Mailbox, smtp_server
from tests.web.conftest import PASSWORD, Client, add_papers, csrf_token, record

NEW_PASSWORD = "a brand new passphrase"
BASE = "https://papers.example.org"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def settings(settings: Settings, smtp: tuple[Mailbox, int]) -> Settings:
    return settings.model_copy(update={
        "mail_sender": "smtp", "smtp_host": "127.0.0.1", "smtp_port": smtp[1],
        "smtp_security": "none", "mail_from": "paperfeed <accounts@papers.example.org>",
        "base_url": BASE, "smtp_retry_base_seconds": 0.0,
    })  # fmt: skip


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    return smtp[0]


@pytest.fixture
def client(app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> Iterator[Client]:
    """A browser on the site's https address (its cookies are Secure)."""
    opened = Client(app, portal, base_url=BASE)
    yield opened
    opened.close()


@pytest.fixture
def other_client(app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> Iterator[Client]:
    opened = Client(app, portal, base_url=BASE)
    yield opened
    opened.close()


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def link_in(message: EmailMessage, path: str) -> str:
    found = re.search(
        re.escape(BASE) + "(" + re.escape(path) + r"[A-Za-z0-9_.\-]+)", text_of(message)
    )
    assert found, text_of(message)
    return found.group(1)


def without_tokens(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def test_forgotten_password_same_answer_mail_only_to_accounts_and_single_use(
    client: Client, other_client: Client, web_library: Library, mailbox: Mailbox
) -> None:
    client.sign_up("ada")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    known = other_client.form_post("/password/forgot", "/password/forgot",
                                   {"email": "ada@example.org"})  # fmt: skip
    unknown = other_client.form_post("/password/forgot", "/password/forgot",
                                     {"email": "nobody@example.org"})  # fmt: skip
    assert known.status_code == unknown.status_code == 200
    assert without_tokens(known.text) == without_tokens(unknown.text)
    assert "If an account here uses that address" in known.text
    assert mailbox.to("nobody@example.org") == []
    (mail,) = mailbox.to("ada@example.org")
    assert mail["Subject"] == "Reset your paperfeed password"
    link = link_in(mail, "/password/reset/")
    page = other_client.get(link)
    assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer"
    token = csrf_token(page.text)
    differ = other_client.post(link, data={"csrf_token": token, "password": NEW_PASSWORD,
                                           "confirm": NEW_PASSWORD + "x"})  # fmt: skip
    assert differ.status_code == 400 and "differ" in differ.text
    done = other_client.post(link, data={"csrf_token": token, "password": NEW_PASSWORD,
                                         "confirm": NEW_PASSWORD})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
    assert "Your password is changed" in other_client.get("/login?reset=1").text
    assert other_client.log_in("ada", PASSWORD).status_code == 403
    assert other_client.log_in("ada", NEW_PASSWORD).status_code == 303
    again = other_client.get(link)
    assert again.status_code == 400 and "used already" in again.text
    # The fourth request for one address within the hour: 429, whoever asks.
    for _ in range(2):
        other_client.form_post("/password/forgot", "/password/forgot", {"email": "ada@example.org"})
    limited = other_client.form_post("/password/forgot", "/password/forgot",
                                     {"email": "ada@example.org"})  # fmt: skip
    assert limited.status_code == 429 and "retry-after" in limited.headers


def test_change_password_keeps_this_session_and_ends_the_others(
    client: Client, other_client: Client, web_library: Library
) -> None:
    client.sign_up("ada")
    other_client.log_in("ada", PASSWORD)
    token = csrf_token(client.get("/account").text)
    wrong = client.post("/account/password", data={"csrf_token": token, "current": "nope nope nope",
                                                    "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})  # fmt: skip
    assert wrong.status_code == 400 and "wrong password" in wrong.text
    changed = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                      "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})  # fmt: skip
    assert changed.status_code == 200 and "Your password is changed" in changed.text
    assert client.get("/account").status_code == 200
    assert other_client.get("/account").status_code == 303  # logged out there


def test_a_new_address_is_confirmed_from_the_new_inbox(
    client: Client, other_client: Client, web_library: Library, mailbox: Mailbox
) -> None:
    client.sign_up("ada")
    token = csrf_token(client.get("/account").text)
    asked = client.post("/account/email", data={"csrf_token": token, "email": "ada@lab.example.org",
                                                "password": PASSWORD})  # fmt: skip
    assert asked.status_code == 200 and "confirmation link is on its way" in asked.text
    assert web_library.community.user_by_username("ada").email == "ada@example.org"
    (notice,) = mailbox.to("ada@example.org")
    assert "asked to use another address" in text_of(notice)
    (confirm,) = mailbox.to("ada@lab.example.org")
    link = link_in(confirm, "/account/email/confirm/")
    page = other_client.get(link)  # from the new inbox: any browser
    assert page.status_code == 200 and "ada@lab.example.org" in page.text
    done = other_client.post(link, data={"csrf_token": csrf_token(page.text)})
    assert done.status_code == 200 and "now uses ada@lab.example.org" in done.text
    assert web_library.community.user_by_username("ada").email == "ada@lab.example.org"
    assert other_client.get(link).status_code == 400  # once


def test_delete_account_offers_the_profile_first(
    client: Client, web_library: Library, mailbox: Mailbox
) -> None:
    add_papers(web_library, record("2410.17243"))
    client.sign_up("ada")
    token = csrf_token(client.get("/account").text)
    client.post("/papers/2410.17243/upvote", data={"csrf_token": token})
    page = client.get("/account/delete")
    assert 'href="/account/export.json"' in page.text and 'href="/account/export.bib"' in page.text
    exported = client.get("/account/export.json")
    assert exported.headers["content-disposition"] == 'attachment; filename="paperfeed-ada.json"'
    assert exported.json()["upvotes"][0]["paper"]["arxiv_id"] == "2410.17243"
    refused = client.post("/account/delete", data={"csrf_token": token, "password": PASSWORD})
    assert refused.status_code == 400 and "tick the box" in refused.text
    gone = client.post("/account/delete", data={"csrf_token": token, "password": PASSWORD,
                                                "understood": "1"})  # fmt: skip
    assert gone.status_code == 303 and gone.headers["location"] == "/account/deleted"
    assert "Your account is deleted" in client.get("/account/deleted").text
    assert client.get("/account").status_code == 303
    assert client.log_in("ada", PASSWORD).status_code == 403
    assert web_library.storage.papers.get("2410.17243").upvotes == 0  # type: ignore[union-attr]
