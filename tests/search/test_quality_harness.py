"""The quality harness's metric code and label files (benchmarks/quality.py)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_quality():
    spec = importlib.util.spec_from_file_location(
        "bench_quality", ROOT / "benchmarks" / "quality.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["bench_quality"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


quality = _load_quality()


# -- metrics on hand-computed examples ------------------------------------------------------


def test_ndcg_hand_computed() -> None:
    judgments = {"a": 2, "b": 1, "c": 1}
    # gains 2^g - 1 at ranks 1..3, discount log2(rank + 1):
    # run: b (1/1) + x (0) + a (3/2) = 2.5; ideal: 3/1 + 1/log2(3) + 1/2
    ideal = 3 + 1 / math.log2(3) + 0.5
    assert quality.ndcg_at_k(["b", "x", "a"], judgments) == pytest.approx(2.5 / ideal)
    assert quality.ndcg_at_k(["a", "b", "c"], judgments) == pytest.approx(1.0)
    assert quality.ndcg_at_k(["x", "y"], judgments) == 0.0


def test_ndcg_cuts_at_k_and_ignores_repeats() -> None:
    judgments = {"a": 1}
    assert quality.ndcg_at_k(["x", "a"], judgments, k=1) == 0.0
    assert quality.ndcg_at_k(["x", "a"], judgments, k=2) == pytest.approx(1 / math.log2(3))
    # A ranking that repeats a relevant document is not paid twice.
    assert quality.ndcg_at_k(["a", "a"], {"a": 1, "b": 1}) == pytest.approx(
        1 / (1 + 1 / math.log2(3))
    )


def test_recall_and_unjudged() -> None:
    judgments = {"a": 2, "b": 1, "c": 1, "d": 1}
    ranked = ["a", "x", "c"] + [f"n{i}" for i in range(60)] + ["b"]
    assert quality.recall_at_k(ranked, judgments, k=50) == pytest.approx(2 / 4)
    assert quality.recall_at_k(ranked, judgments, k=len(ranked)) == pytest.approx(3 / 4)
    assert quality.unjudged_at_k(["a", "x", "c", "y"], judgments, k=4) == pytest.approx(0.5)


def test_evaluate_averages_only_topics_with_relevant_documents() -> None:
    labels = {"q1": {"a": 1}, "q2": {"b": 2}, "q3": {}}
    runs = {"q1": ["a"], "q2": ["x", "y"]}
    score = quality.evaluate(runs, labels)
    assert score.n == 2
    assert score.ndcg == pytest.approx(0.5)
    assert score.recall == pytest.approx(0.5)


def test_tfidf_baseline_ranks_the_matching_document_first() -> None:
    texts = {
        "d1": "graph neural networks for molecule property prediction",
        "d2": "diffusion models generate images from text prompts",
        "d3": "speculative decoding accelerates large language model inference",
    }
    filler = {
        f"f{i}": f"filler document number {i} about assorted unrelated things" for i in range(30)
    }
    corpus = {**texts, **filler}
    index = quality.TfidfIndex(list(corpus), list(corpus.values()), min_df=1, max_df=1.0)
    assert index.search("speculative decoding for language models", 3)[0] == "d3"
    assert index.search("diffusion images", 1, allowed=lambda pid: pid != "d2") != ["d2"]
    assert "d1" not in index.related("d1", 5)


def test_tfidf_terms_follow_the_arxiv_sanity_analyzer() -> None:
    assert quality.tfidf_terms("The Café of 3D models") == ["cafe", "models", "cafe models"]


# -- the label files --------------------------------------------------------------------------


def test_judged_queries_are_well_formed() -> None:
    queries = quality.load_judged_queries()
    assert len(queries) >= 60
    kinds = {q.kind for q in queries}
    assert {"topic", "acronym", "author", "category", "question"} <= kinds
    for q in queries:
        assert len(q.criteria) > 40, q.qid
        assert any(g == 2 for g in q.judgments.values()) or len(q.judgments) >= 1, q.qid
        assert all(quality.ARXIV_ID.match(doc) for doc in q.judgments)


def test_related_judgments_are_well_formed() -> None:
    topics = quality.load_related()
    assert len(topics) >= 40
    assert len({t.seed for t in topics}) == len(topics)
    for t in topics:
        assert quality.ARXIV_ID.match(t.seed)
        assert t.seed not in t.judgments


def test_malformed_judgment_lines_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"qid": "x", "query": "q", "criteria": "c", "judgments": {"2501.00001": 3}}\n')
    with pytest.raises(ValueError, match="not 1 or 2"):
        quality.load_judged_queries(bad)
    bad.write_text('{"qid": "x", "query": "q", "criteria": "c", "judgments": {"nope": 1}}\n')
    with pytest.raises(ValueError, match="not an arXiv id"):
        quality.load_judged_queries(bad)


def test_weak_labels_from_the_seed_pages() -> None:
    pages = quality.seed_pages()
    assert set(pages) == set(quality.SEED_PAGES)
    assert sum(len(records) for records in pages.values()) == 513
    first, second = list(quality.SEED_PAGES)[:2]
    related, queries = quality.weak_labels({first: ["a", "b", "c"], second: ["c", "d"]})
    assert related["a"] == {"b": 1, "c": 1}
    assert related["c"] == {"a": 1, "b": 1, "d": 1}  # on both pages
    assert queries[quality.SEED_PAGES[first]] == {"a": 1, "b": 1, "c": 1}
