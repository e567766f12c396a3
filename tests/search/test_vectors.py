"""Vectors in the database and the ANN files: sync from the change log, staleness,
deletes and re-keys, rebuild == incremental, both search paths, on both engines."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.models import PaperRecord, SourceFacts
from paperfeed.search import vectors as vectors_module
from paperfeed.search.embed import passage, text_hash
from paperfeed.search.vectors import IndexBusy, VectorIndex, hamming_distances, sign_codes
from paperfeed.storage import Storage
from paperfeed.storage.vectors import vector_from_bytes

PROJECTION_384_SHA256 = "e16c7fdf5ceca335ddd592fb94dae0d8a12a0bd0aaadb478b1bbe13148d913b2"
WORDS = [
    "graph",
    "neural",
    "network",
    "diffusion",
    "model",
    "image",
    "language",
    "translation",
    "speech",
    "robot",
    "policy",
    "reinforcement",
    "learning",
    "attention",
    "transformer",
    "sparse",
    "mixture",
    "expert",
    "retrieval",
    "search",
    "protein",
    "molecule",
    "chemistry",
    "vision",
    "segmentation",
    "detection",
    "tracking",
    "video",
    "audio",
    "music",
    "quantum",
    "circuit",
    "compiler",
    "program",
    "synthesis",
    "theorem",
    "proof",
    "logic",
    "database",
    "query",
    "index",
    "privacy",
    "federated",
    "adversarial",
    "robust",
    "fairness",
    "causal",
    "bayesian",
    "inference",
    "sampling",
]


class WordEmbedder:
    """A stand-in embedding model for index tests: a fixed random vector per word, summed
    and normalised, so papers sharing words are near. Records what it was asked to embed."""

    def __init__(self, model_id: str = "test/words-v1", dim: int = 64) -> None:
        self.model_id = model_id
        self.dim = dim
        self.embedded: list[str] = []
        self.fail_after: int | None = None  # batches before a simulated crash

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def _one(self, text: str) -> np.ndarray:
        vector = sum((self._word(w) for w in text.lower().split()), np.zeros(self.dim))
        return (vector / (np.linalg.norm(vector) or 1.0)).astype(np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail_after is not None:
            if self.fail_after == 0:
                raise RuntimeError("simulated crash while embedding")
            self.fail_after -= 1
        self.embedded.extend(texts)
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def embed_query(self, text: str) -> np.ndarray:
        return self._one(text)


def _record(number: int, *, version: int = 1, extra: str = "", **changes: object) -> PaperRecord:
    rng = np.random.default_rng(number)
    title = " ".join(rng.choice(WORDS, 3))
    abstract = " ".join(rng.choice(WORDS, 12)) + extra
    fields: dict[str, object] = {
        "source": "file", "title": title, "abstract": abstract,
        "arxiv_id": f"2401.{number:05d}", "version": version, "categories": ["cs.LG"],
    }  # fmt: skip
    fields.update(changes)
    return PaperRecord(**fields)  # type: ignore[arg-type]


def _ingest(storage: Storage, records: Sequence[PaperRecord]) -> None:
    IngestPipeline(storage).ingest_records(records)


def _index(storage: Storage, directory: Path, **options: int) -> VectorIndex:
    return VectorIndex(storage, directory, **options)  # type: ignore[arg-type]


def _queries(embedder: WordEmbedder, count: int = 60) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [embedder.embed_query(" ".join(rng.choice(WORDS, 4))) for _ in range(count)]


def test_sync_stores_vectors_with_model_and_text_hash(storage: Storage, tmp_path: Path) -> None:
    _ingest(storage, [_record(n) for n in range(30)])
    embedder = WordEmbedder()
    index = _index(storage, tmp_path / "vectors")
    assert index.search(embedder.embed_query("graph"), 5) == []  # no index yet
    assert index.sync(embedder) == 30
    row = storage.db.query_one("SELECT * FROM paper_vectors WHERE paper_id = ?", ("2401.00003",))
    paper = storage.papers.get("2401.00003")
    assert row is not None and paper is not None
    assert row["model_id"] == "test/words-v1" and row["dim"] == 64
    assert row["text_hash"] == text_hash(passage(paper.title, paper.abstract))
    stored = vector_from_bytes(row["vector"])
    assert stored.dtype == np.float16 and stored.shape == (64,)
    expected = embedder.embed_query(passage(paper.title, paper.abstract))
    assert np.allclose(stored, expected, atol=1e-3)
    assert np.allclose(index.vector("2401.00003"), stored.astype(np.float32))
    # The paper's own text finds it first; scores are cosines, best first.
    hits = index.search(expected, 5)
    assert hits[0][0] == "2401.00003" and hits[0][1] == pytest.approx(1.0, abs=1e-3)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert index.search(expected, 5, exclude=["2401.00003"])[0][0] != "2401.00003"
    assert len(index.search(expected, 100)) == 30
    assert index.search(np.zeros(64, dtype=np.float32), 5) == []  # a query with no content
    status = index.status()
    assert status["papers"] == 30 and status["model_id"] == "test/words-v1"
    assert status["changes_behind"] == 0 and status["vectors_in_database"] == {"test/words-v1": 30}
    assert index.sync(embedder) == 0  # nothing changed: nothing embedded


def test_only_changed_text_is_re_embedded(storage: Storage, tmp_path: Path) -> None:
    _ingest(storage, [_record(n) for n in range(20)])
    embedder = WordEmbedder()
    index = _index(storage, tmp_path / "vectors")
    index.sync(embedder)
    embedder.embedded.clear()
    # A new version with a new abstract, and upvotes from another source for another paper.
    _ingest(storage, [_record(4, version=2, extra=" quantum quantum quantum")])
    _ingest(storage, [_record(5, facts=SourceFacts("huggingface", upvotes=42))])
    assert storage.papers.get("2401.00005").upvotes == 42  # type: ignore[union-attr]
    slots_before = index.status()["slots"]
    assert index.sync(embedder) == 1
    assert len(embedder.embedded) == 1 and embedder.embedded[0].endswith("quantum quantum")
    # The upvoted paper kept its vector and its slot; the changed one moved.
    assert index.status()["slots"] == slots_before + 1
    assert index.status()["tombstones"] == 1
    hit = index.search(embedder.embed_query("quantum quantum quantum"), 1)
    assert hit[0][0] == "2401.00004"
    assert index.sync(embedder) == 0


def test_deletes_and_re_keys_are_reflected(storage: Storage, tmp_path: Path) -> None:
    _ingest(storage, [_record(n) for n in range(10)])
    page = PaperRecord(source="hf-page", title="Sparse Protein Retrieval",
                       abstract="We index protein molecule graphs for retrieval search.")  # fmt: skip
    _ingest(storage, [page])
    content_id = next(p.id for p in storage.papers.list(limit=100) if p.id.startswith("pf-"))
    embedder = WordEmbedder()
    index = _index(storage, tmp_path / "vectors")
    index.sync(embedder)
    query = embedder.embed_query(passage(page.title, page.abstract))
    assert index.search(query, 1)[0][0] == content_id
    embedder.embedded.clear()
    # arXiv supplies the same paper: the stored row is re-keyed to the arXiv id.
    _ingest(storage, [PaperRecord(source="arxiv", title=page.title, abstract=page.abstract,
                                  arxiv_id="2402.00001", version=1, categories=["cs.IR"])])  # fmt: skip
    assert storage.papers.get(content_id) is None and storage.papers.get("2402.00001")
    storage.papers.delete("2401.00002")
    assert index.sync(embedder) == 0  # the vector followed the re-key; same text
    assert storage.vectors.get(content_id) is None
    assert storage.vectors.get("2402.00001") is not None  # ON UPDATE CASCADE
    assert storage.vectors.get("2401.00002") is None  # ON DELETE CASCADE
    found = [pid for pid, _ in index.search(query, 20)]
    assert found[0] == "2402.00001" and content_id not in found and "2401.00002" not in found
    assert len(found) == 10


def test_rebuilt_index_answers_exactly_as_the_incremental_one(
    storage: Storage, tmp_path: Path
) -> None:
    embedder = WordEmbedder()
    incremental = _index(storage, tmp_path / "incremental")
    _ingest(storage, [_record(n) for n in range(120)])
    incremental.sync(embedder)
    _ingest(storage, [_record(n) for n in range(120, 200)])
    _ingest(storage, [_record(n, version=2, extra=" robot") for n in range(0, 200, 7)])
    incremental.sync(embedder)
    for number in range(3, 200, 11):
        storage.papers.delete(f"2401.{number:05d}")
    _ingest(storage, [_record(n) for n in range(200, 230)])
    incremental.sync(embedder)
    status = incremental.status()
    assert status["tombstones"] > 0 and status["changes_behind"] == 0
    rebuilt = _index(storage, tmp_path / "rebuilt")
    rebuilt.rebuild()
    assert rebuilt.status()["papers"] == status["papers"] == 230 - len(range(3, 200, 11))
    assert rebuilt.status()["tombstones"] == 0
    queries = _queries(embedder)
    exclude = ["2401.00001", "2401.00010"]
    for query in queries:
        for k in (1, 10, 50):
            assert incremental.search(query, k) == rebuilt.search(query, k)
        assert incremental.search(query, 10, exclude=exclude) == rebuilt.search(
            query, 10, exclude=exclude
        )
    # The same through the Hamming prefilter and re-scoring (as above 100k papers),
    # with a small re-rank pool so the prefilter really decides.
    hamming_a = _index(storage, tmp_path / "incremental", exact_limit=0, rerank=15)
    hamming_b = _index(storage, tmp_path / "rebuilt", exact_limit=0, rerank=15)
    assert hamming_a.status()["search"] == "hamming+rerank"
    agree = 0
    for query in queries:
        assert hamming_a.search(query, 10) == hamming_b.search(query, 10)
        exact = [pid for pid, _ in rebuilt.search(query, 10)]
        agree += len(set(exact) & {pid for pid, _ in hamming_a.search(query, 10)})
    assert agree >= 0.6 * 10 * len(queries)  # few candidates, still mostly the exact top 10
    # And through the two-stage scan of large indexes (a 256-bit prefix picks 30x the pool).
    prefix_a = _index(storage, tmp_path / "incremental", exact_limit=0, prefix_limit=0, rerank=3)
    prefix_b = _index(storage, tmp_path / "rebuilt", exact_limit=0, prefix_limit=0, rerank=3)
    assert prefix_a.status()["search"] == "prefix+hamming+rerank"
    for query in queries:
        for k in (3, 10):
            assert prefix_a.search(query, k) == prefix_b.search(query, k)


def test_ties_are_broken_by_paper_id(storage: Storage, tmp_path: Path) -> None:
    # Same text under different ids (three copies): identical vectors, identical scores.
    records = [
        PaperRecord(source="file", title="Robust Bayesian Inference", abstract=f"{words}",
                    arxiv_id=f"2403.0000{n}", version=1)
        for n, words in ((3, "causal sampling"), (1, "causal sampling"), (2, "causal sampling"))
    ]  # fmt: skip
    _ingest(storage, records)
    embedder = WordEmbedder()
    index = _index(storage, tmp_path / "vectors")
    index.sync(embedder)
    hits = index.search(embedder.embed_query("robust bayesian inference causal sampling"), 3)
    assert [pid for pid, _ in hits] == ["2403.00001", "2403.00002", "2403.00003"]
    assert hits[0][1] == hits[1][1] == hits[2][1]


def test_model_change_re_embeds_everything(storage: Storage, tmp_path: Path) -> None:
    _ingest(storage, [_record(n) for n in range(12)])
    index = _index(storage, tmp_path / "vectors")
    index.sync(WordEmbedder())
    other = WordEmbedder("test/words-v2", dim=32)
    assert index.sync(other) == 12
    assert index.model_id == "test/words-v2" and index.target_model_id == "test/words-v2"
    assert storage.vectors.counts() == {"test/words-v2": 12}
    assert index.search(other.embed_query("graph"), 3)
    assert index.vector("2401.00001").shape == (32,)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="dimensions"):
        index.search(np.ones(64, dtype=np.float32), 3)


def test_interrupted_sync_resumes_where_it_stopped(storage: Storage, tmp_path: Path) -> None:
    _ingest(storage, [_record(n) for n in range(50)])
    embedder = WordEmbedder()
    embedder.fail_after = 2
    index = _index(storage, tmp_path / "vectors")
    with pytest.raises(RuntimeError, match="simulated crash"):
        index.sync(embedder, batch_size=10)
    assert sum(storage.vectors.counts().values()) == 20  # two committed batches kept
    embedder.fail_after = None
    assert index.sync(embedder, batch_size=10) == 30
    assert index.status()["papers"] == 50


def test_files_are_plain_arrays_and_state(storage: Storage, tmp_path: Path) -> None:
    _ingest(storage, [_record(n) for n in range(8)])
    index = _index(storage, tmp_path / "vectors")
    index.sync(WordEmbedder())
    state = json.loads((tmp_path / "vectors" / "state.json").read_text())
    assert state["live"] == state["slots"] == 8 and state["dim"] == 64
    generation = state["generation"]
    vectors = np.load(tmp_path / "vectors" / f"vectors.{generation}.npy", allow_pickle=False)
    ids = np.load(tmp_path / "vectors" / f"ids.{generation}.npy", allow_pickle=False)
    codes = np.load(tmp_path / "vectors" / f"codes.{generation}.npy", allow_pickle=False)
    assert vectors.dtype == np.float16 and codes.shape[1] == 128  # 1024 bits
    assert [i.decode() for i in ids[:8]] == sorted(f"2401.{n:05d}" for n in range(8))
    assert np.array_equal(codes[:8], sign_codes(vectors[:8]))
    # A rebuild moves to the next generation and leaves no stale files behind.
    index.rebuild()
    files = sorted(p.name for p in (tmp_path / "vectors").glob("*.npy"))
    assert files == sorted(
        f"{n}.{generation + 1}.npy" for n in ("alive", "codes", "ids", "vectors")
    )


def test_a_second_writer_is_told_the_index_is_busy(storage: Storage, tmp_path: Path) -> None:
    _ingest(storage, [_record(n) for n in range(3)])
    first = _index(storage, tmp_path / "vectors")
    second = _index(storage, tmp_path / "vectors")
    with first._locked(".embed.lock"), pytest.raises(IndexBusy, match="another process"):
        second.embed(WordEmbedder())
    with first._locked(), pytest.raises(IndexBusy, match="another process"):
        second.sync(WordEmbedder())  # the embedding went through; the files were busy
    assert storage.vectors.counts() == {"test/words-v1": 3}
    assert second.sync(WordEmbedder()) == 0 and second.status()["papers"] == 3


def test_a_follower_copies_what_another_node_embedded(storage: Storage, tmp_path: Path) -> None:
    """Two nodes on one database: the worker's node embeds, the web node's files only
    follow the change log (no model), and both answer the same, as a rebuild does."""
    embedder = WordEmbedder()
    worker = _index(storage, tmp_path / "worker")
    web = _index(storage, tmp_path / "web")
    _ingest(storage, [_record(n) for n in range(60)])
    assert web.follow() == {"vectors": 0}  # nothing embedded anywhere yet
    assert worker.sync(embedder) == 60
    assert web.follow()["rebuilt"]  # a new node builds its files from the database
    _ingest(storage, [_record(n) for n in range(60, 90)])
    _ingest(storage, [_record(n, version=2, extra=" quantum") for n in range(0, 60, 5)])
    before = web.follow()  # changed papers not embedded yet: the stored vectors stay
    assert before["applied"] == 42 and before["vectors"] == 60
    for number in (4, 8):
        storage.papers.delete(f"2401.{number:05d}")
    embedder.embedded.clear()
    assert worker.sync(embedder) == 42  # 30 new, 12 with a new abstract
    assert len(embedder.embedded) == 42
    assert worker.embed(embedder) == 0  # the shared cursor is past them
    assert _index(storage, tmp_path / "third").embed(embedder) == 0  # on any node
    assert web.follow()["vectors"] == 88
    rebuilt = _index(storage, tmp_path / "rebuilt")
    rebuilt.rebuild()
    for query in _queries(embedder):
        assert web.search(query, 10) == worker.search(query, 10) == rebuilt.search(query, 10)
    kinds = [row["kind"] for row in storage.papers.changes_since(0, limit=1000)]
    assert kinds.count("vector") == 60 + 42


def test_a_model_switch_keeps_the_old_vectors_searchable_until_it_completes(
    storage: Storage, tmp_path: Path
) -> None:
    _ingest(storage, [_record(n) for n in range(40)])
    old, new = WordEmbedder(), WordEmbedder("test/words-v2", dim=32)
    worker = _index(storage, tmp_path / "worker")
    web = _index(storage, tmp_path / "web")
    worker.sync(old)
    web.follow()
    query = old.embed_query("graph neural network")
    answer = web.search(query, 10)
    new.fail_after = 2  # the switch stops half way (20 of 40 re-embedded)
    with pytest.raises(RuntimeError, match="simulated crash"):
        worker.embed(new, batch_size=10)
    assert storage.vectors.counts() == {"test/words-v1": 20, "test/words-v2": 20}
    assert web.target_model_id == "test/words-v2" and web.model_id == "test/words-v1"
    assert web.follow()["vectors"] == 40
    assert web.search(query, 10) == answer  # still the old model's full index
    new.fail_after = None
    assert worker.embed(new) == 20  # an interrupted switch resumes where it stopped
    result = web.follow()
    assert result["rebuilt"] and web.model_id == "test/words-v2" and result["vectors"] == 40
    assert web.status()["target_model_id"] is None


def test_hamming_implementations_agree() -> None:
    rng = np.random.default_rng(3)
    for width in (8, 48, 5):  # 64, 384 and 40 bits
        codes = rng.integers(0, 256, (1000, width), dtype=np.uint8)
        query = rng.integers(0, 256, width, dtype=np.uint8)
        expected = np.unpackbits(codes ^ query, axis=1).sum(axis=1)
        assert np.array_equal(vectors_module._hamming_numpy(codes, query), expected)
        assert np.array_equal(hamming_distances(codes, query), expected)


def test_sign_codes_are_fixed_and_independent_of_the_batch() -> None:
    rng = np.random.default_rng(5)
    matrix = rng.standard_normal((300, 384))
    matrix = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float16)
    together = sign_codes(matrix)
    assert together.shape == (300, 128)
    alone = np.concatenate([sign_codes(matrix[i : i + 1]) for i in range(300)])
    assert np.array_equal(together, alone)
    assert np.array_equal(sign_codes(matrix[::-1]), together[::-1])
    # The projection is part of the file format: it must never change silently.
    projection = vectors_module._projection(384).astype(np.int8).tobytes()
    assert hashlib.sha256(projection).hexdigest() == PROJECTION_384_SHA256
    # Near vectors get near codes: the Hamming distance tracks the angle.
    near = (matrix[0].astype(np.float32) + 0.1 * matrix[1].astype(np.float32)).astype(np.float16)
    distances = hamming_distances(together, sign_codes(near)[0])
    assert distances.argmin() == 0 and distances[0] < np.median(distances) / 2


def test_ties_at_the_candidate_cut_do_not_depend_on_slot_order(
    storage: Storage, tmp_path: Path
) -> None:
    """30 copies of one text (equal vectors, codes and scores): whichever search path,
    the top 5 are the 5 smallest ids, though the incremental index stores the copies
    in the reverse order of a rebuilt one."""
    embedder = WordEmbedder()
    incremental = _index(storage, tmp_path / "incremental")
    _ingest(storage, [_record(n) for n in range(60)])
    incremental.sync(embedder)
    for number in range(29, -1, -1):  # one copy per sync, highest id first
        _ingest(storage, [PaperRecord(source="file", title="Federated Privacy",
                                      abstract="robust federated privacy audio",
                                      arxiv_id=f"2405.{number:05d}", version=1)])  # fmt: skip
        incremental.sync(embedder)
    rebuilt = _index(storage, tmp_path / "rebuilt")
    rebuilt.rebuild()
    query = embedder.embed_query("Federated Privacy. robust federated privacy audio")
    expected = [f"2405.{n:05d}" for n in range(5)]
    for options in ({}, {"exact_limit": 0, "rerank": 5},
                    {"exact_limit": 0, "prefix_limit": 0, "rerank": 1}):  # fmt: skip
        a = _index(storage, tmp_path / "incremental", **options)
        b = _index(storage, tmp_path / "rebuilt", **options)
        assert [pid for pid, _ in a.search(query, 5)] == expected, options
        assert a.search(query, 5) == b.search(query, 5)
