"""The search service through the Library on both engines: modes, reciprocal-rank
fusion, fallback to keyword search with a notice, related papers.

Semantic search runs on the real vector index (``paperfeed.search.vectors``) fed by
:class:`~tests.search.keyword_support.HashingEmbedder`, a deterministic stand-in for
the embedding *model* (a dependency), so the tests do not load a 90 MB model."""

from __future__ import annotations

import pytest

from paperfeed.errors import InputError, NotFoundError
from paperfeed.library import Library
from paperfeed.search.hybrid import RRF_K, reciprocal_rank_fusion
from paperfeed.search.models import SearchFilters
from paperfeed.search.service import SearchService
from tests.search.keyword_support import (
    CORPUS,
    add,
    hashing_factory,
    ids,
    no_model_factory,
    record,
)


def use_embedder(library: Library, factory: object) -> SearchService:
    """Give the library a search service whose embedding model comes from ``factory``."""
    service = SearchService(
        library.storage, library.settings, library.settings.data_dir / "index",
        embedder_factory=factory,  # type: ignore[arg-type]
    )  # fmt: skip
    library.search_service = service
    return service


@pytest.fixture
def no_model(library: Library) -> Library:
    use_embedder(library, no_model_factory)
    add(library, *CORPUS)
    library.sync_search()
    return library


@pytest.fixture
def embedded(library: Library) -> Library:
    pytest.importorskip("paperfeed.search.vectors")
    use_embedder(library, hashing_factory)
    add(library, *CORPUS)
    report = library.sync_search()
    assert report["vectors"]["embedded"] == len(CORPUS)
    return library


# -- fusion --------------------------------------------------------------------------------


def test_reciprocal_rank_fusion() -> None:
    fused = reciprocal_rank_fusion({"keyword": ["a", "b", "c"], "semantic": ["c", "a", "d"]})
    assert [f.paper_id for f in fused] == ["a", "c", "b", "d"]
    by_id = {f.paper_id: f for f in fused}
    assert by_id["a"].ranks == {"keyword": 1, "semantic": 2}
    assert by_id["a"].score == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 2))
    assert by_id["d"].ranks == {"semantic": 3}
    # A tie (first in one list vs first in the other) goes to the list named first.
    assert [f.paper_id for f in reciprocal_rank_fusion({"x": ["p"], "y": ["q"]})] == ["p", "q"]
    assert [f.paper_id for f in reciprocal_rank_fusion({"y": ["q"], "x": ["p"]})] == ["q", "p"]


# -- fallback ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_without_a_model_search_falls_back_to_keyword_and_says_so(
    no_model: Library, mode: str
) -> None:
    results = no_model.search("diffusion", mode=mode)  # type: ignore[arg-type]
    assert results.mode_requested == mode and results.mode_used == "keyword"
    assert results.notice and "showing keyword results" in results.notice
    keyword = no_model.search("diffusion", mode="keyword")
    assert ids(results) == ids(keyword) and results.total == keyword.total == 3
    assert keyword.notice is None
    assert all(hit.ranks == {"keyword": i} for i, hit in enumerate(results.hits, start=1))


def test_hybrid_with_nothing_embedded_falls_back(library: Library) -> None:
    pytest.importorskip("paperfeed.search.vectors")
    use_embedder(library, hashing_factory)
    add(library, *CORPUS)
    library.sync_search(embed=False)
    results = library.search("diffusion")
    assert results.mode_used == "keyword" and "embedded" in (results.notice or "")


def test_query_without_topical_words_is_keyword_only(embedded: Library) -> None:
    results = embedded.search("au:hinton")
    assert results.mode_used == "keyword" and "no topical words" in (results.notice or "")
    assert ids(results) == ["2401.00007"]


# -- semantic and hybrid -------------------------------------------------------------------


def test_semantic_search_ranks_by_the_vector_index(embedded: Library) -> None:
    results = embedded.search("diffusion models generate images", mode="semantic", limit=5)
    assert results.mode_used == "semantic" and results.notice is None
    assert ids(results)[0] == "2401.00001"
    assert [hit.ranks for hit in results.hits] == [{"semantic": i} for i in range(1, 6)]
    scores = [hit.score for hit in results.hits]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1.0001


def test_hybrid_fuses_both_branches_with_rrf(embedded: Library) -> None:
    query = "diffusion transformers"
    keyword = ids(embedded.search(query, mode="keyword", limit=50))
    semantic = ids(embedded.search(query, mode="semantic", limit=50))
    hybrid = embedded.search(query, limit=50)
    assert hybrid.mode_used == "hybrid"
    expected = reciprocal_rank_fusion({"keyword": keyword, "semantic": semantic})
    assert ids(hybrid) == [f.paper_id for f in expected]
    assert hybrid.total == len(expected)
    for hit, fused in zip(hybrid.hits, expected, strict=True):
        assert hit.ranks == fused.ranks
        assert hit.score == pytest.approx(sum(1 / (RRF_K + r) for r in hit.ranks.values()))
    assert hybrid.hits[0].ranks.keys() == {"keyword", "semantic"}
    # Pages of the fused list.
    second = embedded.search(query, limit=3, offset=3)
    assert ids(second) == ids(hybrid)[3:6]


def test_semantic_hits_honour_filters_and_query_restrictions(embedded: Library) -> None:
    def semantic(query: str, **filters: object) -> list[str]:
        results = embedded.search(query, mode="semantic", filters=SearchFilters(**filters))  # type: ignore[arg-type]
        return ids(results)

    everything = semantic("language models")
    assert len(everything) == len(CORPUS)
    in_cl = semantic("language models cat:cs.CL")
    assert set(in_cl) == {"2401.00004", "2401.00005"}
    assert set(semantic("language models", has_code=True)) == {
        "2401.00001", "2401.00004", "2401.00010"
    }  # fmt: skip
    assert "2401.00005" not in semantic("language models -feedback")
    hybrid = embedded.search("language models", filters=SearchFilters(category="cs.CL"))
    assert set(ids(hybrid)) == {"2401.00004", "2401.00005"}


def test_hybrid_sorts_reorder_the_fused_candidates(embedded: Library) -> None:
    newest = embedded.search("language models", sort="newest", limit=50)
    days = [hit.paper.feed_date for hit in newest.hits]
    assert days == sorted(days, reverse=True)
    by_votes = embedded.search("language models", sort="upvotes", limit=3)
    assert ids(by_votes)[:2] == ["2401.00005", "2401.00004"]


# -- related papers ------------------------------------------------------------------------


def copy_of_paper_2() -> object:
    # Resubmitted under a new id: same title, reworded abstract.
    return record("2409.00002", "Graph Neural Networks for Molecules!",
                  "Message passing on molecular graphs predicts chemical properties well.")  # fmt: skip


def test_related_without_vectors_uses_shared_words(no_model: Library) -> None:
    add(no_model, copy_of_paper_2())
    no_model.sync_search()
    related = no_model.related("2401.00002", limit=5)
    found = ids(related)
    assert found and "2401.00002" not in found
    assert "2409.00002" not in found  # a copy of the paper itself
    assert found[0] == "2401.00003"  # shares "graph" and "neural"
    assert all(hit.ranks.keys() == {"keyword"} for hit in related)
    with pytest.raises(NotFoundError):
        no_model.related("2499.99999")


def test_related_fuses_neighbours_and_leaves_out_copies(embedded: Library) -> None:
    # 2409.00003 has the same words in another order: other match keys, but a
    # near-identical embedding (cosine > 0.98), so only the vectors tell it is a copy.
    add(embedded, copy_of_paper_2(),
        record("2409.00003", "Molecules: graph neural networks for",
               "Chemical properties predicts message passing on molecular graphs."))  # fmt: skip
    embedded.sync_search()
    lexical = ids(embedded.related("2401.00002", limit=5, method="lexical"))
    assert "2409.00003" in lexical and not {"2401.00002", "2409.00002"} & set(lexical)
    for method in ("hybrid", "vector"):
        found = ids(embedded.related("2401.00002", limit=5, method=method))  # type: ignore[arg-type]
        assert found, method
        assert not {"2401.00002", "2409.00002", "2409.00003"} & set(found), method
    hybrid = embedded.related("2401.00002", limit=5)
    assert any(hit.ranks.keys() == {"keyword", "semantic"} for hit in hybrid)
    vector = embedded.related("2401.00002", limit=3, method="vector")
    assert all(hit.ranks.keys() == {"semantic"} for hit in vector)
    with pytest.raises(InputError, match="method must be one of"):
        embedded.related("2401.00002", method="magic")  # type: ignore[arg-type]


def test_sync_skips_vectors_while_another_process_holds_the_index(library: Library) -> None:
    service = use_embedder(library, hashing_factory)
    add(library, *CORPUS)
    with service.vectors._locked():  # type: ignore[union-attr]  # as another process would
        report = library.sync_search()
    assert report["vectors"]["skipped"] and "another process" in report["vectors"]["message"]
    assert report["vectors"]["embedded"] == len(CORPUS)  # the database side went ahead
    caught_up = library.sync_search()["vectors"]  # the files catch up at the next sync
    assert caught_up["embedded"] == 0 and caught_up["vectors"] == len(CORPUS)
