"""Sending a message logged in the send log, once: what digests (and, later, alerts)
share between claiming a row and recording its outcome.

The state machine and its guarantee are described in :mod:`paperfeed.storage.sendlog`;
this module drives it through a :class:`~paperfeed.digest.senders.Sender`:

* the claim's lease covers one message: building it, the SMTP conversation and the
  outcome. It is renewed at the hand-over, so a live worker that is waiting for the
  server's answer is never taken over (the SMTP timeout is shorter than the lease);
* the hand-over is recorded from the sender's ``before_data`` hook, after the server
  has accepted sender and recipients and before it can have the message; a worker
  that lost its claim meanwhile stops there without sending;
* the outcome is recorded right after the server's answer, before anything else.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum

from paperfeed.digest.senders import PermanentSendError, Sender, TransientSendError
from paperfeed.storage.base import Row, Transaction
from paperfeed.storage.sendlog import SendLogStore

log = logging.getLogger(__name__)

#: A recipient the server deferred (4xx) is retried by a run this much later...
RETRY_DELAY = timedelta(minutes=30)
#: ... and given up after this many attempts.
MAX_SEND_ATTEMPTS = 5
#: lease_until of a claim released on purpose: any later run may take it over.
RELEASED = datetime(1970, 1, 1, tzinfo=UTC)
#: The shortest claim lease. A dead worker's claims are taken over after it, so
#: it stays below the scheduler's job lease (5 minutes): the job that reruns after
#: a crash finds them free.
MIN_LEASE = timedelta(minutes=2)


def claim_lease(smtp_timeout_seconds: float) -> timedelta:
    """How long a claim protects a message being sent: longer than any wait for an
    SMTP answer (each read times out after ``smtp_timeout_seconds``), so only a dead
    or frozen worker's claim can expire mid-hand-over."""
    return max(MIN_LEASE, timedelta(seconds=3 * smtp_timeout_seconds))


class Outcome(StrEnum):
    SENT = "sent"
    #: Refused for good (5xx), or still deferred after MAX_SEND_ATTEMPTS.
    FAILED = "failed"
    #: A transient failure: the claim stays and a later run retries it.
    DEFERRED = "deferred"
    #: The claim was taken over by another worker (this one stalled past its lease).
    LOST = "lost"


class ClaimLost(Exception):
    """Raised from ``before_data``: this worker no longer holds the claim."""


@dataclass(slots=True)
class Dispatched:
    outcome: Outcome
    error: TransientSendError | PermanentSendError | None = None


class Dispatcher:
    """Claims, takeovers and deliveries of one run of one worker."""

    def __init__(
        self,
        send_log: SendLogStore,
        sender: Sender,
        *,
        worker: str,
        clock: Callable[[], datetime],
        lease: timedelta = MIN_LEASE,
    ) -> None:
        self.send_log = send_log
        self.sender = sender
        self.worker = worker
        self.clock = clock
        self.lease = lease

    def take_over_expired(self, kind: str) -> list[Row]:
        """The expired claims of ``kind`` this worker won, to be delivered now."""
        won = []
        for row in self.send_log.expired_claims(kind, self.clock()):
            now = self.clock()
            if self.send_log.take_over(row["id"], self.worker, now, now + self.lease):
                won.append(row)
        return won

    def release(self, send_id: int, reason: str) -> None:
        """End a claim without sending (``skipped``: nothing to send any more)."""
        self.send_log.finish(send_id, self.worker, "skipped", reason, self.clock())

    def deliver(
        self,
        send_id: int,
        build: Callable[[], EmailMessage],
        *,
        attempts: int,
        also: Callable[[Transaction], None] | None = None,
    ) -> Dispatched:
        """Send the claimed row's message and record the outcome.

        ``attempts``: the row's failed attempts so far. ``also`` runs in the
        transaction that marks the row sent. Anything but a send error (Ctrl-C, a
        bug) releases the claim to the next run and propagates.
        """
        store, worker = self.send_log, self.worker
        handing = False

        def before_data() -> None:
            nonlocal handing
            now = self.clock()
            if not store.begin_handover(send_id, worker, now, now + self.lease):
                raise ClaimLost(f"send {send_id}: claim taken over by another worker")
            handing = True

        try:
            self.sender.send(build(), before_data=before_data)
        except ClaimLost:
            log.warning("send %s: claim lost before the hand-over; nothing sent", send_id)
            return Dispatched(Outcome.LOST)
        except PermanentSendError as exc:
            store.finish(send_id, worker, "failed", str(exc), self.clock())
            return Dispatched(Outcome.FAILED, exc)
        except TransientSendError as exc:
            if attempts + 1 >= MAX_SEND_ATTEMPTS:
                store.finish(send_id, worker, "failed", str(exc), self.clock(),
                             uncertain=not exc.answered)  # fmt: skip
                return Dispatched(Outcome.FAILED, exc)
            # Unanswered: the server may have it. The claim keeps its hand-over mark,
            # so the run that sends it again counts it as uncertain.
            now = self.clock()
            store.defer(send_id, worker, str(exc), now, now + RETRY_DELAY, answered=exc.answered)
            return Dispatched(Outcome.DEFERRED, exc)
        except BaseException:
            # Stopping half-way (an error, Ctrl-C): hand the claim to the next run now.
            with contextlib.suppress(Exception):
                store.defer(send_id, worker, None, self.clock(), RELEASED, answered=not handing)
            raise
        if store.mark_sent(send_id, worker, self.clock(), also=also):
            return Dispatched(Outcome.SENT)
        # Our lease ran out while the server held the message (a frozen worker): the
        # worker that took over counted it uncertain and sends it again.
        log.warning("send %s: claim lost while the server was answering", send_id)
        return Dispatched(Outcome.LOST)
