"""Fixtures for the web tests: the real ASGI app over HTTP, on each storage engine.

``client`` is an ``httpx.AsyncClient`` on ``httpx.ASGITransport`` (requests go
through the whole middleware stack, cookies included), driven from plain test
functions through an anyio blocking portal. Passwords are hashed with argon2id at
small parameters so sign-ups stay fast; everything else is the production code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import anyio.from_thread
import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from paperfeed.community import Community
from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.library import Library
from paperfeed.models import PaperRecord, SourceFacts
from paperfeed.settings import Settings
from paperfeed.web.app import create_app

PASSWORD = "correct horse battery"
CLIENT_IP = "203.0.113.7"
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def record(arxiv_id: str = "2410.17243", **overrides: Any) -> PaperRecord:
    """An arXiv record on the feed day 2024-10-25 unless told otherwise."""
    values: dict[str, Any] = dict(
        source="arxiv",
        arxiv_id=arxiv_id,
        version=1,
        title=f"Paper {arxiv_id}: scaling contrastive learning",
        abstract="Contrastive loss is a powerful approach for representation learning.",
        authors=["Zesen Cheng", "Hang Zhang", "Kehan Li", "Sicong Leng"],
        categories=["cs.CV", "cs.LG"],
        published_at=datetime(2024, 10, 22, 17, 59, 30, tzinfo=UTC),
        updated_at=datetime(2024, 10, 22, 17, 59, 30, tzinfo=UTC),
        listed_on=date(2024, 10, 25),
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        facts=SourceFacts(source="arxiv", external_id=arxiv_id),
    )
    values.update(overrides)
    return PaperRecord(**values)


def add_papers(library: Library, *records: PaperRecord) -> None:
    IngestPipeline(library.storage).ingest_records(list(records))


def csrf_token(html: str) -> str:
    found = _CSRF_INPUT.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


class Client:
    """Synchronous face of an ``httpx.AsyncClient`` talking to the ASGI app."""

    def __init__(
        self,
        app: FastAPI,
        portal: anyio.from_thread.BlockingPortal,
        base_url: str = "http://testserver",
    ) -> None:
        self.portal = portal
        transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 40000))
        self.http = httpx.AsyncClient(transport=transport, base_url=base_url)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(partial(self.http.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return self.http.cookies

    def form_post(self, page_url: str, url: str, data: dict[str, Any], **kw: Any) -> httpx.Response:
        """POST ``data`` with the CSRF token of the form on ``page_url``, like a browser."""
        page = self.get(page_url)
        assert page.status_code == 200, page.text
        return self.post(url, data={"csrf_token": csrf_token(page.text), **data}, **kw)

    def sign_up(self, username: str = "ada", email: str | None = None) -> httpx.Response:
        response = self.form_post(
            "/signup", "/signup",
            {"username": username, "email": email or f"{username}@example.org",
             "password": PASSWORD},
        )  # fmt: skip
        assert response.status_code == 303, response.text
        return response

    def log_in(self, login: str = "ada", password: str = PASSWORD) -> httpx.Response:
        return self.form_post("/login", "/login", {"login": login, "password": password})

    def close(self) -> None:
        self.portal.call(self.http.aclose)


#: Nothing listens on port 9 here: arXiv is "offline" unless a test points it elsewhere.
OFFLINE_ARXIV = "http://127.0.0.1:9/api/query"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The per-engine settings, with arXiv unreachable so no test touches the internet."""
    return settings.model_copy(
        update={"arxiv_api_url": OFFLINE_ARXIV, "http_delay_seconds": 0.0,
                "http_timeout_seconds": 5.0}
    )  # fmt: skip


@pytest.fixture
def web_library(library: Library) -> Library:
    """The per-engine library with fast (same algorithm, small cost) password hashing."""
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    library.community = Community(
        library.storage, password_hasher=hasher, secret=library.settings.secret
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
def client(app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> Iterator[Client]:
    opened = Client(app, portal)
    yield opened
    opened.close()


@pytest.fixture
def other_client(app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> Iterator[Client]:
    """A second browser (its own cookies) against the same app."""
    opened = Client(app, portal)
    yield opened
    opened.close()
