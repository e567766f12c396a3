"""Storage: one :class:`Storage` object over either engine.

``open_storage(url)`` picks the engine from the URL; everything above this
package talks to the per-resource stores hanging off :class:`Storage`.
"""

from __future__ import annotations

from pathlib import Path

from paperfeed.errors import StorageError
from paperfeed.storage.base import Database
from paperfeed.storage.checkpoints import CheckpointStore
from paperfeed.storage.collections import CollectionStore
from paperfeed.storage.digests import DigestStore
from paperfeed.storage.follows import FollowStore
from paperfeed.storage.groups import GroupStore
from paperfeed.storage.jobs import JobStore
from paperfeed.storage.papers import PaperStore
from paperfeed.storage.sendlog import SendLogStore
from paperfeed.storage.submissions import SubmissionStore
from paperfeed.storage.subscriptions import SubscriptionStore
from paperfeed.storage.users import UserStore
from paperfeed.storage.vectors import VectorStore
from paperfeed.storage.votes import VoteStore


class Storage:
    """The stores, sharing one :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.papers = PaperStore(db)
        self.checkpoints = CheckpointStore(db)
        self.users = UserStore(db)
        self.votes = VoteStore(db)
        self.collections = CollectionStore(db)
        self.submissions = SubmissionStore(db)
        self.vectors = VectorStore(db)
        self.subscriptions = SubscriptionStore(db)
        self.digests = DigestStore(db)
        self.send_log = SendLogStore(db)
        self.jobs = JobStore(db)
        self.follows = FollowStore(db)
        self.groups = GroupStore(db)

    def migrate(self) -> list[int]:
        return self.db.migrate()

    def close(self) -> None:
        self.db.close()


def open_database(url: str, *, schema: str | None = None) -> Database:
    if url.startswith("sqlite:///"):
        from paperfeed.storage.sqlite import SQLiteDatabase

        return SQLiteDatabase(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        from paperfeed.storage.postgres import PostgresDatabase

        return PostgresDatabase(url, schema=schema)
    raise StorageError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def open_storage(url: str, *, schema: str | None = None, migrate: bool = True) -> Storage:
    storage = Storage(open_database(url, schema=schema))
    if migrate:
        storage.migrate()
    return storage


__all__ = ["Storage", "open_database", "open_storage"]
