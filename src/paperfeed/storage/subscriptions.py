"""Subscribers, their topics (saved searches) and the confirmation-mail log.

Only SQL lives here; rules (validation, tokens, rate limits) are in
``paperfeed.digest.subscriptions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from paperfeed.models.digest import Subscriber, Topic
from paperfeed.storage.base import Database, Row, Transaction
from paperfeed.storage.values import instant_text, parse_instant

_CHUNK = 500
#: Columns a caller may change with :meth:`SubscriptionStore.update`.
_UPDATABLE = frozenset({
    "email", "status", "cadence", "max_papers", "user_id", "pending_changes",
    "confirm_nonce", "confirm_sent_at", "confirmed_at", "unsubscribed_at",
})  # fmt: skip


def topic_from_row(row: Row) -> Topic:
    return Topic(row["kind"], row["query"], int(row["id"]))


def subscriber_from_row(row: Row, topics: Sequence[Topic] = ()) -> Subscriber:
    return Subscriber(
        id=int(row["id"]),
        email=row["email"],
        status=row["status"],
        cadence=row["cadence"],
        max_papers=row["max_papers"],
        user_id=None if row["user_id"] is None else int(row["user_id"]),
        created_at=parse_instant(row["created_at"]),  # type: ignore[arg-type]
        confirmed_at=parse_instant(row["confirmed_at"]),
        unsubscribed_at=parse_instant(row["unsubscribed_at"]),
        topics=tuple(topics),
    )


class SubscriptionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- subscribers -------------------------------------------------------------------

    def row(self, tx: Transaction, subscriber_id: int) -> Row | None:
        return tx.query_one("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,))

    def row_by_email(self, tx: Transaction, email_key: str) -> Row | None:
        return tx.query_one("SELECT * FROM subscribers WHERE email_key = ?", (email_key,))

    def get(self, subscriber_id: int) -> Subscriber | None:
        with self.db.transaction(readonly=True) as tx:
            row = self.row(tx, subscriber_id)
            return self._with_topics(tx, [row])[0] if row else None

    def status_of(self, subscriber_id: int) -> str | None:
        return self.db.scalar("SELECT status FROM subscribers WHERE id = ?", (subscriber_id,))

    def by_email(self, email_key: str) -> Subscriber | None:
        with self.db.transaction(readonly=True) as tx:
            row = self.row_by_email(tx, email_key)
            return self._with_topics(tx, [row])[0] if row else None

    def of_user(self, user_id: int) -> list[Subscriber]:
        with self.db.transaction(readonly=True) as tx:
            rows = tx.query("SELECT * FROM subscribers WHERE user_id = ? ORDER BY id", (user_id,))
            return self._with_topics(tx, rows)

    def insert(
        self, tx: Transaction, *, email: str, email_key: str, cadence: str, at: datetime,
        user_id: int | None = None, status: str = "pending", max_papers: int | None = None,
    ) -> int | None:  # fmt: skip
        """The new subscriber's id, or None if the address is already there (no error:
        two sign-ups of one address racing must not abort the transaction)."""
        now = instant_text(at)
        row = tx.query_one(
            "INSERT INTO subscribers (email, email_key, status, cadence, max_papers, user_id,"
            " created_at, confirmed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING id",
            (email, email_key, status, cadence, max_papers, user_id, now,
             now if status == "active" else None, now),
        )  # fmt: skip
        return int(row["id"]) if row else None

    def update(self, tx: Transaction, subscriber_id: int, at: datetime, **values: Any) -> None:
        unknown = set(values) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        converted = {
            k: instant_text(v) if isinstance(v, datetime) else v for k, v in values.items()
        }
        assignments = ", ".join(f"{column} = ?" for column in converted)
        tx.execute(
            f"UPDATE subscribers SET {assignments}, updated_at = ? WHERE id = ?",
            (*converted.values(), instant_text(at), subscriber_id),
        )

    def list(
        self,
        *,
        status: str | None = None,
        cadence: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Subscriber]:
        clauses, params = [], []
        if status:
            clauses.append("status = ?")
            params.append(status)
        if cadence:
            clauses.append("cadence = ?")
            params.append(cadence)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self.db.transaction(readonly=True) as tx:
            rows = tx.query(
                f"SELECT * FROM subscribers{where} ORDER BY id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
            return self._with_topics(tx, rows)

    def count(self, status: str | None = None) -> int:
        if status:
            return int(
                self.db.scalar("SELECT COUNT(*) FROM subscribers WHERE status = ?", (status,))
            )
        return int(self.db.scalar("SELECT COUNT(*) FROM subscribers"))

    def due(self, cadence: str, period_key: str) -> list[Subscriber]:
        """Active subscribers of ``cadence`` with no send-log row for ``period_key`` yet."""
        with self.db.transaction(readonly=True) as tx:
            rows = tx.query(
                "SELECT s.* FROM subscribers s WHERE s.status = 'active' AND s.cadence = ?"
                " AND NOT EXISTS (SELECT 1 FROM send_log d WHERE d.subscriber_id = s.id"
                " AND d.kind = ? AND d.send_key = ?) ORDER BY s.id",
                (cadence, cadence, period_key),
            )
            return self._with_topics(tx, rows)

    def _with_topics(self, tx: Transaction, rows: Sequence[Row]) -> list[Subscriber]:
        """Subscribers with their topics: their own plus their account's saved searches,
        in two queries whatever the number of subscribers."""
        own: dict[int, list[Topic]] = {}
        of_user: dict[int, list[Topic]] = {}
        ids = [int(row["id"]) for row in rows]
        user_ids = sorted({int(row["user_id"]) for row in rows if row["user_id"] is not None})
        for column, keys, target in (("subscriber_id", ids, own), ("user_id", user_ids, of_user)):
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                for topic_row in tx.query(
                    f"SELECT id, {column} AS owner, kind, query FROM topics"
                    f" WHERE {column} IN ({', '.join('?' * len(chunk))}) ORDER BY id",
                    chunk,
                ):
                    target.setdefault(int(topic_row["owner"]), []).append(topic_from_row(topic_row))
        found = []
        for row in rows:
            topics = list(own.get(int(row["id"]), []))
            if row["user_id"] is not None:
                seen = set(topics)
                topics += [t for t in of_user.get(int(row["user_id"]), []) if t not in seen]
            found.append(subscriber_from_row(row, topics))
        return found

    # -- topics ------------------------------------------------------------------------

    def topics_of(
        self, *, user_id: int | None = None, subscriber_id: int | None = None
    ) -> list[Topic]:
        column, value = (
            ("user_id", user_id) if user_id is not None else ("subscriber_id", subscriber_id)
        )
        rows = self.db.query(
            f"SELECT id, kind, query FROM topics WHERE {column} = ? ORDER BY id", (value,)
        )
        return [topic_from_row(row) for row in rows]

    def add_topics(
        self,
        tx: Transaction,
        topics: Sequence[Topic],
        at: datetime,
        *,
        user_id: int | None = None,
        subscriber_id: int | None = None,
    ) -> None:
        """Add topics to an account or a subscriber; ones already there are kept as they are."""
        if (user_id is None) == (subscriber_id is None):
            raise ValueError("give exactly one of user_id and subscriber_id")
        tx.executemany(
            "INSERT INTO topics (subscriber_id, user_id, kind, query, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(subscriber_id, user_id, t.kind, t.query, instant_text(at)) for t in topics],
        )

    def clear_topics(self, tx: Transaction, subscriber_id: int) -> None:
        tx.execute("DELETE FROM topics WHERE subscriber_id = ?", (subscriber_id,))

    def count_topics(self, tx: Transaction, *, user_id: int) -> int:
        return int(tx.scalar("SELECT COUNT(*) FROM topics WHERE user_id = ?", (user_id,)))

    def delete_topic(self, topic_id: int, *, user_id: int) -> bool:
        return bool(
            self.db.execute("DELETE FROM topics WHERE id = ? AND user_id = ?", (topic_id, user_id))
        )

    # -- confirmation mails (rate limits) ----------------------------------------------

    def mails_since(
        self, column: str, value: str, since: datetime, *, kind: str | None = None
    ) -> list[str]:
        """Times (ISO text, oldest first) mails went to an address or were asked for by a
        client: of one ``kind`` ('confirm', 'reset'), or of every kind."""
        if column not in ("email_key", "client"):
            raise ValueError(column)
        where = " AND kind = ?" if kind else ""
        rows = self.db.query(
            f"SELECT sent_at FROM mail_events WHERE {column} = ? AND sent_at > ?{where}"
            " ORDER BY sent_at",
            (value, instant_text(since), *([kind] if kind else [])),
        )
        return [row["sent_at"] for row in rows]

    def record_mail(
        self, kind: str, email_key: str, client: str, at: datetime, *, forget_before: datetime
    ) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO mail_events (kind, email_key, client, sent_at) VALUES (?, ?, ?, ?)",
                (kind, email_key, client, instant_text(at)),
            )
            # Rows older than the longest window can never count again.
            tx.execute("DELETE FROM mail_events WHERE sent_at <= ?", (instant_text(forget_before),))
