"""Choosing the map's projection: quality and build time of PCA, openTSNE and UMAP,
side by side on the same vectors.

    python benchmarks/map_projection.py --vectors DIR_OR_NPZ_GLOB [--sample 20000]
    python benchmarks/map_projection.py --synthetic 1000000 [--methods pca,opentsne]

Every method is fitted on a random sample of at most ``--sample`` papers; the
other papers are placed by the map's own rule (:func:`paperfeed.explore.projection.place`:
the similarity-weighted mean of their nearest fitted neighbours), which is also how
the map takes in new papers between refits. ``--full`` also fits every paper
directly where that is feasible, to show what the sampling costs.

Quality is neighbourhood preservation: for 1,000 random papers, the share of their
10 nearest neighbours by cosine (among all papers) that are also among their 10
nearest on the map. 1.0 is perfect; random placement scores about 10/N.
Vectors: a data dir's vector index (``DIR/index/vectors``), ``.npz`` files with
``vectors`` (e.g. the 75k cache chunks), or synthetic ones drawn like
``benchmarks/search.py`` makes them (mixtures of real vectors plus noise).
Every line prints the load average; CPU time is printed beside wall time.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.explore.projection import fit_projection, place


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def read_vectors(spec: str) -> np.ndarray:
    path = Path(spec)
    if path.is_dir():
        state = json.loads((path / "index/vectors/state.json").read_text())
        generation, slots = state["generation"], state["slots"]
        vectors = np.load(path / f"index/vectors/vectors.{generation}.npy", mmap_mode="r")
        alive = np.load(path / f"index/vectors/alive.{generation}.npy", mmap_mode="r")
        return np.asarray(vectors[:slots][alive[:slots] == 1], dtype=np.float32)
    files = sorted(glob.glob(spec))
    return np.concatenate([np.load(f)["vectors"] for f in files]).astype(np.float32)


def synthetic(base: np.ndarray, count: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((count, base.shape[1]), dtype=np.float32)
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        a = rng.integers(0, len(base), n)
        b = rng.integers(0, len(base), n)
        block = base[a] + 0.5 * base[b] + 0.03 * rng.standard_normal((n, base.shape[1]))
        out[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def preservation(vectors: np.ndarray, coords: np.ndarray, k: int = 10, probes: int = 1000) -> float:
    import faiss

    rng = np.random.default_rng(1)
    chosen = rng.choice(len(vectors), min(probes, len(vectors)), replace=False)
    high = faiss.IndexFlatIP(vectors.shape[1])
    high.add(np.ascontiguousarray(vectors))
    _, near_high = high.search(np.ascontiguousarray(vectors[chosen]), k + 1)
    low = faiss.IndexFlatL2(2)
    low.add(np.ascontiguousarray(coords, dtype=np.float32))
    _, near_low = low.search(np.ascontiguousarray(coords[chosen], dtype=np.float32), k + 1)
    kept = [
        len((set(h) - {i}) & (set(lo) - {i})) / k
        for i, h, lo in zip(chosen, near_high, near_low, strict=True)
    ]
    return float(np.mean(kept))


def timed(function: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", default="/work/cache/minilm-75k/chunk-*.npz")
    parser.add_argument("--synthetic", type=int, default=0, metavar="N")
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--methods", default="pca,opentsne,umap")
    parser.add_argument("--full", action="store_true", help="also fit every paper directly")
    args = parser.parse_args(argv)

    vectors = read_vectors(args.vectors)
    if args.synthetic:
        vectors = synthetic(vectors, args.synthetic)
    print(f"{len(vectors):,} vectors of {vectors.shape[1]} dims ({load()})", flush=True)
    rng = np.random.default_rng(0)
    results = []
    for method in args.methods.split(","):
        variants = [("sample", min(args.sample, len(vectors)))]
        if args.full and args.sample < len(vectors):
            variants.append(("full", len(vectors)))
        for variant, size in variants:
            anchors = np.sort(rng.choice(len(vectors), size, replace=False))
            fitted, fit_wall, fit_cpu = timed(
                lambda a=anchors, m=method: fit_projection(vectors[a], method=m)
            )
            if size < len(vectors):
                coords, place_wall, place_cpu = timed(
                    lambda a=anchors, f=fitted: place(vectors, vectors[a], f)
                )
            else:
                coords, place_wall, place_cpu = fitted, 0.0, 0.0
            quality = preservation(vectors, coords)
            row = {
                "method": method, "variant": variant, "papers": len(vectors), "fitted": size,
                "fit_s": round(fit_wall, 1), "fit_cpu_s": round(fit_cpu, 1),
                "place_s": round(place_wall, 1), "place_cpu_s": round(place_cpu, 1),
                "knn10_preserved": round(quality, 3),
            }  # fmt: skip
            results.append(row)
            print(json.dumps(row), f"({load()})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
