"""The digest send log, the papers each subscriber has been sent, and the papers
a digest window draws from.

Exactly-once delivery rests on two statements that behave the same on both
engines: the claim, an ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` on the
unique ``(subscriber_id, cadence, period_key)`` key (one inserter wins, the others
get no row), and the takeover of a dead worker's claim, an ``UPDATE ... WHERE
status = 'claimed' AND lease_until < now`` whose rowcount says who won. Every
later write to a claimed row checks ``worker`` so a worker whose lease was taken
over cannot overwrite the new owner's outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from paperfeed.models import Paper
from paperfeed.storage.base import Database, Row, Transaction
from paperfeed.storage.papers import paper_from_row
from paperfeed.storage.values import day_text, instant_text, json_text, parse_day, parse_json


class DigestStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- claiming --------------------------------------------------------------------

    def claim(
        self,
        *,
        subscriber_id: int,
        cadence: str,
        period_key: str,
        worker: str,
        window: tuple[date, date],
        content: Sequence[dict[str, Any]],
        message_id: str | None,
        now: datetime,
        lease_until: datetime,
        status: str = "claimed",
    ) -> int | None:
        """Insert the period's row for ``worker``; None when another run got there first.

        ``status='skipped'`` records an empty digest the same way (no lease needed).
        """
        at = instant_text(now)
        with self.db.transaction() as tx:
            row = tx.query_one(
                "INSERT INTO digest_sends (subscriber_id, cadence, period_key, status, worker,"
                " lease_until, window_from, window_to, content, message_id, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (subscriber_id, cadence, period_key) DO NOTHING RETURNING id",
                (subscriber_id, cadence, period_key, status, worker,
                 instant_text(lease_until) if status == "claimed" else None,
                 day_text(window[0]), day_text(window[1]), json_text(list(content)),
                 message_id, at, at),
            )  # fmt: skip
        return int(row["id"]) if row else None

    def expired_claims(self, cadence: str, now: datetime) -> list[Row]:
        """Claims whose holder stopped (crash, kill) or deferred them until now."""
        return self.db.query(
            "SELECT * FROM digest_sends WHERE status = 'claimed' AND cadence = ?"
            " AND lease_until < ? ORDER BY id",
            (cadence, instant_text(now)),
        )

    def take_over(self, send_id: int, worker: str, now: datetime, lease_until: datetime) -> bool:
        """Atomically move an expired claim to ``worker``; False if someone else did."""
        at = instant_text(now)
        changed = self.db.execute(
            "UPDATE digest_sends SET worker = ?, lease_until = ?, updated_at = ?"
            " WHERE id = ? AND status = 'claimed' AND lease_until < ?",
            (worker, instant_text(lease_until), at, send_id, at),
        )
        return changed == 1

    # -- outcomes (each checks that ``worker`` still holds the claim) ----------------

    def mark_sent(
        self,
        send_id: int,
        worker: str,
        *,
        subscriber_id: int,
        paper_ids: Sequence[str],
        now: datetime,
    ) -> bool:
        """Sent: the row and the subscriber's sent papers in one transaction."""
        at = instant_text(now)
        with self.db.transaction() as tx:
            changed = tx.execute(
                "UPDATE digest_sends SET status = 'sent', attempts = attempts + 1,"
                " sent_at = ?, updated_at = ?, lease_until = NULL, last_error = NULL"
                " WHERE id = ? AND worker = ? AND status = 'claimed'",
                (at, at, send_id, worker),
            )
            if changed != 1:
                return False
            tx.executemany(
                "INSERT INTO digest_papers (subscriber_id, paper_id, send_id, sent_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(subscriber_id, pid, send_id, at) for pid in dict.fromkeys(paper_ids)],
            )
        return True

    def finish(self, send_id: int, worker: str, status: str, error: str, now: datetime) -> bool:
        """End a claim without sending: ``failed`` (refused for good) or ``skipped``."""
        if status not in ("failed", "skipped"):
            raise ValueError(status)
        at = instant_text(now)
        return (
            self.db.execute(
                "UPDATE digest_sends SET status = ?, attempts = attempts + ?,"
                " last_error = ?, updated_at = ?, lease_until = NULL"
                " WHERE id = ? AND worker = ? AND status = 'claimed'",
                (status, int(status == "failed"), error[:1000], at, send_id, worker),
            )
            == 1
        )

    def defer(
        self, send_id: int, worker: str, error: str | None, now: datetime, retry_at: datetime
    ) -> bool:
        """Keep the claim but let any run take it over from ``retry_at`` (a transient
        failure, or a run stopping half-way through sending this one)."""
        counted = ", attempts = attempts + 1" if error is not None else ""
        message = error[:1000] if error is not None else None
        changed = self.db.execute(
            f"UPDATE digest_sends SET lease_until = ?, updated_at = ?{counted},"
            " last_error = COALESCE(?, last_error)"
            " WHERE id = ? AND worker = ? AND status = 'claimed'",
            (instant_text(retry_at), instant_text(now), message, send_id, worker),
        )
        return changed == 1

    # -- reading ---------------------------------------------------------------------

    def last_windows(self, cadence: str, subscriber_ids: Sequence[int]) -> dict[int, date]:
        """The last feed day each subscriber's previous digests covered."""
        found: dict[int, date] = {}
        rows = self.db.query(
            "SELECT subscriber_id, MAX(window_to) AS last_day FROM digest_sends"
            " WHERE cadence = ? GROUP BY subscriber_id",
            (cadence,),
        )
        wanted = set(subscriber_ids)
        for row in rows:
            sid = int(row["subscriber_id"])
            if sid in wanted and row["last_day"]:
                found[sid] = parse_day(row["last_day"])  # type: ignore[assignment]
        return found

    def window_papers(self, day_from: date, day_to: date) -> list[Paper]:
        """Every paper whose feed day lies in the window (the digest's candidates)."""
        rows = self.db.query(
            "SELECT * FROM papers WHERE feed_date >= ? AND feed_date <= ? ORDER BY id",
            (day_text(day_from), day_text(day_to)),
        )
        return [paper_from_row(row) for row in rows]

    def sent_in_window(self, day_from: date, day_to: date) -> dict[int, set[str]]:
        """Per subscriber, the papers of the window already sent or in a pending claim."""
        found: dict[int, set[str]] = {}
        with self.db.transaction(readonly=True) as tx:
            for row in tx.query(
                "SELECT dp.subscriber_id, dp.paper_id FROM digest_papers dp"
                " JOIN papers p ON p.id = dp.paper_id WHERE p.feed_date >= ? AND p.feed_date <= ?",
                (day_text(day_from), day_text(day_to)),
            ):
                found.setdefault(int(row["subscriber_id"]), set()).add(row["paper_id"])
            # A claim not yet sent (crashed run, deferred) will deliver its papers later.
            for row in tx.query(
                "SELECT subscriber_id, content FROM digest_sends WHERE status = 'claimed'"
            ):
                ids = {item["id"] for item in parse_json(row["content"], [])}
                found.setdefault(int(row["subscriber_id"]), set()).update(ids)
        return found

    def sent_papers(self, subscriber_id: int) -> list[str]:
        rows = self.db.query(
            "SELECT paper_id FROM digest_papers WHERE subscriber_id = ? ORDER BY sent_at, paper_id",
            (subscriber_id,),
        )
        return [row["paper_id"] for row in rows]

    def sends(
        self, *, subscriber_id: int | None = None, status: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        clauses, params = [], []
        if subscriber_id is not None:
            clauses.append("subscriber_id = ?")
            params.append(subscriber_id)
        if status:
            clauses.append("status = ?")
            params.append(status)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = self.db.query(
            f"SELECT * FROM digest_sends{where} ORDER BY id LIMIT ?", (*params, limit)
        )
        return [{**row, "content": parse_json(row["content"], [])} for row in rows]

    def send_row(self, tx: Transaction, send_id: int) -> Row | None:
        return tx.query_one("SELECT * FROM digest_sends WHERE id = ?", (send_id,))
