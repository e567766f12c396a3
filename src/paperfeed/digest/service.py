"""The delivery façade: ``library.delivery`` subscribes, composes and sends digests.

Sending is exactly-once per (subscriber, cadence, period) however many workers run
and wherever one crashes:

1. Every due subscriber's digest is composed first (shared work, no writes).
2. Right before sending, the digest is *claimed*: its send-log row is inserted with
   the composed content, the Message-ID and a lease (``LEASE``). The unique key
   lets exactly one worker insert it; the others skip that subscriber.
3. After the server accepts the mail, the row becomes ``sent`` and the papers are
   recorded as sent to that subscriber, in one transaction.

A run that stops between 2 and 3 leaves a claimed row. If it stopped on an
exception the claim is released at once; if the process died, the lease runs
out. Either way the next run takes the claim over (atomically) and sends the
stored content with the stored Message-ID. The one window no database can close
is a crash after the server's "250 OK" and before step 3's commit: that message
is sent again (at-least-once there), with the same Message-ID.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from paperfeed.digest.compose import Composer, SearchFunction, period_key
from paperfeed.digest.mail import MailBuilder
from paperfeed.digest.senders import (
    PermanentSendError,
    Sender,
    SendError,
    TransientSendError,
    make_sender,
)
from paperfeed.digest.subscriptions import SubscriptionsMixin, Tokens, clean_topics
from paperfeed.errors import InputError, NotFoundError, PermissionDenied
from paperfeed.jobs.scheduler import default_worker_id
from paperfeed.models import utc_now
from paperfeed.models.digest import (
    MAX_TOPICS,
    Cadence,
    Digest,
    DigestItem,
    DigestRunReport,
    Subscriber,
    Topic,
    cadence_of,
)
from paperfeed.settings import Settings
from paperfeed.storage import Storage
from paperfeed.storage.base import Row
from paperfeed.storage.values import parse_day, parse_json

log = logging.getLogger(__name__)

#: How long a claim protects a digest being sent; a dead worker's claim is taken
#: over after this.
LEASE = timedelta(minutes=10)
#: A recipient the server deferred (4xx) is retried by a run this much later...
RETRY_DELAY = timedelta(minutes=30)
#: ... and given up after this many runs.
MAX_SEND_ATTEMPTS = 5
#: lease_until of a claim released on purpose: any later run may take it over.
RELEASED = datetime(1970, 1, 1, tzinfo=UTC)


class Delivery(SubscriptionsMixin):
    """Digests and their subscribers over one storage. Creating it does no work:
    the sender, templates and signing keys are made when first needed."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        *,
        search: SearchFunction | None = None,
        sender: Sender | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.storage = storage
        #: The search engine for topics; without it they fall back to word matching.
        self.search = search
        self._sender = sender
        self._mail: MailBuilder | None = None
        #: Current UTC time (tests set a fixed one).
        self.clock = clock
        self.tokens = Tokens(
            self.settings.secret, self.settings.confirm_link_hours, lambda: self.clock()
        )

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            self._sender = make_sender(self.settings)
        return self._sender

    @sender.setter
    def sender(self, value: Sender) -> None:
        self._sender = value

    @property
    def mail(self) -> MailBuilder:
        if self._mail is None:
            self._mail = MailBuilder(self.settings)
        return self._mail

    def composer(self) -> Composer:
        return Composer(
            self.storage,
            trending_count=self.settings.digest_trending_count,
            max_papers=self.settings.digest_max_papers,
            search=self.search,
        )

    # -- subscribers and saved searches ----------------------------------------------

    def subscriber(self, subscriber_id: int) -> Subscriber:
        return self._subscriber(subscriber_id)

    def subscribers(
        self, *, status: str | None = None, cadence: str | None = None, limit: int = 1000,
        offset: int = 0,
    ) -> list[Subscriber]:  # fmt: skip
        return self.storage.subscriptions.list(
            status=status, cadence=cadence, limit=limit, offset=offset
        )

    def subscription_of_user(self, user_id: int) -> Subscriber | None:
        """The subscription linked to an account (its own address), if any."""
        found = self.storage.subscriptions.of_user(user_id)
        return found[0] if found else None

    def update_subscription(
        self,
        subscriber_id: int,
        *,
        user_id: int,
        cadence: Cadence | str | None = None,
        max_papers: int | None = None,
    ) -> Subscriber:
        """Change a confirmed subscription from the account it belongs to."""
        found = self._owned(subscriber_id, user_id)
        values: dict[str, Any] = {}
        if cadence is not None:
            values["cadence"] = cadence_of(cadence)
        if max_papers is not None:
            if not 1 <= max_papers <= 200:
                raise InputError("papers per digest must be between 1 and 200")
            values["max_papers"] = max_papers
        if values:
            with self.storage.db.transaction() as tx:
                self.storage.subscriptions.update(tx, found.id, self.clock(), **values)
        return self._subscriber(found.id)

    def unsubscribe_account(self, subscriber_id: int, *, user_id: int) -> Subscriber:
        self._owned(subscriber_id, user_id)
        return self.unsubscribe(self.tokens.unsubscribe_token(subscriber_id))

    def _owned(self, subscriber_id: int, user_id: int) -> Subscriber:
        found = self._subscriber(subscriber_id)
        if found.user_id != user_id:
            raise PermissionDenied("this subscription belongs to another account")
        return found

    def saved_searches(self, user_id: int) -> list[Topic]:
        return self.storage.subscriptions.topics_of(user_id=user_id)

    def save_search(self, user_id: int, topic: Topic | str) -> list[Topic]:
        """Add a saved search to an account (also a digest topic); returns them all."""
        (cleaned,) = clean_topics([topic])
        with self.storage.db.transaction() as tx:
            if self.storage.subscriptions.count_topics(tx, user_id=user_id) >= MAX_TOPICS * 5:
                raise InputError(f"an account can save at most {MAX_TOPICS * 5} searches")
            self.storage.subscriptions.add_topics(tx, [cleaned], self.clock(), user_id=user_id)
        return self.saved_searches(user_id)

    def delete_saved_search(self, user_id: int, topic_id: int) -> None:
        if not self.storage.subscriptions.delete_topic(topic_id, user_id=user_id):
            raise NotFoundError(f"no saved search {topic_id}")

    def unsubscribe_url(self, subscriber_id: int) -> str:
        return f"{self.mail.base_url}/unsubscribe/{self.tokens.unsubscribe_token(subscriber_id)}"

    # -- composing ---------------------------------------------------------------------

    def skip_reason(self, cadence: Cadence, day: date) -> str | None:
        """Why no daily digest goes out on ``day`` (weekend, holiday), or None."""
        if cadence != "daily":
            return None
        if day in self.settings.digest_holidays:
            return f"{day} is a holiday (PAPERFEED_DIGEST_HOLIDAYS)"
        if self.settings.digest_skip_weekends and day.weekday() >= 5:
            return f"{day} is a {day:%A}: no daily digests at weekends (PAPERFEED_DIGEST_SKIP_WEEKENDS)"
        return None

    def compose(self, subscriber_id: int, *, now: datetime | None = None) -> Digest:
        """The subscriber's digest for the period containing ``now``; sends nothing."""
        found = self._subscriber(subscriber_id)
        return self.composer().compose_all([found], found.cadence, now or self.clock())[0]

    def preview(
        self, cadence: Cadence | str = "daily", *, now: datetime | None = None
    ) -> list[Digest]:
        """What every subscriber due now would get (``paperfeed digest --dry-run``)."""
        chosen = cadence_of(cadence)
        now = now or self.clock()
        due = self.storage.subscriptions.due(chosen, period_key(chosen, now.date()))
        return self.composer().compose_all(due, chosen, now)

    # -- sending -----------------------------------------------------------------------

    def send_digests(
        self,
        cadence: Cadence | str = "daily",
        *,
        now: datetime | None = None,
        worker: str = "",
        skip_days: bool = True,
    ) -> DigestRunReport:
        """Compose and send every due digest of the period containing ``now``.

        Safe to run in several processes at once, and to re-run after a crash: see
        the module docstring. ``skip_days=False`` sends even on a weekend or holiday.
        """
        chosen = cadence_of(cadence)
        start, started = now or self.clock(), time.monotonic()
        worker = worker or default_worker_id()

        def clock() -> datetime:  # ``now`` moving on with the run (leases of a long run)
            return start + timedelta(seconds=time.monotonic() - started)

        report = DigestRunReport(chosen, period_key(chosen, start.date()))
        if skip_days:
            report.skipped_reason = self.skip_reason(chosen, start.date())
            if report.skipped_reason:
                return report
        sender = self.sender  # a configuration error surfaces before anything is claimed
        try:
            for row in self.storage.digests.expired_claims(chosen, clock()):
                if self.storage.digests.take_over(row["id"], worker, clock(), clock() + LEASE):
                    report.resumed += 1
                    self._resume(row, worker, clock, report)
            due = self.storage.subscriptions.due(chosen, report.period_key)
            report.due = len(due)
            for digest in self.composer().compose_all(due, chosen, start):
                self._claim_and_send(digest, worker, clock, report)
        finally:
            sender.close()
        return report

    def _claim_and_send(
        self, digest: Digest, worker: str, clock: Callable[[], datetime], report: DigestRunReport
    ) -> None:
        store = self.storage.digests
        content = [
            {"id": item.paper.id, "trending": item.trending, "topics": item.topics}
            for item in digest.items
        ]
        base = dict(
            subscriber_id=digest.subscriber.id, cadence=digest.cadence,
            period_key=digest.period_key, worker=worker,
            window=(digest.window_from, digest.window_to), content=content,
        )  # fmt: skip
        if digest.is_empty:
            # Nothing new for this subscriber: logged, so the next window starts after it.
            # A window with no papers at all is not logged: papers harvested later
            # today still make it into today's digest.
            if digest.candidates:
                store.claim(**base, message_id=None, now=clock(), lease_until=clock(),
                            status="skipped")  # fmt: skip
            report.empty += 1
            return
        message_id = self.mail.message_id()
        now = clock()
        send_id = store.claim(**base, message_id=message_id, now=now, lease_until=now + LEASE)
        if send_id is None:
            report.elsewhere += 1
            return
        if self.storage.subscriptions.status_of(digest.subscriber.id) != "active":
            # Unsubscribed while this (long) run was under way.
            store.finish(send_id, worker, "skipped", "unsubscribed before delivery", clock())
            report.empty += 1
            return
        self._deliver(send_id, digest, message_id, worker, clock, report, attempts=0)

    def _resume(
        self, row: Row, worker: str, clock: Callable[[], datetime], report: DigestRunReport
    ) -> None:
        store = self.storage.digests
        subscriber = self.storage.subscriptions.get(int(row["subscriber_id"]))
        if subscriber is None or subscriber.status != "active":
            store.finish(row["id"], worker, "skipped", "unsubscribed before delivery", clock())
            return
        content = parse_json(row["content"], [])
        papers = {p.id: p for p in self.storage.papers.get_many([c["id"] for c in content])}
        items = [
            DigestItem(papers[c["id"]], trending=c["trending"], topics=list(c["topics"]))
            for c in content
            if c["id"] in papers
        ]
        if not items:
            store.finish(row["id"], worker, "skipped", "its papers are gone", clock())
            return
        digest = Digest(
            subscriber, row["cadence"], row["period_key"],
            parse_day(row["window_from"]), parse_day(row["window_to"]), items,  # type: ignore[arg-type]
        )  # fmt: skip
        self._deliver(
            row["id"], digest, row["message_id"], worker, clock, report, attempts=row["attempts"]
        )

    def _deliver(
        self,
        send_id: int,
        digest: Digest,
        message_id: str,
        worker: str,
        clock: Callable[[], datetime],
        report: DigestRunReport,
        *,
        attempts: int,
    ) -> None:
        store = self.storage.digests
        subscriber = digest.subscriber
        entry = {"subscriber_id": subscriber.id, "email": subscriber.email,
                 "period": digest.period_key, "papers": len(digest.items),
                 "message_id": message_id}  # fmt: skip
        try:
            message = self.mail.digest(
                digest, self.tokens.unsubscribe_token(subscriber.id),
                message_id=message_id, now=clock(),
            )  # fmt: skip
            self.sender.send(message)
        except PermanentSendError as exc:
            store.finish(send_id, worker, "failed", str(exc), clock())
            report.failed += 1
            report.messages.append({**entry, "status": "failed", "error": str(exc)})
            return
        except TransientSendError as exc:
            if attempts + 1 >= MAX_SEND_ATTEMPTS:
                store.finish(send_id, worker, "failed", str(exc), clock())
                report.failed += 1
            else:
                store.defer(send_id, worker, str(exc), clock(), clock() + RETRY_DELAY)
                report.deferred += 1
            report.messages.append({**entry, "status": "deferred", "error": str(exc)})
            if not exc.recipient_only:  # the server is down: stop; the next run resumes
                raise SendError(
                    f"{exc}; {report.sent} digests went out before this, the rest go with"
                    " the next run"
                ) from exc
            return
        except BaseException:
            # Stopping half-way (an error, Ctrl-C): hand the claim to the next run now.
            with contextlib.suppress(Exception):
                store.defer(send_id, worker, None, clock(), RELEASED)
            raise
        if store.mark_sent(
            send_id, worker, subscriber_id=subscriber.id,
            paper_ids=[item.paper.id for item in digest.items], now=clock(),
        ):  # fmt: skip
            report.sent += 1
            report.messages.append({**entry, "status": "sent"})
        else:  # our lease ran out mid-send and another worker took over
            log.warning("digest %s for subscriber %s: claim lost while sending", send_id,
                        subscriber.id)  # fmt: skip

    # -- the log ----------------------------------------------------------------------

    def sends(
        self, *, subscriber_id: int | None = None, status: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        return self.storage.digests.sends(subscriber_id=subscriber_id, status=status, limit=limit)

    def sent_papers(self, subscriber_id: int) -> list[str]:
        return self.storage.digests.sent_papers(subscriber_id)


__all__ = ["Delivery", "default_worker_id", "make_sender"]
