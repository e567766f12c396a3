"""Helpers shared by the community tests (fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher

from paperfeed.community import Community, User
from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.models import PaperRecord, SourceFacts
from paperfeed.storage import Storage

PASSWORD = "correct horse battery"


def fast_hasher(**overrides: Any) -> PasswordHasher:
    params: dict[str, Any] = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    return PasswordHasher(**(params | overrides))


class Clock:
    """A settable UTC clock, so expiry and rate-limit windows need no sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_user(community: Community, name: str, **kwargs: Any) -> User:
    return community.create_user(name, f"{name}@example.org", PASSWORD, **kwargs)


def arxiv_record(arxiv_id: str = "2410.17243", **overrides: Any) -> PaperRecord:
    values: dict[str, Any] = dict(
        source="arxiv",
        arxiv_id=arxiv_id,
        version=1,
        title=f"Paper {arxiv_id}",
        abstract=f"The abstract of {arxiv_id}, with $a<b$ & 100% LaTeX.",
        authors=["Ada Lovelace"],
        categories=["cs.LG"],
        listed_on=datetime(2024, 10, 23, tzinfo=UTC).date(),
        facts=SourceFacts(source="huggingface", upvotes=7),
    )
    values.update(overrides)
    return PaperRecord(**values)


def ingest(storage: Storage, records: Iterable[PaperRecord]) -> None:
    IngestPipeline(storage).ingest_records(list(records))


def database_text(storage: Storage) -> str:
    """Every row of every table, as text: to prove a secret is stored nowhere."""
    if storage.db.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = (
            "SELECT table_name AS name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    tables = [row["name"] for row in storage.db.query(sql)]
    assert "users" in tables and "sessions" in tables
    return "\n".join(repr(storage.db.query(f"SELECT * FROM {table}")) for table in tables)
