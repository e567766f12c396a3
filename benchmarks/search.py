"""Search speed and size: build time, disk, RSS and p50/p99 latency at 75k and 1M papers.

    python benchmarks/search.py [CORPUS] [--synthetic N] [--vectors synthetic|bulk|default]
        [--data-dir DIR] [--engine sqlite|postgresql] [--queries 300] [--throughput N]

CORPUS defaults to ../shared/data/arxiv-cs-75k.jsonl.gz (74,728 real arXiv cs papers).
``--synthetic 1000000`` adds generated papers to the real ones until there are N:
each is made (fixed seed) from a real "parent" paper, its title with a third of the
words swapped for title words drawn by corpus frequency, its abstract from the
parent's sentences mixed with sentences of other abstracts, authors from the corpus's
author pool, the parent's categories and a nearby date.

Vectors (``--vectors``):

* ``synthetic`` (default): the real index classes are fed by an embedder that returns,
  for each text, a mix of two real default-model vectors plus noise (picked by a hash
  of the text, so a rebuild gives the same vectors). The vectors carry the default
  model's id, so every semantic query is embedded by the real default model: the
  latencies include query embedding. The real vectors are the default model's
  embeddings of 2,000 random corpus papers, made once and cached.
* ``bulk`` / ``default``: really embed every paper with that model (``default`` takes
  hours at 75k on 2 cores).

The build runs here; latencies are measured in a fresh child process that opens
the data directory the way ``paperfeed serve`` does, so its RSS is that of a server
that has answered the queries (not of the build). Every line prints the load average.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parents[1] / "shared/data/arxiv-cs-75k.jsonl.gz"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "paperfeed-bench"
SEED = 20261122
BASE_VECTORS = 2000
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def read_corpus(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# -- synthetic corpus -------------------------------------------------------------------------


def synthetic_papers(real: Sequence[dict[str, Any]], count: int, seed: int = SEED):
    """``count`` generated papers (a generator: a million never sit in memory at once)."""
    rng = random.Random(seed)
    sentences = [_SENTENCE.split(" ".join(p["abstract"].split())) for p in real]
    flat = [s for group in sentences for s in group]
    title_words = Counter(w for p in real for w in p["title"].split())
    vocab, weights = zip(*title_words.items(), strict=True)
    cumulative = np.cumsum(np.array(weights, dtype=np.float64))
    authors = sorted({a for p in real for a in p["authors"]})
    start = date(2025, 3, 1)
    for n in range(count):
        parent_index = rng.randrange(len(real))
        parent = real[parent_index]
        words = parent["title"].split()
        for i in range(len(words)):
            if rng.random() < 0.33:
                pick = int(np.searchsorted(cumulative, rng.random() * cumulative[-1]))
                words[i] = vocab[min(pick, len(vocab) - 1)]
        own = sentences[parent_index]
        abstract: list[str] = []
        for sentence in own:
            abstract.append(sentence if rng.random() < 0.6 else rng.choice(flat))
        while len(" ".join(abstract).split()) < 150:
            abstract.append(rng.choice(flat))
        day = date.fromisoformat(parent["listing_date"]) + timedelta(days=rng.randint(-20, 20))
        day = max(day, start)
        yield {
            # arXiv-shaped ids that no real paper has: months of the years 2030 onwards,
            # 99,999 papers a month (3001.00001 ... 3012.99999, 3101.00001, ...).
            "id": f"{30 + n // (12 * 99_999)}{1 + n // 99_999 % 12:02d}.{n % 99_999 + 1:05d}",
            "title": " ".join(words),
            "authors": rng.sample(authors, rng.randint(1, 8)),
            "categories": parent["categories"],
            "comment": None,
            "abstract": " ".join(abstract),
            "listing_date": day.isoformat(),
        }


def kaggle_shape(row: dict[str, Any]) -> dict[str, Any]:
    """A paper as a line of the Kaggle arXiv snapshot (arxiv-metadata-oai-snapshot.json):
    authors as one string and parsed, categories space-separated, versions with dates."""
    day = date.fromisoformat(row["listing_date"])
    created = f"{day.strftime('%a, %d %b %Y')} 17:00:00 GMT"
    parsed = [[name.split()[-1], " ".join(name.split()[:-1]), ""] for name in row["authors"]]
    return {
        "id": row["id"], "submitter": row["authors"][0] if row["authors"] else None,
        "authors": ", ".join(row["authors"]), "title": row["title"],
        "comments": row.get("comment"), "journal-ref": None, "doi": None, "report-no": None,
        "categories": " ".join(row["categories"]), "license": None,
        "abstract": "  " + row["abstract"] + "\n",
        "versions": [{"version": "v1", "created": created}],
        "update_date": day.isoformat(), "authors_parsed": parsed,
    }  # fmt: skip


def write_corpus(
    real: list[dict[str, Any]], total: int, path: Path, *, kaggle: bool = False
) -> int:
    shape = kaggle_shape if kaggle else (lambda row: row)
    with gzip.open(path, "wt", compresslevel=1) as sink:
        for row in real:
            sink.write(json.dumps(shape(row)) + "\n")
        made = 0
        for row in synthetic_papers(real, max(total - len(real), 0)):
            sink.write(json.dumps(shape(row)) + "\n")
            made += 1
    return len(real) + made


# -- synthetic vectors --------------------------------------------------------------------------


def base_vectors(
    settings: Any, real: Sequence[dict[str, Any]], count: int = BASE_VECTORS
) -> np.ndarray:
    """Default-model vectors of ``count`` random real papers (cached on disk)."""
    from paperfeed.search.embed import DEFAULT_MODEL_ID, open_embedder, passage

    key = hashlib.sha256(f"{DEFAULT_MODEL_ID}|{len(real)}|{count}|{SEED}".encode()).hexdigest()
    cached = CACHE / f"base-vectors-{key[:16]}.npy"
    if cached.exists():
        return np.load(cached)
    chosen = random.Random(SEED).sample(list(real), min(count, len(real)))
    embedder = open_embedder(settings)
    started = time.perf_counter()
    vectors = embedder.embed_documents([passage(p["title"], p["abstract"]) for p in chosen])
    print(
        f"base vectors: {len(chosen)} papers embedded with the default model in"
        f" {time.perf_counter() - started:.0f} s ({load()})",
        flush=True,
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cached, vectors.astype(np.float32))
    return vectors


class SyntheticEmbedder:
    """Real default-model vectors, mixed and perturbed per text; the default model's id.

    Only for benchmarks: it lets the real vector index and search path run at a
    million papers without hours of embedding, while queries are still embedded by
    the real model (the vectors share its space and id).
    """

    batch_size_hint = 2000

    def __init__(self, base: np.ndarray, model_id: str) -> None:
        self.base = base.astype(np.float32)
        self.model_id = model_id
        self.dim = int(base.shape[1])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
            a, b = (
                int.from_bytes(digest[:4]) % len(self.base),
                int.from_bytes(digest[4:8]) % len(self.base),
            )
            noise = np.random.default_rng(int.from_bytes(digest[8:])).standard_normal(self.dim)
            vector = self.base[a] + 0.5 * self.base[b] + 0.03 * noise.astype(np.float32)
            out[row] = vector / np.linalg.norm(vector)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


# -- building -----------------------------------------------------------------------------------


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def build(args: argparse.Namespace, settings: Any, real: list[dict[str, Any]]) -> dict[str, Any]:
    """Import, index and embed, skipping the steps an earlier (interrupted) run finished."""
    from paperfeed.library import Library

    report: dict[str, Any] = {}
    with Library.open(settings) as library:
        empty = library.storage.papers.count() == 0
    if empty:
        with tempfile.TemporaryDirectory() as folder:
            corpus = Path(folder) / "corpus.jsonl.gz"
            started = time.perf_counter()
            total = write_corpus(real, args.synthetic or len(real), corpus, kaggle=args.kaggle)
            report["generate_s"] = time.perf_counter() - started
            print(f"corpus: {total:,} papers written in {report['generate_s']:.0f} s ({load()})",
                  flush=True)  # fmt: skip
            with Library.open(settings) as library:
                started = time.perf_counter()
                # One transaction, then the keyword index follows the change log (no embedding).
                library.import_files([corpus], embed=False)
                report["import_s"] = time.perf_counter() - started
                print(f"import + keyword sync: {report['import_s']:.0f} s ({load()})", flush=True)
            keyword_done = False
    else:
        keyword_done = (settings.data_dir / "index" / "keyword").exists()
    with Library.open(settings) as library:
        if not keyword_done:
            started = time.perf_counter()
            library.search_service.keyword.rebuild()  # `paperfeed index rebuild`'s keyword half
            report["keyword_build_s"] = time.perf_counter() - started
            print(f"keyword index: {report['keyword_build_s']:.0f} s ({load()})", flush=True)
        papers = library.storage.papers.count()
        state = library.search_service.vectors.read_state() or {}
        if int(state.get("live", 0)) < papers:
            started = time.perf_counter()
            if args.vectors == "synthetic":
                from paperfeed.search.embed import DEFAULT_MODEL_ID

                base = base_vectors(settings, real, args.base_vectors)
                embedder = SyntheticEmbedder(base, DEFAULT_MODEL_ID)
                started = time.perf_counter()
                library.search_service.vectors.sync(embedder)
            else:
                library.sync_search(None, embed="bulk" if args.vectors == "bulk" else True)
            report["vector_build_s"] = time.perf_counter() - started
            print(f"vector index ({args.vectors}): {report['vector_build_s']:.0f} s ({load()})",
                  flush=True)  # fmt: skip
        report["papers"] = papers
        if library.storage.db.dialect == "sqlite":
            library.storage.db.checkpoint()  # type: ignore[attr-defined]
        report["database_bytes"] = library.storage.db.size_bytes()
    report["keyword_bytes"] = folder_bytes(settings.data_dir / "index" / "keyword")
    report["vector_bytes"] = folder_bytes(settings.data_dir / "index" / "vectors")
    report["build_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


# -- measuring (in a child process) -------------------------------------------------------------


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9]")
_OPERATORS = {"AND", "OR", "NOT"}


def make_queries(titles: Sequence[str], count: int, seed: int) -> list[str]:
    """Two-to-four-word queries cut from real titles (what people type), reproducibly.
    Only plain words: the benchmark times search, not the query syntax's error path."""
    rng = random.Random(seed)
    queries = []
    while len(queries) < count:
        words = [w for w in _WORD.findall(rng.choice(titles)) if len(w) > 2 and w not in _OPERATORS]
        if len(words) < 2:
            continue
        size = min(len(words), rng.randint(2, 4))
        start = rng.randrange(len(words) - size + 1)
        queries.append(" ".join(words[start : start + size]))
    return queries


def rss_mib(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmHWM``: its peak). From /proc, not getrusage:
    a child's ru_maxrss starts at its parent's peak on Linux."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentiles(samples: Sequence[float], cpu: Sequence[float] = ()) -> dict[str, float]:
    """p50/p99 of wall-clock seconds (as ms), plus the same of this process's CPU time:
    on a shared machine the CPU figure is what an idle machine's latency would be for
    single-threaded work (the wall figure includes waiting for a core)."""
    values = np.array(samples) * 1000
    out = {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "n": len(values),
    }
    if len(cpu):
        cpu_ms = np.array(cpu) * 1000
        out["cpu_p50_ms"] = float(np.percentile(cpu_ms, 50))
        out["cpu_p99_ms"] = float(np.percentile(cpu_ms, 99))
    return out


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started, time.process_time() - cpu


def measure(settings: Any, count: int) -> dict[str, Any]:
    from paperfeed.library import Library

    result: dict[str, Any] = {"load_start": os.getloadavg()[0]}
    with Library.open(settings, migrate=False) as library:
        sample = library.storage.papers.list(sort="feed", limit=20_000)
        titles = [p.title for p in sample if p.title]
        rng = random.Random(SEED)
        seeds = [p.id for p in rng.sample(sample, min(count, len(sample)))]
        # Warm-up: opens the indexes and loads the model, as a server's first requests do.
        started = time.perf_counter()
        for mode in ("keyword", "semantic", "hybrid"):
            library.search("warm up query", mode=mode, limit=10)
        library.related(seeds[0], limit=10)
        result["first_queries_s"] = time.perf_counter() - started
        result["rss_after_open_mib"] = rss_mib()
        for offset, mode in enumerate(("keyword", "semantic", "hybrid")):
            # A fresh query set per mode: the model's query cache must not help.
            queries = make_queries(titles, count, SEED + offset + 1)
            times, cpus = [], []
            notices: Counter[str] = Counter()
            for query in queries:
                results, wall, cpu = timed(library.search, query, mode=mode, limit=10)
                times.append(wall)
                cpus.append(cpu)
                if results.mode_used != mode:
                    notices[results.notice or "fell back"] += 1
            result[mode] = percentiles(times, cpus)
            if notices:
                result[mode]["fallbacks"] = dict(notices)
        times, cpus = [], []
        for pid in seeds:
            _, wall, cpu = timed(library.related, pid, limit=10)
            times.append(wall)
            cpus.append(cpu)
        result["related"] = percentiles(times, cpus)
        result["paper_page"] = paper_pages(library, settings, seeds)
        # The parts of a semantic query: embedding the text, then the vector index.
        service = library.search_service
        embedder = service.embedder()
        if embedder is not None:
            embeds, searches, embed_cpu, search_cpu = [], [], [], []
            for query in make_queries(titles, count, SEED + 9):
                vector, wall, cpu = timed(embedder.embed_query, query)
                embeds.append(wall)
                embed_cpu.append(cpu)
                _, wall, cpu = timed(service.vectors.search, vector, 50)
                searches.append(wall)
                search_cpu.append(cpu)
            result["embed_query"] = percentiles(embeds, embed_cpu)
            result["vector_search_top50"] = percentiles(searches, search_cpu)
        # The parts of a keyword query: the index (parse + tantivy, count included),
        # then reading the page's papers from the database.
        from paperfeed.search.query import parse_query

        index_times, index_cpu, fetch_times, fetch_cpu = [], [], [], []
        relaxed = 0
        for query in make_queries(titles, count, SEED + 11):
            hits, wall, cpu = timed(service.keyword.search, parse_query(query), limit=10)
            index_times.append(wall)
            index_cpu.append(cpu)
            relaxed += bool(hits.relaxed)
            _, wall, cpu = timed(library.storage.papers.get_many, list(hits.ids))
            fetch_times.append(wall)
            fetch_cpu.append(cpu)
        result["keyword_index_top10"] = percentiles(index_times, index_cpu)
        result["keyword_index_top10"]["relaxed_to_or"] = relaxed
        result["fetch_10_papers"] = percentiles(fetch_times, fetch_cpu)
    result["rss_mib"] = rss_mib()
    result["peak_rss_mib"] = rss_mib("VmHWM")
    result["load_end"] = os.getloadavg()[0]
    return result


def paper_pages(library: Any, settings: Any, paper_ids: Sequence[str]) -> dict[str, Any]:
    """``GET /papers/{id}`` through the real app (logged out): the page with its related
    papers, rendered. In-process (no HTTP server, no scheduler or index follower), so
    the CPU time is the page's own."""
    from starlette.testclient import TestClient

    from paperfeed.web.app import create_app

    client = TestClient(create_app(library, settings))
    client.get(f"/papers/{paper_ids[-1]}")  # templates compiled, caches warm
    times, cpus = [], []
    for pid in paper_ids:
        response, wall, cpu = timed(client.get, f"/papers/{pid}")
        assert response.status_code == 200, (pid, response.status_code)
        times.append(wall)
        cpus.append(cpu)
    return percentiles(times, cpus)


def embedding_throughput(
    settings: Any, real: Sequence[dict[str, Any]], count: int
) -> dict[str, Any]:
    """Papers/s of the default and the bulk model on ``count`` random real papers."""
    from paperfeed.search.embed import open_embedder, passage

    texts = [
        passage(p["title"], p["abstract"])
        for p in random.Random(SEED + 7).sample(list(real), count)
    ]
    out: dict[str, Any] = {}
    for name, bulk in (("bulk", True), ("default", False)):
        embedder = open_embedder(settings, bulk=bulk)
        embedder.embed_documents(texts[:8])
        subset = texts if bulk else texts[: max(64, count // 10)]
        started, cpu = time.perf_counter(), time.process_time()
        embedder.embed_documents(subset)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        out[name] = {
            "model_id": embedder.model_id,
            "papers": len(subset),
            "papers_per_s": len(subset) / wall,
            "papers_per_cpu_s": len(subset) / cpu,
            "load": os.getloadavg()[0],
        }
        print(
            f"embedding {name}: {len(subset)} papers, {len(subset) / wall:.0f}/s wall,"
            f" {len(subset) / cpu:.0f} per CPU-second ({load()})",
            flush=True,
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--synthetic",
        type=int,
        default=0,
        metavar="N",
        help="grow the corpus to N papers with generated ones",
    )
    parser.add_argument("--vectors", choices=("synthetic", "bulk", "default"), default="synthetic")
    parser.add_argument("--data-dir", type=Path, help="build here (or reuse an earlier build)")
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url")
    parser.add_argument("--queries", type=int, default=300, help="queries per mode")
    parser.add_argument(
        "--throughput",
        type=int,
        default=0,
        metavar="N",
        help="also measure embedding papers/s on N real papers (bulk; default on N/10)",
    )
    parser.add_argument(
        "--base-vectors",
        type=int,
        default=BASE_VECTORS,
        metavar="N",
        help="real default-model vectors the synthetic ones are made from",
    )
    parser.add_argument("--limit", type=int, default=0, help="use only the first N real papers")
    parser.add_argument(
        "--kaggle",
        action="store_true",
        help="write the corpus file in the Kaggle arXiv snapshot's shape (the import parses that)",
    )
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from paperfeed.settings import load_settings

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="paperfeed-search-bench-"))
    overrides: dict[str, Any] = {"data_dir": data_dir}
    if args.engine == "postgresql":
        url = args.database_url or os.environ.get("PAPERFEED_TEST_DATABASE_URL")
        if not url:
            parser.error("--engine postgresql needs --database-url")
        overrides.update(database_url=url, database_schema=f"bench_{data_dir.name[-8:]}".lower())
    settings = load_settings(**overrides)

    if args.measure_only:
        print(json.dumps(measure(settings, args.queries)))
        return 0

    real = read_corpus(args.corpus)
    if args.limit:
        real = real[: args.limit]
    report: dict[str, Any] = {"data_dir": str(data_dir), "vectors": args.vectors}
    if args.throughput:
        report["embedding"] = embedding_throughput(settings, real, args.throughput)
    report["build"] = build(args, settings, real)
    print(json.dumps(report["build"]), flush=True)
    child = subprocess.run(
        [sys.executable, __file__, "--measure-only", "--data-dir", str(data_dir),
         "--engine", args.engine, "--queries", str(args.queries),
         *(["--database-url", overrides["database_url"]] if args.engine == "postgresql" else [])],
        capture_output=True, text=True, check=False,
        env={**os.environ, **({"PAPERFEED_DATABASE_SCHEMA": overrides["database_schema"]}
                              if args.engine == "postgresql" else {})},
    )  # fmt: skip
    if child.returncode != 0:
        print(child.stderr, file=sys.stderr)
        return child.returncode
    report["serve"] = json.loads(child.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
