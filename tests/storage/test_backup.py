"""``paperfeed backup``: a consistent copy of the SQLite database taken while another
process keeps writing, restored in place of the database, indexes rebuilt after."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from paperfeed.errors import ConfigError, StorageError
from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.library import Library
from paperfeed.models import PaperRecord
from paperfeed.settings import Settings, load_settings
from tests.conftest import FIXTURES
from tests.web.live_server import paperfeed, paperfeed_env


def record(number: int) -> PaperRecord:
    return PaperRecord(
        source="file", arxiv_id=f"2402.{number:05d}", title=f"Backup paper {number}",
        abstract="Written while a backup runs.", categories=["cs.DB"],
    )  # fmt: skip


def test_backup_while_writing_and_restore(tmp_path: Path) -> None:
    env = paperfeed_env(tmp_path / "data")
    settings: Settings = load_settings(data_dir=tmp_path / "data")
    paperfeed(env, "import", "--no-embed", str(FIXTURES / "files/arxiv-cs-20.jsonl"))
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        with Library.open(settings) as library:
            pipeline = IngestPipeline(library.storage)
            number = 0
            while not stop.is_set():
                pipeline.ingest_records([record(number)])
                written.append(number)
                number += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 5:  # the writer is well under way
            stop.wait(0.05)
        copy = tmp_path / "backups/paperfeed.db"
        result = json.loads(paperfeed(env, "backup", str(copy), "--json"))
    finally:
        stop.set()
        writer.join()
    assert result["path"] == str(copy) and result["bytes"] == copy.stat().st_size
    with sqlite3.connect(copy) as snapshot:
        assert snapshot.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        papers = snapshot.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
        changes = snapshot.execute("SELECT COUNT(*) FROM paper_changes").fetchone()[0]
    assert 25 <= papers <= 20 + len(written) and changes == papers  # one moment, whole

    # Restore: the copy replaces the database; the indexes are rebuilt from it.
    database = settings.data_dir / "paperfeed.db"
    for suffix in ("-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    copy.replace(database)
    rebuilt = json.loads(paperfeed(env, "index", "rebuild", "--json"))
    assert rebuilt["keyword"]["applied"] == papers
    found = json.loads(paperfeed(env, "search", "backup paper", "--mode", "keyword", "--json"))
    assert found["total"] == papers - 20


def test_postgresql_is_backed_up_with_its_own_tools(library: Library, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    if library.settings.engine == "sqlite":
        assert library.backup(copy)["bytes"] == copy.stat().st_size > 0
        with pytest.raises(StorageError, match="must not overwrite"):
            library.backup(library.settings.data_dir / "paperfeed.db")
        return
    with pytest.raises(ConfigError, match="pg_dump"):
        library.backup(copy)
    assert not copy.exists()
