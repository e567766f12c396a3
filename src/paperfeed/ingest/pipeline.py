"""The one path from source records to stored papers.

Every importer and harvester ends here. Per batch, inside one transaction:

1. resolve each record to a paper id: its arXiv id, else an existing paper with
   the same abstract or title (match keys), else a content-derived id;
2. fold all records for the same id into the stored row with the merge rules
   below, so a paper seen on several pages is stored once;
3. write only rows whose content hash changed, their source facts, a change-log
   entry each, and the source's checkpoint.

Merge rules, chosen so that importing the same input again changes nothing and
the order of inputs does not matter for counts:

* a newer arXiv version wins every field it has; for the same version the more
  trusted source (``SOURCE_RANK``) wins, and on a tie the later ``updated_at``
  wins; with the same ``updated_at`` the source that supplied the stored metadata
  wins again (arXiv edits a version's comments in place), else the stored value stays;
* empty values never erase stored ones; gaps are always filled;
* dates keep the earliest publication/listing/featured day and the latest update;
* counts from sources (upvotes, comments, stars) only grow: the maximum is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from paperfeed.errors import InputError
from paperfeed.models import (
    SOURCE_RANK,
    IngestReport,
    PaperRecord,
    content_id,
    match_key,
    normalize_abstract,
    normalize_space,
    utc_now,
)
from paperfeed.progress import NullProgress, Progress
from paperfeed.sources.base import Source
from paperfeed.storage import Storage
from paperfeed.storage.base import Row, Transaction
from paperfeed.storage.papers import PAPER_COLUMNS
from paperfeed.storage.values import day_text, instant_text, json_text, parse_json

_METADATA_FIELDS = ("title", "abstract", "comments", "journal_ref", "doi", "abs_url", "pdf_url")
_LINK_FIELDS = ("code_url", "project_url")
# local_upvotes belongs to the community features, not to the imported content.
_HASHED = tuple(
    c
    for c in PAPER_COLUMNS
    if c not in ("created_at", "modified_at", "content_hash", "local_upvotes")
)
_FACT_COUNTS = ("upvotes", "num_comments", "github_stars")


@dataclass(slots=True)
class _Work:
    """A paper being merged: the stored row (if any) and the row being built."""

    original: Row | None
    row: dict[str, Any]
    facts: dict[str, dict[str, Any]]
    original_facts: dict[str, dict[str, Any]]
    renamed_from: str | None = None


def clean_record(record: PaperRecord) -> PaperRecord | None:
    """Normalise whitespace; None for a record with neither title nor abstract."""
    record.title = normalize_space(record.title)
    record.abstract = normalize_abstract(record.abstract)
    record.authors = [name for name in (normalize_space(a) for a in record.authors) if name]
    record.categories = [c for c in (normalize_space(c) for c in record.categories) if c]
    if not record.title and not record.abstract:
        return None
    return record


def _empty_row(paper_id: str, record: PaperRecord) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(PAPER_COLUMNS)
    row.update(
        id=paper_id, title="", abstract="", authors=[], categories=[], author_count=0,
        source_upvotes=0, local_upvotes=0, metadata_source=record.source, metadata_rank=-1,
    )  # fmt: skip
    return row


def _record_wins(row: dict[str, Any], record: PaperRecord, rank: int) -> bool:
    current_version = row["version"]
    if record.version and (current_version is None or record.version > current_version):
        return True
    if record.version and current_version and record.version < current_version:
        return False
    if rank != row["metadata_rank"]:
        return rank > row["metadata_rank"]
    incoming_update = instant_text(record.updated_at)
    if incoming_update and incoming_update == row["updated_at"]:
        # The same version seen again by the source that supplied it: its newer
        # metadata wins (arXiv edits a version's comments and journal-ref in place).
        return record.source == row["metadata_source"]
    return bool(
        incoming_update and (row["updated_at"] is None or incoming_update > row["updated_at"])
    )


def _earliest(a: str | None, b: str | None) -> str | None:
    return min(x for x in (a, b) if x) if (a or b) else None


def _latest(a: str | None, b: str | None) -> str | None:
    return max(x for x in (a, b) if x) if (a or b) else None


def merge_record(row: dict[str, Any], record: PaperRecord) -> None:
    """Fold ``record`` into ``row`` (lists already parsed) following the module's rules."""
    rank = SOURCE_RANK.get(record.source, 0)
    wins = _record_wins(row, record, rank)
    incoming: dict[str, Any] = {
        "title": record.title, "abstract": record.abstract, "comments": record.comments,
        "journal_ref": record.journal_ref, "doi": record.doi, "abs_url": record.abs_url,
        "pdf_url": record.pdf_url, "code_url": record.code_url,
        "project_url": record.project_url,
    }  # fmt: skip
    for name in _METADATA_FIELDS + _LINK_FIELDS:
        value = incoming[name]
        if value and (wins or not row[name]):
            row[name] = value
    if record.authors and (wins or not row["authors"]):
        row["authors"] = list(record.authors)
    if record.categories and (wins or not row["categories"]):
        row["categories"] = list(record.categories)
    if record.version and (row["version"] is None or record.version > row["version"]):
        row["version"] = record.version
    row["published_at"] = _earliest(row["published_at"], instant_text(record.published_at))
    row["updated_at"] = _latest(row["updated_at"], instant_text(record.updated_at))
    row["first_listed_on"] = _earliest(row["first_listed_on"], day_text(record.listed_on))
    row["author_count"] = max(
        row["author_count"] or 0, len(row["authors"]), record.author_count or 0
    )
    if wins:
        row["metadata_source"], row["metadata_rank"] = record.source, rank


def merge_facts(facts: dict[str, dict[str, Any]], record: PaperRecord) -> None:
    incoming = record.facts
    if incoming is None:
        return
    current = facts.setdefault(
        incoming.source,
        {"external_id": None, "submitter": None, "featured_on": None} | dict.fromkeys(_FACT_COUNTS),
    )
    current["external_id"] = current["external_id"] or incoming.external_id
    current["submitter"] = current["submitter"] or incoming.submitter
    current["featured_on"] = _earliest(current["featured_on"], day_text(incoming.featured_on))
    for name in _FACT_COUNTS:
        value = getattr(incoming, name)
        if value is not None:
            current[name] = max(value, current[name] or 0)


def _finish_row(work: _Work) -> None:
    """Derived columns: keys, primary category, upvotes, feed day, hash."""
    row = work.row
    row["primary_category"] = row["categories"][0] if row["categories"] else None
    row["title_key"] = match_key(row["title"]) or None
    row["abstract_key"] = match_key(row["abstract"]) or None
    row["source_upvotes"] = max(
        [row["source_upvotes"] or 0] + [f["upvotes"] or 0 for f in work.facts.values()]
    )
    featured = [f["featured_on"] for f in work.facts.values() if f["featured_on"]]
    # The daily feed shows a paper on the day a community featured it, else the day
    # arXiv listed it, else the day it was published.
    row["feed_date"] = (
        min(featured) if featured else row["first_listed_on"] or (row["published_at"] or "")[:10]
    ) or None
    stored = dict(row)
    stored["authors"] = json_text(row["authors"])
    stored["categories"] = json_text(row["categories"])
    # Unit separators keep fields apart; None and "" both mean "absent" here.
    joined = "\x1f".join("" if stored[c] is None else str(stored[c]) for c in _HASHED)
    digest = hashlib.sha1(joined.encode()).hexdigest()
    stored["content_hash"] = digest
    work.row = stored


class IngestPipeline:
    """Normalise, dedupe and upsert records; commit with the source's checkpoint."""

    def __init__(self, storage: Storage, *, default_listed_on: date | None = None) -> None:
        self.storage = storage
        # Day to list undated records on (page captures without dates): the day this
        # installation first saw them, so they still appear in a daily feed.
        self.default_listed_on = default_listed_on

    def ingest_records(self, records: Iterable[PaperRecord]) -> IngestReport:
        """Upsert records in one transaction (no checkpoint)."""
        with self.storage.db.transaction() as tx:
            return self._apply(tx, list(records))

    def run(
        self,
        source: Source,
        *,
        progress: Progress | None = None,
        atomic: bool = False,
        resume: bool = True,
    ) -> IngestReport:
        """Ingest every batch of ``source``.

        ``atomic=True`` (file imports) commits everything at once, so a malformed
        line anywhere leaves the database untouched. Otherwise (harvests) each batch
        commits with its checkpoint, and a rerun resumes after the last commit.
        """
        progress = progress or NullProgress()
        checkpoints = self.storage.checkpoints
        key = source.checkpoint_key
        stored = checkpoints.get(key) if resume else None
        resume_state = stored[0] if stored and not stored[1] else None
        report = IngestReport()
        db = self.storage.db
        progress.start(f"importing {key}", None)
        with db.transaction() if atomic else _no_transaction():
            for batch in source.batches(resume_state):
                with db.transaction() as tx:
                    report.add(self._apply(tx, batch.records))
                    checkpoints.save(tx, key, batch.checkpoint or {}, done=False)
                progress.advance(len(batch.records), total=batch.total)
            with db.transaction() as tx:
                final = checkpoints.get(key)
                checkpoints.save(tx, key, final[0] if final else {}, done=True)
        progress.finish()
        return report

    # -- the batch upsert ---------------------------------------------------------------

    def _apply(self, tx: Transaction, raw_records: list[PaperRecord]) -> IngestReport:
        report = IngestReport(seen=len(raw_records))
        records = [r for r in (clean_record(r) for r in raw_records) if r is not None]
        report.skipped = len(raw_records) - len(records)
        if not records:
            return report
        if self.default_listed_on:
            for record in records:
                featured = record.facts.featured_on if record.facts else None
                if not (record.listed_on or record.published_at or featured):
                    record.listed_on = self.default_listed_on
        papers = self.storage.papers
        ids = self._resolve_ids(tx, records)
        originals = papers.rows_by_id(tx, list(ids.values()))
        renames = self._find_renames(tx, records, ids, originals)
        original_ids = list(originals) + list(renames.values())
        originals.update(papers.rows_by_id(tx, list(renames.values())))
        stored_facts = papers.sources_by_paper(tx, original_ids)

        work: dict[str, _Work] = {}
        for index, record in enumerate(records):
            paper_id = ids[index]
            item = work.get(paper_id)
            if item is None:
                old_id = renames.get(paper_id, paper_id)
                item = self._start(
                    paper_id, record, originals.get(old_id), stored_facts.get(old_id)
                )
                item.renamed_from = old_id if old_id != paper_id else None
                work[paper_id] = item
            merge_record(item.row, record)
            merge_facts(item.facts, record)

        now = instant_text(utc_now())
        inserts, updates, fact_rows, changed = [], [], [], []
        for item in work.values():
            _finish_row(item)
            if item.renamed_from:
                tx.execute(
                    "UPDATE papers SET id = ? WHERE id = ?", (item.row["id"], item.renamed_from)
                )
                papers.record_changes(tx, [item.renamed_from], "delete", now or "")
            original = item.original
            if (
                original is not None
                and original["content_hash"] == item.row["content_hash"]
                and not item.renamed_from
                and item.facts == item.original_facts
            ):
                report.unchanged += 1
                continue
            item.row["modified_at"] = now
            item.row["created_at"] = original["created_at"] if original else now
            (updates if original else inserts).append(item.row)
            changed.append(item.row["id"])
            for source, facts in item.facts.items():
                if item.original_facts.get(source) != facts or item.renamed_from:
                    fact_rows.append({"paper_id": item.row["id"], "source": source,
                                      "seen_at": now} | facts)  # fmt: skip
        papers.insert_rows(tx, inserts)
        papers.update_rows(tx, updates)
        papers.upsert_sources(tx, fact_rows)
        papers.record_changes(tx, changed, "upsert", now or "")
        report.inserted += len(inserts)
        report.updated += len(updates)
        return report

    @staticmethod
    def _start(
        paper_id: str, record: PaperRecord, original: Row | None, facts: list[Row] | None
    ) -> _Work:
        if original is None:
            row = _empty_row(paper_id, record)
        else:
            row = dict(original)
            row["id"] = paper_id
            row["authors"] = parse_json(row["authors"], [])
            row["categories"] = parse_json(row["categories"], [])
        stored = {
            f["source"]: {
                k: f[k] for k in ("external_id", "submitter", "featured_on", *_FACT_COUNTS)
            }
            for f in facts or []
        }
        return _Work(original, row, {k: dict(v) for k, v in stored.items()}, stored)

    def _resolve_ids(self, tx: Transaction, records: list[PaperRecord]) -> dict[int, str]:
        """Record index -> paper id. Records without an arXiv id match on abstract, then title."""
        ids: dict[int, str] = {}
        unkeyed = [i for i, r in enumerate(records) if not r.arxiv_id]
        for i, record in enumerate(records):
            if record.arxiv_id:
                ids[i] = record.arxiv_id
        if not unkeyed:
            return ids
        abstract_keys = {i: match_key(records[i].abstract) for i in unkeyed}
        title_keys = {i: match_key(records[i].title) for i in unkeyed}
        papers = self.storage.papers
        by_abstract = papers.ids_by_key(tx, "abstract_key", list(abstract_keys.values()))
        by_title = papers.ids_by_key(tx, "title_key", list(title_keys.values()))
        # Papers earlier in this batch count as existing too.
        for record in records:
            if record.arxiv_id:
                by_abstract.setdefault(match_key(record.abstract), record.arxiv_id)
                by_title.setdefault(match_key(record.title), record.arxiv_id)
        for i in unkeyed:
            record = records[i]
            a_key, t_key = abstract_keys[i], title_keys[i]
            paper_id = (a_key and by_abstract.get(a_key)) or (t_key and by_title.get(t_key))
            paper_id = paper_id or content_id(record.title, record.abstract)
            ids[i] = paper_id
            if a_key:
                by_abstract.setdefault(a_key, paper_id)
            if t_key:
                by_title.setdefault(t_key, paper_id)
        return ids

    def _find_renames(
        self,
        tx: Transaction,
        records: list[PaperRecord],
        ids: dict[int, str],
        originals: dict[str, Row],
    ) -> dict[str, str]:
        """arXiv id -> content id of a stored copy of the same paper, to re-key it.

        A page-text import stores papers under content ids; when arXiv later gives
        the same paper, the stored row takes the arXiv id instead of duplicating.
        """
        candidates = [
            (ids[i], r) for i, r in enumerate(records) if r.arxiv_id and ids[i] not in originals
        ]
        if not candidates:
            return {}
        papers = self.storage.papers
        by_abstract = papers.ids_by_key(
            tx, "abstract_key", [match_key(r.abstract) for _, r in candidates]
        )
        by_title = papers.ids_by_key(tx, "title_key", [match_key(r.title) for _, r in candidates])
        renames: dict[str, str] = {}
        taken: set[str] = set()
        for arxiv_id, record in candidates:
            old = by_abstract.get(match_key(record.abstract)) or by_title.get(
                match_key(record.title)
            )
            if old and old.startswith("pf-") and old not in taken and arxiv_id not in renames:
                renames[arxiv_id] = old
                taken.add(old)
        return renames


class _no_transaction:
    """Stand-in context manager when batches commit on their own."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def parse_day_arg(text: str) -> date:
    """Parse a ``YYYY-MM-DD`` command-line date, with a clear error."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"invalid date {text!r}: expected YYYY-MM-DD") from None
