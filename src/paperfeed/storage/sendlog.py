"""The send log: one row per thing sent to one subscriber (a digest now, alerts later),
keyed by ``(subscriber_id, kind, send_key)``, and the state machine that makes each
send happen once however many workers run and wherever one dies::

    claimed ──hand-over──▶ claimed + handed_over_at ──250──▶ sent
       │ ▲                        │                 └──5xx──▶ failed
       │ └──── takeover ◀─────────┘ (dead worker: uncertain + 1)
       └──▶ skipped / failed / deferred (lease pushed to the retry time)

Four statements carry it, each behaving the same on both engines:

* the **claim**, ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` on the unique
  key: one inserter wins, the others get no row;
* the **takeover** of a dead or deferring worker's claim, ``UPDATE ... WHERE status =
  'claimed' AND lease_until < now``, whose rowcount says who won;
* the **hand-over**, committed right before the SMTP ``DATA`` command and only while
  the worker still holds the claim. It is the fence: a worker that stalled past its
  lease and lost the claim learns it here and sends nothing. It also records that
  from now on the server may have the message;
* the **outcome** (``sent`` with whatever else the caller records in the same
  transaction, ``failed``, ``skipped``), again only by the claim's holder.

What no database can know is the answer to a hand-over whose worker died before it
committed the outcome: SMTP offers no way to ask a server whether it took a message.
The takeover counts such a claim in ``uncertain`` and sends the message again (same
Message-ID): no gap, and at most one extra copy per dead worker, since a worker
hands over one message at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from paperfeed.storage.base import Database, Row, Transaction
from paperfeed.storage.values import day_text, instant_text, json_text, parse_json

#: Statuses a row can end in (``claimed`` is the only one that changes again).
FINAL_STATUSES = ("sent", "failed", "skipped")


class SendLogStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- claiming --------------------------------------------------------------------

    def claim(
        self,
        *,
        subscriber_id: int,
        kind: str,
        send_key: str,
        worker: str,
        window: tuple[date, date],
        content: Sequence[dict[str, Any]],
        message_id: str | None,
        now: datetime,
        lease_until: datetime,
        status: str = "claimed",
    ) -> int | None:
        """Insert the row for ``worker``; None when another run got there first.

        ``status='skipped'`` records that nothing was due the same way (no lease).
        ``content`` is what a resumed send rebuilds the message from.
        """
        at = instant_text(now)
        with self.db.transaction() as tx:
            row = tx.query_one(
                "INSERT INTO send_log (subscriber_id, kind, send_key, status, worker,"
                " lease_until, window_from, window_to, content, message_id, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (subscriber_id, kind, send_key) DO NOTHING RETURNING id",
                (subscriber_id, kind, send_key, status, worker,
                 instant_text(lease_until) if status == "claimed" else None,
                 day_text(window[0]), day_text(window[1]), json_text(list(content)),
                 message_id, at, at),
            )  # fmt: skip
        return int(row["id"]) if row else None

    def expired_claims(self, kind: str, now: datetime) -> list[Row]:
        """Claims whose holder stopped (crash, kill) or deferred them until now."""
        return self.db.query(
            "SELECT * FROM send_log WHERE status = 'claimed' AND kind = ?"
            " AND lease_until < ? ORDER BY id",
            (kind, instant_text(now)),
        )

    def pending_claims(self, kind: str) -> int:
        """Claims not finished yet (being sent, deferred, or left by a dead worker)."""
        return int(
            self.db.scalar(
                "SELECT COUNT(*) FROM send_log WHERE status = 'claimed' AND kind = ?", (kind,)
            )
        )

    def take_over(self, send_id: int, worker: str, now: datetime, lease_until: datetime) -> bool:
        """Atomically move an expired claim to ``worker``; False if someone else did.

        A claim taken over in the middle of a hand-over is counted ``uncertain``: the
        server may have the message already, and it is about to be sent again.
        """
        at = instant_text(now)
        changed = self.db.execute(
            "UPDATE send_log SET worker = ?, lease_until = ?, updated_at = ?,"
            " uncertain = uncertain + CASE WHEN handed_over_at IS NULL THEN 0 ELSE 1 END,"
            " handed_over_at = NULL"
            " WHERE id = ? AND status = 'claimed' AND lease_until < ?",
            (worker, instant_text(lease_until), at, send_id, at),
        )
        return changed == 1

    def begin_handover(
        self, send_id: int, worker: str, now: datetime, lease_until: datetime
    ) -> bool:
        """Record, while ``worker`` still holds the claim, that the message is about to
        go to the server; renews the lease for the hand-over. False: the claim was
        lost (taken over after the lease ran out), so the caller must not send."""
        at = instant_text(now)
        changed = self.db.execute(
            "UPDATE send_log SET handed_over_at = ?, lease_until = ?, updated_at = ?"
            " WHERE id = ? AND worker = ? AND status = 'claimed'",
            (at, instant_text(lease_until), at, send_id, worker),
        )
        return changed == 1

    # -- outcomes (each checks that ``worker`` still holds the claim) ----------------

    def mark_sent(
        self,
        send_id: int,
        worker: str,
        now: datetime,
        *,
        also: Callable[[Transaction], None] | None = None,
    ) -> bool:
        """The server accepted the message: the row, and whatever ``also`` records
        (a digest's papers), in one transaction."""
        at = instant_text(now)
        with self.db.transaction() as tx:
            changed = tx.execute(
                "UPDATE send_log SET status = 'sent', attempts = attempts + 1,"
                " sent_at = ?, updated_at = ?, lease_until = NULL, last_error = NULL,"
                " handed_over_at = NULL"
                " WHERE id = ? AND worker = ? AND status = 'claimed'",
                (at, at, send_id, worker),
            )
            if changed != 1:
                return False
            if also is not None:
                also(tx)
        return True

    def finish(
        self,
        send_id: int,
        worker: str,
        status: str,
        error: str,
        now: datetime,
        *,
        uncertain: bool = False,
    ) -> bool:
        """End a claim without a delivery we know of: ``failed`` (refused for good, or
        given up) or ``skipped``. ``uncertain``: the last hand-over went unanswered."""
        if status not in ("failed", "skipped"):
            raise ValueError(status)
        changed = self.db.execute(
            "UPDATE send_log SET status = ?, attempts = attempts + ?, uncertain ="
            " uncertain + ?, last_error = ?, updated_at = ?, lease_until = NULL,"
            " handed_over_at = NULL WHERE id = ? AND worker = ? AND status = 'claimed'",
            (status, int(status == "failed"), int(uncertain), error[:1000],
             instant_text(now), send_id, worker),
        )  # fmt: skip
        return changed == 1

    def defer(
        self,
        send_id: int,
        worker: str,
        error: str | None,
        now: datetime,
        retry_at: datetime,
        *,
        answered: bool,
    ) -> bool:
        """Keep the claim but let any run take it over from ``retry_at``.

        ``error``: a failed attempt (counted); None: a run stopping half-way.
        ``answered``: the server's answer to any hand-over is known (it refused the
        message, or none began), so the hand-over mark is cleared; otherwise it stays
        and the takeover counts the hand-over as uncertain.
        """
        counted = ", attempts = attempts + 1" if error is not None else ""
        cleared = ", handed_over_at = NULL" if answered else ""
        message = error[:1000] if error is not None else None
        changed = self.db.execute(
            f"UPDATE send_log SET lease_until = ?, updated_at = ?{counted}{cleared},"
            " last_error = COALESCE(?, last_error)"
            " WHERE id = ? AND worker = ? AND status = 'claimed'",
            (instant_text(retry_at), instant_text(now), message, send_id, worker),
        )
        return changed == 1

    # -- reading ---------------------------------------------------------------------

    def get(self, send_id: int) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM send_log WHERE id = ?", (send_id,))
        return None if row is None else {**row, "content": parse_json(row["content"], [])}

    def sends(
        self,
        *,
        subscriber_id: int | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        clauses, params = [], []
        for column, value in (("subscriber_id", subscriber_id), ("kind", kind),
                              ("status", status)):  # fmt: skip
            if value is not None and value != "":
                clauses.append(f"{column} = ?")
                params.append(value)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = self.db.query(f"SELECT * FROM send_log{where} ORDER BY id LIMIT ?", (*params, limit))
        return [{**row, "content": parse_json(row["content"], [])} for row in rows]
