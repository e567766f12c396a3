"""The delivery façade: ``library.delivery`` subscribes, composes and sends digests.

Each digest is a row of the send log (:mod:`paperfeed.storage.sendlog`), keyed by
(subscriber, cadence, period), and goes out through a
:class:`~paperfeed.digest.dispatch.Dispatcher`, however many workers run:

1. Every due subscriber's digest is composed first (shared work, no writes).
2. Right before sending, the digest is *claimed*: its row is inserted with the
   composed content, the Message-ID and a lease. The unique key lets exactly one
   worker insert it; the others skip that subscriber.
3. Right before the SMTP ``DATA`` command the hand-over is recorded, under the claim.
4. After the server's "250", the row becomes ``sent`` and the papers are recorded as
   sent to that subscriber, in one transaction.

A run that stops between 2 and 4 leaves a claimed row; the next run takes it over
once the lease ends and sends the stored content with the stored Message-ID. If the
run died during step 3-4 the server may already have the message: it is sent again
(no gap) and the row counts it as ``uncertain``. That is the README's guarantee:
at most one extra copy per worker that dies mid-hand-over, never a missing digest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from paperfeed.digest.compose import Composer, SearchFunction, period_key
from paperfeed.digest.dispatch import Dispatcher, Outcome, claim_lease
from paperfeed.digest.groups import GroupDigestsMixin
from paperfeed.digest.mail import MailBuilder
from paperfeed.digest.senders import Sender, SendError, make_sender
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
    subscription_cadence_of,
)
from paperfeed.settings import Settings
from paperfeed.storage import Storage
from paperfeed.storage.base import Row
from paperfeed.storage.values import parse_day, parse_json

log = logging.getLogger(__name__)


class Delivery(SubscriptionsMixin, GroupDigestsMixin):
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
            values["cadence"] = subscription_cadence_of(cadence)
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
        dispatcher = Dispatcher(
            self.storage.send_log, sender, worker=worker, clock=clock,
            lease=claim_lease(self.settings.smtp_timeout_seconds),
        )  # fmt: skip
        try:
            for row in dispatcher.take_over_expired(chosen):
                report.resumed += 1
                report.uncertain += int(row["handed_over_at"] is not None)
                self._resume(dispatcher, row, report)
            due = self.storage.subscriptions.due(chosen, report.period_key)
            report.due = len(due)
            for digest in self.composer().compose_all(due, chosen, start):
                self._claim_and_send(dispatcher, digest, report)
        finally:
            sender.close()
            report.pending = self.storage.send_log.pending_claims(chosen)
        return report

    def _claim_and_send(
        self, dispatcher: Dispatcher, digest: Digest, report: DigestRunReport
    ) -> None:
        store, clock = self.storage.send_log, dispatcher.clock
        content = [
            {"id": item.paper.id, "trending": item.trending, "topics": item.topics}
            for item in digest.items
        ] + [{"alert": alert.id} for alert in digest.alerts]
        base = dict(
            subscriber_id=digest.subscriber.id, kind=digest.cadence,
            send_key=digest.period_key, worker=dispatcher.worker,
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
        with self.storage.db.transaction() as tx:
            # The claim and its alerts in one commit: an alert goes with one digest only.
            send_id = store.claim(**base, message_id=message_id, now=now,
                                  lease_until=now + dispatcher.lease)  # fmt: skip
            if send_id is not None and digest.alerts:
                self.storage.follows.attach(
                    tx,
                    send_id,
                    digest.subscriber.user_id,
                    [a.id for a in digest.alerts],  # type: ignore[arg-type]
                )
        if send_id is None:
            report.elsewhere += 1
            return
        if self.storage.subscriptions.status_of(digest.subscriber.id) != "active":
            # Unsubscribed while this (long) run was under way.
            dispatcher.release(send_id, "unsubscribed before delivery")
            report.empty += 1
            return
        self._deliver(dispatcher, send_id, digest, message_id, report, attempts=0)

    def _resume(self, dispatcher: Dispatcher, row: Row, report: DigestRunReport) -> None:
        subscriber = self.storage.subscriptions.get(int(row["subscriber_id"]))
        if subscriber is None or subscriber.status != "active":
            dispatcher.release(row["id"], "unsubscribed before delivery")
            return
        content = parse_json(row["content"], [])
        entries = [c for c in content if "id" in c]
        papers = {p.id: p for p in self.storage.papers.get_many([c["id"] for c in entries])}
        items = [
            DigestItem(papers[c["id"]], trending=c["trending"], topics=list(c["topics"]))
            for c in entries
            if c["id"] in papers
        ]
        alerts = self.storage.follows.by_ids([c["alert"] for c in content if "alert" in c])
        if not items and not alerts:
            dispatcher.release(row["id"], "its papers are gone")
            return
        digest = Digest(
            subscriber, row["kind"], row["send_key"],
            parse_day(row["window_from"]), parse_day(row["window_to"]), items,  # type: ignore[arg-type]
            alerts=alerts,
        )  # fmt: skip
        self._deliver(dispatcher, row["id"], digest, row["message_id"], report,
                      attempts=row["attempts"])  # fmt: skip

    def _deliver(
        self,
        dispatcher: Dispatcher,
        send_id: int,
        digest: Digest,
        message_id: str,
        report: DigestRunReport,
        *,
        attempts: int,
    ) -> None:
        subscriber = digest.subscriber
        entry = {"subscriber_id": subscriber.id, "email": subscriber.email,
                 "period": digest.period_key, "papers": len(digest.items),
                 "alerts": len(digest.alerts),
                 "message_id": message_id}  # fmt: skip
        paper_ids = [item.paper.id for item in digest.items]
        done = dispatcher.deliver(
            send_id,
            lambda: self.mail.digest(
                digest, self.tokens.unsubscribe_token(subscriber.id),
                message_id=message_id, now=dispatcher.clock(),
                manage_token=None if subscriber.user_id is not None
                else self.tokens.manage_token(subscriber.id),
            ),
            attempts=attempts,
            also=lambda tx: self._record_sent(tx, subscriber.id, send_id, paper_ids,
                                              dispatcher.clock()),
        )  # fmt: skip
        error = done.error
        if done.outcome is Outcome.SENT:
            report.sent += 1
            report.messages.append({**entry, "status": "sent"})
        elif done.outcome is Outcome.LOST:
            report.elsewhere += 1
        elif done.outcome is Outcome.FAILED:
            report.failed += 1
            report.messages.append({**entry, "status": "failed", "error": str(error)})
        else:
            report.deferred += 1
            report.messages.append({**entry, "status": "deferred", "error": str(error)})
            if error is not None and not error.recipient_only and error.answered:
                # The server is down (it kept failing): stop; the next run resumes.
                raise SendError(
                    f"{error}; {report.sent} digests went out before this, the rest go with"
                    " the next run"
                ) from error

    def _record_sent(
        self, tx: Any, subscriber_id: int, send_id: int, paper_ids: list[str], now: datetime
    ) -> None:
        """With the send log row marked sent: its papers and alerts are delivered."""
        self.storage.digests.record_papers(tx, subscriber_id, send_id, paper_ids, now)
        self.storage.follows.mark_mailed(tx, send_id, now)

    # -- the log ----------------------------------------------------------------------

    def sends(
        self,
        *,
        subscriber_id: int | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Rows of the send log (``kind``: the cadence for digests), oldest first."""
        return self.storage.send_log.sends(
            subscriber_id=subscriber_id, kind=kind, status=status, limit=limit
        )

    def sent_papers(self, subscriber_id: int) -> list[str]:
        return self.storage.digests.sent_papers(subscriber_id)


__all__ = ["Delivery", "default_worker_id", "make_sender"]
