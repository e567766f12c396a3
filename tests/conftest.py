"""Shared fixtures: a fresh database per test on each engine.

SQLite gets a file in the test's tmp dir; PostgreSQL (when
``PAPERFEED_TEST_DATABASE_URL`` is set) gets a private schema that is dropped
afterwards, so tests never share mutable state.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperfeed.library import Library
from paperfeed.settings import Settings, load_settings
from paperfeed.storage import Storage, open_storage

POSTGRES_URL = os.environ.get("PAPERFEED_TEST_DATABASE_URL")
FIXTURES = Path(__file__).parent / "fixtures"

ENGINES = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not POSTGRES_URL, reason="set PAPERFEED_TEST_DATABASE_URL to run PostgreSQL tests"
        ),
    ),
]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's own settings or data directory."""
    for name in list(os.environ):
        if name.startswith("PAPERFEED_") and name != "PAPERFEED_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings(engine: str, tmp_path: Path) -> Iterator[Settings]:
    if engine == "sqlite":
        yield load_settings(data_dir=tmp_path / "data")
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield load_settings(
        data_dir=tmp_path / "data", database_url=POSTGRES_URL, database_schema=schema
    )
    from paperfeed.storage.postgres import PostgresDatabase

    PostgresDatabase(POSTGRES_URL, schema=schema).drop_schema()  # type: ignore[arg-type]


@pytest.fixture
def storage(settings: Settings) -> Iterator[Storage]:
    opened = open_storage(settings.resolved_database_url, schema=settings.database_schema)
    yield opened
    opened.close()


@pytest.fixture
def library(settings: Settings) -> Iterator[Library]:
    opened = Library.open(settings)
    yield opened
    opened.close()
