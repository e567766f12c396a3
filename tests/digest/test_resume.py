"""Exactly once: crashes part-way, killed workers, deferred and refused mail, two
workers at once. Every subscriber must end up with exactly one digest per period."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage

import pytest

from paperfeed.digest.senders import BeforeData, SendError, SmtpSender, make_sender
from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.digest.conftest import (
    FRIDAY,
    at,
    paper_ids_in,
    prepare_readers,
)
from tests.digest.smtp_server import Mailbox

SUBSCRIBERS = 6


class CrashAfter:
    """The real SMTP sender, with the process "crashing" before the (k+1)-th send."""

    def __init__(self, inner: SmtpSender, k: int) -> None:
        self.inner, self.left = inner, k

    def send(self, message: EmailMessage, *, before_data: BeforeData | None = None) -> None:
        if self.left == 0:
            raise RuntimeError("power cut")
        self.left -= 1
        self.inner.send(message, before_data=before_data)

    def close(self) -> None:
        self.inner.close()


def prepare(library: Library, mailbox: Mailbox, count: int = SUBSCRIBERS) -> list[str]:
    return prepare_readers(library, mailbox, count)


def assert_exactly_once(mailbox: Mailbox, addresses: list[str]) -> None:
    received = Counter(r for rcpts in mailbox.recipients for r in rcpts)
    assert received == Counter({address: 1 for address in addresses})
    for message in mailbox.messages:
        assert paper_ids_in(message) == ["2410.00001", "2410.00002", "2410.00003"]


def test_crash_mid_run_resumes_without_duplicates_or_gaps(
    library: Library, mailbox: Mailbox
) -> None:
    addresses = prepare(library, mailbox)
    delivery = library.delivery
    smtp = make_sender(library.settings)
    assert isinstance(smtp, SmtpSender)
    delivery.sender = CrashAfter(smtp, k=2)
    with pytest.raises(RuntimeError, match="power cut"):
        delivery.send_digests(now=at(FRIDAY), worker="first")
    assert len(mailbox.messages) == 2

    delivery.sender = smtp
    report = delivery.send_digests(now=at(FRIDAY, 7), worker="second")
    assert report.resumed == 1  # the claim the crash let go of
    assert report.sent == SUBSCRIBERS - 2
    assert_exactly_once(mailbox, addresses)
    assert {row["status"] for row in delivery.sends()} == {"sent"}
    assert delivery.send_digests(now=at(FRIDAY, 8)).sent == 0


def test_killed_worker_is_taken_over_after_its_lease(
    library: Library, mailbox: Mailbox, settings: Settings
) -> None:
    """A worker process killed outright (os._exit) while sending its third digest."""
    addresses = prepare(library, mailbox)
    script = textwrap.dedent(f"""
        import os
        from datetime import datetime, UTC
        from paperfeed.library import Library
        from paperfeed.settings import Settings
        settings = Settings.model_validate_json({settings.model_dump_json()!r})
        library = Library.open(settings)
        real = library.delivery.sender
        class KilledOnThird:
            sent = 0
            def send(self, message, before_data=None):
                if self.sent == 2:
                    os._exit(9)  # no cleanup at all, like kill -9
                self.sent += 1
                real.send(message, before_data=before_data)
            def close(self):
                real.close()
        library.delivery.sender = KilledOnThird()
        library.delivery.send_digests(now=datetime(2024, 10, 25, 6, tzinfo=UTC), worker="doomed")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    done = subprocess.run([sys.executable, "-c", script], env=env, timeout=120,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 9, done.stderr
    assert len(mailbox.messages) == 2

    # Right after: the dead worker's claim still holds its lease; the rest go out.
    soon = library.delivery.send_digests(now=at(FRIDAY) + timedelta(minutes=1), worker="next")
    assert (soon.resumed, soon.sent) == (0, SUBSCRIBERS - 3)
    assert len(mailbox.messages) == SUBSCRIBERS - 1
    # Once the lease has run out, the claim is taken over and its digest sent.
    later = library.delivery.send_digests(now=at(FRIDAY) + timedelta(minutes=11), worker="next")
    assert (later.resumed, later.sent) == (1, 1)
    assert_exactly_once(mailbox, addresses)


def test_server_outage_defers_and_the_next_run_delivers(library: Library, mailbox: Mailbox) -> None:
    addresses = prepare(library, mailbox, count=3)
    mailbox.replies = ["421 4.3.2 shutting down"] * library.settings.smtp_max_attempts
    with pytest.raises(SendError, match="the rest go with the next run"):
        library.delivery.send_digests(now=at(FRIDAY))
    assert mailbox.messages == []
    (claim,) = library.delivery.sends()
    assert (claim["status"], claim["attempts"]) == ("claimed", 1)
    assert "421" in claim["last_error"]

    # Before the retry delay only the others go; after it, the deferred one too.
    early = library.delivery.send_digests(now=at(FRIDAY) + timedelta(minutes=5))
    assert (early.resumed, early.sent) == (0, 2)
    late = library.delivery.send_digests(now=at(FRIDAY) + timedelta(minutes=45))
    assert (late.resumed, late.sent) == (1, 1)
    assert_exactly_once(mailbox, addresses)


def test_refused_recipient_fails_alone(library: Library, mailbox: Mailbox) -> None:
    addresses = prepare(library, mailbox, count=3)
    mailbox.replies = ["550 5.1.1 mailbox unavailable"]
    report = library.delivery.send_digests(now=at(FRIDAY))
    assert (report.failed, report.sent) == (1, 2)
    failed = [row for row in library.delivery.sends() if row["status"] == "failed"]
    assert len(failed) == 1 and "550" in failed[0]["last_error"]
    # Failed is final: a later run does not try again, and its papers are not "sent".
    assert library.delivery.send_digests(now=at(FRIDAY, 9)).sent == 0
    assert library.delivery.sent_papers(failed[0]["subscriber_id"]) == []
    assert len(mailbox.messages) == 2
    assert len({r for rcpts in mailbox.recipients for r in rcpts} & set(addresses)) == 2


def test_two_workers_at_once_send_each_digest_once(
    library: Library, mailbox: Mailbox, settings: Settings
) -> None:
    addresses = prepare(library, mailbox, count=12)
    workers = [Library.open(settings) for _ in range(2)]  # own connections, like processes
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(worker: Library, name: str) -> None:
        try:
            barrier.wait()
            worker.delivery.send_digests(now=at(FRIDAY), worker=name)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w, f"w{i}")) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for worker in workers:
        worker.close()
    assert errors == []
    assert_exactly_once(mailbox, addresses)
    rows = library.delivery.sends()
    assert len(rows) == 12 and {row["status"] for row in rows} == {"sent"}


def test_a_claim_left_by_a_crash_is_dropped_if_the_reader_unsubscribed(
    library: Library, mailbox: Mailbox
) -> None:
    prepare(library, mailbox, count=2)
    smtp = make_sender(library.settings)
    assert isinstance(smtp, SmtpSender)
    library.delivery.sender = CrashAfter(smtp, k=0)
    with pytest.raises(RuntimeError):
        library.delivery.send_digests(now=at(FRIDAY))
    (claim,) = library.delivery.sends()
    library.delivery.unsubscribe(library.delivery.tokens.unsubscribe_token(claim["subscriber_id"]))
    library.delivery.sender = smtp
    report = library.delivery.send_digests(now=at(FRIDAY, 7))
    assert (report.resumed, report.sent) == (1, 1)
    statuses = {row["subscriber_id"]: row["status"] for row in library.delivery.sends()}
    assert statuses[claim["subscriber_id"]] == "skipped"
    assert len(mailbox.messages) == 1


def test_unsubscribing_during_a_run_stops_that_digest(library: Library, mailbox: Mailbox) -> None:
    addresses = prepare(library, mailbox, count=2)
    delivery = library.delivery
    second = delivery.storage.subscriptions.by_email(addresses[1])
    assert second is not None
    smtp = make_sender(library.settings)

    class UnsubscribesTheNextReader:
        def send(self, message: EmailMessage, *, before_data: BeforeData | None = None) -> None:
            smtp.send(message, before_data=before_data)
            delivery.unsubscribe(delivery.tokens.unsubscribe_token(second.id))

        def close(self) -> None:
            smtp.close()

    delivery.sender = UnsubscribesTheNextReader()
    report = delivery.send_digests(now=at(FRIDAY))
    assert (report.sent, report.empty) == (1, 1)
    assert [rcpts for rcpts in mailbox.recipients] == [[addresses[0]]]
