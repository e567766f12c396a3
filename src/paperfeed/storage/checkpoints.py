"""Harvest checkpoints: where a resumable source stopped.

A checkpoint is saved in the same transaction as the records of the batch it
follows, so after a crash the stored checkpoint always matches the stored papers.
"""

from __future__ import annotations

from typing import Any

from paperfeed.models import utc_now
from paperfeed.storage.base import Database, Transaction
from paperfeed.storage.values import instant_text, json_text, parse_json


class CheckpointStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> tuple[dict[str, Any], bool] | None:
        """``(state, done)`` for ``key``, or None when no run was ever started."""
        row = self.db.query_one("SELECT state, done FROM checkpoints WHERE key = ?", (key,))
        if row is None:
            return None
        return parse_json(row["state"], {}), bool(row["done"])

    def save(self, tx: Transaction, key: str, state: dict[str, Any], *, done: bool) -> None:
        now = instant_text(utc_now())
        tx.execute(
            "INSERT INTO checkpoints (key, state, done, started_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
            " state = excluded.state, done = excluded.done, updated_at = excluded.updated_at",
            (key, json_text(state), int(done), now, now),
        )

    def clear(self, key: str) -> None:
        self.db.execute("DELETE FROM checkpoints WHERE key = ?", (key,))

    def all(self) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT key, state, done, started_at, updated_at FROM checkpoints ORDER BY key"
        )
        return [
            {**row, "state": parse_json(row["state"], {}), "done": bool(row["done"])}
            for row in rows
        ]
