"""What digests read and write beside the send log (:mod:`paperfeed.storage.sendlog`):
the papers each subscriber has been sent (a paper reaches a subscriber at most
once) and the papers a digest window draws from. A digest's send-log row has
``kind`` = its cadence and ``send_key`` = its period.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from paperfeed.models import Paper
from paperfeed.storage.base import Database, Transaction
from paperfeed.storage.papers import paper_from_row
from paperfeed.storage.values import day_text, instant_text, parse_day, parse_json

#: The send-log kinds of digests (their cadences).
DIGEST_KINDS = ("daily", "weekly")


class DigestStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def record_papers(
        tx: Transaction, subscriber_id: int, send_id: int, paper_ids: Sequence[str], now: datetime
    ) -> None:
        """In the transaction that marks the digest sent: its papers reached the reader."""
        at = instant_text(now)
        tx.executemany(
            "INSERT INTO digest_papers (subscriber_id, paper_id, send_id, sent_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(subscriber_id, pid, send_id, at) for pid in dict.fromkeys(paper_ids)],
        )

    # -- reading ---------------------------------------------------------------------

    def last_windows(self, cadence: str, subscriber_ids: Sequence[int]) -> dict[int, date]:
        """The last feed day each subscriber's previous digests covered."""
        found: dict[int, date] = {}
        rows = self.db.query(
            "SELECT subscriber_id, MAX(window_to) AS last_day FROM send_log"
            " WHERE kind = ? GROUP BY subscriber_id",
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
                "SELECT subscriber_id, content FROM send_log WHERE status = 'claimed'"
                f" AND kind IN ({', '.join('?' * len(DIGEST_KINDS))})",
                DIGEST_KINDS,
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
