"""Digest test fixtures: a real SMTP server, settings that send through it, papers.

Every test runs on both engines through the shared ``library`` fixture; the
``settings`` fixture here layers SMTP delivery over the per-engine settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.library import Library
from paperfeed.models import PaperRecord, SourceFacts
from paperfeed.settings import Settings
from tests.digest.smtp_server import Mailbox, smtp_server

#: A Friday: daily digests go out.
FRIDAY = date(2024, 10, 25)
SATURDAY = date(2024, 10, 26)
MONDAY = date(2024, 10, 28)
MAIL_FROM = "paperfeed digests <digest@papers.example.org>"
BASE_URL = "https://papers.example.org"


def at(day: date, hour: int = 6) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    return smtp[0]


@pytest.fixture
def settings(settings: Settings, smtp: tuple[Mailbox, int]) -> Settings:
    """The per-engine settings, delivering to the loopback SMTP server (no TLS)."""
    return settings.model_copy(
        update={
            "mail_sender": "smtp", "smtp_host": "127.0.0.1", "smtp_port": smtp[1],
            "smtp_security": "none", "mail_from": MAIL_FROM, "base_url": BASE_URL,
            "smtp_retry_base_seconds": 0.0, "smtp_timeout_seconds": 10.0,
        }
    )  # fmt: skip


def record(arxiv_id: str, day: date = FRIDAY, **overrides: Any) -> PaperRecord:
    values: dict[str, Any] = dict(
        source="arxiv", arxiv_id=arxiv_id, version=1,
        title=f"Paper {arxiv_id}", abstract=f"An abstract for {arxiv_id}.",
        authors=["Grace Hopper"], categories=["cs.CL"],
        published_at=datetime(day.year, day.month, day.day, tzinfo=UTC), listed_on=day,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        facts=SourceFacts(source="arxiv", external_id=arxiv_id),
    )  # fmt: skip
    values.update(overrides)
    return PaperRecord(**values)


def with_votes(arxiv_id: str, votes: int, day: date = FRIDAY, **overrides: Any) -> PaperRecord:
    """A paper Hugging Face lists with ``votes`` upvotes (trending order is by votes)."""
    return record(
        arxiv_id, day,
        facts=SourceFacts(source="huggingface", external_id=arxiv_id, upvotes=votes),
        **overrides,
    )  # fmt: skip


def add_papers(library: Library, *records: PaperRecord) -> None:
    IngestPipeline(library.storage).ingest_records(list(records))


_CONFIRM = re.compile(r"https?://\S+/subscribe/confirm/([A-Za-z0-9_.\-]+)")


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]


def confirm_token(message: EmailMessage) -> str:
    found = _CONFIRM.search(text_of(message))
    assert found, text_of(message)
    return found.group(1)


def unsubscribe_token(message: EmailMessage) -> str:
    value = str(message["List-Unsubscribe"]).strip()  # folded onto a second line: fine
    found = re.fullmatch(r"<https://papers\.example\.org/unsubscribe/([A-Za-z0-9_.\-]+)>", value)
    assert found, value
    return found.group(1)


def subscribe_confirmed(library: Library, mailbox: Mailbox, email: str, **kwargs: Any) -> int:
    """Subscribe ``email`` and follow the confirmation link from the mail received."""
    subscriber = library.delivery.subscribe(email, **kwargs)
    library.delivery.confirm(confirm_token(mailbox.to(email)[-1]))
    return subscriber.id


def paper_ids_in(message: EmailMessage) -> list[str]:
    return re.findall(r"https://papers\.example\.org/papers/(\S+)", text_of(message))


def prepare_readers(library: Library, mailbox: Mailbox, count: int) -> list[str]:
    """Three papers of Friday (trending by votes) and ``count`` confirmed readers whose
    digest holds all three; the mailbox is emptied of confirmation mails."""
    add_papers(library, *[with_votes(f"2410.0000{n}", 10 - n) for n in range(1, 4)])
    addresses = [f"reader{n}@example.org" for n in range(count)]
    for address in addresses:
        subscribe_confirmed(library, mailbox, address)
    mailbox.clear()  # keep only digests
    return addresses


def add_active_readers(library: Library, count: int) -> list[str]:
    """Friday's three papers and ``count`` readers already confirmed (written straight
    to the store: many confirmation round trips would only slow a test down)."""
    add_papers(library, *[with_votes(f"2410.0000{n}", 10 - n) for n in range(1, 4)])
    addresses = [f"reader{n}@example.org" for n in range(count)]
    store = library.storage.subscriptions
    with library.storage.db.transaction() as tx:
        for address in addresses:
            store.insert(tx, email=address, email_key=address, cadence="daily",
                         at=at(FRIDAY) - timedelta(days=1), status="active")  # fmt: skip
    return addresses
