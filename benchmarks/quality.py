"""Search quality harness: nDCG@10 and recall@50 on judged queries and related-paper judgments.

    python benchmarks/quality.py [CORPUS] [--engine sqlite|postgresql] [--bulk]
        [--sample N] [--data-dir DIR] [--runs-out FILE] [--write-docs MARKER]

CORPUS defaults to ../shared/data/arxiv-cs-75k.jsonl.gz (74,728 arXiv cs papers).
The corpus is imported through the Library (the path `paperfeed import` takes), the
bundled demo pages too (they carry the weak labels), and the search indexes are
synced: embeddings with the default model, or the bulk static model with ``--bulk``.
Embedding all 75k papers with the default model takes hours on 2 busy cores, so
``--sample N`` imports only the judged and pooled papers plus ``N`` others drawn at
random (fixed seed): a smaller haystack, so absolute numbers are higher than on the
full corpus, but every method sees the same one. ``--data-dir`` reuses a data
directory from an earlier run (nothing is imported again; sync only catches up).

Three label sets, reported separately:

* ``benchmarks/data/judged_queries.jsonl``: queries as researchers type them, graded
  (2 highly relevant, 1 relevant, unjudged 0) over a pool of several retrieval
  methods; each line states its relevance criteria.
* ``benchmarks/data/related_judgments.jsonl``: seed papers with graded "would a
  reader of this paper want to see that one" judgments.
* weak labels from the demo pages (``src/paperfeed/data/demo``): captures of
  search-results pages, so papers on the same page count as related (grade 1), and
  each page's topic is a query whose relevant papers are that page's papers.

Methods: keyword (BM25, the configured AND default and OR), semantic, hybrid (RRF),
related by vectors / lexical / fused, and a TF-IDF baseline as arxiv-sanity computes
it (word uni+bigrams, sublinear tf, smooth idf, l2 norm, cosine; pure numpy here).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
import os
import platform
import random
import re
import resource
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
JUDGED_QUERIES = DATA / "judged_queries.jsonl"
RELATED_JUDGMENTS = DATA / "related_judgments.jsonl"
DEFAULT_CORPUS = HERE.parents[1] / "shared/data/arxiv-cs-75k.jsonl.gz"
DOCS = HERE.parent / "docs" / "benchmarks.md"

NDCG_DEPTH = 10
RECALL_DEPTH = 50

# The demo pages that are lists of papers about one subject. All five are captures of
# search/related-paper listings, not of one day's feed: their papers span 2015-2025
# (the "Dec 8"/"Mar 11" headings are the page's date, the per-paper dates differ), and
# the titles share the page's subject words. Each maps to the query its topic suggests.
SEED_PAGES: dict[str, str] = {
    "abstracts-only-model-architectures.txt": "neural network model architectures",
    "daily-papers-dec-8-experts-with-votes.txt": "mixture of experts",
    "daily-papers-mar-11-dense-and-sparse-networks.txt": "dense and sparse neural networks",
    "daily-papers-mlp-and-transformer-architectures.txt": "MLP and transformer architectures",
    "paper-list-neural-architecture-design.txt": "neural architecture design",
}


# -- metrics -------------------------------------------------------------------------------


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain with exponential gain 2^g - 1 and log2(rank + 1) discount."""
    return sum((2.0**g - 1.0) / math.log2(rank + 2) for rank, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], judgments: Mapping[str, int], k: int = NDCG_DEPTH) -> float:
    """nDCG@k of a ranking against graded judgments; unjudged documents count as 0.

    The ideal ranking is built from all judged grades, so a method is not rewarded
    for a short list. Returns 0.0 when nothing is relevant (such queries are skipped
    by :func:`evaluate`, not averaged in as zeros).
    """
    ideal = dcg(sorted((g for g in judgments.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    seen: set[str] = set()
    gains = []
    for doc in ranked:
        if len(gains) == k:
            break
        if doc in seen:  # a duplicate in a ranking earns nothing the second time
            gains.append(0)
            continue
        seen.add(doc)
        gains.append(max(judgments.get(doc, 0), 0))
    return dcg(gains) / ideal


def recall_at_k(
    ranked: Sequence[str], judgments: Mapping[str, int], k: int = RECALL_DEPTH
) -> float:
    """Share of the relevant (grade >= 1) documents found in the first ``k``."""
    relevant = {doc for doc, grade in judgments.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def unjudged_at_k(
    ranked: Sequence[str],
    judgments: Mapping[str, int],
    k: int = NDCG_DEPTH,
    nonrelevant: Collection[str] = (),
) -> float:
    """Share of the first ``k`` that nobody judged (neither relevant nor explicitly not
    relevant): a pool-bias warning light. High values mean the metric undersells a
    method that finds papers the judging pool never saw."""
    top = list(ranked[:k])
    judged = set(judgments) | set(nonrelevant)
    return sum(doc not in judged for doc in top) / len(top) if top else 0.0


@dataclass
class Score:
    """Mean metrics of one method over one label set."""

    ndcg: float
    recall: float
    unjudged: float
    n: int


def evaluate(
    runs: Mapping[str, Sequence[str]],
    labels: Mapping[str, Mapping[str, int]],
    nonrelevant: Mapping[str, Collection[str]] | None = None,
) -> Score:
    """Average nDCG@10, recall@50 and unjudged@10 over the topics that have a relevant doc."""
    topics = [t for t, j in labels.items() if any(g > 0 for g in j.values())]
    if not topics:
        return Score(0.0, 0.0, 0.0, 0)
    zero = nonrelevant or {}
    ndcg = [ndcg_at_k(runs.get(t, []), labels[t]) for t in topics]
    recall = [recall_at_k(runs.get(t, []), labels[t]) for t in topics]
    unjudged = [
        unjudged_at_k(runs.get(t, []), labels[t], nonrelevant=zero.get(t, ())) for t in topics
    ]
    return Score(
        float(np.mean(ndcg)), float(np.mean(recall)), float(np.mean(unjudged)), len(topics)
    )


# -- label files -----------------------------------------------------------------------------

ARXIV_ID = re.compile(r"^\d{4}\.\d{4,5}$")
GRADES = (1, 2)


@dataclass
class JudgedQuery:
    qid: str
    query: str
    criteria: str
    judgments: dict[str, int]
    filters: dict[str, str] = field(default_factory=dict)
    kind: str = ""
    plain: str | None = None  # the query without fielded syntax, for the TF-IDF baseline
    nonrelevant: list[str] = field(default_factory=list)  # pooled and judged not relevant


@dataclass
class RelatedTopic:
    seed: str
    title: str
    criteria: str
    judgments: dict[str, int]
    nonrelevant: list[str] = field(default_factory=list)


def _check_ids(where: str, ids: Any, judgments: Mapping[str, int]) -> list[str]:
    if not isinstance(ids, list) or not all(isinstance(i, str) and ARXIV_ID.match(i) for i in ids):
        raise ValueError(f"{where}: 'nonrelevant' must be a list of arXiv ids")
    both = set(ids) & set(judgments)
    if both:
        raise ValueError(f"{where}: {sorted(both)[0]} is both relevant and not relevant")
    return list(ids)


def _check_judgments(where: str, judgments: Any) -> dict[str, int]:
    if not isinstance(judgments, dict) or not judgments:
        raise ValueError(f"{where}: 'judgments' must be a non-empty object")
    for doc, grade in judgments.items():
        if not ARXIV_ID.match(doc):
            raise ValueError(f"{where}: {doc!r} is not an arXiv id")
        if grade not in GRADES:
            raise ValueError(f"{where}: grade {grade!r} of {doc} is not 1 or 2")
    return dict(judgments)


def load_judged_queries(path: Path = JUDGED_QUERIES) -> list[JudgedQuery]:
    """Read and validate the judged queries (one JSON object per line)."""
    queries: list[JudgedQuery] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        row = json.loads(line)
        for key in ("qid", "query", "criteria", "judgments"):
            if not row.get(key):
                raise ValueError(f"{where}: missing {key!r}")
        if row["qid"] in seen:
            raise ValueError(f"{where}: duplicate qid {row['qid']}")
        seen.add(row["qid"])
        filters = row.get("filters") or {}
        unknown = set(filters) - {"category", "date_from", "date_to", "has_code"}
        if unknown:
            raise ValueError(f"{where}: unknown filters {sorted(unknown)}")
        queries.append(
            JudgedQuery(
                row["qid"], row["query"], row["criteria"],
                _check_judgments(where, row["judgments"]), filters,
                row.get("kind", ""), row.get("plain"),
                _check_ids(where, row.get("nonrelevant", []), row["judgments"]),
            )
        )  # fmt: skip
    return queries


def load_related(path: Path = RELATED_JUDGMENTS) -> list[RelatedTopic]:
    topics: list[RelatedTopic] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        row = json.loads(line)
        for key in ("seed", "title", "criteria", "judgments"):
            if not row.get(key):
                raise ValueError(f"{where}: missing {key!r}")
        judgments = _check_judgments(where, row["judgments"])
        if row["seed"] in judgments:
            raise ValueError(f"{where}: the seed paper judges itself")
        nonrelevant = _check_ids(where, row.get("nonrelevant", []), judgments)
        topics.append(
            RelatedTopic(row["seed"], row["title"], row["criteria"], judgments, nonrelevant)
        )
    return topics


def seed_pages() -> dict[str, list[tuple[str, str]]]:
    """``{page file: [(title, abstract), ...]}`` for the qualifying demo pages."""
    from paperfeed.sources.demo import demo_corpus_paths
    from paperfeed.sources.hf_pages import parse_page_text

    pages: dict[str, list[tuple[str, str]]] = {}
    for path in demo_corpus_paths():
        if path.name in SEED_PAGES:
            parsed = parse_page_text(path.read_text(), page_name=path.name)
            pages[path.name] = [(r.title, r.abstract) for r in parsed.records]
    return pages


def weak_labels(
    page_ids: Mapping[str, Sequence[str]],
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Related-paper and page-query labels from pages of stored paper ids.

    Related: every other paper on any page a paper is on counts as grade 1. Query:
    the page's topic query, with the page's papers as grade 1.
    """
    related: dict[str, dict[str, int]] = {}
    queries: dict[str, dict[str, int]] = {}
    for page, ids in page_ids.items():
        unique = list(dict.fromkeys(ids))
        queries[SEED_PAGES[page]] = dict.fromkeys(unique, 1)
        for pid in unique:
            related.setdefault(pid, {}).update({o: 1 for o in unique if o != pid})
    return related, queries


# -- the TF-IDF baseline (arxiv-sanity) ---------------------------------------------------------

# A compact English stop list (function words); arxiv-sanity uses scikit-learn's.
STOP_WORDS = frozenset(
    """a about above across after afterwards again against all almost alone along already also
    although always am among amongst an and another any anyhow anyone anything anyway anywhere are
    around as at be became because become becomes becoming been before beforehand behind being
    below beside besides between beyond both but by can cannot could did do does doing done down
    due during each eg either else elsewhere enough etc even ever every everyone everything
    everywhere except few for former formerly from further had has have having he hence her here
    hereafter hereby herein hereupon hers herself him himself his how however i ie if in indeed
    into is it its itself just last latter latterly least less made many may me meanwhile might
    more moreover most mostly much must my myself namely neither never nevertheless next no nobody
    none noone nor not nothing now nowhere of off often on once one only onto or other others
    otherwise our ours ourselves out over own per perhaps please rather re same seem seemed seeming
    seems several she should since so some somehow someone something sometime sometimes somewhere
    still such than that the their them themselves then thence there thereafter thereby therefore
    therein thereupon these they this those though through throughout thru thus to together too
    toward towards under until up upon us very via was we well were what whatever when whence
    whenever where whereafter whereas whereby wherein whereupon wherever whether which while
    whither who whoever whole whom whose why will with within without would yet you your yours
    yourself yourselves""".split()  # noqa: SIM905 (a word list reads better as text)
)
_TOKEN = re.compile(r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b")


def tfidf_terms(text: str) -> list[str]:
    """Unigrams and bigrams as scikit-learn's word analyzer makes them (accents stripped,
    lower-cased, stop words removed before the bigrams are formed)."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = [w for w in _TOKEN.findall(text) if w not in STOP_WORDS]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


class TfidfIndex:
    """arxiv-sanity's TF-IDF: max 20,000 features, min_df 5, max_df 0.1, sublinear tf,
    smooth idf, l2-normalised rows; ranked by cosine. Postings are numpy arrays."""

    def __init__(
        self,
        ids: Sequence[str],
        texts: Iterable[str],
        *,
        max_features: int = 20_000,
        min_df: int = 5,
        max_df: float = 0.1,
    ) -> None:
        self.ids = list(ids)
        self.position = {pid: i for i, pid in enumerate(self.ids)}
        counts = [Counter(tfidf_terms(text)) for text in texts]
        n = len(counts)
        df: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
            total.update(c)
        kept = [t for t, d in df.items() if d >= min_df and d <= max_df * n]
        kept.sort(key=lambda t: (-total[t], t))  # scikit-learn keeps the most frequent
        self.vocabulary = {t: i for i, t in enumerate(sorted(kept[:max_features]))}
        self.idf = np.zeros(len(self.vocabulary), dtype=np.float64)
        for term, i in self.vocabulary.items():
            self.idf[i] = math.log((1 + n) / (1 + df[term])) + 1
        rows: list[dict[int, float]] = [self._weights(c) for c in counts]
        postings: dict[int, list[tuple[int, float]]] = {}
        for doc, row in enumerate(rows):
            for term, weight in row.items():
                postings.setdefault(term, []).append((doc, weight))
        self.rows = rows
        self.postings = {
            term: (np.array([d for d, _ in p], dtype=np.int64), np.array([w for _, w in p]))
            for term, p in postings.items()
        }

    def _weights(self, counts: Mapping[str, int]) -> dict[int, float]:
        row = {
            self.vocabulary[t]: (1 + math.log(c)) * self.idf[self.vocabulary[t]]
            for t, c in counts.items()
            if t in self.vocabulary
        }
        norm = math.sqrt(sum(w * w for w in row.values()))
        return {t: w / norm for t, w in row.items()} if norm else {}

    def _rank(self, row: Mapping[int, float], k: int, skip: Callable[[str], bool]) -> list[str]:
        scores = np.zeros(len(self.ids))
        for term, weight in row.items():
            docs, weights = self.postings[term]
            scores[docs] += weights * weight
        candidates = np.flatnonzero(scores > 0)
        # Best first; ties by id so the baseline is deterministic.
        order = sorted(candidates.tolist(), key=lambda i: (-scores[i], self.ids[i]))
        return [self.ids[i] for i in order if not skip(self.ids[i])][:k]

    def search(self, query: str, k: int, allowed: Callable[[str], bool] | None = None) -> list[str]:
        row = self._weights(Counter(tfidf_terms(query)))
        return self._rank(row, k, lambda pid: allowed is not None and not allowed(pid))

    def related(self, paper_id: str, k: int, exclude: Iterable[str] = ()) -> list[str]:
        excluded = {paper_id, *exclude}
        return self._rank(self.rows[self.position[paper_id]], k, excluded.__contains__)


# -- corpus preparation -------------------------------------------------------------------------


def read_corpus(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def sample_corpus(
    rows: list[dict[str, Any]], needed: set[str], others: int, seed: int = 20261122
) -> list[dict[str, Any]]:
    """The needed papers plus ``others`` drawn at random (reproducibly) from the rest."""
    rest = [r for r in rows if r["id"] not in needed]
    picked = {r["id"] for r in random.Random(seed).sample(rest, min(others, len(rest)))}
    return [r for r in rows if r["id"] in needed or r["id"] in picked]


def pooled_ids() -> set[str]:
    ids: set[str] = set()
    for q in load_judged_queries():
        ids |= set(q.judgments) | set(q.nonrelevant)
    for t in load_related():
        ids |= {t.seed, *t.judgments, *t.nonrelevant}
    return ids


def demo_page_ids(library: Any) -> dict[str, list[str]]:
    """Stored paper ids of each qualifying demo page's papers (by title/abstract key)."""
    from paperfeed.models import match_key

    pages = seed_pages()
    result: dict[str, list[str]] = {}
    papers = library.storage.papers
    with library.storage.db.transaction() as tx:
        for page, records in pages.items():
            title_keys = [match_key(t) for t, _ in records if t]
            abstract_keys = [match_key(a) for _, a in records if a]
            by_title = papers.ids_by_key(tx, "title_key", title_keys)
            by_abstract = papers.ids_by_key(tx, "abstract_key", abstract_keys)
            ids = []
            for title, abstract in records:
                pid = by_abstract.get(match_key(abstract)) or by_title.get(match_key(title))
                if pid:
                    ids.append(pid)
            result[page] = ids
    return result


# -- running the methods ------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    rankings: dict[str, list[str]]
    seconds: float


RECORDED: dict[str, dict[str, list[str]]] = {}


def record(name: str, rankings: dict[str, list[str]]) -> dict[str, list[str]]:
    """Keep a method's rankings for ``--runs-out`` (judging the pool's holes)."""
    RECORDED[name] = rankings
    return rankings


def search_runs(library: Any, queries: Sequence[tuple[str, str, Any]], mode: str) -> Run:
    started = time.perf_counter()
    rankings = {}
    notices = set()
    for qid, query, filters in queries:
        results = library.search(query, mode=mode, filters=filters, limit=RECALL_DEPTH)
        if results.notice and results.mode_used != mode:
            notices.add(results.notice)
        rankings[qid] = [hit.paper.id for hit in results.hits]
    for notice in notices:
        print(f"  note ({mode}): {notice}", file=sys.stderr)
    return Run(mode, rankings, time.perf_counter() - started)


def related_runs(library: Any, seeds: Iterable[str], method: str) -> Run:
    started = time.perf_counter()
    rankings = {
        seed: [h.paper.id for h in library.related(seed, limit=RECALL_DEPTH, method=method)]
        for seed in seeds
    }
    return Run(method, rankings, time.perf_counter() - started)


def to_filters(raw: Mapping[str, Any]) -> Any:
    from paperfeed.search.models import SearchFilters

    if not raw:
        return None
    return SearchFilters(
        date_from=date.fromisoformat(raw["date_from"]) if raw.get("date_from") else None,
        date_to=date.fromisoformat(raw["date_to"]) if raw.get("date_to") else None,
        category=raw.get("category"),
        has_code=raw.get("has_code"),
    )


def all_papers(library: Any) -> list[Any]:
    papers, offset = [], 0
    while True:
        page = library.storage.papers.list(sort="feed", limit=5000, offset=offset)
        papers.extend(page)
        if len(page) < 5000:
            return papers
        offset += len(page)


def filter_check(paper_by_id: Mapping[str, Any], raw: Mapping[str, Any]) -> Callable[[str], bool]:
    def allowed(pid: str) -> bool:
        paper = paper_by_id.get(pid)
        if paper is None:
            return False
        if raw.get("category") and raw["category"] not in paper.categories:
            return False
        day = paper.feed_date.isoformat() if paper.feed_date else ""
        if raw.get("date_from") and day < raw["date_from"]:
            return False
        return not (raw.get("date_to") and day > raw["date_to"])

    return allowed


# -- report -------------------------------------------------------------------------------------


def table(rows: Sequence[tuple[str, str, Score]]) -> str:
    lines = [
        "| label set | method | nDCG@10 | recall@50 | unjudged@10 | topics |",
        "|---|---|---|---|---|---|",
    ]
    for labels, method, s in rows:
        lines.append(
            f"| {labels} | {method} | {s.ndcg:.3f} | {s.recall:.3f} | {s.unjudged:.2f} | {s.n} |"
        )
    return "\n".join(lines)


def kind_table(
    queries: Sequence[JudgedQuery],
    labels: Mapping[str, Mapping[str, int]],
    zero: Mapping[str, Collection[str]],
) -> str:
    """nDCG@10 of each recorded judged-query method per kind of query (topic, acronym...)."""
    kinds = sorted({q.kind for q in queries})
    methods = [k for k in RECORDED if k.startswith("judged queries: ")]
    lines = [
        "| nDCG@10 by kind | "
        + " | ".join(f"{k} ({sum(q.kind == k for q in queries)})" for k in kinds)
        + " |",
        "|---" * (len(kinds) + 1) + "|",
    ]
    for method in methods:
        cells = []
        for kind in kinds:
            ids = {q.qid for q in queries if q.kind == kind}
            score = evaluate(RECORDED[method], {t: j for t, j in labels.items() if t in ids}, zero)
            cells.append(f"{score.ndcg:.2f}")
        lines.append(f"| {method.split(': ', 1)[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_docs(block: str, marker: str) -> None:
    """Replace (or append) the block between ``<!-- marker -->`` comments in docs/benchmarks.md."""
    begin, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    new = f"{begin}\n{block.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + new + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + new + "\n"
    DOCS.write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", help="PostgreSQL URL for --engine postgresql")
    parser.add_argument("--bulk", action="store_true", help="embed with the bulk static model")
    parser.add_argument(
        "--sample",
        type=int,
        default=None,
        metavar="N",
        help="judged/pooled papers plus N random others instead of the corpus",
    )
    parser.add_argument("--data-dir", type=Path, help="reuse (or create) this data directory")
    parser.add_argument(
        "--runs-out", type=Path, help="write every method's rankings here (JSON) for inspection"
    )
    parser.add_argument(
        "--write-docs",
        metavar="MARKER",
        help="write the table into docs/benchmarks.md under this marker",
    )
    args = parser.parse_args(argv)

    from paperfeed.library import Library
    from paperfeed.settings import load_settings

    queries = load_judged_queries()
    related = load_related()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="paperfeed-quality-"))
    overrides: dict[str, Any] = {"data_dir": data_dir}
    if args.engine == "postgresql":
        url = args.database_url or os.environ.get("PAPERFEED_TEST_DATABASE_URL")
        if not url:
            parser.error("--engine postgresql needs --database-url or PAPERFEED_TEST_DATABASE_URL")
        overrides.update(database_url=url, database_schema=f"quality_{data_dir.name[-8:]}".lower())
    settings = load_settings(**overrides)
    embed: Any = "bulk" if args.bulk else True
    load_at_start = os.getloadavg()[0]
    started = time.perf_counter()
    with Library.open(settings) as library:
        fresh = library.storage.papers.count() == 0
        if fresh:
            rows = read_corpus(args.corpus)
            if args.sample is not None:
                rows = sample_corpus(rows, pooled_ids(), args.sample)
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "corpus.jsonl.gz"
                with gzip.open(path, "wt") as sink:
                    sink.writelines(json.dumps(r) + "\n" for r in rows)
                library.import_files([path], embed=False)
            library.import_demo(embed=False)
        t0 = time.perf_counter()
        report = library.sync_search(None, embed=embed)
        sync_seconds = time.perf_counter() - t0
        print(f"indexed in {sync_seconds:.0f} s: {report}", file=sys.stderr)
        papers = all_papers(library)
        by_id = {p.id: p for p in papers}
        print(f"{len(papers)} papers in {data_dir}", file=sys.stderr)

        # Labels restricted to papers in this corpus (a --sample run may lack some).
        query_labels = {
            q.qid: {d: g for d, g in q.judgments.items() if d in by_id} for q in queries
        }
        related_labels = {
            t.seed: {d: g for d, g in t.judgments.items() if d in by_id}
            for t in related
            if t.seed in by_id
        }
        query_zero = {q.qid: set(q.nonrelevant) for q in queries}
        related_zero = {t.seed: set(t.nonrelevant) for t in related}
        pages = demo_page_ids(library)
        weak_related, weak_queries = weak_labels(pages)
        weak_query_list = [(topic, topic, None) for topic in weak_queries]

        t0 = time.perf_counter()
        tfidf = TfidfIndex(
            [p.id for p in papers],
            (" ".join([p.title, p.abstract, " ".join(p.authors)]) for p in papers),
        )
        print(f"TF-IDF baseline built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

        judged = [(q.qid, q.query, to_filters(q.filters)) for q in queries]
        results: list[tuple[str, str, Score]] = []

        def add(
            label: str,
            method: str,
            rankings: dict[str, list[str]],
            labels: Mapping[str, Mapping[str, int]],
            zero: Mapping[str, Collection[str]] | None = None,
        ) -> None:
            RECORDED[f"{label}: {method}"] = rankings
            results.append((label, method, evaluate(rankings, labels, zero)))

        model = "bulk static model" if args.bulk else "default model"
        for mode in ("keyword", "semantic", "hybrid"):
            add("judged queries", mode, search_runs(library, judged, mode).rankings,
                query_labels, query_zero)  # fmt: skip
        # The other keyword default (AND vs OR) on the same index.
        other = "or" if settings.search_default_operator == "and" else "and"
        with Library.open(load_settings(**overrides, search_default_operator=other)) as alt:
            for mode in ("keyword", "hybrid"):
                add("judged queries", f"{mode} ({other.upper()} default)",
                    search_runs(alt, judged, mode).rankings, query_labels, query_zero)  # fmt: skip
        tfidf_runs = {
            q.qid: tfidf.search(q.plain or q.query, RECALL_DEPTH, filter_check(by_id, q.filters))
            for q in queries
        }
        add("judged queries", "TF-IDF baseline", tfidf_runs, query_labels, query_zero)

        for method in ("vector", "lexical", "hybrid"):
            add("related judgments", f"related {method}",
                related_runs(library, related_labels, method).rankings,
                related_labels, related_zero)  # fmt: skip
        add("related judgments", "TF-IDF baseline",
            {s: tfidf.related(s, RECALL_DEPTH) for s in related_labels},
            related_labels, related_zero)  # fmt: skip

        for mode in ("keyword", "semantic", "hybrid"):
            add("seed pages (queries)", mode,
                search_runs(library, weak_query_list, mode).rankings, weak_queries)  # fmt: skip
        add("seed pages (queries)", "TF-IDF baseline",
            {t: tfidf.search(t, RECALL_DEPTH) for t in weak_queries}, weak_queries)  # fmt: skip
        for method in ("vector", "lexical", "hybrid"):
            add("seed pages (related)", f"related {method}",
                related_runs(library, weak_related, method).rankings, weak_related)  # fmt: skip
        add("seed pages (related)", "TF-IDF baseline",
            {s: tfidf.related(s, RECALL_DEPTH) for s in weak_related}, weak_related)  # fmt: skip

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    header = (
        f"{date.today().isoformat()}, {platform.node() or 'host'} ({os.cpu_count()} cores,"
        f" {platform.python_version()}), {args.engine}, {len(papers):,} papers"
        f" ({'sample: judged/pooled + ' + str(args.sample) + ' random' if args.sample is not None else 'full corpus'}"
        f" + demo pages), {model}; load {load_at_start:.1f}-{os.getloadavg()[0]:.1f};"
        f" sync {sync_seconds:.0f} s, total {time.perf_counter() - started:.0f} s, peak RSS {rss:.0f} MiB"
    )
    block = f"{header}\n\n{table(results)}\n\n{kind_table(queries, query_labels, query_zero)}\n"
    print(block)
    if args.write_docs:
        write_docs(block, args.write_docs)
    if args.runs_out:
        args.runs_out.write_text(json.dumps(RECORDED))
    return 0


if __name__ == "__main__":
    sys.exit(main())
