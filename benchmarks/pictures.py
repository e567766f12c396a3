"""Speed of the picture pages at scale: a trend chart for a one-word query, the map
page's first paint, an author page. p50/p99 wall and CPU time, load average.

    python benchmarks/pictures.py --data-dir DIR [--papers 1000000] [--requests 200]

Builds DIR once (reused by later runs): the 74,728 real papers of
``../shared/data/arxiv-cs-75k.jsonl.gz`` plus generated ones up to ``--papers``
(titles and abstracts recombined from real sentences, real author names, the
parent paper's categories, dates spread like the real ones), written straight
into the papers table of a SQLite database made by the real migrations (the
ingest pipeline is measured by ``benchmarks/ingest.py``), then the real keyword
index build. The map files are written from a synthetic layout (40 blobs, one
per topic of the parent paper): placing a million papers needs their vectors,
whose cost ``benchmarks/map_projection.py`` measures; drawing the map, which is
what this times, depends only on the positions.

Requests go through the whole ASGI app in process (httpx's ASGI transport):
routing, the view, the SVG, the template. The first request of each kind is
reported apart (cold: loads the index reader, the map arrays).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
CORPUS = Path("/work/shared/data/arxiv-cs-75k.jsonl.gz")
if not CORPUS.exists():
    CORPUS = HERE.parents[1] / "shared/data/arxiv-cs-75k.jsonl.gz"
SEED = 20261203
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def read_corpus() -> list[dict[str, Any]]:
    with gzip.open(CORPUS, "rt") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def generated(real: list[dict[str, Any]], count: int):  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)
    sentences = [_SENTENCE.split(" ".join(p["abstract"].split())) for p in real]
    title_words = [w for p in real for w in p["title"].split()]
    for n in range(count):
        parent_index = rng.randrange(len(real))
        parent = real[parent_index]
        words = parent["title"].split()
        words = [rng.choice(title_words) if rng.random() < 0.33 else w for w in words]
        abstract = [s if rng.random() < 0.6 else rng.choice(rng.choice(sentences))
                    for s in sentences[parent_index]]  # fmt: skip
        pool = real[rng.randrange(len(real))]["authors"] + parent["authors"]
        yield {
            "id": f"9{n // 100_000:03d}.{n % 100_000:05d}",
            "title": " ".join(words),
            "abstract": " ".join(abstract),
            "authors": rng.sample(pool, min(len(pool), rng.randint(1, 6))),
            "categories": parent["categories"],
            "listing_date": parent["listing_date"],
            "parent": parent_index,
        }


def build(data_dir: Path, papers: int) -> dict[str, Any]:
    from paperfeed.library import Library
    from paperfeed.models import utc_now
    from paperfeed.settings import load_settings
    from paperfeed.storage.values import instant_text

    settings = load_settings(data_dir=data_dir)
    report: dict[str, Any] = {}
    with Library.open(settings) as library:
        if library.storage.papers.count() >= papers:
            return {"reused": True}
        real = read_corpus()
        started, cpu = time.perf_counter(), time.process_time()
        now = instant_text(utc_now())
        columns = ("id, title, abstract, authors, author_count, categories, primary_category,"
                   " feed_date, first_listed_on, metadata_source, metadata_rank, content_hash,"
                   " created_at, modified_at")  # fmt: skip
        sql = f"INSERT INTO papers ({columns}) VALUES ({', '.join('?' * 14)})"

        def row(p: dict[str, Any]) -> tuple[Any, ...]:
            return (p["id"], p["title"], p["abstract"], json.dumps(p["authors"]),
                    len(p["authors"]), json.dumps(p["categories"]), p["categories"][0],
                    p["listing_date"], p["listing_date"], "bench", 0, p["id"], now, now)  # fmt: skip

        rows = [row(p) for p in real]
        written = 0
        for paper in generated(real, max(papers - len(real), 0)):
            rows.append(row(paper))
            if len(rows) >= 50_000:
                with library.storage.db.transaction() as tx:
                    tx.executemany(sql, rows)
                written += len(rows)
                rows = []
                print(f"  {written:,} papers written ({load()})", flush=True)
        with library.storage.db.transaction() as tx:
            tx.executemany(sql, rows)
        report["papers_s"] = round(time.perf_counter() - started, 1)
        report["papers_cpu_s"] = round(time.process_time() - cpu, 1)
        started, cpu = time.perf_counter(), time.process_time()
        library.search_service.keyword.rebuild()
        report["keyword_s"] = round(time.perf_counter() - started, 1)
        report["keyword_cpu_s"] = round(time.process_time() - cpu, 1)
        fabricate_map(library, real)
    return report


def fabricate_map(library: Any, real: list[dict[str, Any]]) -> None:
    """Map files from a synthetic layout: each paper near the blob of its first category."""
    from paperfeed.search.changelog import ChangeCursor, log_origin

    field_map = library.field_map
    ids = [row["id"] for row in library.storage.db.query("SELECT id FROM papers ORDER BY id")]
    cats = [row["primary_category"] or "" for row in
            library.storage.db.query("SELECT primary_category FROM papers ORDER BY id")]  # fmt: skip
    rng = np.random.default_rng(SEED)
    centres = rng.uniform(-0.8, 0.8, size=(40, 2)).astype(np.float32)
    blob = np.array([hash(c) % 40 for c in cats])
    xy = centres[blob] + rng.normal(0, 0.06, size=(len(ids), 2)).astype(np.float32)
    field_map.directory.mkdir(parents=True, exist_ok=True)
    files = field_map._files(1)
    arrays = field_map._create(files, len(ids))
    arrays["xy"][:] = xy
    arrays["ids"][:] = [i.encode() for i in ids]
    arrays["cluster"][:] = blob
    arrays["alive"][:] = 1
    for array in arrays.values():
        array.flush()
    np.save(files["anchors"], np.zeros((1, 8), dtype=np.float16))
    np.save(files["anchor_xy"], np.zeros((1, 2), dtype=np.float32))
    sizes = np.bincount(blob, minlength=40)
    field_map._write_state({
        "model_id": "synthetic-layout", "generation": 1, "capacity": len(ids), "slots": len(ids),
        "live": len(ids), "fitted": 1, "method": "synthetic", "origin": log_origin(library.storage),
        "neighbourhoods": [{"id": k, "words": [f"topic {k}", "words"], "x": float(centres[k][0]),
                            "y": float(centres[k][1]), "papers": int(sizes[k])} for k in range(40)],
        "waiting": [], "pending": 0, **ChangeCursor.at_head(library.storage).as_dict(),
    })  # fmt: skip


def percentiles(walls: list[float], cpus: list[float]) -> dict[str, float]:
    return {
        "n": len(walls),
        "p50_ms": round(float(np.percentile(walls, 50)) * 1000, 1),
        "p99_ms": round(float(np.percentile(walls, 99)) * 1000, 1),
        "cpu_p50_ms": round(float(np.percentile(cpus, 50)) * 1000, 1),
        "cpu_p99_ms": round(float(np.percentile(cpus, 99)) * 1000, 1),
    }


def measure(data_dir: Path, requests: int) -> dict[str, Any]:
    import httpx

    from paperfeed.library import Library
    from paperfeed.settings import load_settings
    from paperfeed.web.app import create_app

    settings = load_settings(data_dir=data_dir, run_scheduler=False)
    library = Library.open(settings)
    library.field_map.model_id = lambda: "synthetic-layout"  # the fabricated layout's model
    app = create_app(library, settings)
    rng = random.Random(SEED)
    titles = [r["title"] for r in library.storage.db.query(
        "SELECT title FROM papers WHERE id NOT LIKE '9%' LIMIT 20000")]  # fmt: skip
    words = [w.lower() for t in titles for w in re.findall(r"[A-Za-z]{4,}", t)]
    one_word = [rng.choice(words) for _ in range(requests)]
    authors = [a for r in library.storage.db.query(
        "SELECT authors FROM papers WHERE id NOT LIKE '9%' LIMIT 20000")
        for a in json.loads(r["authors"])]  # fmt: skip
    author_names = [rng.choice(authors) for _ in range(requests)]
    from urllib.parse import quote

    kinds = {
        "trend_one_word": [f"/trends?q={quote(w)}" for w in one_word],
        "trend_service_one_word": one_word,
        "map_first_paint": ["/map"] * requests,
        "map_search_highlight": [f"/map?q={quote(w)}" for w in one_word],
        "author_page": ["/authors/" + quote(a, safe="") for a in author_names],
    }
    results: dict[str, Any] = {"papers": library.storage.papers.count()}

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for kind, targets in kinds.items():
                walls: list[float] = []
                cpus: list[float] = []
                cold = None
                for n, target in enumerate(targets):
                    wall, cpu = time.perf_counter(), time.process_time()
                    if kind == "trend_service_one_word":
                        library.trend([target])
                        status = 200
                    else:
                        status = (await client.get(target)).status_code
                    elapsed = time.perf_counter() - wall, time.process_time() - cpu
                    if status not in (200, 404):
                        raise SystemExit(f"{target}: HTTP {status}")
                    if n == 0:
                        cold = round(elapsed[0] * 1000, 1)
                        continue
                    walls.append(elapsed[0])
                    cpus.append(elapsed[1])
                results[kind] = {**percentiles(walls, cpus), "cold_ms": cold}
                print(kind, json.dumps(results[kind]), f"({load()})", flush=True)

    asyncio.run(run())
    library.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    built = build(args.data_dir, args.papers)
    print("build", json.dumps(built), f"({load()})", flush=True)
    print(json.dumps(measure(args.data_dir, args.requests), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
