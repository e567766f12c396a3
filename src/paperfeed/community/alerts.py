"""Alert detection: what changed since the last run, matched against every follow.

Alerts come from the ``paper_changes`` log the search indexes follow (a
:class:`~paperfeed.search.changelog.ChangeCursor` kept in the checkpoints table under
``alerts``), never from polling papers. Per run, for the papers changed since:

* **followed papers** are compared with what they looked like last time
  (``paper_watch``): a higher arXiv version brings a ``version`` alert (with the
  date and the comment field, e.g. "accepted at ICLR"), a new comment on the same
  version a ``comment`` alert, a first code link a ``code`` alert, and upvotes
  reaching a follower's threshold an ``upvotes`` alert;
* **new papers** (first seen by this installation in this run, and listed or
  published within :data:`NEW_PAPER_DAYS` days, so importing an old archive alerts
  no one) bring a ``new-paper`` alert to everyone following one of their authors
  (each new paper), and to followers of their categories and searches (the best
  ``top`` new papers of the run: by the published trending formula for categories,
  by relevance for searches). A paper several follows bring is one alert listing
  every reason.

**At most once, crash-safe.** Alerts are keyed per user (``version:<id>:<n>``,
``new:<id>``...), and a run commits its alerts, the followed papers' new state and
the advanced cursor in one transaction: a run killed half-way commits nothing and
the next run redoes the same work; a run that repeats work finds the keys taken.
Two runs at once are serialised by the cursor (the later one notices it moved and
starts over). Muted follows bring nothing.

**Speed.** Follows are loaded once per run and indexed in memory (authors by their
first word, categories and searches by value), each distinct category or search is
answered once per run (searches over an in-memory index of the new papers,
:class:`~paperfeed.search.batch.BatchIndex`), and existing keys are looked up in bulk.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from paperfeed.models import utc_now
from paperfeed.models.follows import DEFAULT_TOP_COUNT, AlertRunReport
from paperfeed.rank.trending import rank_trending
from paperfeed.search.batch import BatchIndex
from paperfeed.search.changelog import INDEX_COLUMNS, ChangeCursor
from paperfeed.search.keyword import name_words
from paperfeed.storage.base import Row, Transaction
from paperfeed.storage.papers import paper_from_row
from paperfeed.storage.values import json_text, parse_day, parse_instant, parse_json

if TYPE_CHECKING:
    from paperfeed.progress import Progress
    from paperfeed.storage import Storage

CURSOR_KEY = "alerts"
#: A paper counts as new only if listed or published this recently (days).
NEW_PAPER_DAYS = 14
#: Changes read per transaction.
BATCH = 20_000
_CHUNK = 500
_WATCH_COLUMNS = ("version", "revised_at", "comments", "code_url", "upvotes")


def _query_in(tx: Transaction, sql: str, values: Sequence[Any]) -> Iterator[Row]:
    """Rows of ``sql`` whose ``{ids}`` becomes ``?, ?, ...`` for each chunk of ``values``."""
    for start in range(0, len(values), _CHUNK):
        chunk = list(values[start : start + _CHUNK])
        yield from tx.query(sql.format(ids=", ".join("?" * len(chunk))), chunk)


class _CursorMoved(Exception):
    """Another run advanced the cursor while this one computed: start over."""


def ensure_cursor(storage: Storage, tx: Transaction) -> None:
    """Start following the change log at its head, if alerts never ran: changes from
    before anyone followed anything bring no alerts."""
    row = tx.query_one("SELECT key FROM checkpoints WHERE key = ?", (CURSOR_KEY,))
    if row is None:
        storage.checkpoints.save(
            tx, CURSOR_KEY, ChangeCursor.at_head(storage).as_dict(), done=False
        )


@dataclass(slots=True)
class _Pending:
    """Alerts of one run, merged per (user, key) before they are written."""

    alerts: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)

    def add(
        self, user_id: int, key: str, kind: str, paper_id: str, follow_id: int,
        reason: str, detail: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        found = self.alerts.get((user_id, key))
        if found is None:
            found = self.alerts[(user_id, key)] = {
                "user_id": user_id, "alert_key": key, "kind": kind, "paper_id": paper_id,
                "follow_ids": [], "detail": {**(detail or {}), "reasons": []},
            }  # fmt: skip
        if follow_id not in found["follow_ids"]:
            found["follow_ids"].append(follow_id)
        if reason not in found["detail"]["reasons"]:
            found["detail"]["reasons"].append(reason)

    def rows(self) -> list[dict[str, Any]]:
        """The alerts with ``follow_ids`` and ``detail`` as JSON text. Most details are
        just the reasons, shared by many users: each distinct one is encoded once."""
        encoded: dict[tuple[str, ...], str] = {}
        rows = []
        for alert in self.alerts.values():
            detail = alert["detail"]
            if len(detail) == 1:
                key = tuple(detail["reasons"])
                text = encoded.get(key)
                if text is None:
                    text = encoded[key] = json_text(detail)
            else:
                text = json_text(detail)
            ids = alert["follow_ids"]
            rows.append({**alert, "detail": text,
                         "follow_ids": "[" + ",".join(str(i) for i in ids) + "]"})  # fmt: skip
        return rows


class _FollowIndex:
    """The unmuted author, category and search follows, indexed for matching.

    Popular names, categories and searches are followed by many users: each distinct
    one is matched once, then expanded to its followers.
    """

    def __init__(self, rows: Sequence[Row]) -> None:
        self.count = len(rows)
        #: distinct followed names (as word tuples) by their first word
        self.names: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        self.authors: dict[tuple[str, ...], list[Row]] = defaultdict(list)
        self.categories: dict[str, list[Row]] = defaultdict(list)
        self.searches: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            if row["kind"] == "author":
                words = tuple(row["target"].split())
                if words:
                    self.names[words[0]].add(words)
                    self.authors[words].append(row)
            elif row["kind"] == "category":
                self.categories[row["target"]].append(row)
            elif row["kind"] == "search":
                self.searches[row["target"]].append(row)
        self._matched: dict[str, list[tuple[str, ...]]] = {}

    def author_matches(self, author: str) -> list[tuple[str, ...]]:
        """The followed names found in ``author`` (memoised: authors recur)."""
        found = self._matched.get(author)
        if found is None:
            words = name_words(author)
            found = []
            for start, word in enumerate(words):
                for wanted in self.names.get(word, ()):
                    if tuple(words[start : start + len(wanted)]) == wanted:
                        found.append(wanted)
            self._matched[author] = found
        return found


class AlertDetector:
    """Runs detection over ``storage`` (see the module doc)."""

    def __init__(self, storage: Storage, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.storage = storage
        self.clock = clock

    def run(self, *, progress: Progress | None = None) -> AlertRunReport:
        report = AlertRunReport()
        now = self.clock()
        index: _FollowIndex | None = None
        while True:
            found = self.storage.checkpoints.get(CURSOR_KEY)
            if found is None:  # nobody ever followed anything: start at the head
                with self.storage.db.transaction() as tx:
                    ensure_cursor(self.storage, tx)
                return report
            state, _ = found
            cursor = ChangeCursor.from_dict(state)
            changes = cursor.pending(self.storage, limit=BATCH)
            if not changes:
                return report
            if index is None:
                with self.storage.db.transaction(readonly=True) as tx:
                    index = _FollowIndex(
                        self.storage.follows.active(tx, ("author", "category", "search"))
                    )
                report.follows = index.count
            if progress is not None:
                progress.start("finding alerts", None)
            try:
                self._batch(changes, cursor, state, index, now, report)
            except _CursorMoved:
                report.retried += 1
                continue
            if progress is not None:
                progress.advance(len(changes))
            if len(changes) < BATCH:
                return report

    # -- one batch -----------------------------------------------------------------------

    def _batch(
        self,
        changes: list[Row],
        cursor: ChangeCursor,
        state: dict[str, Any],
        index: _FollowIndex,
        now: datetime,
        report: AlertRunReport,
    ) -> None:
        pending_seqs = {int(row["seq"]) for row in changes}
        upserted = list(dict.fromkeys(r["paper_id"] for r in changes if r["kind"] == "upsert"))
        rows = self._paper_rows(upserted)
        report.changes += len(changes)
        report.papers += len(rows)
        alerts = _Pending()
        with self.storage.db.transaction(readonly=True) as tx:
            watch_updates = self._followed_papers(tx, rows, alerts)
            new_ids = self._new_papers(tx, rows, pending_seqs, now)
        report.new_papers += len(new_ids)
        if new_ids:
            self._new_paper_alerts([rows[pid] for pid in new_ids], index, now, alerts)
        fresh = self._not_yet_made(alerts.rows())
        cursor.advance(changes, now)
        with self.storage.db.transaction() as tx:
            # Lock the cursor row (PostgreSQL row lock; SQLite has one writer), then make
            # sure no other run moved it since we read it.
            tx.execute("UPDATE checkpoints SET done = done WHERE key = ?", (CURSOR_KEY,))
            stored = tx.query_one("SELECT state FROM checkpoints WHERE key = ?", (CURSOR_KEY,))
            if stored is None or parse_json(stored["state"], {}) != state:
                raise _CursorMoved
            self.storage.follows.insert_alerts(tx, fresh, now)
            self.storage.follows.update_watch(tx, watch_updates, now)
            self.storage.checkpoints.save(tx, CURSOR_KEY, cursor.as_dict(), done=False)
        report.alerts += len(fresh)
        for alert in fresh:
            report.by_kind[alert["kind"]] = report.by_kind.get(alert["kind"], 0) + 1

    def _paper_rows(self, paper_ids: Sequence[str]) -> dict[str, Row]:
        found: dict[str, Row] = {}
        with self.storage.db.transaction(readonly=True) as tx:
            for row in _query_in(
                tx,
                f"SELECT {INDEX_COLUMNS}, version, comments, published_at, updated_at"
                " FROM papers WHERE id IN ({ids})",
                paper_ids,
            ):
                found[row["id"]] = row
        return found

    def _followed_papers(
        self, tx: Transaction, rows: dict[str, Row], alerts: _Pending
    ) -> list[Row]:
        """Alerts for followed papers that changed; their new state to remember."""
        watched = self.storage.follows.watched(tx, list(rows))
        if not watched:
            return []
        followers: dict[str, list[Row]] = defaultdict(list)
        for follow in self.storage.follows.paper_followers(tx, list(watched)):
            followers[follow["paper_id"]].append(follow)
        updates = []
        for paper_id, before in watched.items():
            now_row = rows[paper_id]
            after = {"paper_id": paper_id, "revised_at": now_row["updated_at"],
                     **{c: now_row[c] for c in _WATCH_COLUMNS if c != "revised_at"}}  # fmt: skip
            after["upvotes"] = int(after["upvotes"] or 0)
            if all(before[c] == after[c] for c in _WATCH_COLUMNS):
                continue
            updates.append(after)
            for kind, key, detail in _paper_events(paper_id, before, now_row):
                for follow in followers.get(paper_id, ()):
                    alerts.add(follow["user_id"], key, kind, paper_id, follow["id"],
                               "A paper you follow", detail)  # fmt: skip
            old, new = int(before["upvotes"] or 0), after["upvotes"]
            for follow in followers.get(paper_id, ()):
                threshold = follow["upvote_threshold"]
                if threshold is not None and old < threshold <= new:
                    alerts.add(
                        follow["user_id"], f"upvotes:{paper_id}:{threshold}", "upvotes",
                        paper_id, follow["id"], f"Your threshold of {threshold} upvotes",
                        {"threshold": threshold, "upvotes": new},
                    )  # fmt: skip
        return updates

    def _new_papers(
        self, tx: Transaction, rows: dict[str, Row], pending_seqs: set[int], now: datetime
    ) -> list[str]:
        """Papers whose first change is in this batch, recent enough to be news."""
        earliest = (now - timedelta(days=NEW_PAPER_DAYS)).date()
        recent = []
        for paper_id, row in rows.items():
            published = parse_instant(row["published_at"])
            days = [d for d in (parse_day(row["feed_date"]), published and published.date()) if d]
            if days and max(days) >= earliest:
                recent.append(paper_id)
        firsts = _query_in(
            tx,
            "SELECT paper_id, MIN(seq) AS first FROM paper_changes"
            " WHERE paper_id IN ({ids}) GROUP BY paper_id",
            recent,
        )
        return sorted(row["paper_id"] for row in firsts if int(row["first"]) in pending_seqs)

    def _new_paper_alerts(
        self, rows: list[Row], index: _FollowIndex, now: datetime, alerts: _Pending
    ) -> None:
        def add(follow: Row, paper_id: str, reason: str) -> None:
            alerts.add(follow["user_id"], f"new:{paper_id}", "new-paper", paper_id,
                       follow["id"], reason)  # fmt: skip

        for row in rows:  # authors: every new paper
            for author in parse_json(row["authors"], []):
                for name in index.author_matches(author):
                    for follow in index.authors[name]:
                        add(follow, row["id"], f"By {follow['label']}, whom you follow")
        if index.categories:  # categories: the best new papers of each, by trending
            papers = [paper_from_row(_as_paper_row(row)) for row in rows]
            ranked = [score.paper for score in rank_trending(papers, now)]
            per_category: dict[str, list[str]] = defaultdict(list)
            for paper in ranked:
                names = {c.lower() for c in paper.categories}
                for name in names | {c.partition(".")[0] for c in names}:
                    if name in index.categories:
                        per_category[name].append(paper.id)
            for name, paper_ids in per_category.items():
                for follow in index.categories[name]:
                    for paper_id in paper_ids[: follow["top_count"] or DEFAULT_TOP_COUNT]:
                        add(follow, paper_id, f"New in {follow['label']}, which you follow")
        if index.searches:  # searches: the most relevant new papers of each
            batch = BatchIndex(rows)
            deepest = {q: max(f["top_count"] or DEFAULT_TOP_COUNT for f in follows)
                       for q, follows in index.searches.items()}  # fmt: skip
            for query, follows in index.searches.items():
                hits = batch.top(query, deepest[query])
                if not hits:
                    continue
                for follow in follows:
                    for paper_id in hits[: follow["top_count"] or DEFAULT_TOP_COUNT]:
                        add(follow, paper_id, f"Matches your followed search “{follow['label']}”")

    def _not_yet_made(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The alerts whose (user, key) is not in the table yet (bulk look-up by key)."""
        by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for alert in alerts:
            by_key[alert["alert_key"]].append(alert)
        keys = list(by_key)
        taken: set[tuple[int, str]] = set()
        with self.storage.db.transaction(readonly=True) as tx:
            sql = "SELECT user_id, alert_key FROM alerts WHERE alert_key IN ({ids})"
            for row in _query_in(tx, sql, keys):
                taken.add((int(row["user_id"]), row["alert_key"]))
        return [a for a in alerts if (a["user_id"], a["alert_key"]) not in taken]


def _paper_events(paper_id: str, before: Row, after: Row) -> list[tuple[str, str, dict[str, Any]]]:
    """``(kind, key, detail)`` of what changed on a followed paper.

    A new version is a higher version number, or, when a source gives no numbers (the
    OAI-PMH ``arXiv`` format), a later date of the latest version.
    """
    events = []
    old_version, new_version = before["version"], after["version"]
    revised = after["updated_at"]
    comments = (after["comments"] or "").strip()
    newer_number = new_version is not None and old_version is not None and new_version > old_version
    newer_date = (
        not newer_number
        and (new_version is None or new_version == old_version)
        and revised is not None
        and before["revised_at"] is not None
        and revised > before["revised_at"]
    )
    if newer_number or newer_date:
        events.append((
            "version", f"version:{paper_id}:{new_version if newer_number else revised}",
            {"version": new_version, "previous_version": old_version, "updated_at": revised,
             "comments": comments or None},
        ))  # fmt: skip
    elif comments and comments != (before["comments"] or "").strip():
        digest = hashlib.sha256(comments.encode()).hexdigest()[:16]
        events.append((
            "comment", f"comment:{paper_id}:{digest}",
            {"comments": comments, "previous_comments": before["comments"],
             "version": new_version},
        ))  # fmt: skip
    if after["code_url"] and not before["code_url"]:
        events.append(("code", f"code:{paper_id}", {"code_url": after["code_url"]}))
    return events


def _as_paper_row(row: Row) -> Row:
    """An ``INDEX_COLUMNS`` row with what :func:`paper_from_row` needs besides."""
    return {
        **{column: None for column in (
            "first_listed_on", "journal_ref", "doi", "abs_url", "pdf_url", "project_url",
            "created_at", "modified_at")},
        "author_count": 0, "metadata_source": "",
        "source_upvotes": int(row["upvotes"] or 0), "local_upvotes": 0,
        **row,
    }  # fmt: skip


__all__ = ["CURSOR_KEY", "AlertDetector", "ensure_cursor"]
