"""Worker processes killed again and again mid-send, then rerun: the README's
"Exactly once" paragraph, checked by counting what a real SMTP server received.

Rounds of three worker processes run the same day's digests for many readers and
are all SIGKILLed part-way: in some rounds at a random moment, in others while the
server holds a message it has fully read but not yet answered (the window no
sender can close). Each round acts later than the leases of the one before, so its
workers take the dead ones' claims over. A last round runs to the end. Then:

* every reader has the digest (never a gap);
* all copies a reader got have one Message-ID;
* a reader got at most ``1 + uncertain`` copies, where ``uncertain`` is what the
  send log counted for that digest, and the send log counted no more uncertain
  hand-overs than processes were killed (one in flight per worker);
* the held rounds did produce duplicates, so the test can see them.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import threading
import time
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.digest.conftest import FRIDAY, add_active_readers, at
from tests.digest.smtp_server import Mailbox
from tests.digest.workers import go, start_digest_worker

READERS = 120
WORKERS = 3
#: Per round: hold a message unanswered and kill then (True), or kill at a random count.
ROUNDS = (True, False, True)
#: Later than a claim's lease (2 minutes): each round takes the last one's claims over.
ROUND_STEP = timedelta(minutes=10)


class Killer:
    """Kills every worker of a round once the server has received ``after`` more
    messages; with ``hold``, while the server keeps that message unanswered."""

    def __init__(self, mailbox: Mailbox, after: int, hold: bool) -> None:
        self.mailbox, self.hold = mailbox, hold
        self.target = mailbox.count() + after
        self.reached, self.done = threading.Event(), threading.Event()

    async def after_data(self, server: Any, message: EmailMessage) -> None:
        if self.mailbox.count() >= self.target and not self.reached.is_set():
            self.reached.set()
            while self.hold and not self.done.is_set():
                await asyncio.sleep(0.01)

    def run(self, workers: list[subprocess.Popen[str]], timeout: float = 120) -> int:
        """Wait for the target (or for every worker to end), kill; how many died by it."""
        deadline = time.monotonic() + timeout
        while not self.reached.wait(0.02):
            if all(w.poll() is not None for w in workers) or time.monotonic() > deadline:
                break
        alive = [w for w in workers if w.poll() is None]
        for worker in alive:
            worker.send_signal(signal.SIGKILL)
        for worker in workers:
            _, err = worker.communicate(timeout=60)
            assert worker in alive or worker.returncode == 0, err
        self.done.set()
        return sum(w.returncode == -signal.SIGKILL for w in alive)


def test_repeated_sigkills_never_lose_a_digest_and_duplicate_only_as_counted(
    library: Library, mailbox: Mailbox, settings: Settings
) -> None:
    addresses = add_active_readers(library, READERS)

    def start_round(number: int, size: int = WORKERS) -> list[subprocess.Popen[str]]:
        now = at(FRIDAY) + number * ROUND_STEP
        return [start_digest_worker(settings, now, f"r{number}w{n}", wait=True)
                for n in range(size)]  # fmt: skip

    rng = random.Random(7)
    kills = 0
    upcoming = start_round(0)
    for number, hold in enumerate(ROUNDS):
        workers = upcoming
        last_round = number + 1 == len(ROUNDS)
        upcoming = start_round(number + 1, size=2 if last_round else WORKERS)  # warm-up
        killer = Killer(mailbox, after=rng.randint(4, 20), hold=hold)
        mailbox.after_data = killer.after_data
        go(workers)
        kills += killer.run(workers)
        mailbox.after_data = None

    held_rounds = sum(ROUNDS)
    go(upcoming)  # the last round runs to its end
    for worker in upcoming:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert json.loads(out)["failed"] == 0

    received = mailbox.deliveries()
    rows = {library.delivery.subscriber(row["subscriber_id"]).email: row
            for row in library.delivery.sends()}  # fmt: skip
    assert sorted(received) == sorted(addresses), "a reader got no digest"
    assert {row["status"] for row in rows.values()} == {"sent"}
    assert all(row["handed_over_at"] is None for row in rows.values())
    for address, message_ids in received.items():
        row = rows[address]
        assert set(message_ids) == {row["message_id"]}, address
        assert len(message_ids) <= 1 + row["uncertain"], (address, row)
    extra_copies = sum(len(ids) - 1 for ids in received.values())
    uncertain = sum(row["uncertain"] for row in rows.values())
    assert held_rounds <= extra_copies <= uncertain <= kills, (extra_copies, uncertain, kills)
