"""Exactly-once digests with two `paperfeed worker` processes on one PostgreSQL database.

Real parts only: two worker processes started together, the same PostgreSQL
schema, an aiosmtpd SMTP server on loopback. Several digest jobs are due at once,
so the workers claim jobs in parallel and run ``send_digests`` concurrently; the
job leases and the digests' send log between them must let every subscriber
receive exactly one digest.
"""

from __future__ import annotations

import email
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.library import Library
from paperfeed.models import utc_now
from paperfeed.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.jobs.conftest import paper

SUBSCRIBERS = 12
DIGEST_JOBS = 4  # the built-in digest-daily plus three more of the same kind
_CONFIRM_LINK = re.compile(r"/subscribe/confirm/([A-Za-z0-9_.\-]+)")

pytestmark = pytest.mark.postgres


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def digests(self) -> list[tuple[list[str], EmailMessage]]:
        return [(to, m) for to, m in self.messages if m["List-Unsubscribe"] is not None]

    def confirmations(self) -> list[tuple[list[str], EmailMessage]]:
        return [(to, m) for to, m in self.messages if m["List-Unsubscribe"] is None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def confirm_all(library: Library, inbox: Inbox) -> None:
    """Follow each confirmation mail's link, as the subscribers would."""
    for _, message in inbox.confirmations():
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        match = _CONFIRM_LINK.search(body.get_content())
        assert match, body.get_content()
        assert library.delivery.confirm(match.group(1)).status == "active"


def start_worker(env: dict[str, str], worker_id: str) -> subprocess.Popen[str]:
    command = ["worker", "--once", "--json", "--worker-id", worker_id]
    return subprocess.Popen(
        [sys.executable, "-m", "paperfeed", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not POSTGRES_URL, reason="needs PAPERFEED_TEST_DATABASE_URL"),
        )
    ],
)
def test_two_workers_send_each_digest_exactly_once(
    settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    mail = {
        "mail_sender": "smtp", "mail_from": "paperfeed <digest@example.org>",
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
        "digest_skip_weekends": False,  # the test may run on a Saturday
    }  # fmt: skip
    setup = settings.model_copy(update=mail)
    now = utc_now()
    with Library.open(setup) as library:
        IngestPipeline(library.storage).ingest_records([paper(n, now) for n in range(1, 9)])
        for n in range(SUBSCRIBERS):
            topics = ["diffusion"] if n % 2 else []
            library.delivery.subscribe(f"reader{n}@example.org", topics=topics)
        assert len(inbox.confirmations()) == SUBSCRIBERS
        confirm_all(library, inbox)
        # Make the digest jobs due now: the built-in one and three more of its kind.
        scheduler = library.scheduler
        scheduler.ensure_jobs()
        for name in ("harvest-arxiv", "harvest-hf", "digest-weekly"):
            scheduler.pause(name)
        library.storage.jobs.set_next_run("digest-daily", now - timedelta(minutes=1))
        for extra in range(2, DIGEST_JOBS + 1):
            library.storage.jobs.ensure(
                f"digest-daily-{extra}", kind="digest", params={"cadence": "daily"},
                schedule="daily 06:00", next_run_at=now - timedelta(minutes=1), now=now,
            )  # fmt: skip

    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update({
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_DATABASE_URL": settings.resolved_database_url,
        "PAPERFEED_DATABASE_SCHEMA": settings.database_schema or "",
        "PAPERFEED_MAIL_SENDER": "smtp",
        "PAPERFEED_MAIL_FROM": "paperfeed <digest@example.org>",
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(port),
        "PAPERFEED_SMTP_SECURITY": "none",
        "PAPERFEED_DIGEST_SKIP_WEEKENDS": "false",
    })  # fmt: skip
    workers = [start_worker(env, f"worker-{letter}") for letter in "ab"]
    outputs = []
    for worker in workers:
        try:
            stdout, stderr = worker.communicate(timeout=240)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert worker.returncode == 0, stderr
        outputs.append(json.loads(stdout))

    digest_runs = [
        run for runs in outputs for run in runs if run["name"].startswith("digest-daily")
    ]
    # Each digest job ran exactly once, on one worker or the other.
    assert sorted(run["name"] for run in digest_runs) == sorted(
        ["digest-daily"] + [f"digest-daily-{n}" for n in range(2, DIGEST_JOBS + 1)]
    )
    assert all(run["status"] == "ok" for run in digest_runs), digest_runs
    assert sum(run["result"]["sent"] for run in digest_runs) == SUBSCRIBERS

    received: dict[str, int] = {}
    for recipients, message in inbox.digests():
        for address in recipients:
            received[address] = received.get(address, 0) + 1
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received == {f"reader{n}@example.org": 1 for n in range(SUBSCRIBERS)}

    with Library.open(settings) as library:
        sent = library.delivery.sends(status="sent")
        assert sorted(row["subscriber_id"] for row in sent) == sorted(
            s.id for s in library.delivery.subscribers()
        )
        for name in ["digest-daily"] + [f"digest-daily-{n}" for n in range(2, DIGEST_JOBS + 1)]:
            job = library.storage.jobs.get(name)
            assert job is not None
            assert (job.run_count, job.locked_by, job.error_count) == (1, None, 0)
            assert job.next_run_at > datetime.now(UTC)
