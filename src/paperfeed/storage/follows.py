"""Follows, the followed papers' last-seen state, and alerts.

Only SQL lives here; rules (validation, matching, who may see what) are in
``paperfeed.community.follows`` and ``paperfeed.community.alerts``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from paperfeed.models.follows import Alert, Follow
from paperfeed.storage.base import Database, Row, Transaction
from paperfeed.storage.values import instant_text, parse_instant, parse_json

_CHUNK = 500
_FOLLOW_COLUMNS = (
    "id, user_id, kind, target, label, paper_id, muted, upvote_threshold, top_count, created_at"
)
_ALERT_COLUMNS = (
    "a.id, a.user_id, a.kind, a.paper_id, a.follow_ids, a.detail, a.created_at, a.seen_at,"
    " a.send_id, a.mailed_at, p.title"
)


def follow_from_row(row: Row) -> Follow:
    return Follow(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        kind=row["kind"],
        target=row["target"],
        label=row["label"],
        paper_id=row["paper_id"],
        muted=bool(row["muted"]),
        upvote_threshold=None if row["upvote_threshold"] is None else int(row["upvote_threshold"]),
        top_count=None if row["top_count"] is None else int(row["top_count"]),
        created_at=parse_instant(row["created_at"]),  # type: ignore[arg-type]
    )


def alert_from_row(row: Row) -> Alert:
    return Alert(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        kind=row["kind"],
        paper_id=row["paper_id"],
        follow_ids=[int(i) for i in parse_json(row["follow_ids"], [])],
        detail=parse_json(row["detail"], {}),
        created_at=parse_instant(row["created_at"]),  # type: ignore[arg-type]
        seen_at=parse_instant(row["seen_at"]),
        send_id=None if row["send_id"] is None else int(row["send_id"]),
        mailed_at=parse_instant(row["mailed_at"]),
        title=row.get("title") or "",
    )


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class FollowStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- follows -----------------------------------------------------------------------

    def insert(
        self,
        tx: Transaction,
        *,
        user_id: int,
        kind: str,
        target: str,
        label: str,
        paper_id: str | None,
        upvote_threshold: int | None,
        top_count: int | None,
        at: datetime,
    ) -> int | None:
        """The new follow's id; None if the user already follows that."""
        row = tx.query_one(
            "INSERT INTO follows (user_id, kind, target, label, paper_id, upvote_threshold,"
            " top_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING id",
            (user_id, kind, target, label, paper_id, upvote_threshold, top_count,
             instant_text(at)),
        )  # fmt: skip
        return int(row["id"]) if row else None

    def get(self, follow_id: int, tx: Transaction | None = None) -> Follow | None:
        sql = f"SELECT {_FOLLOW_COLUMNS} FROM follows WHERE id = ?"
        row = (tx.query_one if tx else self.db.query_one)(sql, (follow_id,))
        return follow_from_row(row) if row else None

    def find(self, user_id: int, kind: str, target: str) -> Follow | None:
        if kind == "paper":
            sql = f"SELECT {_FOLLOW_COLUMNS} FROM follows WHERE user_id = ? AND kind = ? AND paper_id = ?"
        else:
            sql = f"SELECT {_FOLLOW_COLUMNS} FROM follows WHERE user_id = ? AND kind = ? AND target = ?"
        row = self.db.query_one(sql, (user_id, kind, target))
        return follow_from_row(row) if row else None

    def of_user(self, user_id: int, *, kind: str | None = None) -> list[Follow]:
        where, params = "user_id = ?", [user_id]
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)
        rows = self.db.query(
            f"SELECT {_FOLLOW_COLUMNS} FROM follows WHERE {where} ORDER BY kind, id", params
        )
        return [follow_from_row(row) for row in rows]

    def count(self, tx: Transaction, user_id: int) -> int:
        return int(tx.scalar("SELECT COUNT(*) FROM follows WHERE user_id = ?", (user_id,)) or 0)

    def followed_paper_ids(self, user_id: int, paper_ids: Sequence[str]) -> set[str]:
        """Which of ``paper_ids`` the user follows (one query per page of cards)."""
        found: set[str] = set()
        unique = list(dict.fromkeys(paper_ids))
        for chunk in _chunks(unique):
            rows = self.db.query(
                "SELECT paper_id FROM follows WHERE user_id = ? AND kind = 'paper'"
                f" AND paper_id IN ({', '.join('?' * len(chunk))})",
                [user_id, *chunk],
            )
            found.update(row["paper_id"] for row in rows)
        return found

    def update(
        self, tx: Transaction, follow_id: int, user_id: int, changes: dict[str, Any]
    ) -> bool:
        allowed = ("muted", "upvote_threshold", "top_count")
        if any(key not in allowed for key in changes):
            raise ValueError(sorted(changes))
        if not changes:
            return (
                tx.query_one(
                    "SELECT id FROM follows WHERE id = ? AND user_id = ?", (follow_id, user_id)
                )
                is not None
            )
        assignments = ", ".join(f"{key} = ?" for key in changes)
        values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
        return bool(
            tx.execute(
                f"UPDATE follows SET {assignments} WHERE id = ? AND user_id = ?",
                [*values, follow_id, user_id],
            )
        )

    def delete(self, tx: Transaction, follow_id: int, user_id: int) -> bool:
        return bool(
            tx.execute("DELETE FROM follows WHERE id = ? AND user_id = ?", (follow_id, user_id))
        )

    def active(self, tx: Transaction, kinds: Sequence[str]) -> list[Row]:
        """Every follow of ``kinds`` that is not muted (the detector's input)."""
        return tx.query(
            "SELECT id, user_id, kind, target, label, paper_id, upvote_threshold, top_count"
            f" FROM follows WHERE muted = 0 AND kind IN ({', '.join('?' * len(kinds))})"
            " ORDER BY id",
            list(kinds),
        )

    def paper_followers(self, tx: Transaction, paper_ids: Sequence[str]) -> list[Row]:
        """The unmuted follows of these papers."""
        rows: list[Row] = []
        for chunk in _chunks(list(paper_ids)):
            rows += tx.query(
                "SELECT id, user_id, label, paper_id, upvote_threshold FROM follows"
                f" WHERE kind = 'paper' AND muted = 0 AND paper_id IN ({', '.join('?' * len(chunk))})"
                " ORDER BY id",
                list(chunk),
            )
        return rows

    def followed_authors(self, user_id: int) -> list[str]:
        """Names of the authors the user follows and has not muted, as typed."""
        rows = self.db.query(
            "SELECT label FROM follows WHERE user_id = ? AND kind = 'author' AND muted = 0"
            " ORDER BY id",
            (user_id,),
        )
        return [row["label"] for row in rows]

    # -- what followed papers looked like ---------------------------------------------

    def watch(self, tx: Transaction, paper_id: str, at: datetime) -> None:
        """Remember the paper's current state, unless it is watched already."""
        tx.execute(
            "INSERT INTO paper_watch (paper_id, version, revised_at, comments, code_url, upvotes,"
            " watched_at) SELECT id, version, updated_at, comments, code_url,"
            " source_upvotes + local_upvotes, ?"
            " FROM papers WHERE id = ? ON CONFLICT DO NOTHING",
            (instant_text(at), paper_id),
        )

    def unwatch_if_unfollowed(self, tx: Transaction, paper_id: str) -> None:
        tx.execute(
            "DELETE FROM paper_watch WHERE paper_id = ? AND NOT EXISTS"
            " (SELECT 1 FROM follows WHERE kind = 'paper' AND paper_id = ?)",
            (paper_id, paper_id),
        )

    def watched(self, tx: Transaction, paper_ids: Sequence[str]) -> dict[str, Row]:
        found: dict[str, Row] = {}
        for chunk in _chunks(list(dict.fromkeys(paper_ids))):
            for row in tx.query(
                "SELECT paper_id, version, revised_at, comments, code_url, upvotes FROM paper_watch"
                f" WHERE paper_id IN ({', '.join('?' * len(chunk))})",
                list(chunk),
            ):
                found[row["paper_id"]] = row
        return found

    def update_watch(self, tx: Transaction, rows: Sequence[Row], at: datetime) -> None:
        tx.executemany(
            "UPDATE paper_watch SET version = ?, revised_at = ?, comments = ?, code_url = ?,"
            " upvotes = ?, watched_at = ? WHERE paper_id = ?",
            [(r["version"], r["revised_at"], r["comments"], r["code_url"], r["upvotes"],
              instant_text(at), r["paper_id"]) for r in rows],
        )  # fmt: skip

    # -- alerts ------------------------------------------------------------------------

    def insert_alerts(
        self, tx: Transaction, alerts: Sequence[dict[str, Any]], at: datetime
    ) -> None:
        """Insert alerts (``user_id, alert_key, kind, paper_id``, and ``follow_ids`` and
        ``detail`` as JSON text) of papers that exist; one that exists already (same
        user and key) is left alone."""
        stamp = instant_text(at)
        tx.executemany(
            "INSERT INTO alerts (user_id, alert_key, kind, paper_id, follow_ids, detail,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(a["user_id"], a["alert_key"], a["kind"], a["paper_id"], a["follow_ids"],
              a["detail"], stamp) for a in alerts],
        )  # fmt: skip

    def alerts_of(
        self, user_id: int, *, limit: int = 50, offset: int = 0, unseen: bool = False
    ) -> list[Alert]:
        where = " AND a.seen_at IS NULL" if unseen else ""
        rows = self.db.query(
            f"SELECT {_ALERT_COLUMNS} FROM alerts a JOIN papers p ON p.id = a.paper_id"
            f" WHERE a.user_id = ?{where} ORDER BY a.id DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [alert_from_row(row) for row in rows]

    def count_alerts(self, user_id: int, *, unseen: bool = False) -> int:
        where = " AND seen_at IS NULL" if unseen else ""
        return int(
            self.db.scalar(f"SELECT COUNT(*) FROM alerts WHERE user_id = ?{where}", (user_id,)) or 0
        )

    def mark_seen(self, user_id: int, at: datetime, alert_ids: Sequence[int] | None) -> int:
        if alert_ids is None:
            return self.db.execute(
                "UPDATE alerts SET seen_at = ? WHERE user_id = ? AND seen_at IS NULL",
                (instant_text(at), user_id),
            )
        changed = 0
        with self.db.transaction() as tx:
            for chunk in _chunks(list(alert_ids)):
                changed += tx.execute(
                    "UPDATE alerts SET seen_at = ? WHERE user_id = ? AND seen_at IS NULL"
                    f" AND id IN ({', '.join('?' * len(chunk))})",
                    [instant_text(at), user_id, *chunk],
                )
        return changed

    def unsent(self, user_ids: Sequence[int], *, limit_per_user: int) -> dict[int, list[Alert]]:
        """Alerts no digest has carried yet, oldest first, per user."""
        found: dict[int, list[Alert]] = {}
        for chunk in _chunks(list(dict.fromkeys(user_ids))):
            rows = self.db.query(
                f"SELECT {_ALERT_COLUMNS} FROM alerts a JOIN papers p ON p.id = a.paper_id"
                f" WHERE a.send_id IS NULL AND a.user_id IN ({', '.join('?' * len(chunk))})"
                " ORDER BY a.user_id, a.id",
                list(chunk),
            )
            for row in rows:
                bucket = found.setdefault(int(row["user_id"]), [])
                if len(bucket) < limit_per_user:
                    bucket.append(alert_from_row(row))
        return found

    def by_ids(self, alert_ids: Sequence[int]) -> list[Alert]:
        found: list[Alert] = []
        for chunk in _chunks(list(alert_ids)):
            rows = self.db.query(
                f"SELECT {_ALERT_COLUMNS} FROM alerts a JOIN papers p ON p.id = a.paper_id"
                f" WHERE a.id IN ({', '.join('?' * len(chunk))}) ORDER BY a.id",
                list(chunk),
            )
            found += [alert_from_row(row) for row in rows]
        return found

    def attach(self, tx: Transaction, send_id: int, user_id: int, alert_ids: Sequence[int]) -> int:
        """Give still-unclaimed alerts to the digest ``send_id``; returns how many it got."""
        attached = 0
        for chunk in _chunks(list(alert_ids)):
            attached += tx.execute(
                "UPDATE alerts SET send_id = ? WHERE user_id = ? AND send_id IS NULL"
                f" AND id IN ({', '.join('?' * len(chunk))})",
                [send_id, user_id, *chunk],
            )
        return attached

    def mark_mailed(self, tx: Transaction, send_id: int, at: datetime) -> int:
        return tx.execute(
            "UPDATE alerts SET mailed_at = ? WHERE send_id = ? AND mailed_at IS NULL",
            (instant_text(at), send_id),
        )
