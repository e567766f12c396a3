"""Groups, their members, and the votes of a group's members.

Only SQL lives here; who may see or change what is decided in
``paperfeed.community.groups``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from paperfeed.models.groups import Group, Member
from paperfeed.storage.base import Database, Row, Transaction
from paperfeed.storage.values import day_text, instant_text, parse_day, parse_instant

_GROUP = (
    "SELECT g.id, g.name, g.description, g.created_at, g.updated_at,"
    " (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count"
    " FROM user_groups g"
)
_MEMBER = (
    "SELECT m.group_id, m.user_id, u.username, m.role, m.digest, m.joined_at"
    " FROM group_members m JOIN users u ON u.id = m.user_id"
)


def group_from_row(row: Row) -> Group:
    return Group(
        id=int(row["id"]),
        name=row["name"],
        description=row["description"],
        created_at=parse_instant(row["created_at"]),  # type: ignore[arg-type]
        updated_at=parse_instant(row["updated_at"]),  # type: ignore[arg-type]
        member_count=int(row["member_count"]),
    )


def member_from_row(row: Row) -> Member:
    return Member(
        group_id=int(row["group_id"]),
        user_id=int(row["user_id"]),
        username=row["username"],
        role=row["role"],
        digest=row["digest"],
        joined_at=parse_instant(row["joined_at"]),  # type: ignore[arg-type]
    )


class GroupStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- groups ----------------------------------------------------------------------

    def insert(
        self, tx: Transaction, *, name: str, description: str, invite_nonce: str,
        feed_token_hash: str, created_by: int, at: datetime,
    ) -> int:  # fmt: skip
        row = tx.query_one(
            "INSERT INTO user_groups (name, description, invite_nonce, feed_token_hash,"
            " created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (name, description, invite_nonce, feed_token_hash, created_by,
             instant_text(at), instant_text(at)),
        )  # fmt: skip
        assert row is not None
        return int(row["id"])

    def get(self, group_id: int, tx: Transaction | None = None) -> Group | None:
        sql = _GROUP + " WHERE g.id = ?"
        row = (tx.query_one if tx else self.db.query_one)(sql, (group_id,))
        return group_from_row(row) if row else None

    def by_name(self, name: str) -> list[Group]:
        rows = self.db.query(_GROUP + " WHERE lower(g.name) = lower(?) ORDER BY g.id", (name,))
        return [group_from_row(row) for row in rows]

    def of_user(self, user_id: int) -> list[Group]:
        rows = self.db.query(
            _GROUP + " WHERE g.id IN (SELECT group_id FROM group_members WHERE user_id = ?)"
            " ORDER BY lower(g.name), g.id",
            (user_id,),
        )
        return [group_from_row(row) for row in rows]

    def all(self, *, limit: int, offset: int = 0) -> list[Group]:
        rows = self.db.query(_GROUP + " ORDER BY g.id LIMIT ? OFFSET ?", (limit, offset))
        return [group_from_row(row) for row in rows]

    def secrets(self, group_id: int) -> Row | None:
        """``invite_nonce`` and ``feed_token_hash`` (never shown to anyone)."""
        return self.db.query_one(
            "SELECT invite_nonce, feed_token_hash FROM user_groups WHERE id = ?", (group_id,)
        )

    def update(self, tx: Transaction, group_id: int, changes: dict[str, Any], at: datetime) -> bool:
        allowed = ("name", "description", "invite_nonce", "feed_token_hash")
        if any(key not in allowed for key in changes):
            raise ValueError(sorted(changes))
        assignments = "".join(f"{key} = ?, " for key in changes)
        return bool(
            tx.execute(
                f"UPDATE user_groups SET {assignments}updated_at = ? WHERE id = ?",
                [*changes.values(), instant_text(at), group_id],
            )
        )

    def delete(self, tx: Transaction, group_id: int) -> None:
        tx.execute("DELETE FROM user_groups WHERE id = ?", (group_id,))

    # -- members ---------------------------------------------------------------------

    def add_member(
        self, tx: Transaction, group_id: int, user_id: int, role: str, at: datetime
    ) -> bool:
        """False if the user is a member already (their role stays)."""
        return bool(
            tx.execute(
                "INSERT INTO group_members (group_id, user_id, role, joined_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (group_id, user_id, role, instant_text(at)),
            )
        )

    def member(self, group_id: int, user_id: int, tx: Transaction | None = None) -> Member | None:
        sql = _MEMBER + " WHERE m.group_id = ? AND m.user_id = ?"
        row = (tx.query_one if tx else self.db.query_one)(sql, (group_id, user_id))
        return member_from_row(row) if row else None

    def members(self, group_id: int, tx: Transaction | None = None) -> list[Member]:
        sql = _MEMBER + " WHERE m.group_id = ? ORDER BY m.role DESC, lower(u.username)"
        rows = (tx.query if tx else self.db.query)(sql, (group_id,))
        return [member_from_row(row) for row in rows]

    def lock(self, tx: Transaction, group_id: int) -> bool:
        """Row-lock the group until ``tx`` ends (orders role changes on PostgreSQL)."""
        return bool(
            tx.execute("UPDATE user_groups SET updated_at = updated_at WHERE id = ?", (group_id,))
        )

    def set_member(self, tx: Transaction, group_id: int, user_id: int, **values: str) -> bool:
        allowed = ("role", "digest")
        if not values or any(key not in allowed for key in values):
            raise ValueError(sorted(values))
        assignments = ", ".join(f"{key} = ?" for key in values)
        return bool(
            tx.execute(
                f"UPDATE group_members SET {assignments} WHERE group_id = ? AND user_id = ?",
                [*values.values(), group_id, user_id],
            )
        )

    def remove_member(self, tx: Transaction, group_id: int, user_id: int) -> bool:
        return bool(
            tx.execute(
                "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", (group_id, user_id)
            )
        )

    def digest_members(self, cadence: str) -> list[Member]:
        """Members of any group who asked for its digest at ``cadence``."""
        rows = self.db.query(
            _MEMBER + " WHERE m.digest = ? ORDER BY m.group_id, m.user_id", (cadence,)
        )
        return [member_from_row(row) for row in rows]

    # -- the members' votes ----------------------------------------------------------

    def vote_counts(
        self, group_id: int, day_from: date, day_to: date
    ) -> dict[str, tuple[int, date | None]]:
        """Papers of the feed days ``day_from``..``day_to`` the group's members voted
        for: how many of them did, and the paper's feed day."""
        rows = self.db.query(
            "SELECT v.paper_id, COUNT(*) AS votes, MIN(p.feed_date) AS day FROM group_members m"
            " JOIN votes v ON v.user_id = m.user_id JOIN papers p ON p.id = v.paper_id"
            " WHERE m.group_id = ? AND p.feed_date >= ? AND p.feed_date <= ?"
            " GROUP BY v.paper_id",
            (group_id, day_text(day_from), day_text(day_to)),
        )
        return {row["paper_id"]: (int(row["votes"]), parse_day(row["day"])) for row in rows}

    def recent_votes(self, group_id: int, *, limit: int) -> list[tuple[str, int, str]]:
        """``(paper_id, member votes, latest vote time)``, most recently voted first."""
        rows = self.db.query(
            "SELECT v.paper_id, COUNT(*) AS votes, MAX(v.created_at) AS latest"
            " FROM group_members m JOIN votes v ON v.user_id = m.user_id"
            " WHERE m.group_id = ? GROUP BY v.paper_id ORDER BY latest DESC, v.paper_id"
            " LIMIT ?",
            (group_id, limit),
        )
        return [(row["paper_id"], int(row["votes"]), row["latest"]) for row in rows]

    # -- the group digest ------------------------------------------------------------

    def digest_recipients(self, cadence: str, kind: str, period_key: str) -> list[Row]:
        """Members who want the group digest at ``cadence``, with their confirmed
        address (an active subscription of their account), not yet sent this period:
        ``group_id, group_name, user_id, subscriber_id, email``."""
        return self.db.query(
            "SELECT m.group_id, g.name AS group_name, m.user_id, s.id AS subscriber_id, s.email"
            " FROM group_members m JOIN user_groups g ON g.id = m.group_id"
            " JOIN subscribers s ON s.user_id = m.user_id AND s.status = 'active'"
            " WHERE m.digest = ? AND NOT EXISTS (SELECT 1 FROM send_log l"
            " WHERE l.subscriber_id = s.id AND l.kind = ?"
            " AND l.send_key = CAST(m.group_id AS TEXT) || ':' || ?)"
            " ORDER BY m.group_id, s.id",
            (cadence, kind, period_key),
        )

    def last_digest_days(self, kind: str, group_id: int) -> dict[int, date]:
        """Per subscriber, the last feed day the group's previous digests covered."""
        rows = self.db.query(
            "SELECT subscriber_id, MAX(window_to) AS last_day FROM send_log"
            " WHERE kind = ? AND send_key LIKE ? GROUP BY subscriber_id",
            (kind, f"{group_id}:%"),
        )
        return {int(r["subscriber_id"]): parse_day(r["last_day"]) for r in rows if r["last_day"]}  # type: ignore[misc]

    def collection_additions(self, group_id: int, since: datetime, until: datetime) -> list[Row]:
        """Papers added to the group's shared collections in ``(since, until]``, newest
        first: ``paper_id, collection_id, collection_name, added_at``."""
        return self.db.query(
            "SELECT cp.paper_id, c.id AS collection_id, c.name AS collection_name, cp.added_at"
            " FROM collection_papers cp JOIN collections c ON c.id = cp.collection_id"
            " WHERE c.group_id = ? AND cp.added_at > ? AND cp.added_at <= ?"
            " ORDER BY cp.added_at DESC, cp.paper_id",
            (group_id, instant_text(since), instant_text(until)),
        )
