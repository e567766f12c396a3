"""Following the change log: gaps left by transactions that commit out of order
(PostgreSQL) are looked at again until they fill, and the default operator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.library import Library
from paperfeed.models import utc_now
from paperfeed.search.changelog import GAP_TTL, ChangeCursor
from paperfeed.storage import open_storage
from tests.search.keyword_support import CORPUS, add, ids, record


def rows(*seqs: int) -> list[dict]:
    return [{"seq": seq, "paper_id": f"p{seq}", "kind": "upsert"} for seq in seqs]


def test_cursor_remembers_gaps_until_they_fill_or_expire() -> None:
    now = utc_now()
    cursor = ChangeCursor()
    cursor.advance(rows(1, 2, 5, 6, 9), now)
    assert cursor.watermark == 9
    assert [g[:2] for g in cursor.gaps] == [[3, 4], [7, 8]]
    cursor.advance(rows(4, 8, 10), now)  # late commits of 4 and 8
    assert cursor.watermark == 10
    assert [g[:2] for g in cursor.gaps] == [[3, 3], [7, 7]]
    cursor.advance(rows(11), now + GAP_TTL + timedelta(seconds=1))  # 3 and 7 rolled back
    assert cursor.gaps == [] and cursor.watermark == 11
    assert ChangeCursor.from_dict(cursor.as_dict()) == cursor


def test_a_late_commit_below_the_watermark_is_indexed(library: Library) -> None:
    if library.settings.engine == "sqlite":
        pytest.skip("SQLite commits changes in sequence order: no gaps to test")
    add(library, *CORPUS[:2])
    library.sync_search(embed=False)
    other = open_storage(library.settings.resolved_database_url,
                         schema=library.settings.database_schema)  # fmt: skip
    try:
        with other.db.transaction():
            # A long import takes its change numbers first but commits last.
            IngestPipeline(other).ingest_records([record("2402.00001", "Slow import", "Late.")])
            add(library, record("2402.00002", "Quick harvest", "Early."))
            library.sync_search(embed=False)
            assert ids(library.search("quick", mode="keyword")) == ["2402.00002"]
            assert library.search_status()["keyword"]["pending_gaps"] == 1
        library.sync_search(embed=False)
        assert ids(library.search("slow", mode="keyword")) == ["2402.00001"]
        assert library.search_status()["keyword"]["pending_gaps"] == 0
    finally:
        other.close()


def test_or_as_the_default_operator(library: Library) -> None:
    settings = library.settings.model_copy(update={"search_default_operator": "or"})
    either = Library(settings, library.storage)
    add(either, *CORPUS)
    either.sync_search(embed=False)
    results = either.search("diffusion molecules", mode="keyword", limit=20)
    assert set(ids(results)) == {"2401.00001", "2401.00002", "2401.00003", "2401.00006"}
    assert results.notice is None  # nothing was relaxed: OR was asked for
    # A restriction still restricts, and one of the words must still match.
    assert ids(either.search("cat:cs.GR molecules", mode="keyword")) == []
