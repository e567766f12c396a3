"""Group digests: a group's new papers, mailed daily or weekly to the members who ask.

A group digest for a period holds, for the feed days since the member's previous one
(a first one looks back like a personal digest), the papers the group's members
upvoted, ranked by the published trending formula applied to the members' votes
only (:mod:`paperfeed.rank.trending`, as on the group's page), then the papers added
to the group's shared collections meanwhile. It goes to the member's confirmed
address: their account's active subscription (a subscription whose own cadence is
"off" sends nothing but group digests). Nothing new: no mail.

Each group digest is a row of the send log, kind ``group-daily`` or ``group-weekly``,
key ``<group id>:<period>``, sent through the same :class:`Dispatcher` as personal
digests: claimed before sending, resumed with the stored content after a crash, at
most once per member, group and period.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import TYPE_CHECKING, Any

from paperfeed.digest.compose import LOOKBACK_DAYS, period_key
from paperfeed.digest.dispatch import Dispatcher, Outcome, claim_lease
from paperfeed.digest.senders import SendError
from paperfeed.jobs.scheduler import default_worker_id
from paperfeed.models.digest import Cadence, DigestRunReport, cadence_of
from paperfeed.rank.trending import rank_trending
from paperfeed.storage.base import Row
from paperfeed.storage.values import parse_day, parse_json

if TYPE_CHECKING:
    from paperfeed.digest.mail import MailBuilder
    from paperfeed.digest.senders import Sender
    from paperfeed.digest.subscriptions import Tokens
    from paperfeed.settings import Settings
    from paperfeed.storage import Storage

#: Papers of each part of a group digest at most.
GROUP_DIGEST_PAPERS = 15


def group_kind(cadence: Cadence) -> str:
    return f"group-{cadence}"


class GroupDigestsMixin:
    """Group digest methods of :class:`paperfeed.digest.service.Delivery`."""

    settings: Settings
    storage: Storage
    tokens: Tokens
    clock: Callable[[], datetime]

    @property
    def sender(self) -> Sender:  # provided by Delivery
        raise NotImplementedError

    @property
    def mail(self) -> MailBuilder:  # provided by Delivery
        raise NotImplementedError

    def group_digest_content(
        self, group_id: int, day_from: date, day_to: date, now: datetime
    ) -> list[dict[str, Any]]:
        """What a group digest of feed days ``day_from``..``day_to`` holds (send-log form)."""
        found = self.storage.groups.vote_counts(group_id, day_from, day_to)
        votes = {pid: n for pid, (n, _) in found.items()}
        ranked = rank_trending(self.storage.papers.get_many(sorted(votes)), now, votes=votes)
        content: list[dict[str, Any]] = [
            {"id": s.paper.id, "votes": s.upvotes} for s in ranked[:GROUP_DIGEST_PAPERS]
        ]
        since = datetime.combine(day_from, clock_time(0), UTC)
        shown = {c["id"] for c in content}
        for row in self.storage.groups.collection_additions(group_id, since, now):
            if len(content) >= 2 * GROUP_DIGEST_PAPERS:
                break
            if row["paper_id"] not in shown:
                shown.add(row["paper_id"])
                content.append({"id": row["paper_id"], "collection": row["collection_name"]})
        return content

    def send_group_digests(
        self, cadence: Cadence | str = "daily", *, now: datetime | None = None, worker: str = ""
    ) -> DigestRunReport:
        """Send the due group digests of ``cadence`` (see the module doc)."""
        chosen = cadence_of(cadence)
        kind = group_kind(chosen)
        start, started = now or self.clock(), time.monotonic()
        worker = worker or default_worker_id()

        def clock() -> datetime:
            return start + timedelta(seconds=time.monotonic() - started)

        report = DigestRunReport(chosen, period_key(chosen, start.date()))
        sender = self.sender
        dispatcher = Dispatcher(
            self.storage.send_log, sender, worker=worker, clock=clock,
            lease=claim_lease(self.settings.smtp_timeout_seconds),
        )  # fmt: skip
        try:
            for row in dispatcher.take_over_expired(kind):
                report.resumed += 1
                self._deliver_group(dispatcher, row, report)
            due = self.storage.groups.digest_recipients(chosen, kind, report.period_key)
            report.due = len(due)
            last: dict[int, dict[int, date]] = {}
            contents: dict[tuple[int, date], list[dict[str, Any]]] = {}
            day = start.date()
            earliest = day - timedelta(days=LOOKBACK_DAYS[chosen] - 1)
            for recipient in due:
                group_id, subscriber_id = (
                    int(recipient["group_id"]),
                    int(recipient["subscriber_id"]),
                )
                if group_id not in last:
                    last[group_id] = self.storage.groups.last_digest_days(kind, group_id)
                previous = last[group_id].get(subscriber_id)
                day_from = (
                    earliest if previous is None else max(earliest, previous + timedelta(days=1))
                )
                if day_from > day:
                    report.empty += 1
                    continue
                key = (group_id, day_from)
                if key not in contents:
                    contents[key] = self.group_digest_content(group_id, day_from, day, start)
                if not contents[key]:
                    report.empty += 1
                    continue
                message_id = self.mail.message_id()
                send_id = self.storage.send_log.claim(
                    subscriber_id=subscriber_id, kind=kind,
                    send_key=f"{group_id}:{report.period_key}", worker=worker,
                    window=(day_from, day), content=contents[key], message_id=message_id,
                    now=clock(), lease_until=clock() + dispatcher.lease,
                )  # fmt: skip
                if send_id is None:
                    report.elsewhere += 1
                    continue
                claimed = self.storage.send_log.get(send_id)
                assert claimed is not None
                self._deliver_group(dispatcher, claimed, report)
        finally:
            sender.close()
            report.pending = self.storage.send_log.pending_claims(kind)
        return report

    def _deliver_group(self, dispatcher: Dispatcher, row: Row, report: DigestRunReport) -> None:
        subscriber = self.storage.subscriptions.get(int(row["subscriber_id"]))
        group_id = int(str(row["send_key"]).partition(":")[0])
        group = self.storage.groups.get(group_id)
        member = (
            None if subscriber is None or subscriber.user_id is None or group is None
            else self.storage.groups.member(group_id, subscriber.user_id)
        )  # fmt: skip
        if subscriber is None or subscriber.status != "active" or member is None:
            dispatcher.release(row["id"], "no longer a member or no longer subscribed")
            return
        content = (
            row["content"] if isinstance(row["content"], list) else parse_json(row["content"], [])
        )
        papers = {p.id: p for p in self.storage.papers.get_many([c["id"] for c in content])}
        trending = [
            (papers[c["id"]], c["votes"]) for c in content if "votes" in c and c["id"] in papers
        ]
        added = [(papers[c["id"]], c["collection"]) for c in content
                 if "collection" in c and c["id"] in papers]  # fmt: skip
        if not trending and not added:
            dispatcher.release(row["id"], "its papers are gone")
            return
        window = (parse_day(row["window_from"]), parse_day(row["window_to"]))
        done = dispatcher.deliver(
            row["id"],
            lambda: self.mail.group_digest(
                subscriber.email, group.name, group.id, row["kind"], window,  # type: ignore[arg-type,union-attr]
                trending, added, self.tokens.unsubscribe_token(subscriber.id),
                message_id=row["message_id"], now=dispatcher.clock(),
            ),
            attempts=row["attempts"],
        )  # fmt: skip
        entry = {"subscriber_id": subscriber.id, "email": subscriber.email, "group": group.id,  # type: ignore[union-attr]
                 "papers": len(trending) + len(added)}  # fmt: skip
        if done.outcome is Outcome.SENT:
            report.sent += 1
            report.messages.append({**entry, "status": "sent"})
        elif done.outcome is Outcome.FAILED:
            report.failed += 1
            report.messages.append({**entry, "status": "failed", "error": str(done.error)})
        elif done.outcome is Outcome.DEFERRED:
            report.deferred += 1
            error = done.error
            if error is not None and not error.recipient_only and error.answered:
                raise SendError(f"{error}; the rest of the group digests go with the next run")
        else:
            report.elsewhere += 1
