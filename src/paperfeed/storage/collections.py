"""Collections: named, ordered lists of papers owned by a user.

Visibility rules are applied by ``paperfeed.community``; this store returns
rows with the owner's share token and lets the caller decide who sees it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paperfeed.models.community import Collection
from paperfeed.storage.base import Database, Row, Transaction
from paperfeed.storage.values import instant_text, parse_instant

# paper_count by correlated sub-query: collections are few per page, and it
# keeps the statement identical on both engines.
_SELECT = (
    "SELECT c.id, c.owner_id, u.username AS owner_username, c.name, c.slug, c.description,"
    " c.is_public, c.share_token, c.created_at, c.updated_at, c.group_id,"
    " (SELECT COUNT(*) FROM collection_papers cp WHERE cp.collection_id = c.id) AS paper_count"
    " FROM collections c JOIN users u ON u.id = c.owner_id"
)


def collection_from_row(row: Row) -> Collection:
    return Collection(
        id=int(row["id"]),
        owner_id=int(row["owner_id"]),
        owner_username=row["owner_username"],
        name=row["name"],
        slug=row["slug"],
        description=row["description"],
        is_public=bool(row["is_public"]),
        share_token=row["share_token"],
        created_at=parse_instant(row["created_at"]),  # type: ignore[arg-type]
        updated_at=parse_instant(row["updated_at"]),  # type: ignore[arg-type]
        paper_count=int(row["paper_count"]),
        group_id=None if row["group_id"] is None else int(row["group_id"]),
    )


class CollectionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reads -------------------------------------------------------------------------

    def get(self, collection_id: int, tx: Transaction | None = None) -> Collection | None:
        sql = _SELECT + " WHERE c.id = ?"
        if tx is not None:
            row = tx.query_one(sql, (collection_id,))
        else:
            row = self.db.query_one(sql, (collection_id,))
        return collection_from_row(row) if row else None

    def by_slug(self, owner_username: str, slug: str) -> Collection | None:
        row = self.db.query_one(_SELECT + " WHERE u.username = ? AND c.slug = ?",
                                (owner_username, slug))  # fmt: skip
        return collection_from_row(row) if row else None

    def of_owner(self, owner_id: int, *, public_only: bool = False) -> list[Collection]:
        """A user's own collections (not the groups' ones they created)."""
        where = " WHERE c.owner_id = ? AND c.group_id IS NULL" + (
            " AND c.is_public = 1" if public_only else ""
        )
        rows = self.db.query(_SELECT + where + " ORDER BY c.updated_at DESC, c.id DESC",
                             (owner_id,))  # fmt: skip
        return [collection_from_row(row) for row in rows]

    def public(self, *, limit: int, offset: int) -> list[Collection]:
        rows = self.db.query(
            _SELECT + " WHERE c.is_public = 1 AND c.group_id IS NULL"
            " ORDER BY c.updated_at DESC, c.id DESC"
            " LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [collection_from_row(row) for row in rows]

    def with_paper(self, paper_id: str, *, viewer_id: int | None) -> list[Collection]:
        """Collections holding the paper that are public, owned by ``viewer_id`` or
        shared by a group ``viewer_id`` is a member of."""
        viewer = -1 if viewer_id is None else viewer_id
        rows = self.db.query(
            _SELECT + " WHERE c.id IN (SELECT collection_id FROM collection_papers"
            " WHERE paper_id = ?) AND ((c.is_public = 1 AND c.group_id IS NULL)"
            " OR (c.owner_id = ? AND c.group_id IS NULL)"
            " OR c.group_id IN (SELECT group_id FROM group_members WHERE user_id = ?))"
            " ORDER BY c.updated_at DESC, c.id DESC",
            (paper_id, viewer, viewer),
        )
        return [collection_from_row(row) for row in rows]

    def of_group(self, group_id: int) -> list[Collection]:
        rows = self.db.query(
            _SELECT + " WHERE c.group_id = ? ORDER BY c.updated_at DESC, c.id DESC", (group_id,)
        )
        return [collection_from_row(row) for row in rows]

    def of_groups_of(self, user_id: int) -> list[Collection]:
        """The shared collections of every group ``user_id`` is a member of."""
        rows = self.db.query(
            _SELECT + " WHERE c.group_id IN (SELECT group_id FROM group_members WHERE user_id = ?)"
            " ORDER BY c.updated_at DESC, c.id DESC",
            (user_id,),
        )
        return [collection_from_row(row) for row in rows]

    def paper_ids(self, collection_id: int, *, limit: int, offset: int) -> list[str]:
        """Paper ids newest addition first."""
        rows = self.db.query(
            "SELECT paper_id FROM collection_papers WHERE collection_id = ?"
            " ORDER BY position DESC, paper_id LIMIT ? OFFSET ?",
            (collection_id, limit, offset),
        )
        return [row["paper_id"] for row in rows]

    def entries(self, collection_id: int) -> list[tuple[str, str]]:
        """``(paper id, added_at text)`` of every paper, newest addition first."""
        rows = self.db.query(
            "SELECT paper_id, added_at FROM collection_papers WHERE collection_id = ?"
            " ORDER BY position DESC, paper_id",
            (collection_id,),
        )
        return [(row["paper_id"], row["added_at"]) for row in rows]

    def slugs_of(self, tx: Transaction, owner_id: int, stem: str) -> set[str]:
        rows = tx.query(
            "SELECT slug FROM collections WHERE owner_id = ? AND (slug = ? OR slug LIKE ?)",
            (owner_id, stem, stem + "-%"),
        )
        return {row["slug"] for row in rows}

    # -- writes ------------------------------------------------------------------------

    def insert(
        self,
        tx: Transaction,
        *,
        owner_id: int,
        name: str,
        slug: str,
        description: str,
        is_public: bool,
        share_token: str,
        at: datetime,
        group_id: int | None = None,
    ) -> int | None:
        """The new id, or None if the owner already has ``slug`` (a race; caller retries)."""
        row = tx.query_one(
            "INSERT INTO collections (owner_id, name, slug, description, is_public, share_token,"
            " created_at, updated_at, group_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING id",
            (owner_id, name, slug, description, int(is_public), share_token,
             instant_text(at), instant_text(at), group_id),
        )  # fmt: skip
        return int(row["id"]) if row else None

    def claim(
        self,
        tx: Transaction,
        collection_id: int,
        owner_id: int,
        *,
        touch: datetime | None = None,
    ) -> bool:
        """Whether ``owner_id`` owns the collection; sets ``updated_at`` to ``touch`` if given.

        An UPDATE even without ``touch``: on PostgreSQL it row-locks the collection
        until the transaction ends, which orders concurrent changes to it (positions
        stay distinct). Both engines count the row as matched when nothing changes.
        """
        if touch is None:
            sql, params = "UPDATE collections SET updated_at = updated_at", []
        else:
            sql, params = "UPDATE collections SET updated_at = ?", [instant_text(touch)]
        return bool(
            tx.execute(sql + " WHERE id = ? AND owner_id = ?", [*params, collection_id, owner_id])
        )

    def update(self, tx: Transaction, collection_id: int, changes: dict[str, Any]) -> bool:
        """Set columns (name, slug, description, is_public, share_token); False on a slug clash."""
        allowed = ("name", "slug", "description", "is_public", "share_token")
        if not changes:
            return True
        if any(key not in allowed for key in changes):
            raise ValueError(sorted(changes))
        if "slug" in changes:
            clash = tx.query_one(
                "SELECT id FROM collections WHERE slug = ? AND id <> ?"
                " AND owner_id = (SELECT owner_id FROM collections WHERE id = ?)",
                (changes["slug"], collection_id, collection_id),
            )
            if clash:
                return False
        assignments = ", ".join(f"{key} = ?" for key in changes)
        values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
        tx.execute(f"UPDATE collections SET {assignments} WHERE id = ?", [*values, collection_id])
        return True

    def delete(self, tx: Transaction, collection_id: int) -> None:
        tx.execute("DELETE FROM collections WHERE id = ?", (collection_id,))

    def add_paper(self, tx: Transaction, collection_id: int, paper_id: str, at: datetime) -> bool:
        """Add at the top; False if already there or no such paper."""
        return bool(
            tx.execute(
                "INSERT INTO collection_papers (collection_id, paper_id, position, added_at)"
                " SELECT ?, p.id, (SELECT COALESCE(MAX(position), 0) + 1 FROM collection_papers"
                " WHERE collection_id = ?), ? FROM papers p WHERE p.id = ?"
                " ON CONFLICT DO NOTHING",
                (collection_id, collection_id, instant_text(at), paper_id),
            )
        )

    def remove_paper(self, tx: Transaction, collection_id: int, paper_id: str) -> bool:
        return bool(
            tx.execute(
                "DELETE FROM collection_papers WHERE collection_id = ? AND paper_id = ?",
                (collection_id, paper_id),
            )
        )

    def paper_exists(self, tx: Transaction, paper_id: str) -> bool:
        return tx.query_one("SELECT id FROM papers WHERE id = ?", (paper_id,)) is not None
