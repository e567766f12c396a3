"""Following the ``paper_changes`` log: what a derived index (keyword, vectors) must
apply to catch up, and a keyset scan of every paper for rebuilds.

A plain "highest seq applied" watermark is not enough on PostgreSQL: sequence
numbers are handed out when a row is inserted, not when its transaction commits,
so a long import holding seq 10 can commit after a harvest that wrote seq 11. An
index that jumped to 11 would never see 10. :class:`ChangeCursor` therefore also
remembers the *gaps* below its watermark and looks at them again on every sync
until they fill (the late commit) or expire (the transaction rolled back: its
numbers are never used). SQLite hands out numbers in commit order, so it never
leaves gaps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from paperfeed.models import utc_now
from paperfeed.storage import Storage
from paperfeed.storage.base import Row
from paperfeed.storage.values import instant_text, parse_instant

#: Kind of a change that touched only a paper's stored embedding (``paper_vectors``),
#: logged by the embedding step so every node's vector files follow; indexes of the
#: text (keyword) skip it. The other kinds are ``upsert`` and ``delete``.
VECTOR_CHANGE = "vector"
#: A gap older than this is taken to be a rolled-back transaction.
GAP_TTL = timedelta(hours=6)
MAX_GAPS = 1000
#: When an index is built from a scan, seqs missing in this many recent changes are
#: watched as gaps (transactions that were still running while the scan read).
RECENT_WINDOW = 100_000
_CHANGE_COLUMNS = "seq, paper_id, kind"
#: Columns an index needs to describe a paper (not its provenance).
INDEX_COLUMNS = (
    "id, title, abstract, authors, categories, feed_date, code_url,"
    " source_upvotes + local_upvotes AS upvotes, title_key, abstract_key, content_hash"
)


@dataclass(slots=True)
class ChangeCursor:
    """Where an index stands in the change log; saved as JSON with the index."""

    watermark: int = 0
    #: ``[first_seq, last_seq, first_seen]`` ranges below the watermark not seen yet.
    gaps: list[list[Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"watermark": self.watermark, "gaps": [list(g) for g in self.gaps]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChangeCursor:
        return cls(int(data.get("watermark", 0)), [list(g) for g in data.get("gaps", [])])

    def pending(self, storage: Storage, *, limit: int = 10_000) -> list[Row]:
        """Changes not applied yet, oldest first: late commits into gaps, then new ones."""
        rows: list[Row] = []
        for start in range(0, len(self.gaps), 100):  # a few statements even for many gaps
            ranges = self.gaps[start : start + 100]
            where = " OR ".join("(seq >= ? AND seq <= ?)" for _ in ranges)
            rows.extend(
                storage.db.query(
                    f"SELECT {_CHANGE_COLUMNS} FROM paper_changes WHERE {where} ORDER BY seq LIMIT ?",
                    [*(bound for first, last, _ in ranges for bound in (first, last)), limit],
                )
            )
        rows.extend(storage.papers.changes_since(self.watermark, limit=limit))
        return rows

    def advance(self, rows: list[Row], now: datetime | None = None) -> None:
        """Record ``rows`` (from :meth:`pending`) as applied."""
        now = now or utc_now()
        seen = {int(row["seq"]) for row in rows}
        gaps: list[list[Any]] = []
        for first, last, since in self.gaps:
            gaps.extend(_split_gap(first, last, since, seen))
        expected = self.watermark + 1
        for seq in sorted(s for s in seen if s > self.watermark):
            if seq > expected:
                gaps.append([expected, seq - 1, instant_text(now)])
            expected = seq + 1
        self.watermark = max([self.watermark, *seen])
        cutoff = now - GAP_TTL
        live = [g for g in gaps if (parse_instant(g[2]) or now) > cutoff]
        self.gaps = live[-MAX_GAPS:]

    @classmethod
    def at_head(cls, storage: Storage) -> ChangeCursor:
        """A cursor for an index about to be built from a scan of the papers table:
        at the newest change, watching recent holes (possibly running transactions)."""
        cursor = cls(storage.papers.last_change_seq())
        if cursor.watermark == 0:
            return cursor
        low = max(0, cursor.watermark - RECENT_WINDOW)
        seqs = [
            int(row["seq"])
            for row in storage.db.query(
                "SELECT seq FROM paper_changes WHERE seq > ? AND seq <= ? ORDER BY seq",
                (low, cursor.watermark),
            )
        ]
        now = instant_text(utc_now())
        expected = low + 1
        for seq in seqs:
            if seq > expected:
                cursor.gaps.append([expected, seq - 1, now])
            expected = seq + 1
        cursor.gaps = cursor.gaps[-MAX_GAPS:]
        return cursor


def _split_gap(first: int, last: int, since: str, seen: set[int]) -> Iterator[list[Any]]:
    start = first
    for seq in sorted(s for s in seen if first <= s <= last):
        if seq > start:
            yield [start, seq - 1, since]
        start = seq + 1
    if start <= last:
        yield [start, last, since]


def log_origin(storage: Storage) -> str | None:
    """When the oldest change was logged: tells a recreated database from the one an
    index was built for (both may have few changes)."""
    row = storage.db.query_one("SELECT seq, changed_at FROM paper_changes ORDER BY seq LIMIT 1")
    return None if row is None else f"{row['seq']}@{row['changed_at']}"


def index_rows(storage: Storage, paper_ids: list[str]) -> dict[str, Row]:
    """The :data:`INDEX_COLUMNS` of the given papers (missing ones left out)."""
    found: dict[str, Row] = {}
    unique = list(dict.fromkeys(paper_ids))
    with storage.db.transaction(readonly=True) as tx:
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            for row in tx.query(
                f"SELECT {INDEX_COLUMNS} FROM papers WHERE id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ):
                found[row["id"]] = row
    return found


def scan_papers(storage: Storage, *, batch_size: int = 2000) -> Iterator[list[Row]]:
    """Every paper's :data:`INDEX_COLUMNS`, in id order, a batch at a time (keyset
    pagination: each batch is one index range read, whatever the table size)."""
    after = ""
    while True:
        rows = storage.db.query(
            f"SELECT {INDEX_COLUMNS} FROM papers WHERE id > ? ORDER BY id LIMIT ?",
            (after, batch_size),
        )
        if not rows:
            return
        yield rows
        after = rows[-1]["id"]


def count_papers(storage: Storage) -> int:
    return int(storage.db.scalar("SELECT COUNT(*) FROM papers") or 0)
