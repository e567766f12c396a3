"""The storage contract (see ``paperfeed/storage/base.py``), run on every engine."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest

from paperfeed.errors import StorageError
from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.models import PaperRecord, SourceFacts
from paperfeed.storage import Storage, open_storage


def arxiv_record(**overrides: object) -> PaperRecord:
    values: dict[str, object] = dict(
        source="arxiv",
        arxiv_id="2410.17243",
        version=1,
        title="Breaking the Memory Barrier: Near Infinite Batch Size Scaling",
        abstract="Contrastive loss is a powerful approach\nfor representation learning.",
        authors=["Zesen Cheng", "Hang Zhang", "Kehan Li"],
        categories=["cs.CV", "cs.LG"],
        published_at=datetime(2024, 10, 22, 17, 59, 30, tzinfo=UTC),
        updated_at=datetime(2024, 10, 22, 17, 59, 30, tzinfo=UTC),
        listed_on=date(2024, 10, 23),
        comments="Tech report; code: https://github.com/DAMO-NLP-SG/Inf-CLIP",
        journal_ref=None,
        doi=None,
        abs_url="https://arxiv.org/abs/2410.17243",
        pdf_url="https://arxiv.org/pdf/2410.17243",
        code_url="https://github.com/DAMO-NLP-SG/Inf-CLIP",
        facts=SourceFacts(source="arxiv", external_id="2410.17243", submitter="Zesen Cheng"),
    )
    values.update(overrides)
    return PaperRecord(**values)  # type: ignore[arg-type]


def ingest(storage: Storage, *records: PaperRecord):
    return IngestPipeline(storage).ingest_records(list(records))


def test_migrations_are_idempotent_and_versioned(storage: Storage) -> None:
    version = storage.db.schema_version()
    assert version >= 1
    assert storage.migrate() == []
    assert storage.db.schema_version() == version


def test_round_trip_keeps_every_field(storage: Storage) -> None:
    report = ingest(storage, arxiv_record())
    assert (report.inserted, report.updated, report.unchanged) == (1, 0, 0)
    paper = storage.papers.get("2410.17243")
    assert paper is not None
    assert paper.arxiv_id == "2410.17243"
    assert paper.version == 1
    assert paper.title == "Breaking the Memory Barrier: Near Infinite Batch Size Scaling"
    # hard-wrapped abstract lines are joined
    assert paper.abstract == "Contrastive loss is a powerful approach for representation learning."
    assert paper.authors == ["Zesen Cheng", "Hang Zhang", "Kehan Li"]
    assert paper.author_count == 3
    assert paper.categories == ["cs.CV", "cs.LG"]
    assert paper.primary_category == "cs.CV"
    assert paper.published_at == datetime(2024, 10, 22, 17, 59, 30, tzinfo=UTC)
    assert paper.first_listed_on == date(2024, 10, 23)
    assert paper.feed_date == date(2024, 10, 23)
    assert paper.code_url == "https://github.com/DAMO-NLP-SG/Inf-CLIP"
    assert paper.pdf_url == "https://arxiv.org/pdf/2410.17243"
    assert [s.source for s in paper.sources] == ["arxiv"]
    assert paper.sources[0].submitter == "Zesen Cheng"


def test_same_input_twice_changes_nothing(storage: Storage) -> None:
    ingest(storage, arxiv_record())
    before = storage.papers.get("2410.17243")
    seq = storage.papers.last_change_seq()
    report = ingest(storage, arxiv_record())
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 1)
    assert storage.papers.last_change_seq() == seq
    assert storage.papers.get("2410.17243") == before


def test_newer_version_updates_and_older_does_not(storage: Storage) -> None:
    ingest(storage, arxiv_record())
    v2 = arxiv_record(
        version=2,
        title="Breaking the Memory Barrier (v2)",
        updated_at=datetime(2024, 11, 2, tzinfo=UTC),
        published_at=datetime(2024, 10, 22, 17, 59, 30, tzinfo=UTC),
    )
    assert ingest(storage, v2).updated == 1
    paper = storage.papers.get("2410.17243")
    assert paper is not None and paper.version == 2 and paper.title.endswith("(v2)")
    assert paper.updated_at == datetime(2024, 11, 2, tzinfo=UTC)
    # an older version arriving later fills nothing over the newer one
    assert ingest(storage, arxiv_record(title="Old title")).updated == 0
    assert storage.papers.get("2410.17243").title.endswith("(v2)")  # type: ignore[union-attr]


def test_less_trusted_source_fills_gaps_only(storage: Storage) -> None:
    ingest(storage, arxiv_record(code_url=None, comments=None))
    hf = PaperRecord(
        source="huggingface",
        arxiv_id="2410.17243",
        title="A different title from the community page",
        abstract="Different.",
        code_url="https://github.com/example/repo",
        facts=SourceFacts(source="huggingface", upvotes=64, num_comments=3,
                          submitter="ClownRat", featured_on=date(2024, 10, 25)),
    )  # fmt: skip
    assert ingest(storage, hf).updated == 1
    paper = storage.papers.get("2410.17243")
    assert paper is not None
    assert paper.title.startswith("Breaking the Memory Barrier")  # arXiv keeps its title
    assert paper.code_url == "https://github.com/example/repo"  # gap filled
    assert paper.upvotes == 64
    assert paper.feed_date == date(2024, 10, 25)  # featured day wins for the feed
    assert {s.source for s in paper.sources} == {"arxiv", "huggingface"}
    # counts only grow: an older capture with fewer upvotes changes nothing
    older = PaperRecord(source="huggingface", arxiv_id="2410.17243", title="x",
                        facts=SourceFacts(source="huggingface", upvotes=10))  # fmt: skip
    assert ingest(storage, older).unchanged == 1
    assert storage.papers.get("2410.17243").upvotes == 64  # type: ignore[union-attr]


def test_papers_without_arxiv_id_are_matched_then_rekeyed(storage: Storage) -> None:
    abstract = "We propose a new method for testing storage engines thoroughly."
    page_with_title = PaperRecord(
        source="hf-page",
        title="Testing Storage",
        abstract=abstract,
        author_count=4,
        facts=SourceFacts(source="hf-page", upvotes=3),
    )
    bare = PaperRecord(source="hf-page", abstract=abstract.upper())  # same text, other case
    report = ingest(storage, page_with_title, bare)
    assert report.inserted == 1
    [paper] = storage.papers.list(limit=10)
    assert paper.id.startswith("pf-") and paper.author_count == 4
    # arXiv later gives the same paper: the stored row takes the arXiv id
    arxiv = arxiv_record(arxiv_id="2501.00001", title="Testing Storage", abstract=abstract)
    ingest(storage, arxiv)
    assert storage.papers.count() == 1
    moved = storage.papers.get("2501.00001")
    assert moved is not None and moved.upvotes == 3
    assert {s.source for s in moved.sources} == {"hf-page", "arxiv"}
    kinds = [(c["paper_id"], c["kind"]) for c in storage.papers.changes_since(0)]
    assert (paper.id, "delete") in kinds and kinds[-1] == ("2501.00001", "upsert")


def test_text_with_placeholders_and_percent_signs(storage: Storage) -> None:
    title = "Is 100% accuracy possible? A '?'-heavy & <b>bold</b> study"
    ingest(storage, arxiv_record(title=title, abstract="50% of ? marks; \\textbf{x} $a<b$"))
    paper = storage.papers.get("2410.17243")
    assert paper is not None and paper.title == title
    assert paper.abstract == "50% of ? marks; \\textbf{x} $a<b$"


def test_transaction_rolls_back_on_error(storage: Storage) -> None:
    with pytest.raises(RuntimeError), storage.db.transaction() as tx:
        IngestPipeline(storage)._apply(tx, [arxiv_record()])
        raise RuntimeError("boom")
    assert storage.papers.count() == 0
    assert storage.papers.last_change_seq() == 0


def test_nested_transactions_join_the_outer_one(storage: Storage) -> None:
    with pytest.raises(RuntimeError), storage.db.transaction():
        ingest(storage, arxiv_record())  # opens its own transaction inside
        raise RuntimeError("outer fails")
    assert storage.papers.count() == 0


def test_listing_filters_sorts_and_pages(storage: Storage) -> None:
    records = [
        arxiv_record(arxiv_id=f"2501.0000{i}", title=f"Paper {i}", abstract=f"Abstract {i}",
                     listed_on=date(2025, 1, 1 + i % 3), categories=["cs.LG" if i % 2 else "cs.CL"],
                     facts=SourceFacts(source="huggingface", upvotes=i * 10))
        for i in range(6)
    ]  # fmt: skip
    ingest(storage, *records)
    assert storage.papers.count() == 6
    day = storage.papers.list(day_from=date(2025, 1, 2), day_to=date(2025, 1, 2))
    assert sorted(p.id for p in day) == ["2501.00001", "2501.00004"]
    assert [p.id for p in storage.papers.list(sort="upvotes", limit=2)] == [
        "2501.00005",
        "2501.00004",
    ]
    assert [p.id for p in storage.papers.list(sort="upvotes", limit=2, offset=2)] == [
        "2501.00003", "2501.00002"]  # fmt: skip
    assert {p.id for p in storage.papers.list(category="cs.LG")} == {
        "2501.00001", "2501.00003", "2501.00005"}  # fmt: skip
    assert storage.papers.count(category="cs.L") == 0  # whole categories only
    assert storage.papers.feed_days() == [date(2025, 1, 3), date(2025, 1, 2), date(2025, 1, 1)]


def test_stats_and_change_log(storage: Storage) -> None:
    ingest(
        storage, arxiv_record(), arxiv_record(arxiv_id="2501.00009", title="Other", abstract="B")
    )
    stats = storage.papers.stats()
    assert stats["papers"] == 2 and stats["with_arxiv_id"] == 2 and stats["with_code"] == 2
    assert stats["by_source"] == {"arxiv": 2}
    changes = storage.papers.changes_since(0)
    assert [c["kind"] for c in changes] == ["upsert", "upsert"]
    assert storage.papers.changes_since(changes[0]["seq"])[0]["paper_id"] == changes[1]["paper_id"]


def test_delete_removes_sources_and_logs(storage: Storage) -> None:
    ingest(storage, arxiv_record())
    assert storage.papers.delete("2410.17243")
    assert storage.papers.get("2410.17243") is None
    assert storage.db.scalar("SELECT COUNT(*) FROM paper_sources") == 0
    assert storage.papers.changes_since(0)[-1]["kind"] == "delete"
    assert not storage.papers.delete("2410.17243")


def test_checkpoints_save_within_transactions(storage: Storage) -> None:
    assert storage.checkpoints.get("k") is None
    with storage.db.transaction() as tx:
        storage.checkpoints.save(tx, "k", {"resumption_token": "abc|1001"}, done=False)
    assert storage.checkpoints.get("k") == ({"resumption_token": "abc|1001"}, False)
    with pytest.raises(RuntimeError), storage.db.transaction() as tx:
        storage.checkpoints.save(tx, "k", {"resumption_token": "lost"}, done=True)
        raise RuntimeError
    assert storage.checkpoints.get("k") == ({"resumption_token": "abc|1001"}, False)


def test_threads_read_while_one_writes(storage: Storage) -> None:
    ingest(storage, arxiv_record())
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(20):
                assert storage.papers.get("2410.17243") is not None
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for i in range(20):
        ingest(storage, arxiv_record(arxiv_id=f"2502.{i:05d}", title=f"T{i}", abstract=f"A{i}"))
    for thread in threads:
        thread.join()
    assert not errors
    assert storage.papers.count() == 21


def test_unreachable_database_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(StorageError, match="cannot connect to PostgreSQL"):
        open_storage("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StorageError, match="unsupported database URL"):
        open_storage("mysql://localhost/x")
