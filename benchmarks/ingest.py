"""Ingest throughput: import a JSONL corpus into SQLite and PostgreSQL.

    python benchmarks/ingest.py [PATH] [--postgres URL] [--limit N]

PATH defaults to ../shared/data/arxiv-cs-75k.jsonl.gz (74,728 arXiv cs papers).
Prints papers/s, database size and peak RSS per engine, for a first import and
for a re-import of the same file (which must change nothing).
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from paperfeed.library import Library
from paperfeed.models import IngestReport
from paperfeed.settings import load_settings
from paperfeed.sources.importers import open_source

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared/data/arxiv-cs-75k.jsonl.gz"


def limited_copy(path: Path, limit: int, folder: Path) -> Path:
    """The first ``limit`` lines of ``path`` as a new gzip file."""
    target = folder / f"first-{limit}.jsonl.gz"
    with gzip.open(path, "rt") as source, gzip.open(target, "wt") as sink:
        for index, line in enumerate(source):
            if index >= limit:
                break
            sink.write(line)
    return target


def import_metadata(library: Library, corpus: Path) -> IngestReport:
    """``import_files`` without the search-index sync that follows it: metadata only
    (keyword indexing and embedding have their own benchmark, benchmarks/search.py)."""
    with library.storage.db.transaction():
        return library.ingest(open_source(corpus), atomic=True)


def run(label: str, library: Library, corpus: Path) -> None:
    for attempt in ("first import", "re-import"):
        started, cpu_started = time.perf_counter(), time.process_time()
        report = import_metadata(library, corpus)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        rate = report.seen / seconds if seconds else 0.0
        # Papers per CPU-second of this process: comparable on a busy machine, where
        # wall-clock rates depend on what else runs (the load average is printed too).
        print(
            f"{label:10s} {attempt:12s} {report.seen:7d} records in {seconds:6.1f} s"
            f" = {rate:7.0f} papers/s wall, {report.seen / cpu:7.0f} per CPU-second"
            f"  (new {report.inserted}, updated {report.updated},"
            f" unchanged {report.unchanged}; load {os.getloadavg()[0]:.1f})"
        )
    if library.storage.db.dialect == "sqlite":
        library.storage.db.checkpoint()  # type: ignore[attr-defined]
    size = library.storage.db.size_bytes()
    print(f"{label:10s} database size {size / 2**20:.1f} MiB, {library.stats()['papers']} papers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--postgres", default=os.environ.get("PAPERFEED_TEST_DATABASE_URL"))
    parser.add_argument("--limit", type=int, help="only the first N records")
    args = parser.parse_args()
    if not args.path.exists():
        raise SystemExit(f"corpus not found: {args.path}")
    workdir = Path(tempfile.mkdtemp(prefix="paperfeed-bench-"))
    corpus = limited_copy(args.path, args.limit, workdir) if args.limit else args.path
    print(f"corpus {corpus} on {os.cpu_count()} CPUs")
    try:
        settings = load_settings(data_dir=workdir / "sqlite")
        with Library.open(settings) as library:
            run("sqlite", library, corpus)
        if args.postgres:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            settings = load_settings(
                data_dir=workdir / "pg", database_url=args.postgres, database_schema=schema
            )
            library = Library.open(settings)
            try:
                run("postgresql", library, corpus)
            finally:
                library.storage.db.drop_schema()  # type: ignore[attr-defined]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak:.0f} MiB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
