"""From paper vectors to map positions and named neighbourhoods.

* **Projection**: t-SNE by openTSNE (FFT-accelerated, deterministic with a seed),
  fitted on a random sample of at most :data:`FIT_SAMPLE` papers. Measured against
  PCA and UMAP in ``benchmarks/map_projection.py`` (results in ``docs/benchmarks.md``):
  t-SNE kept the most of each paper's nearest neighbours at the same fit time as
  UMAP, without UMAP's numba compile on first use, and PCA's lines of overlapping
  fields are unreadable as a map.
* **Placing everything else** (the rest of a large corpus, and every paper added
  between refits): the similarity-weighted mean position of its
  :data:`PLACE_NEIGHBOURS` nearest fitted papers (exact inner products, faiss).
  That is how openTSNE initialises new points itself, it costs microseconds per
  paper, and it keeps the map still: a sync never moves a paper already placed.
* **Neighbourhoods**: k-means (faiss) on the 2-D positions, so each is a
  compact region of the picture, named by the words that set its titles apart
  from the rest (class-based tf-idf: a word's share in the cluster over its share
  in the whole corpus, damped for rare words).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

Method = Literal["tsne", "opentsne", "umap", "pca"]
#: Below this many papers the map is a PCA: t-SNE needs neighbourhoods to work with,
#: and a handful of papers reads as well either way (at no cost).
SMALL = 200
#: Papers the projection is fitted on; the others are placed by their neighbours.
FIT_SAMPLE = 20_000
PLACE_NEIGHBOURS = 10
#: Softness of the neighbour weights (cosine differences of 0.05 matter).
PLACE_TEMPERATURE = 0.05
SEED = 20261203
#: Coordinates are scaled so the fitted papers span [-1, 1] on the longer axis.
EXTENT = 1.0

_WORD = re.compile(r"[a-z][a-z0-9\-]*[a-z0-9]|[a-z]")
#: Words too general to name a neighbourhood of papers.
LABEL_STOPWORDS = frozenset(
    (
        "a", "an", "analysis", "and", "approach", "approaches", "are", "as", "at", "based",
        "be", "better", "between", "beyond", "by", "can", "case", "data", "do", "does",
        "effective", "efficient", "for", "framework", "frameworks", "from", "general",
        "generalized", "how", "improved", "improving", "in", "into", "is", "it", "its", "large",
        "learning", "method", "methods", "model", "models", "multi", "new", "non", "novel",
        "of", "on", "one", "or", "over", "paper", "results", "scale", "self", "study", "system",
        "systems", "task", "tasks", "the", "their", "this", "through", "to", "toward",
        "towards", "two", "under", "use", "using", "via", "vs", "we", "what", "when", "where",
        "which", "while", "with", "without",
    )
)  # fmt: skip


def method_for(papers: int, method: Method = "tsne") -> str:
    """The method :func:`fit_projection` really uses for this many papers."""
    return "pca" if papers < SMALL else method


def fit_projection(vectors: np.ndarray, *, method: Method = "tsne", seed: int = SEED) -> np.ndarray:
    """2-D positions of ``vectors`` (unit rows), scaled to about [-1, 1]."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n == 0:
        return np.zeros((0, 2), dtype=np.float32)
    if n < SMALL:  # a handful of papers: any faithful layout will do, and instantly
        coords = _pca(vectors)
    elif method in ("tsne", "opentsne"):
        coords = _tsne(vectors, seed)
    elif method == "umap":
        coords = _umap(vectors, seed)
    elif method == "pca":
        coords = _pca(vectors)
    else:
        raise ValueError(f"unknown projection method {method!r}")
    return _normalise(coords)


def _pca(vectors: np.ndarray) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2), dtype=np.float32)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ components[:2].T
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    # Signs fixed by the data so refits of the same vectors look the same.
    signs = np.sign(np.sum(coords**3, axis=0))
    return (coords * np.where(signs == 0, 1, signs)).astype(np.float32)


def _tsne(vectors: np.ndarray, seed: int) -> np.ndarray:
    from openTSNE import TSNE

    perplexity = float(min(30, max(2, (len(vectors) - 1) / 3)))
    embedding = TSNE(
        perplexity=perplexity,
        metric="cosine",
        # One thread: OpenMP workers spin while they wait, and on a shared or busy
        # machine two of them took 9x the CPU time of one (measured: 15.6 s vs 1.7 s).
        n_jobs=1,
        random_state=seed,
        initialization="pca",
        verbose=False,
    ).fit(vectors)
    return np.asarray(embedding, dtype=np.float32)


def _umap(vectors: np.ndarray, seed: int) -> np.ndarray:  # measured, not the default
    import umap

    reducer = umap.UMAP(n_neighbors=min(15, len(vectors) - 1), metric="cosine", random_state=seed)
    return np.asarray(reducer.fit_transform(vectors), dtype=np.float32)


def _normalise(coords: np.ndarray) -> np.ndarray:
    coords = coords - np.median(coords, axis=0)
    scale = float(np.max(np.abs(coords))) or 1.0
    return (coords / scale * EXTENT).astype(np.float32)


def place(
    vectors: np.ndarray,
    anchor_vectors: np.ndarray,
    anchor_coords: np.ndarray,
    *,
    k: int = PLACE_NEIGHBOURS,
    batch: int = 20_000,
) -> np.ndarray:
    """Positions for ``vectors``: the softmax-weighted mean of the positions of their
    ``k`` most similar anchors (inner product of unit vectors = cosine)."""
    import faiss

    out = np.zeros((len(vectors), 2), dtype=np.float32)
    if len(vectors) == 0 or len(anchor_vectors) == 0:
        return out
    index = faiss.IndexFlatIP(anchor_vectors.shape[1])
    index.add(np.ascontiguousarray(anchor_vectors, dtype=np.float32))
    k = min(k, len(anchor_vectors))
    for start in range(0, len(vectors), batch):
        block = np.ascontiguousarray(vectors[start : start + batch], dtype=np.float32)
        similarity, neighbours = index.search(block, k)
        weights = np.exp((similarity - similarity[:, :1]) / PLACE_TEMPERATURE)
        weights /= weights.sum(axis=1, keepdims=True)
        out[start : start + len(block)] = np.einsum(
            "nk,nkd->nd", weights, anchor_coords[neighbours]
        )
    return out


def cluster_count(papers: int) -> int:
    """How many neighbourhoods a map of ``papers`` gets: a few for a demo, about
    forty for all of arXiv (more would not fit their names on the picture)."""
    return int(min(40, max(2, round(math.sqrt(papers / 10)))))


def cluster(coords: np.ndarray, count: int, *, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, centroids)``: k-means of the 2-D positions (faiss, fixed seed)."""
    import faiss

    count = max(1, min(count, len(coords)))
    points = np.ascontiguousarray(coords, dtype=np.float32)
    if count == 1:
        return np.zeros(len(points), dtype=np.int32), points.mean(axis=0, keepdims=True)
    kmeans = faiss.Kmeans(
        2, count, niter=30, seed=seed % (2**31), verbose=False, min_points_per_centroid=1
    )
    kmeans.train(points)
    return assign(points, kmeans.centroids), np.asarray(kmeans.centroids, dtype=np.float32)


def assign(coords: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Nearest centroid of each position."""
    distances = ((coords[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    return np.argmin(distances, axis=1).astype(np.int32)


def title_words(title: str) -> set[str]:
    """Distinct words of a title worth naming a neighbourhood by (lower case)."""
    words = _WORD.findall(title.lower())
    kept = {w for w in words if len(w) > 2 and w not in LABEL_STOPWORDS and not w.isdigit()}
    # Adjacent pairs ("reinforcement learning", "language models") name fields well.
    pairs = {
        f"{a} {b}"
        for a, b in itertools.pairwise(words)
        if a not in LABEL_STOPWORDS and b not in LABEL_STOPWORDS and len(a) > 2 and len(b) > 2
    }
    return kept | pairs


def name_clusters(
    titles: Iterable[tuple[int, str]], count: int, *, terms: int = 3, min_papers: int = 2
) -> list[list[str]]:
    """The ``terms`` most distinctive words of each cluster's titles.

    ``titles`` yields ``(cluster, title)``. A word scores
    ``tf_cluster * log(1 + N / df_all)`` (class-based tf-idf), counted once per title;
    a pair of words beats its parts when it is as frequent, and a word already
    inside a chosen pair is skipped.
    """
    per_cluster: list[Counter[str]] = [Counter() for _ in range(count)]
    overall: Counter[str] = Counter()
    sizes = [0] * count
    total = 0
    for label, title in titles:
        words = title_words(title)
        per_cluster[label].update(words)
        overall.update(words)
        sizes[label] += 1
        total += 1
    names = _pick_names(per_cluster, overall, sizes, total, terms, min_papers, banned=set())
    # A word that names many neighbourhoods tells none of them apart ("language" in a
    # corpus of language-model papers): name them again without it.
    chosen = Counter(word for name in names for word in name)
    common = {word for word, n in chosen.items() if n >= 3}
    if common:
        names = _pick_names(per_cluster, overall, sizes, total, terms, min_papers, banned=common)
    return names


def _pick_names(
    per_cluster: list[Counter[str]],
    overall: Counter[str],
    sizes: list[int],
    total: int,
    terms: int,
    min_papers: int,
    banned: set[str],
) -> list[list[str]]:
    names: list[list[str]] = []
    for label, counts in enumerate(per_cluster):
        size = max(sizes[label], 1)
        scored = sorted(
            (
                (
                    (c / size) * math.log(1 + total / overall[w]) * (1.15 if " " in w else 1.0),
                    w,
                )
                for w, c in counts.items()
                if c >= min(min_papers, size) and not (set(w.split()) & banned)
            ),
            reverse=True,
        )
        chosen: list[str] = []
        for _, word in scored:
            if any(word in taken.split() or taken in word.split() for taken in chosen):
                continue
            if any(_same_stem(word, taken) for taken in chosen):
                continue
            if any(word in taken for taken in chosen if " " in taken):
                continue
            chosen.append(word)
            if len(chosen) == terms:
                break
        names.append(chosen)
    return names


def _same_stem(a: str, b: str) -> bool:
    """ "agent", "agents" and "agentic" would name a neighbourhood three times."""
    a, b = a.split()[-1], b.split()[-1]
    return (a[:5] == b[:5] and min(len(a), len(b)) >= 4) or a.rstrip("s") == b.rstrip("s")


def label_text(words: Sequence[str]) -> str:
    return " · ".join(words) if words else "miscellany"
