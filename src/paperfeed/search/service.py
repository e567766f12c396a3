"""The search service: keyword, semantic and hybrid search, related papers, and
keeping the indexes in step with the database.

The :class:`~paperfeed.library.Library` owns one :class:`SearchService`; the web
app, CLI, API and digests reach it through ``Library.search/related/sync_search``.

* **keyword**: BM25 over the tantivy index (:mod:`paperfeed.search.keyword`).
* **semantic**: nearest neighbours of the query's embedding in the vector index
  (:mod:`paperfeed.search.vectors`, :mod:`paperfeed.search.embed`). The query's
  topical words are embedded; its other parts (``cat:``, ``au:``, ``id:``,
  exclusions) and the filters still have to hold: the vector index is asked for
  more neighbours than needed (4x, growing to :data:`MAX_SEMANTIC_FETCH`) and the
  candidates are checked against the keyword index's fields.
* **hybrid** (default): reciprocal-rank fusion (k = 60) of the top 50 of each.

Semantic and hybrid fall back to keyword results, with a ``notice`` saying why,
when no embedding model can be loaded or no paper has a vector yet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from paperfeed.errors import InputError, NotFoundError
from paperfeed.models import Paper, match_key
from paperfeed.progress import Progress
from paperfeed.search.hybrid import BRANCH_DEPTH, reciprocal_rank_fusion
from paperfeed.search.keyword import KeywordIndex
from paperfeed.search.models import (
    SEARCH_MODES,
    SEARCH_SORTS,
    SearchFilters,
    SearchHit,
    SearchMode,
    SearchResults,
    SearchSort,
)
from paperfeed.search.query import MatchAll, Node, ParsedQuery, parse_query
from paperfeed.settings import Settings
from paperfeed.storage import Storage

log = logging.getLogger(__name__)

RelatedMethod = Literal["hybrid", "vector", "lexical"]
RELATED_METHODS: tuple[RelatedMethod, ...] = ("hybrid", "vector", "lexical")
EmbedChoice = bool | Literal["bulk"]
#: Most neighbours read from the vector index to find enough that pass the filters.
MAX_SEMANTIC_FETCH = 5000
#: Cosine above which a neighbour is taken for a copy of the paper itself.
DUPLICATE_COSINE = 0.98
MAX_LIMIT = 200
MAX_OFFSET = 10_000
_UNSET: Any = object()


def _default_embedder_factory(settings: Settings, *, bulk: bool = False) -> Any:
    try:
        from paperfeed.search.embed import load_embedder
    except ImportError as exc:  # the embedding runtime is not installed
        log.warning("semantic search unavailable: %s", exc)
        return None
    return load_embedder(settings, bulk=bulk)


def _default_vector_index(storage: Storage, directory: Path) -> Any:
    try:
        from paperfeed.search.vectors import VectorIndex
    except ImportError as exc:
        log.warning("vector index unavailable: %s", exc)
        return None
    return VectorIndex(storage, directory)


class SearchService:
    """Search over one storage; indexes live under ``index_dir`` (``keyword/``, ``vectors/``).

    Nothing is opened or loaded until first used: the embedding model loads on the
    first semantic query and then stays in memory (queries must be fast).
    """

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        index_dir: Path,
        embedder_factory: Callable[..., Any] | None = None,
        *,
        vector_index_factory: Callable[[Storage, Path], Any] | None = None,
        related_method: RelatedMethod | None = None,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.index_dir = Path(index_dir)
        self.keyword = KeywordIndex(
            storage,
            self.index_dir / "keyword",
            default_operator=settings.search_default_operator,
        )
        self.related_method: RelatedMethod = related_method or settings.search_related_method
        self._embedder_factory = embedder_factory or _default_embedder_factory
        self._vector_index_factory = vector_index_factory or _default_vector_index
        self._embedder: Any = _UNSET
        self._bulk_embedder: Any = _UNSET
        self._vectors: Any = _UNSET
        self._lock = threading.Lock()

    # -- parts, opened on first use ------------------------------------------------------

    @property
    def vectors(self) -> Any:
        """The vector index, or None when its module is not installed."""
        if self._vectors is _UNSET:
            with self._lock:
                if self._vectors is _UNSET:
                    self._vectors = self._vector_index_factory(
                        self.storage, self.index_dir / "vectors"
                    )
        return self._vectors

    def embedder(self, *, bulk: bool = False) -> Any:
        """The default (or bulk) embedder, loaded once and then kept; None when
        unavailable (not installed, turned off, damaged)."""
        slot = "_bulk_embedder" if bulk else "_embedder"
        if getattr(self, slot) is _UNSET:
            with self._lock:
                if getattr(self, slot) is _UNSET:
                    setattr(self, slot, self._embedder_factory(self.settings, bulk=bulk))
        return getattr(self, slot)

    def _embedder_for(self, model_id: str | None) -> Any:
        """The embedder that made vectors labelled ``model_id``: queries must be embedded
        by the same model as the papers (the default one, or the bulk static model)."""
        default = self.embedder()
        if model_id is None or (default is not None and default.model_id == model_id):
            return default
        bulk = self.embedder(bulk=True)
        if bulk is not None and bulk.model_id == model_id:
            return bulk
        return None

    def _semantic_parts(self) -> tuple[Any, Any, str | None]:
        """``(embedder, vectors, None)`` when semantic search can run, else a reason."""
        vectors = self.vectors
        if vectors is None:
            return None, None, "semantic search is not installed"
        if _vector_count(vectors) == 0:
            if self.embedder() is None:
                return None, None, "semantic search is unavailable (no embedding model)"
            return None, None, "no paper has been embedded yet (run `paperfeed index sync`)"
        embedder = self._embedder_for(getattr(vectors, "model_id", None))
        if embedder is None:
            return None, None, "semantic search is unavailable (the embedding model is missing)"
        return embedder, vectors, None

    def ensure_keyword_index(self) -> None:
        """Build the keyword index if there is none yet (a new install's first search)."""
        self._ensure_keyword_index()

    def _ensure_keyword_index(self) -> None:
        if not self.keyword.exists():
            result = self.keyword.sync()
            if result.skipped:
                log.info("keyword index not ready: %s", result.message)

    # -- search --------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
        sort: SearchSort = "relevance",
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResults:
        started = time.perf_counter()
        if mode not in SEARCH_MODES:
            raise InputError(f"mode must be one of {', '.join(SEARCH_MODES)}, not {mode!r}")
        if sort not in SEARCH_SORTS:
            raise InputError(f"sort must be one of {', '.join(SEARCH_SORTS)}, not {sort!r}")
        if not 0 <= limit <= MAX_LIMIT:
            raise InputError(f"limit must be between 0 and {MAX_LIMIT}")
        if not 0 <= offset <= MAX_OFFSET:
            raise InputError(f"offset must be between 0 and {MAX_OFFSET}")
        filters = filters or SearchFilters()
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            raise InputError(f"from {filters.date_from} is after to {filters.date_to}")
        parsed = parse_query(query)
        self._ensure_keyword_index()
        results = SearchResults(
            query=query, mode_requested=mode, mode_used=mode, sort=sort,
            hits=[], total=0, offset=offset, limit=limit,
        )  # fmt: skip
        notice = None
        if mode != "keyword":
            embedder, vectors, notice = self._semantic_parts()
            text = parsed.semantic_text()
            if notice is None and not text.strip():
                notice = "the query has no topical words for semantic search"
            if notice is None:
                self._semantic_search(results, parsed, text, embedder, vectors, filters)
                results.took_ms = (time.perf_counter() - started) * 1000
                return results
            notice += "; showing keyword results"
            results.mode_used = "keyword"
        self._keyword_search(results, parsed, filters)
        if notice:
            results.notice = f"{notice}. {results.notice}" if results.notice else notice
        results.took_ms = (time.perf_counter() - started) * 1000
        return results

    def _keyword_search(
        self, results: SearchResults, parsed: ParsedQuery, filters: SearchFilters
    ) -> None:
        found = self.keyword.search(
            parsed, filters=filters, sort=results.sort, limit=results.limit,
            offset=results.offset,
        )  # fmt: skip
        papers = self._papers(found.ids)
        hits = [
            SearchHit(papers[pid], score, {"keyword": results.offset + position})
            for position, (pid, score) in enumerate(
                zip(found.ids, found.scores, strict=True), start=1
            )
            if pid in papers
        ]
        if results.sort == "upvotes":
            # The index has upvotes as of the paper's last change; votes cast since then
            # are in the database: order the page by those (stable: ties keep index order).
            hits.sort(key=lambda hit: -hit.paper.upvotes)
        results.hits = hits
        results.total = found.total
        if found.relaxed:
            results.notice = "No paper has all the words; showing papers with any of them."

    def _semantic_search(
        self,
        results: SearchResults,
        parsed: ParsedQuery,
        text: str,
        embedder: Any,
        vectors: Any,
        filters: SearchFilters,
    ) -> None:
        depth = max(BRANCH_DEPTH, results.offset + results.limit)
        query_vector = embedder.embed_query(text)
        semantic = self._semantic_ids(vectors, query_vector, depth, parsed.constraints(), filters)
        if results.mode_requested == "semantic":
            ranked = [
                (pid, score, {"semantic": rank})
                for rank, (pid, score) in enumerate(semantic, start=1)
            ]
        else:
            keyword = self.keyword.search(parsed, filters=filters, limit=depth)
            if keyword.relaxed:
                results.notice = "No paper has all the words; keyword results have any of them."
            fused = reciprocal_rank_fusion(
                {"keyword": keyword.ids, "semantic": [pid for pid, _ in semantic]}
            )
            ranked = [(f.paper_id, f.score, f.ranks) for f in fused]
        results.total = len(ranked)
        if results.sort == "relevance":
            page = ranked[results.offset : results.offset + results.limit]
            papers = self._papers([pid for pid, _, _ in page])
            results.hits = [SearchHit(papers[p], s, r) for p, s, r in page if p in papers]
            return
        papers = self._papers([pid for pid, _, _ in ranked])
        candidates = [SearchHit(papers[p], s, r) for p, s, r in ranked if p in papers]
        candidates.sort(key=_sort_key(results.sort))
        results.hits = candidates[results.offset : results.offset + results.limit]

    def _semantic_ids(
        self,
        vectors: Any,
        query_vector: Any,
        depth: int,
        constraints: Node,
        filters: SearchFilters,
        exclude: Sequence[str] = (),
    ) -> list[tuple[str, float]]:
        """The ``depth`` nearest papers that satisfy the query's constraints and filters."""
        checked = not isinstance(constraints, MatchAll) or not filters.is_empty()
        fetch = depth * 4 if checked else depth
        while True:
            found = vectors.search(query_vector, fetch, exclude=exclude)
            if not checked:
                return list(found[:depth])
            allowed = self.keyword.matching([pid for pid, _ in found], constraints, filters)
            kept = [(pid, score) for pid, score in found if pid in allowed]
            if len(kept) >= depth or len(found) < fetch or fetch >= MAX_SEMANTIC_FETCH:
                return kept[:depth]
            fetch = min(fetch * 4, MAX_SEMANTIC_FETCH)

    # -- related papers ------------------------------------------------------------------

    def related(
        self, paper_id: str, *, limit: int = 10, method: RelatedMethod | None = None
    ) -> list[SearchHit]:
        """Papers most like ``paper_id``: its nearest neighbours by embedding fused with
        (``"hybrid"``) or replaced by (``"lexical"``) papers sharing its most distinctive
        words. The paper itself and copies of it are left out. Without vectors the
        lexical list is used alone."""
        method = method or self.related_method
        if method not in RELATED_METHODS:
            raise InputError(f"method must be one of {', '.join(RELATED_METHODS)}")
        if not 0 <= limit <= MAX_LIMIT:
            raise InputError(f"limit must be between 0 and {MAX_LIMIT}")
        paper = self.storage.papers.get(paper_id)
        if paper is None:
            raise NotFoundError(f"no paper with id {paper_id!r}")
        if limit == 0:
            return []
        self._ensure_keyword_index()
        depth = max(BRANCH_DEPTH, limit * 3)
        dense: list[tuple[str, float]] = []
        if method != "lexical":
            dense = self._dense_neighbours(paper, depth)
        lists: dict[str, list[str]] = {}
        scores: dict[str, float] = {}
        duplicates = {pid for pid, cosine in dense if cosine > DUPLICATE_COSINE}
        if dense:
            lists["semantic"] = [pid for pid, _ in dense if pid not in duplicates]
            scores = {pid: cosine for pid, cosine in dense}
        if method != "vector" or not dense:
            lexical = self.keyword.similar(paper, depth, exclude=sorted(duplicates))
            lists["keyword"] = [pid for pid, _ in lexical]
            if not dense:
                scores = dict(lexical)
        if len(lists) == 1:
            (name, ids), *_ = lists.items()
            ranked = [(pid, scores[pid], {name: rank}) for rank, pid in enumerate(ids, 1)]
        else:
            ranked = [(f.paper_id, f.score, f.ranks) for f in reciprocal_rank_fusion(lists)]
        papers = self._papers([pid for pid, _, _ in ranked[: limit * 2 + 10]])
        keys = {k for k in (match_key(paper.title), match_key(paper.abstract)) if k}
        hits: list[SearchHit] = []
        for pid, score, ranks in ranked:
            candidate = papers.get(pid)
            if candidate is None or pid == paper.id:
                continue
            # Copies under another id (a page-text import of the same paper): same
            # title or abstract once case, accents and punctuation are ignored.
            candidate_keys = {
                k for k in (match_key(candidate.title), match_key(candidate.abstract)) if k
            }
            if candidate_keys & keys:
                continue
            keys |= candidate_keys  # and only one of several copies of a neighbour
            hits.append(SearchHit(candidate, score, ranks))
            if len(hits) == limit:
                break
        return hits

    def _dense_neighbours(self, paper: Paper, depth: int) -> list[tuple[str, float]]:
        vectors = self.vectors
        if vectors is None or _vector_count(vectors) == 0:
            return []
        vector = vectors.vector(paper.id)
        if vector is None:  # not embedded yet: embed it now if the model is here
            embedder = self._embedder_for(getattr(vectors, "model_id", None))
            if embedder is None:
                return []
            from paperfeed.search.embed import document_text

            vector = embedder.embed_documents([document_text(paper)])[0]
        return list(vectors.search(vector, depth, exclude=[paper.id]))

    # -- keeping indexes up to date ------------------------------------------------------

    def sync(
        self, progress: Progress | None = None, *, embed: EmbedChoice = True
    ) -> dict[str, Any]:
        """Apply the change log to the keyword index and (``embed``) embed new or changed
        papers into the vector index; ``"bulk"`` uses the fast static model."""
        report: dict[str, Any] = {"keyword": asdict(self.keyword.sync(progress))}
        if embed:
            report["vectors"] = self._sync_vectors(progress, bulk=embed == "bulk")
        return report

    def _sync_vectors(self, progress: Progress | None, *, bulk: bool) -> dict[str, Any]:
        vectors = self.vectors
        if vectors is None:
            return {"skipped": True, "message": "semantic search is not installed"}
        if bulk:
            embedder = self.embedder(bulk=True)
        else:
            # Keep embedding with the model the index holds (a bulk import stays bulk
            # until `paperfeed embed` switches it), else the default model.
            target = getattr(vectors, "target_model_id", None)
            embedder = self._embedder_for(target) if target else self.embedder()
        if embedder is None:
            return {"skipped": True, "message": "no embedding model available"}
        from paperfeed.search.vectors import IndexBusy

        try:
            embedded = vectors.sync(embedder, progress=progress)
        except IndexBusy as exc:
            # Another process (the web app's scheduler, a worker) is syncing the same
            # index; it will embed these papers too, as the keyword index does.
            return {"skipped": True, "message": str(exc)}
        return {"embedded": int(embedded), "model_id": embedder.model_id}

    def rebuild(self, progress: Progress | None = None) -> dict[str, Any]:
        """Rebuild the keyword index from the papers table and the ANN files from the
        stored vectors (nothing is re-embedded)."""
        report: dict[str, Any] = {"keyword": asdict(self.keyword.rebuild(progress))}
        vectors = self.vectors
        if vectors is not None:
            vectors.rebuild(progress=progress)
            report["vectors"] = {"rebuilt": True}
        return report

    def status(self) -> dict[str, Any]:
        vectors = self.vectors
        return {
            "keyword": self.keyword.status(),
            "vectors": vectors.status() if vectors is not None else {"installed": False},
        }

    # -- helpers -------------------------------------------------------------------------

    def _papers(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        # Ids come from the indexes; a paper deleted since the last sync is just left out.
        return {paper.id: paper for paper in self.storage.papers.get_many(list(paper_ids))}


def _vector_count(vectors: Any) -> int:
    """Papers in the vector index, from its state file (cheap: runs on every search)."""
    read_state = getattr(vectors, "read_state", None)
    if read_state is not None:
        state = read_state()
        return int(state.get("live", 0)) if state else 0
    status = vectors.status()
    return int(status.get("papers", status.get("vectors", 0)) or 0)


def _sort_key(sort: SearchSort) -> Callable[[SearchHit], tuple[Any, ...]]:
    def newest(hit: SearchHit) -> tuple[Any, ...]:
        day = hit.paper.feed_date.toordinal() if hit.paper.feed_date else 0
        return (-day, -hit.paper.upvotes)

    def upvotes(hit: SearchHit) -> tuple[Any, ...]:
        day = hit.paper.feed_date.toordinal() if hit.paper.feed_date else 0
        return (-hit.paper.upvotes, -day)

    return upvotes if sort == "upvotes" else newest
