"""The storage contract shared by both engines.

Contract (checked by ``tests/storage/test_contract.py`` against SQLite and PostgreSQL):

* **One interface, two engines.** :class:`Database` hides the engine: SQL is written
  once with ``?`` placeholders and portable syntax (``ON CONFLICT``, ``RETURNING``,
  ``LIMIT/OFFSET``); engine modules translate placeholders and provide
  connections. Per-resource stores (``papers.py``, ``checkpoints.py`` ...) only
  talk to a :class:`Database`.
* **Values at the boundary.** Instants are stored as ISO-8601 UTC text
  (``2024-10-25T00:57:09Z``), days as ``YYYY-MM-DD`` text, lists as JSON text; text
  order is time order, so both engines sort and compare them the same way.
  Stores convert to ``datetime``/``date``/``list`` on the way out.
* **Transactions.** ``with db.transaction() as tx`` commits on success and rolls
  back on any exception; a transaction opened inside another joins it. Every
  multi-row write happens inside one transaction.
* **Threads.** A :class:`Database` may be shared by threads: SQLite keeps one
  connection per thread (WAL mode lets readers run beside the writer),
  PostgreSQL draws from a pool.
* **Migrations** are numbered SQL files applied in order inside a transaction,
  recorded in ``schema_migrations``; :meth:`Database.migrate` is idempotent and
  safe when two processes start at once.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

from paperfeed.models import utc_now

Row = dict[str, Any]

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class Transaction(ABC):
    """A unit of work on one connection."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of affected rows."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    @abstractmethod
    def execute_script(self, sql: str) -> None:
        """Run several ``;``-separated statements (migrations)."""

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.query_one(sql, params)
        return None if row is None else next(iter(row.values()))


class Database(ABC):
    """Connection management for one engine."""

    #: ``sqlite`` or ``postgresql``.
    dialect: str
    #: Replacements for the ``{{name}}`` macros in migration files.
    type_macros: dict[str, str]

    @abstractmethod
    @contextmanager
    def transaction(self, readonly: bool = False) -> Iterator[Transaction]:
        """A transaction; ``readonly`` lets SQLite skip the writer lock for pure reads."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def size_bytes(self) -> int:
        """Bytes on disk used by the database."""

    @abstractmethod
    def _migration_lock(self, tx: Transaction) -> None:
        """Serialise concurrent migrators (two workers starting at once)."""

    # -- conveniences: each runs in its own (or the enclosing) transaction --------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.transaction(readonly=True) as tx:
            return tx.query(sql, params)

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self.transaction(readonly=True) as tx:
            return tx.query_one(sql, params)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.transaction(readonly=True) as tx:
            return tx.scalar(sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.transaction() as tx:
            return tx.execute(sql, params)

    # -- migrations ----------------------------------------------------------------

    def migrations(self) -> list[tuple[int, str, str]]:
        """``(version, name, sql)`` for every bundled migration, in order."""
        found = []
        folder = resources.files("paperfeed.storage") / "migrations"
        for entry in folder.iterdir():
            match = _MIGRATION_NAME.match(entry.name)
            if match:
                sql = entry.read_text(encoding="utf-8")
                for macro, replacement in self.type_macros.items():
                    sql = sql.replace("{{" + macro + "}}", replacement)
                found.append((int(match.group(1)), match.group(2), sql))
        return sorted(found)

    def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied now."""
        applied_now: list[int] = []
        with self.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        with self.transaction() as tx:
            self._migration_lock(tx)
            done = {row["version"] for row in tx.query("SELECT version FROM schema_migrations")}
            for version, name, sql in self.migrations():
                if version in done:
                    continue
                tx.execute_script(sql)
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, utc_now().isoformat().replace("+00:00", "Z")),
                )
                applied_now.append(version)
        return applied_now

    def schema_version(self) -> int:
        try:
            return int(self.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
        except Exception:  # the table does not exist before the first migration
            return 0


def split_sql_script(script: str) -> list[str]:
    """Split a migration into statements on ``;`` at line ends (our files keep to that)."""
    statements, current = [], []
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith("--") and not current:
            continue
        current.append(line)
        if stripped.endswith(";"):
            statement = "\n".join(current).strip().rstrip(";").strip()
            if statement:
                statements.append(statement)
            current = []
    tail = "\n".join(current).strip()
    if tail:
        statements.append(tail)
    return statements
