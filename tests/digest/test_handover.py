"""The hand-over to the mail server, where exactly-once ends: what the send log knows
and does when a worker dies, stalls or loses its connection around SMTP ``DATA``.

The README's promise under test: never a missing digest; a second copy only when the
server may have had the message when its worker died (or the connection dropped
before the answer), counted in the send log's ``uncertain``, with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from paperfeed.digest.senders import BeforeData, SmtpSender, TransientSendError, make_sender
from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.digest.conftest import FRIDAY, at, prepare_readers
from tests.digest.smtp_server import Mailbox
from tests.digest.workers import start_digest_worker


def copies(mailbox: Mailbox) -> dict[str, list[str]]:
    return mailbox.deliveries()


def test_a_worker_killed_while_the_server_answers_sends_once_more(
    library: Library, mailbox: Mailbox, settings: Settings
) -> None:
    """SIGKILL after the server has read the whole second digest, before its "250"."""
    addresses = prepare_readers(library, mailbox, 4)
    arrived, killed = threading.Event(), threading.Event()

    async def hold_the_second(server: Any, message: EmailMessage) -> None:
        if mailbox.count() == 2:
            arrived.set()
            while not killed.is_set():
                await asyncio.sleep(0.01)

    mailbox.after_data = hold_the_second
    worker = start_digest_worker(settings, at(FRIDAY), "doomed")
    try:
        assert arrived.wait(120), worker.communicate(timeout=5)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        killed.set()
        if worker.poll() is None:
            worker.kill()
    mailbox.after_data = None
    assert worker.returncode == -signal.SIGKILL
    held = library.delivery.sends(status="claimed")
    assert len(held) == 1 and held[0]["handed_over_at"] is not None
    held_address = library.delivery.subscriber(held[0]["subscriber_id"]).email

    # Within the lease nobody touches it; after it, it is sent again, counted.
    soon = library.delivery.send_digests(now=at(FRIDAY) + timedelta(minutes=1), worker="next")
    assert (soon.resumed, soon.sent, soon.pending) == (0, 2, 1)
    later = library.delivery.send_digests(now=at(FRIDAY) + timedelta(minutes=5), worker="next")
    assert (later.resumed, later.uncertain, later.sent, later.pending) == (1, 1, 1, 0)

    received = copies(mailbox)
    assert set(received) == set(addresses)  # no gap
    assert len(received[held_address]) == 2 and len(set(received[held_address])) == 1
    assert all(len(ids) == 1 for address, ids in received.items() if address != held_address)
    rows = {row["subscriber_id"]: row for row in library.delivery.sends()}
    assert {row["status"] for row in rows.values()} == {"sent"}
    assert {row["subscriber_id"]: row["uncertain"] for row in rows.values()} == {
        sid: int(sid == held[0]["subscriber_id"]) for sid in rows
    }
    assert all(row["handed_over_at"] is None for row in rows.values())


def test_a_worker_that_lost_its_claim_stops_before_data(
    library: Library, mailbox: Mailbox, settings: Settings
) -> None:
    """A stalled worker (paused past its lease) whose digest another worker took over
    learns it at the hand-over, and the server never sees its copy."""
    addresses = prepare_readers(library, mailbox, 3)
    data_before = mailbox.data_commands
    smtp = make_sender(settings)
    stalled, go = threading.Event(), threading.Event()

    class StallsOnTheFirst:
        def send(self, message: EmailMessage, *, before_data: BeforeData | None = None) -> None:
            if not stalled.is_set():
                stalled.set()
                assert go.wait(120)
            smtp.send(message, before_data=before_data)

        def close(self) -> None:
            smtp.close()

    slow = Library.open(settings)
    slow.delivery.sender = StallsOnTheFirst()
    reports = []
    thread = threading.Thread(
        target=lambda: reports.append(slow.delivery.send_digests(now=at(FRIDAY), worker="slow"))
    )
    thread.start()
    try:
        assert stalled.wait(120)
        # The slow worker's claim is past its lease: another worker takes over.
        fast = library.delivery.send_digests(now=at(FRIDAY) + timedelta(minutes=5), worker="fast")
        assert (fast.resumed, fast.uncertain, fast.sent) == (1, 0, 3)
    finally:
        go.set()
        thread.join(timeout=120)
        slow.close()
    (report,) = reports
    assert (report.sent, report.elsewhere) == (0, 3)
    assert {a: len(ids) for a, ids in copies(mailbox).items()} == dict.fromkeys(addresses, 1)
    assert mailbox.data_commands - data_before == 3  # the stalled copy never reached DATA
    assert {row["worker"] for row in library.delivery.sends()} == {"fast"}


def test_no_retry_once_the_server_has_the_whole_message(settings: Settings, smtp: Any) -> None:
    """A connection that drops after the message's last line: the server may deliver
    it, so the sender must not send it again by itself (it used to, 4 times at most)."""
    mailbox, _ = smtp

    async def drop(server: Any, message: EmailMessage) -> None:
        server.transport.abort()

    mailbox.after_data = drop
    sender = make_sender(settings)
    assert isinstance(sender, SmtpSender)
    message = EmailMessage()
    message["From"], message["To"] = "digest@papers.example.org", "ada@example.org"
    message["Subject"], message["Message-ID"] = "hello", "<one@papers.example.org>"
    message.set_content("first line\n.a line starting with a dot\n")
    with pytest.raises(TransientSendError) as raised:
        sender.send(message)
    assert raised.value.answered is False
    assert mailbox.count() == 1

    mailbox.after_data = None  # the next message goes through on a new connection
    handed: list[bool] = []
    sender.send(message, before_data=lambda: handed.append(True))
    assert handed == [True] and mailbox.count() == 2
    text = mailbox.messages[-1].get_content().replace("\r\n", "\n")
    assert text == "first line\n.a line starting with a dot\n"  # dot-stuffed and back
    sender.close()


def test_an_unanswered_digest_is_resent_by_a_later_run_and_counted(
    library: Library, mailbox: Mailbox
) -> None:
    addresses = prepare_readers(library, mailbox, 2)
    dropped: list[str] = []

    async def drop_the_first(server: Any, message: EmailMessage) -> None:
        if not dropped:
            dropped.append(str(message["To"]))
            server.transport.abort()

    mailbox.after_data = drop_the_first
    first = library.delivery.send_digests(now=at(FRIDAY))
    assert (first.sent, first.deferred) == (1, 1)  # the run goes on after it
    (claim,) = library.delivery.sends(status="claimed")
    assert claim["handed_over_at"] is not None and "did not answer" in claim["last_error"]

    early = library.delivery.send_digests(now=at(FRIDAY) + timedelta(minutes=10))
    assert (early.resumed, early.sent) == (0, 0)  # it waits for the retry delay
    late = library.delivery.send_digests(now=at(FRIDAY) + timedelta(minutes=45))
    assert (late.resumed, late.uncertain, late.sent) == (1, 1, 1)
    received = copies(mailbox)
    assert set(received) == set(addresses)
    assert len(received[dropped[0]]) == 2 and len(set(received[dropped[0]])) == 1
    (row,) = library.delivery.sends(subscriber_id=claim["subscriber_id"])
    assert (row["status"], row["uncertain"], row["attempts"]) == ("sent", 1, 2)
