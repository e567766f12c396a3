"""Papers, their per-source facts and the change log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any, Literal

from paperfeed.models import Paper, SourceFacts, utc_now
from paperfeed.storage.base import Database, Row, Transaction
from paperfeed.storage.values import (
    day_text,
    instant_text,
    parse_day,
    parse_instant,
    parse_json,
)

#: Columns of ``papers`` in table order; the ingest pipeline builds rows with these keys.
PAPER_COLUMNS: tuple[str, ...] = (
    "id", "version", "title", "abstract", "authors", "author_count", "categories",
    "primary_category", "published_at", "updated_at", "first_listed_on", "feed_date",
    "comments", "journal_ref", "doi", "abs_url", "pdf_url", "code_url", "project_url",
    "source_upvotes", "local_upvotes", "metadata_source", "metadata_rank", "title_key", "abstract_key",
    "content_hash", "created_at", "modified_at",
)  # fmt: skip
SOURCE_COLUMNS: tuple[str, ...] = (
    "paper_id", "source", "external_id", "upvotes", "submitter", "num_comments",
    "github_stars", "featured_on", "seen_at",
)  # fmt: skip

PaperSort = Literal["feed", "published", "upvotes", "updated"]
_ORDER_BY: dict[str, str] = {
    "feed": "feed_date DESC, source_upvotes + local_upvotes DESC, id DESC",
    "published": "published_at DESC, id DESC",
    "updated": "modified_at DESC, id DESC",
    "upvotes": "source_upvotes + local_upvotes DESC, feed_date DESC, id DESC",
}
_CHUNK = 500  # ids per IN (...) list: well under both engines' parameter limits


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


def facts_from_row(row: Row) -> SourceFacts:
    return SourceFacts(
        source=row["source"],
        external_id=row["external_id"],
        upvotes=row["upvotes"],
        submitter=row["submitter"],
        num_comments=row["num_comments"],
        github_stars=row["github_stars"],
        featured_on=parse_day(row["featured_on"]),
    )


def paper_from_row(row: Row, sources: list[SourceFacts] | None = None) -> Paper:
    paper_id = row["id"]
    return Paper(
        id=paper_id,
        arxiv_id=None if paper_id.startswith("pf-") else paper_id,
        version=row["version"],
        title=row["title"],
        abstract=row["abstract"],
        authors=parse_json(row["authors"], []),
        author_count=row["author_count"],
        categories=parse_json(row["categories"], []),
        published_at=parse_instant(row["published_at"]),
        updated_at=parse_instant(row["updated_at"]),
        first_listed_on=parse_day(row["first_listed_on"]),
        feed_date=parse_day(row["feed_date"]),
        comments=row["comments"],
        journal_ref=row["journal_ref"],
        doi=row["doi"],
        abs_url=row["abs_url"],
        pdf_url=row["pdf_url"],
        code_url=row["code_url"],
        project_url=row["project_url"],
        upvotes=row["source_upvotes"] + row["local_upvotes"],
        metadata_source=row["metadata_source"],
        created_at=parse_instant(row["created_at"]),
        modified_at=parse_instant(row["modified_at"]),
        sources=sources or [],
    )


class PaperStore:
    """Reads and writes of papers. Writers take a :class:`Transaction` so callers
    can group many of them (and a checkpoint) into one commit."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reads -----------------------------------------------------------------------

    def get(self, paper_id: str) -> Paper | None:
        papers = self.get_many([paper_id])
        return papers[0] if papers else None

    def get_many(self, paper_ids: Sequence[str]) -> list[Paper]:
        """Papers for ``paper_ids`` in the given order; unknown ids are left out."""
        with self.db.transaction(readonly=True) as tx:
            rows = self.rows_by_id(tx, paper_ids)
            sources = self._sources_for(tx, list(rows))
        return [paper_from_row(rows[pid], sources.get(pid)) for pid in paper_ids if pid in rows]

    def list(
        self,
        *,
        day_from: date | None = None,
        day_to: date | None = None,
        category: str | None = None,
        sort: PaperSort = "feed",
        limit: int = 50,
        offset: int = 0,
        submitter: str | None = None,
    ) -> list[Paper]:
        """Papers whose feed day lies in ``[day_from, day_to]``, newest first by default."""
        where, params = self._filters(day_from, day_to, category, submitter)
        # Rank ids first, then fetch the page's whole rows: sorting bare ids instead of
        # rows with their abstracts makes a 500-paper day's top 50 about 3x faster.
        order = _ORDER_BY[sort]
        sql = (
            f"SELECT * FROM papers WHERE id IN (SELECT id FROM papers{where}"
            f" ORDER BY {order} LIMIT ? OFFSET ?) ORDER BY {order}"
        )
        with self.db.transaction(readonly=True) as tx:
            rows = tx.query(sql, [*params, limit, offset])
            sources = self._sources_for(tx, [row["id"] for row in rows])
        return [paper_from_row(row, sources.get(row["id"])) for row in rows]

    def count(
        self,
        *,
        day_from: date | None = None,
        day_to: date | None = None,
        category: str | None = None,
        submitter: str | None = None,
    ) -> int:
        where, params = self._filters(day_from, day_to, category, submitter)
        return int(self.db.scalar(f"SELECT COUNT(*) FROM papers{where}", params))

    @staticmethod
    def _filters(
        day_from: date | None,
        day_to: date | None,
        category: str | None,
        submitter: str | None = None,
    ) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if day_from:
            clauses.append("feed_date >= ?")
            params.append(day_text(day_from))
        if day_to:
            clauses.append("feed_date <= ?")
            params.append(day_text(day_to))
        if category:
            # categories is a JSON list; the quoted form matches one whole category.
            clauses.append("categories LIKE ?")
            params.append(f'%"{category}"%')
        if submitter:
            # Who put the paper on a daily feed (a Hugging Face user or a local
            # submission); usernames compare case-insensitively.
            clauses.append("id IN (SELECT paper_id FROM paper_sources WHERE LOWER(submitter) = ?)")
            params.append(submitter.strip().lower())
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def feed_days(self, limit: int = 400) -> list[date]:
        """Days that have papers, newest first (for feed navigation)."""
        rows = self.db.query(
            "SELECT DISTINCT feed_date FROM papers WHERE feed_date IS NOT NULL"
            " ORDER BY feed_date DESC LIMIT ?",
            (limit,),
        )
        return [parse_day(row["feed_date"]) for row in rows]  # type: ignore[misc]

    def upvoted_ids(self, *, page_size: int = 2000) -> Iterator[list[str]]:
        """Ids of the papers with upvotes, most upvoted first (ties: newer feed day,
        then higher id, as the feeds' upvote sort), a page at a time."""
        offset = 0
        while True:
            rows = self.db.query(
                "SELECT id FROM papers WHERE source_upvotes + local_upvotes > 0"
                " ORDER BY source_upvotes + local_upvotes DESC, feed_date DESC, id DESC"
                " LIMIT ? OFFSET ?",
                (page_size, offset),
            )
            if rows:
                yield [row["id"] for row in rows]
            if len(rows) < page_size:
                return
            offset += page_size

    def latest_day(self, on_or_before: date | None = None) -> date | None:
        """The newest feed day (up to ``on_or_before``): one index seek, unlike ``feed_days``."""
        if on_or_before is None:
            return parse_day(self.db.scalar("SELECT MAX(feed_date) FROM papers"))
        return parse_day(
            self.db.scalar(
                "SELECT MAX(feed_date) FROM papers WHERE feed_date <= ?", (day_text(on_or_before),)
            )
        )

    def adjacent_days(self, day_from: date, day_to: date) -> tuple[date | None, date | None]:
        """The last feed day before ``day_from`` and the first after ``day_to`` (feed
        navigation that skips empty days), as two index seeks."""
        row = self.db.query_one(
            "SELECT (SELECT MAX(feed_date) FROM papers WHERE feed_date < ?) AS before_day,"
            " (SELECT MIN(feed_date) FROM papers WHERE feed_date > ?) AS after_day",
            (day_text(day_from), day_text(day_to)),
        )
        if row is None:
            return None, None
        return parse_day(row["before_day"]), parse_day(row["after_day"])

    def stats(self) -> dict[str, Any]:
        with self.db.transaction(readonly=True) as tx:
            totals = (
                tx.query_one(
                    "SELECT COUNT(*) AS papers,"
                    " SUM(CASE WHEN id NOT LIKE 'pf-%' THEN 1 ELSE 0 END) AS with_arxiv_id,"
                    " SUM(CASE WHEN code_url IS NOT NULL THEN 1 ELSE 0 END) AS with_code,"
                    " SUM(CASE WHEN title = '' THEN 1 ELSE 0 END) AS without_title,"
                    " SUM(CASE WHEN source_upvotes + local_upvotes > 0 THEN 1 ELSE 0 END)"
                    " AS with_upvotes,"
                    " MIN(feed_date) AS first_day, MAX(feed_date) AS last_day"
                    " FROM papers"
                )
                or {}
            )
            by_source = tx.query(
                "SELECT source, COUNT(*) AS papers FROM paper_sources"
                " GROUP BY source ORDER BY source"
            )
            changes = tx.scalar("SELECT COALESCE(MAX(seq), 0) FROM paper_changes")
        return {
            "papers": int(totals.get("papers") or 0),
            "with_arxiv_id": int(totals.get("with_arxiv_id") or 0),
            "with_code": int(totals.get("with_code") or 0),
            "without_title": int(totals.get("without_title") or 0),
            "with_upvotes": int(totals.get("with_upvotes") or 0),
            "first_day": totals.get("first_day"),
            "last_day": totals.get("last_day"),
            "by_source": {row["source"]: int(row["papers"]) for row in by_source},
            "last_change_seq": int(changes or 0),
        }

    # -- pieces the ingest pipeline composes inside its transaction -------------------

    def rows_by_id(self, tx: Transaction, paper_ids: Sequence[str]) -> dict[str, Row]:
        found: dict[str, Row] = {}
        unique = list(dict.fromkeys(paper_ids))
        for chunk in _chunks(unique):
            for row in tx.query(
                f"SELECT * FROM papers WHERE id IN ({_placeholders(len(chunk))})", chunk
            ):
                found[row["id"]] = row
        return found

    def ids_by_key(self, tx: Transaction, column: str, keys: Sequence[str]) -> dict[str, str]:
        """Map match keys (``title_key``/``abstract_key``) to existing paper ids."""
        if column not in ("title_key", "abstract_key"):
            raise ValueError(column)
        found: dict[str, str] = {}
        unique = [key for key in dict.fromkeys(keys) if key]
        for chunk in _chunks(unique):
            for row in tx.query(
                f"SELECT {column} AS k, id FROM papers WHERE {column} IN"
                f" ({_placeholders(len(chunk))}) ORDER BY id",
                chunk,
            ):
                found.setdefault(row["k"], row["id"])
        return found

    def sources_by_paper(self, tx: Transaction, paper_ids: Sequence[str]) -> dict[str, list[Row]]:
        found: dict[str, list[Row]] = {}
        for chunk in _chunks(list(dict.fromkeys(paper_ids))):
            for row in tx.query(
                f"SELECT * FROM paper_sources WHERE paper_id IN ({_placeholders(len(chunk))})"
                " ORDER BY paper_id, source",
                chunk,
            ):
                found.setdefault(row["paper_id"], []).append(row)
        return found

    def _sources_for(
        self, tx: Transaction, paper_ids: Sequence[str]
    ) -> dict[str, list[SourceFacts]]:
        return {
            pid: [facts_from_row(row) for row in rows]
            for pid, rows in self.sources_by_paper(tx, paper_ids).items()
        }

    def insert_rows(self, tx: Transaction, rows: Sequence[Row]) -> None:
        columns = ", ".join(PAPER_COLUMNS)
        tx.executemany(
            f"INSERT INTO papers ({columns}) VALUES ({_placeholders(len(PAPER_COLUMNS))})",
            [[row[c] for c in PAPER_COLUMNS] for row in rows],
        )

    def update_rows(self, tx: Transaction, rows: Sequence[Row]) -> None:
        # local_upvotes is owned by votes (updated in their own transactions).
        settable = [c for c in PAPER_COLUMNS if c not in ("id", "created_at", "local_upvotes")]
        assignments = ", ".join(f"{c} = ?" for c in settable)
        tx.executemany(
            f"UPDATE papers SET {assignments} WHERE id = ?",
            [[row[c] for c in settable] + [row["id"]] for row in rows],
        )

    def upsert_sources(self, tx: Transaction, rows: Sequence[Row]) -> None:
        columns = ", ".join(SOURCE_COLUMNS)
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in SOURCE_COLUMNS if c not in ("paper_id", "source")
        )
        tx.executemany(
            f"INSERT INTO paper_sources ({columns}) VALUES ({_placeholders(len(SOURCE_COLUMNS))})"
            f" ON CONFLICT (paper_id, source) DO UPDATE SET {updates}",
            [[row[c] for c in SOURCE_COLUMNS] for row in rows],
        )

    def record_changes(self, tx: Transaction, paper_ids: Iterable[str], kind: str, at: str) -> None:
        tx.executemany(
            "INSERT INTO paper_changes (paper_id, kind, changed_at) VALUES (?, ?, ?)",
            [(pid, kind, at) for pid in paper_ids],
        )

    def delete(self, paper_id: str) -> bool:
        with self.db.transaction() as tx:
            deleted = tx.execute("DELETE FROM papers WHERE id = ?", (paper_id,))
            if deleted:
                self.record_changes(tx, [paper_id], "delete", instant_text(utc_now()) or "")
        return bool(deleted)

    # -- change log --------------------------------------------------------------------

    def changes_since(self, seq: int, limit: int = 10_000) -> list[Row]:
        """Changes after ``seq`` in order: what an index must apply to catch up."""
        return self.db.query(
            "SELECT seq, paper_id, kind FROM paper_changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        )

    def last_change_seq(self) -> int:
        return int(self.db.scalar("SELECT COALESCE(MAX(seq), 0) FROM paper_changes") or 0)
