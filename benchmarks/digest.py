"""Personal digests at scale: compose one day's digests for 10,000 subscribers.

    python benchmarks/digest.py [CORPUS] [--data-dir DIR] [--subscribers 10000]
                                [--day YYYY-MM-DD] [--send] [--seed 7]

CORPUS defaults to ../shared/data/arxiv-cs-75k.jsonl.gz (74,728 arXiv cs papers).
Without ``--data-dir`` it is imported into a temporary SQLite database first
(metadata and keyword index, no embeddings; timed separately). Subscribers get
1-5 topics each from a realistic pool, popular topics shared by many (Zipf-like):
arXiv categories of the corpus, names of its active authors, keyword queries and
a few semantic ones. The day is the corpus's newest weekday, so every subscriber
is due and gets a first digest (the widest window: the last 7 feed days).

Prints the total time to compose every digest (what ``send_digests`` does before
sending), its parts, and per-subscriber p50/p99: the marginal time of each
subscriber in the batch (a topic's search is paid by the first subscriber who
follows it) and, on a sample, the time of a lone ``delivery.compose`` (a preview).
``--send`` also runs ``send_digests`` with a sender that drops the mail, to time
the claims, rendering and send log.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from paperfeed.digest.compose import Composer, WindowPool
from paperfeed.library import Library
from paperfeed.models.digest import DigestItem, Subscriber, Topic
from paperfeed.settings import load_settings

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared/data/arxiv-cs-75k.jsonl.gz"
EMAIL_DOMAIN = "bench.example.org"
KEYWORDS = [
    "diffusion models", "large language models", "reinforcement learning", "transformer",
    "graph neural networks", "retrieval augmented generation", "federated learning",
    "contrastive learning", "vision language models", "neural radiance fields",
    "gaussian splatting", "mixture of experts", "in-context learning", "chain of thought",
    "knowledge distillation", "adversarial robustness", "speech recognition",
    "machine translation", "object detection", "semantic segmentation", "image generation",
    "video generation", "text-to-image", "code generation", "program synthesis",
    "autonomous driving", "robot manipulation", "multi-agent", "quantization", "pruning",
    "sparse attention", "state space models", "mamba", "low-rank adaptation",
    "instruction tuning", "preference optimization", "reward model", "hallucination",
    "jailbreak", "watermarking", "differential privacy", "causal inference",
    "time series forecasting", "anomaly detection", "recommender systems",
    "point cloud", "3d reconstruction", "pose estimation", "medical image segmentation",
    "protein", "molecule generation", "weather forecasting", "benchmark", "survey",
    "scaling laws", "tokenizer", "long context", "speculative decoding", "kv cache",
    "embodied agents", "world models", "self-supervised learning", "continual learning",
    "meta-learning", "bayesian optimization", "uncertainty quantification",
    "explainability", "fairness", "optimization", "convergence", "theorem proving",
    "mathematical reasoning", "tool use", "web agents", "question answering",
    "summarization", "sentiment analysis", "named entity recognition", "dialogue",
]  # fmt: skip
SEMANTIC = [
    "making language models cheaper to run on small devices",
    "robots learning from human video demonstrations",
    "detecting text written by AI",
    "evaluating whether models really reason",
]


class DropSender:
    """Accepts every mail and keeps nothing (times the pipeline without a server)."""

    def __init__(self) -> None:
        self.count = 0

    def send(self, message: EmailMessage) -> None:
        message.as_bytes()  # serialise, as a real sender would
        self.count += 1

    def close(self) -> None:
        return None


def zipf_pick(rng: random.Random, items: list[Any], weights: list[float]) -> Any:
    return rng.choices(items, weights=weights, k=1)[0]


def topic_pool(library: Library, day: datetime) -> list[tuple[list[Topic], list[float]]]:
    """(topics, weights) per kind: categories, authors, keywords, semantic queries."""
    recent = library.storage.digests.window_papers((day - timedelta(days=60)).date(), day.date())
    categories = Counter(c for p in recent for c in p.categories)
    authors = Counter(a for p in recent for a in p.authors)
    pools = []
    for names, kind in (
        ([c for c, _ in categories.most_common(40)], "category"),
        ([a for a, n in authors.most_common(600) if len(a) >= 4], "author"),
        (KEYWORDS, "keyword"),
        (SEMANTIC, "semantic"),
    ):
        topics = [Topic.make(kind, name) for name in names]
        pools.append((topics, [1.0 / (rank + 1) for rank in range(len(topics))]))
    return pools


def create_subscribers(library: Library, count: int, day: datetime, seed: int) -> int:
    store = library.storage.subscriptions
    existing = store.count()
    if existing >= count:
        return 0
    rng = random.Random(seed)
    pools = topic_pool(library, day)
    kind_weights = [0.35, 0.25, 0.35, 0.05]  # category, author, keyword, semantic
    with library.storage.db.transaction() as tx:
        for n in range(existing, count):
            email = f"reader{n}@{EMAIL_DOMAIN}"
            sid = store.insert(tx, email=email, email_key=email, cadence="daily",
                               at=day - timedelta(days=30), status="active")  # fmt: skip
            assert sid is not None
            wanted = set()
            for _ in range(rng.randint(1, 5)):
                topics, weights = zipf_pick(rng, pools, kind_weights)
                wanted.add(zipf_pick(rng, topics, weights))
            store.add_topics(tx, sorted(wanted, key=lambda t: (t.kind, t.query)), day,
                             subscriber_id=sid)  # fmt: skip
    return count - existing


def newest_weekday(library: Library) -> datetime:
    for day in library.storage.papers.feed_days(limit=30):
        if day.weekday() < 5:
            return datetime.combine(day, clock_time(6), UTC)
    raise SystemExit("the corpus has no weekday feed day")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--data-dir", type=Path, help="reuse this data dir (imported before)")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--day", help="compose as on this day (default: newest weekday)")
    parser.add_argument("--sample", type=int, default=200, help="lone compose() calls timed")
    parser.add_argument("--send", action="store_true", help="also send (to a dropping sender)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="pf-digest-bench-"))
    settings = load_settings(data_dir=data_dir, mail_sender="file")
    library = Library.open(settings)
    if library.stats()["papers"] == 0:
        started = time.perf_counter()
        report = library.import_files([args.corpus], embed=False)
        print(f"imported {report.inserted} papers (keyword index, no embeddings)"
              f" in {time.perf_counter() - started:.1f} s")  # fmt: skip
    library.sync_search(embed=False)

    now = (
        datetime.combine(datetime.fromisoformat(args.day).date(), clock_time(6), UTC)
        if args.day else newest_weekday(library)
    )  # fmt: skip
    created = create_subscribers(library, args.subscribers, now, args.seed)
    topics = library.storage.db.scalar("SELECT COUNT(DISTINCT kind || ':' || query) FROM topics")
    print(f"{args.subscribers} subscribers ({created} created now), {topics} distinct topics;"
          f" digests for {now:%A %Y-%m-%d}")  # fmt: skip

    # -- the batch, as send_digests composes it -----------------------------------------
    delivery = library.delivery
    marginal: list[float] = []

    class TimedComposer(Composer):
        def _pick(
            self, subscriber: Subscriber, pool: WindowPool, seen: set[str]
        ) -> list[DigestItem]:
            started = time.perf_counter()
            try:
                return super()._pick(subscriber, pool, seen)
            finally:
                marginal.append(time.perf_counter() - started)

    cpu_started, started = time.process_time(), time.perf_counter()
    due = library.storage.subscriptions.due("daily", now.date().isoformat())
    loaded = time.perf_counter()
    composer = TimedComposer(
        library.storage, trending_count=settings.digest_trending_count,
        max_papers=settings.digest_max_papers, search=library.search,
    )  # fmt: skip
    digests = composer.compose_all(due, "daily", now)
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    sizes = [len(d.items) for d in digests]
    first = digests[0]
    print(f"window {first.window_from} to {first.window_to}: {first.candidates} candidate papers")
    print(f"composed {len(digests)} digests in {total:.1f} s wall, {cpu:.1f} s CPU"
          f" (load {os.getloadavg()[0]:.1f}): loading subscribers {loaded - started:.1f} s,"
          f" choosing papers (incl. topic searches) {sum(marginal):.1f} s, the rest"
          f" (window papers, trending, sent lists) {total - (loaded - started) - sum(marginal):.1f} s")  # fmt: skip
    print(f"  per subscriber in the batch: p50 {percentile(marginal, 0.5) * 1000:.2f} ms,"
          f" p99 {percentile(marginal, 0.99) * 1000:.1f} ms;"
          f" papers per digest: mean {statistics.mean(sizes):.1f}, empty {sizes.count(0)}")  # fmt: skip

    # -- lone previews ------------------------------------------------------------------
    rng = random.Random(args.seed)
    lone = []
    for subscriber in rng.sample(due, min(args.sample, len(due))):
        t = time.perf_counter()
        delivery.compose(subscriber.id, now=now)
        lone.append(time.perf_counter() - t)
    if lone:
        print(f"  lone compose() of one subscriber ({len(lone)} timed): p50"
              f" {percentile(lone, 0.5) * 1000:.0f} ms, p99 {percentile(lone, 0.99) * 1000:.0f} ms")  # fmt: skip

    if args.send:
        sender = DropSender()
        delivery.sender = sender
        started = time.perf_counter()
        report = delivery.send_digests("daily", now=now, worker="bench")
        seconds = time.perf_counter() - started
        print(f"send_digests: {report.sent} sent, {report.empty} empty in {seconds:.1f} s"
              f" ({report.sent / seconds:.0f} digests/s incl. composing, claims, rendering,"
              f" send log)")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB; data dir {data_dir}")


if __name__ == "__main__":
    main()
