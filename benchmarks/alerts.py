"""Alert detection at scale: one day's harvest against 10,000 users with 5 follows each.

    python benchmarks/alerts.py [CORPUS] [--users 10000] [--changed 2000] [--existing 70000]
                                [--database-url postgresql://...] [--seed 7]

CORPUS defaults to ../shared/data/arxiv-cs-75k.jsonl.gz (74,728 arXiv cs papers). The
newest ``--changed`` minus a quarter of them arrive as the day's new papers; the rest of
the changes are new versions (a quarter with a first code link) of papers already
stored, most of them followed. Everything else is stored beforehand as arXiv records.

Users hold 5 follows each, drawn Zipf-like from realistic pools so popular ones are
shared: 2 authors (active authors of the corpus), 1 paper (recent papers), 1 category
(the corpus's), 1 search (keyword queries, some with fields and phrases). The run
times ``AlertDetector.run`` (what the ``alerts`` job and ``paperfeed alerts detect``
do): wall and CPU time, alerts made by kind, peak RSS. A second run over no new
changes shows the idle cost. The issue's target: <= 10 s.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import os
import pstats
import random
import resource
import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from paperfeed.community.alerts import AlertDetector, ensure_cursor
from paperfeed.community.follows import author_key
from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.library import Library
from paperfeed.models import PaperRecord, SourceFacts
from paperfeed.search.keyword import name_words
from paperfeed.settings import load_settings
from paperfeed.storage.values import instant_text

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared/data/arxiv-cs-75k.jsonl.gz"
SEARCHES = [
    "diffusion models", "large language models", "reinforcement learning", "transformer",
    "graph neural networks", "retrieval augmented generation", "federated learning",
    "contrastive learning", '"vision language models"', "neural radiance fields",
    "gaussian splatting", '"mixture of experts"', "in-context learning", "chain of thought",
    "knowledge distillation", "adversarial robustness", "speech recognition",
    "object detection", "semantic segmentation", "video generation", "code generation",
    "autonomous driving", "robot manipulation", "quantization", "state space models",
    "low-rank adaptation", "preference optimization", "hallucination", "jailbreak",
    "differential privacy", "time series forecasting", "anomaly detection", "point cloud",
    "medical image segmentation", "protein", "scaling laws", "speculative decoding",
    "world models", "continual learning", "theorem proving", "tool use", "web agents",
    "ti:benchmark cat:cs.CL", "au:bengio", "diffus* -image", "agents AND planning",
]  # fmt: skip
NOW = datetime(2026, 7, 20, 6, 0, tzinfo=UTC)


def zipf(rng: random.Random, items: list[Any]) -> Any:
    weights = [1.0 / (rank + 1) for rank in range(len(items))]
    return rng.choices(items, weights=weights, k=1)[0]


def read_corpus(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    rows.sort(key=lambda r: (r.get("listing_date") or "", r["id"]))
    return rows


def arxiv_record(row: dict[str, Any], day: date, **overrides: Any) -> PaperRecord:
    stamp = datetime.combine(day, datetime.min.time(), UTC) - timedelta(days=2)
    values: dict[str, Any] = dict(
        source="arxiv", arxiv_id=row["id"], version=1, title=row["title"],
        abstract=row["abstract"], authors=row["authors"], categories=row["categories"],
        comments=row.get("comment"), listed_on=day, published_at=stamp, updated_at=stamp,
        facts=SourceFacts(source="arxiv", external_id=row["id"]),
    )  # fmt: skip
    values.update(overrides)
    return PaperRecord(**values)


def store(library: Library, records: list[PaperRecord]) -> None:
    pipeline = IngestPipeline(library.storage)
    for start in range(0, len(records), 5000):
        pipeline.ingest_records(records[start : start + 5000])


def create_follows(
    library: Library, users: int, existing: list[dict[str, Any]], rng: random.Random
) -> int:
    authors = Counter(a for r in existing[-20_000:] for a in r["authors"])
    author_pool = [a for a, _ in authors.most_common(3000) if len(name_words(a)) >= 2]
    categories = [
        c for c, _ in Counter(c for r in existing for c in r["categories"]).most_common(40)
    ]
    papers = [r["id"] for r in existing[-5000:]]
    rng.shuffle(papers)
    now = instant_text(NOW - timedelta(days=1))
    db = library.storage.db
    follows = 0
    with db.transaction() as tx:
        tx.executemany(
            "INSERT INTO users (username, email, email_key, password_hash, is_admin, created_at)"
            " VALUES (?, ?, ?, 'x', 0, ?)",
            [(f"u{n}", f"u{n}@bench.example.org", f"u{n}@bench.example.org", now)
             for n in range(users)],
        )  # fmt: skip
        ids = [int(r["id"]) for r in tx.query("SELECT id FROM users ORDER BY id")]
        rows = []
        watched = set()
        for user_id in ids:
            chosen: dict[tuple[str, str], tuple[str, str | None, int | None]] = {}
            while len([k for k in chosen if k[0] == "author"]) < 2:
                name = zipf(rng, author_pool)
                chosen[("author", author_key(name))] = (name, None, None)
            paper = zipf(rng, papers)
            chosen[("paper", paper)] = (paper, paper, rng.choice([None, None, 5, 20]))
            category = zipf(rng, categories)
            chosen[("category", category.lower())] = (category, None, None)
            query = zipf(rng, SEARCHES)
            chosen[("search", query)] = (query, None, None)
            for (kind, target), (label, paper_id, threshold) in chosen.items():
                rows.append((user_id, kind, target, label, paper_id, threshold, now))
                if paper_id:
                    watched.add(paper_id)
        tx.executemany(
            "INSERT INTO follows (user_id, kind, target, label, paper_id, upvote_threshold,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        follows = len(rows)
        for paper_id in watched:
            library.storage.follows.watch(tx, paper_id, NOW - timedelta(days=1))
        ensure_cursor(library.storage, tx)
    return follows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=2000)
    parser.add_argument("--existing", type=int, default=70_000)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--snapshot", type=Path,
                        help="SQLite only: save the database as it is before detection here,"
                             " or start from it if it exists (skips the slow setup)")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="print a cProfile of detection")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    data_dir = Path(tempfile.mkdtemp(prefix="pf-alerts-bench-"))
    settings = load_settings(data_dir=data_dir, database_url=args.database_url,
                             database_schema="alerts_bench" if args.database_url else None)  # fmt: skip
    if args.snapshot and args.snapshot.exists():
        shutil.copyfile(args.snapshot, data_dir / "paperfeed.db")
        run_detection(Library.open(settings), args)
        return
    library = Library.open(settings)
    corpus = read_corpus(args.corpus)
    updates = args.changed // 4
    fresh = corpus[-(args.changed - updates) :]
    existing = corpus[: len(corpus) - len(fresh)][-args.existing :]
    started = time.perf_counter()
    store(library, [arxiv_record(r, NOW.date() - timedelta(days=30)) for r in existing])
    follows = create_follows(library, args.users, existing, rng)
    print(f"setup: {len(existing)} papers stored, {args.users} users with {follows} follows"
          f" in {time.perf_counter() - started:.0f} s")  # fmt: skip

    # The day's harvest: new versions of followed (mostly) papers, then the new papers.
    followed = [r["paper_id"] for r in library.storage.db.query(
        "SELECT DISTINCT paper_id FROM follows WHERE kind = 'paper' ORDER BY paper_id")]  # fmt: skip
    by_id = {r["id"]: r for r in existing}
    targets = rng.sample(followed, min(len(followed), updates * 3 // 4))
    targets += rng.sample(sorted(set(by_id) - set(targets)), updates - len(targets))
    revised = NOW - timedelta(hours=3)
    changes = [
        arxiv_record(by_id[pid], NOW.date() - timedelta(days=30), version=2, updated_at=revised,
                     comments="Accepted at the benchmark conference",
                     code_url=f"https://github.com/bench/{pid}" if n % 4 == 0 else None)
        for n, pid in enumerate(targets)
    ]  # fmt: skip
    changes += [arxiv_record(r, NOW.date()) for r in fresh]
    store(library, changes)
    print(f"harvest: {len(changes)} changed papers ({len(fresh)} new, {len(targets)} new"
          f" versions, {sum(1 for t in targets if t in set(followed))} of them followed)")  # fmt: skip

    if args.snapshot:
        library.close()
        shutil.copyfile(data_dir / "paperfeed.db", args.snapshot)
        library = Library.open(settings)
    run_detection(library, args)


def run_detection(library: Library, args: argparse.Namespace) -> None:
    detector = AlertDetector(library.storage, clock=lambda: NOW)
    for label in ("detection", "idle run"):
        profile = cProfile.Profile() if args.profile and label == "detection" else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profile:
            profile.enable()
        report = detector.run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
        print(f"{label}: {wall:.2f} s wall, {cpu:.2f} s CPU (load {os.getloadavg()[0]:.1f});"
              f" {report.changes} changes, {report.new_papers} new papers, {report.follows}"
              f" unmuted author/category/search follows, {report.alerts} alerts"
              f" {dict(sorted(report.by_kind.items()))}")  # fmt: skip
    users_alerted = library.storage.db.scalar("SELECT COUNT(DISTINCT user_id) FROM alerts")
    print(
        f"{users_alerted} of {args.users} users got alerts;"
        f" peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    if args.database_url:
        from paperfeed.storage.postgres import PostgresDatabase

        library.close()
        PostgresDatabase(args.database_url, schema="alerts_bench").drop_schema()


if __name__ == "__main__":
    main()
