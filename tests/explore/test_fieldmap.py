"""The map of the field: built from the vectors, named neighbourhoods, kept in sync
from the change log, rebuilt on request; views sample and highlight."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from paperfeed.errors import InputError
from paperfeed.explore.fieldmap import FieldMap
from paperfeed.explore.mapview import view
from paperfeed.explore.projection import name_clusters, title_words
from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.library import Library
from paperfeed.models import PaperRecord, SourceFacts, utc_now
from paperfeed.storage import Storage
from paperfeed.storage.values import instant_text
from paperfeed.storage.vectors import VectorRow

MODEL = "test-model"
TOPICS = {
    "diffusion": ("Diffusion image generation", 0),
    "robot": ("Robot grasping policy", 1),
    "speech": ("Speech recognition transformer", 2),
}
DIM = 24


def topic_vector(topic: int, rng: np.random.Generator) -> np.ndarray:
    centre = np.zeros(DIM)
    centre[topic * 8 : topic * 8 + 8] = 1.0
    vector = centre + 0.35 * rng.standard_normal(DIM)
    return (vector / np.linalg.norm(vector)).astype(np.float16)


def add(storage: Storage, papers: list[tuple[str, str, int]], seed: int = 1) -> None:
    """Papers ``(id, title, topic)`` with vectors near their topic's centre."""
    rng = np.random.default_rng(seed)
    records = [
        PaperRecord(
            source="arxiv",
            arxiv_id=pid,
            version=1,
            title=title,
            abstract="An abstract.",
            authors=["A. Author"],
            categories=["cs.LG"],
            published_at=datetime(2025, 3, 3, tzinfo=UTC),
            listed_on=date(2025, 3, 3),
            facts=SourceFacts(source="arxiv", external_id=pid),
        )
        for pid, title, _ in papers
    ]
    IngestPipeline(storage).ingest_records(records)
    rows = [
        VectorRow(pid, MODEL, "t" * 32, "p", topic_vector(topic, rng)) for pid, _, topic in papers
    ]
    with storage.db.transaction() as tx:
        storage.vectors.upsert(tx, rows, instant_text(utc_now()) or "")


def corpus(count_per_topic: int = 30, start: int = 1) -> list[tuple[str, str, int]]:
    papers = []
    n = start
    for word, (title, topic) in TOPICS.items():
        for i in range(count_per_topic):
            papers.append((f"2503.{n:05d}", f"{title} study {i} {word}", topic))
            n += 1
    return papers


@pytest.fixture
def field_map(library: Library, tmp_path) -> FieldMap:  # type: ignore[no-untyped-def]
    return FieldMap(library.storage, tmp_path / "map", lambda: MODEL)


def test_build_names_neighbourhoods_after_their_papers(
    library: Library, field_map: FieldMap
) -> None:
    add(library.storage, corpus())
    report = field_map.sync()
    assert report["rebuilt"] and report["papers"] == 90
    snapshot = field_map.snapshot()
    assert snapshot is not None and snapshot.papers == 90
    # Each topic's papers share a neighbourhood, and it is named after them.
    by_topic: dict[int, set[int]] = {}
    positions = snapshot.locate([pid for pid, _, _ in corpus()])
    for pid, _, topic in corpus():
        by_topic.setdefault(topic, set()).add(int(snapshot.cluster[positions[pid]]))
    assert all(len(clusters) == 1 for clusters in by_topic.values())
    names = {n.id: n.words for n in snapshot.neighbourhoods}
    assert "diffusion" in " ".join(names[next(iter(by_topic[0]))])
    assert "robot" in " ".join(names[next(iter(by_topic[1]))])
    assert sum(n.papers for n in snapshot.neighbourhoods) == 90


def test_sync_places_new_papers_near_their_topic_and_drops_deleted(
    library: Library, field_map: FieldMap
) -> None:
    add(library.storage, corpus())
    field_map.sync()
    before = field_map.snapshot()
    assert before is not None
    old_positions = {pid: before.xy[i].copy() for pid, i in before.locate(["2503.00001"]).items()}
    add(library.storage, [("2504.00001", "Robot grasping policy new", 1)], seed=9)
    library.storage.papers.delete("2503.00002")
    report = field_map.sync()
    assert report == {"placed": 1, "replaced": 1, "waiting": 0, "papers": 90}
    after = field_map.snapshot()
    assert after is not None and after.papers == 90
    new = after.locate(["2504.00001", "2503.00002", "2503.00031"])
    assert "2503.00002" not in new
    robot = new["2503.00031"]  # a robot paper from the first batch
    assert after.cluster[new["2504.00001"]] == after.cluster[robot]
    distance = np.linalg.norm(after.xy[new["2504.00001"]] - after.xy[robot])
    assert distance < 0.6
    # Nothing already on the map moved.
    moved = after.xy[after.locate(["2503.00001"])["2503.00001"]]
    assert np.allclose(moved, old_positions["2503.00001"])
    assert field_map.sync() == {"placed": 0, "replaced": 0, "waiting": 0, "papers": 90}


def test_papers_without_vectors_wait_for_them(library: Library, field_map: FieldMap) -> None:
    add(library.storage, corpus())
    field_map.sync()
    record = PaperRecord(
        source="arxiv", arxiv_id="2505.00001", version=1, title="Speech recognition late",
        abstract="x", authors=["B"], categories=["cs.SD"], listed_on=date(2025, 5, 1),
        facts=SourceFacts(source="arxiv", external_id="2505.00001"),
    )  # fmt: skip
    IngestPipeline(library.storage).ingest_records([record])
    assert field_map.sync()["waiting"] == 1
    rng = np.random.default_rng(3)
    with library.storage.db.transaction() as tx:
        library.storage.vectors.upsert(
            tx, [VectorRow("2505.00001", MODEL, "t" * 32, "p", topic_vector(2, rng))], "2026"
        )
    assert field_map.sync()["placed"] == 1
    snapshot = field_map.snapshot()
    assert snapshot is not None and "2505.00001" in snapshot.locate(["2505.00001"])


def test_rebuild_and_views(library: Library, field_map: FieldMap) -> None:
    add(library.storage, corpus())
    field_map.sync()
    assert field_map.rebuild()["rebuilt"]
    snapshot = field_map.snapshot()
    assert snapshot is not None
    whole = view(snapshot, max_points=50)
    assert len(whole.ids) == 50 and whole.in_view == 90  # a sample, and the true count
    again = view(snapshot, max_points=50)
    assert list(again.ids) == list(whole.ids)  # the same sample every time
    zoomed = view(snapshot, zoom=4, x=float(snapshot.xy[0][0]), y=float(snapshot.xy[0][1]))
    assert 0 < zoomed.in_view < 90 and len(zoomed.ids) == zoomed.in_view
    marked = view(snapshot, highlight_ids=["2503.00001", "nope"], focus_id="2503.00005")
    assert [p.paper_id for p in marked.highlights] == ["2503.00001"]
    assert marked.focus is not None and marked.centre == (marked.focus.x, marked.focus.y)
    with pytest.raises(InputError):
        view(snapshot, zoom=0.5)
    with pytest.raises(InputError):
        view(snapshot, x=float("nan"))
    status = field_map.status()
    assert status["papers"] == 90 and status["changes_behind"] == 0


def test_no_vectors_no_map(library: Library, tmp_path) -> None:  # type: ignore[no-untyped-def]
    empty = FieldMap(library.storage, tmp_path / "map", lambda: None)
    assert empty.sync()["skipped"] and empty.snapshot() is None


def test_cluster_names_prefer_distinctive_words() -> None:
    titles = [(0, "Diffusion models for video"), (0, "Video diffusion at scale"),
              (1, "Robot learning from video"), (1, "Robot grasping")]  # fmt: skip
    names = name_clusters(titles, 2)
    assert names[0][0] in ("diffusion", "video diffusion") and names[1][0] == "robot"
    assert "for" not in title_words("Diffusion models for video")


def test_map_refreshes_after_an_import(library: Library, fixtures_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An import embeds the new papers and the index sync puts them on the map."""
    lines = (fixtures_dir / "files" / "arxiv-cs-20.jsonl").read_text().splitlines()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("\n".join(lines[:12]) + "\n")
    second.write_text("\n".join(lines[12:]) + "\n")
    library.import_files([first])
    assert library.field_map.status()["papers"] == 12
    library.import_files([second])
    status = library.field_map.status()
    assert status["papers"] == 20 and status["changes_behind"] == 0
    assert status["fitted_on"] == 12  # placed among the fitted papers, not refitted
    snapshot = library.field_map.snapshot()
    assert snapshot is not None and snapshot.papers == 20
    assert library.search_status()["map"]["papers"] == 20


def test_tsne_layout_keeps_topics_together(library: Library, field_map: FieldMap) -> None:
    """Above the PCA threshold the map is a t-SNE; each topic stays one region."""
    add(library.storage, corpus(count_per_topic=80))
    report = field_map.sync()
    assert report["papers"] == 240 and field_map.status()["method"] == "tsne"
    snapshot = field_map.snapshot()
    assert snapshot is not None
    positions = snapshot.locate([pid for pid, _, _ in corpus(count_per_topic=80)])
    centres = {}
    for pid, _, topic in corpus(count_per_topic=80):
        centres.setdefault(topic, []).append(snapshot.xy[positions[pid]])
    means = {topic: np.mean(points, axis=0) for topic, points in centres.items()}
    spread = max(float(np.std(points)) for points in centres.values())
    gaps = [np.linalg.norm(means[a] - means[b]) for a in means for b in means if a < b]
    assert min(gaps) > 2 * spread  # topics are apart from each other
