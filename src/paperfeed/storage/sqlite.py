"""SQLite engine: one file, WAL mode, one connection per thread."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from paperfeed.errors import StorageError
from paperfeed.storage.base import Database, Row, Transaction, split_sql_script


class SQLiteTransaction(Transaction):
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.connection.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.connection.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self.connection.execute(sql, params)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute_script(self, sql: str) -> None:
        # executescript() would COMMIT our transaction first; run statements one by one.
        for statement in split_sql_script(sql):
            self.connection.execute(statement)


class SQLiteDatabase(Database):
    dialect = "sqlite"
    type_macros = {
        "serial_pk": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "bigint": "INTEGER",
        "blob": "BLOB",
        "bool": "INTEGER",
    }

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create database directory {self.path.parent}: {exc}"
            ) from None

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                # isolation_level=None: we issue BEGIN/COMMIT ourselves.
                connection = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=30
                )
                connection.execute("PRAGMA journal_mode=WAL")
                # NORMAL is durable across application crashes in WAL mode; only an OS
                # crash can lose the last commits, never corrupt the file.
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("PRAGMA foreign_keys=ON")
                connection.execute("PRAGMA busy_timeout=30000")
                connection.execute("PRAGMA cache_size=-65536")
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open SQLite database {self.path}: {exc}") from exc
            self._local.connection = connection
            self._local.depth = 0
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def transaction(self, readonly: bool = False) -> Iterator[Transaction]:
        connection = self._connection()
        if self._local.depth:  # join the enclosing transaction
            self._local.depth += 1
            try:
                yield SQLiteTransaction(connection)
            finally:
                self._local.depth -= 1
            return
        # IMMEDIATE takes the write lock up front, so a writer never fails half-way
        # with SQLITE_BUSY when upgrading from a read; readers never block in WAL.
        connection.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield SQLiteTransaction(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        else:
            connection.execute("COMMIT")
        finally:
            self._local.depth = 0

    def _migration_lock(self, tx: Transaction) -> None:
        # BEGIN IMMEDIATE already holds SQLite's single writer lock.
        return None

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            candidate = Path(str(self.path) + suffix)
            if candidate.exists():
                total += candidate.stat().st_size
        return total

    def backup(self, destination: Path) -> int:
        """Copy the database to ``destination`` with SQLite's online backup API: a
        consistent snapshot taken while the site keeps serving and writing (pages are
        copied in steps; a write in between restarts only the remaining steps).
        Returns the size of the copy in bytes."""
        destination = Path(destination)
        if destination.resolve() == self.path.resolve():
            raise StorageError("the backup must not overwrite the database itself")
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        partial.unlink(missing_ok=True)
        try:
            target = sqlite3.connect(partial)
            try:
                self._connection().backup(target, pages=4096)
                target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                target.close()
            partial.replace(destination)  # never a half-written file under the final name
        except (sqlite3.Error, OSError) as exc:
            partial.unlink(missing_ok=True)
            raise StorageError(f"cannot back up to {destination}: {exc}") from exc
        return destination.stat().st_size

    def checkpoint(self) -> None:
        """Fold the WAL back into the main file (after bulk loads)."""
        self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    connection.close()
            self._connections.clear()
        self._local = threading.local()
