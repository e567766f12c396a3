"""Embedding and vector-index figures: model throughput, query latency, ANN search.

    python benchmarks/embedding.py runtime CORPUS.jsonl.gz [--docs 256] [--queries 300]
    python benchmarks/embedding.py bulk CORPUS.jsonl.gz [--docs 75000] [--data-dir DIR]
    python benchmarks/embedding.py ann [--sizes 75000,1000000] [--fit VECTORS.npy]

``runtime``: the default model's documents/s (title + abstract, 256 tokens, batches
sorted by length) and query latency (p50/p99 of short queries, cache bypassed).
``bulk``: the bulk static model's papers/s, the model alone and through a whole
``paperfeed embed --bulk`` (SQLite, commits included); builds the model on first use.
``ann``: VectorIndex search at each size over synthetic unit vectors drawn
reproducibly (seed 0) from a Gaussian fitted to real embeddings (``--fit``, an
(n, 384) .npy) or isotropic without one: p50/p99 latency, recall@10 against exact
search, RSS. CPU time is reported beside wall time: on a shared, loaded machine
it is the steadier figure. Every number is printed as one JSON line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _emit(**values: Any) -> None:
    print(json.dumps(values), flush=True)


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _texts(corpus: Path, limit: int, seed: int = 0) -> list[str]:
    from paperfeed.search.embed import passage

    with gzip.open(corpus, "rt", encoding="utf-8") as handle:
        papers = [json.loads(line) for line in handle]
    order = np.random.default_rng(seed).permutation(len(papers))[:limit]
    return [passage(papers[i]["title"], papers[i]["abstract"]) for i in order]


def _timed(function: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _percentiles(samples: list[float]) -> dict[str, float]:
    values = np.array(samples) * 1000
    return {"p50_ms": round(float(np.percentile(values, 50)), 3),
            "p99_ms": round(float(np.percentile(values, 99)), 3)}  # fmt: skip


QUERIES = [
    "graph neural networks for molecules", "diffusion model image editing",
    "low-resource machine translation", "LLM hallucination detection",
    "3d gaussian splatting", "sparse mixture of experts routing",
    "reinforcement learning from human feedback", "federated learning privacy",
    "vision language model benchmark", "retrieval augmented generation for code",
]  # fmt: skip


def runtime(args: argparse.Namespace) -> None:
    from paperfeed.search.embed import open_default
    from paperfeed.settings import load_settings

    embedder = open_default(load_settings(data_dir=Path(tempfile.mkdtemp())))
    texts = _texts(args.corpus, args.docs)
    embedder.embed_documents(texts[:8])  # warm up both sessions
    wall, cpu, _ = _timed(lambda: embedder.embed_documents(texts))
    _emit(part="default-model documents", docs=len(texts), threads=embedder.threads,
          docs_per_s=round(len(texts) / wall, 1), docs_per_cpu_s=round(len(texts) / cpu, 1),
          peak_rss_mib=round(_peak_rss_mib()))  # fmt: skip
    walls, cpus = [], []
    for i in range(args.queries):
        query = f"{QUERIES[i % len(QUERIES)]} {i}"  # distinct: the LRU cache is not measured
        wall, cpu, _ = _timed(lambda q=query: embedder.embed_query(q))
        walls.append(wall)
        cpus.append(cpu)
    _emit(part="default-model query", queries=len(walls), wall=_percentiles(walls[10:]),
          cpu=_percentiles(cpus[10:]))  # fmt: skip


def bulk(args: argparse.Namespace) -> None:
    from paperfeed.library import Library
    from paperfeed.search.embed import open_bulk
    from paperfeed.settings import load_settings

    data_dir = Path(args.data_dir or tempfile.mkdtemp())
    settings = load_settings(data_dir=data_dir)
    wall, cpu, model = _timed(lambda: open_bulk(settings))
    _emit(part="bulk model load or build", wall_s=round(wall, 1), cpu_s=round(cpu, 1),
          model_id=model.model_id)  # fmt: skip
    texts = _texts(args.corpus, args.docs)
    model.embed_documents(texts[:100])
    wall, cpu, _ = _timed(lambda: model.embed_documents(texts))
    _emit(part="bulk model documents", docs=len(texts), docs_per_s=round(len(texts) / wall),
          docs_per_cpu_s=round(len(texts) / cpu))  # fmt: skip
    walls = []
    for i in range(300):
        wall, _, _ = _timed(lambda i=i: model.embed_query(QUERIES[i % len(QUERIES)]))
        walls.append(wall)
    _emit(part="bulk model query", **_percentiles(walls[10:]))
    if args.import_file:
        with Library.open(settings) as library:
            wall, cpu, _ = _timed(lambda: library.import_files([args.import_file], embed=False))
            _emit(part="import (no embedding)", wall_s=round(wall, 1))
            wall, cpu, report = _timed(lambda: library.embed(bulk=True))
            _emit(part="paperfeed embed --bulk", papers=report["embedded"],
                  papers_per_s=round(report["embedded"] / wall), wall_s=round(wall, 1),
                  cpu_s=round(cpu, 1), peak_rss_mib=round(_peak_rss_mib()))  # fmt: skip


def _synthetic(n: int, dim: int, fit: np.ndarray | None, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float16)
    if fit is not None:
        mean = fit.mean(axis=0)
        factor = np.linalg.cholesky(np.cov(fit, rowvar=False) + 1e-6 * np.eye(dim))
    for start in range(0, n, 100_000):
        count = min(100_000, n - start)
        block = rng.standard_normal((count, dim))
        if fit is not None:
            block = mean + block @ factor.T
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + count] = block
    return out


def _scores(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Exact cosines, 100k rows at a time (a float32 copy of 1M rows would be 1.5 GB)."""
    return np.concatenate(
        [matrix[i : i + 100_000].astype(np.float32) @ query for i in range(0, len(matrix), 100_000)]
    )


def ann(args: argparse.Namespace) -> None:
    fit = np.load(args.fit).astype(np.float64) if args.fit else None
    for size in (int(s) for s in args.sizes.split(",")):
        _ann_at(size, fit, args)


def _ann_at(size: int, fit: np.ndarray | None, args: argparse.Namespace) -> None:
    from paperfeed.search.vectors import EXACT_LIMIT, RERANK, VectorIndex

    dim = fit.shape[1] if fit is not None else 384
    matrix = _synthetic(size, dim, fit)
    queries = _synthetic(args.queries, dim, fit, seed=1).astype(np.float32)
    ids = [f"s{i:07d}" for i in range(size)]
    directory = Path(tempfile.mkdtemp()) / "vectors"
    index = VectorIndex(
        None,  # type: ignore[arg-type]  # searching needs no database
        directory,
        exact_limit=EXACT_LIMIT if args.exact_limit is None else args.exact_limit,
        rerank=args.rerank or RERANK,
    )
    wall, _, _ = _timed(lambda: index.write_arrays("synthetic", ids, matrix))
    disk = sum(p.stat().st_size for p in directory.glob("*.npy"))
    rss_before = _rss_mib()
    index.search(queries[0], 10)
    mode = "exact" if size <= index.exact_limit else "hamming+rerank"
    walls, cpus, recall = [], [], []
    truth_every = max(1, args.queries // 50)
    for i, query in enumerate(queries):
        wall_q, cpu_q, hits = _timed(lambda q=query: index.search(q, 10, exclude=["s0000000"]))
        walls.append(wall_q)
        cpus.append(cpu_q)
        if i % truth_every == 0:
            exact = np.argsort(-_scores(matrix, query), kind="stable")[:11]
            truth = {ids[j] for j in exact if ids[j] != "s0000000"}
            recall.append(len(truth & {pid for pid, _ in hits}) / 10)
    _emit(part="ann search k=10", size=size, dim=dim, mode=mode, rerank=index.rerank,
          fitted=fit is not None, write_s=round(wall, 1), disk_mib=round(disk / 2**20),
          wall=_percentiles(walls[5:]), cpu=_percentiles(cpus[5:]),
          recall_at_10=round(float(np.mean(recall)), 4),
          rss_mib_added=round(_rss_mib() - rss_before), rss_mib=round(_rss_mib()))  # fmt: skip
    shutil.rmtree(directory.parent, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("runtime")
    p.add_argument("corpus", type=Path)
    p.add_argument("--docs", type=int, default=256)
    p.add_argument("--queries", type=int, default=300)
    p = sub.add_parser("bulk")
    p.add_argument("corpus", type=Path)
    p.add_argument("--docs", type=int, default=20_000)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--import-file", type=Path, help="Also time `embed --bulk` after importing it.")
    p = sub.add_parser("ann")
    p.add_argument("--sizes", default="75000,1000000")
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--fit", type=Path, help="Real embeddings (.npy) to fit the distribution to.")
    p.add_argument("--exact-limit", type=int, help="Override EXACT_LIMIT (0: always Hamming).")
    p.add_argument("--rerank", type=int, help="Override RERANK.")
    args = parser.parse_args(argv)
    {"runtime": runtime, "bulk": bulk, "ann": ann}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
