"""Choosing each subscriber's papers, for thousands of subscribers at once.

A digest leads with the alerts of the subscriber's account that no digest carried
yet (follows: new versions, code links, new papers; see
:mod:`paperfeed.community.alerts`), then holds papers new since the subscriber's
previous digest (by feed day):
the top trending ones (the published trending formula, ``paperfeed.rank.trending``)
followed by matches of the subscriber's topics, taken in turn from each topic so
one busy topic cannot crowd out the others, at most ``max_papers`` in all, and
never a paper the subscriber was sent before.

Speed comes from sharing: subscribers are grouped by window (almost all share
"since yesterday"), each window's papers are fetched and ranked once, and each
distinct topic is answered once per window (keyword and semantic topics through
``library.search``; authors and categories from in-memory indexes over the
window's papers). Per subscriber only a merge of precomputed lists remains.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from paperfeed.errors import PaperfeedError
from paperfeed.models import Paper
from paperfeed.models.digest import Cadence, Digest, DigestItem, Subscriber, Topic
from paperfeed.rank.trending import rank_trending
from paperfeed.storage import Storage

log = logging.getLogger(__name__)

#: A first digest (and one after a long pause) covers at most this many feed days.
LOOKBACK_DAYS: dict[Cadence, int] = {"daily": 7, "weekly": 14}
#: Alerts one digest carries at most (the oldest first; the rest go with the next).
MAX_ALERTS = 30
#: How many results a keyword topic contributes per window, best first.
SEARCH_TOPIC_LIMIT = 50
#: Semantic search ranks every paper of the window by closeness, relevant or not;
#: only the closest few are worth a reader's attention.
SEMANTIC_TOPIC_LIMIT = 5

#: How search says it relaxed an all-words query to any-word (then too loose for mail).
RELAXED_NOTICE = "No paper has all the words"

SearchFunction = Callable[..., Any]
_WORD = re.compile(r"\w+")


def period_key(cadence: Cadence, day: date) -> str:
    """``2024-10-25`` for a daily digest, the ISO week ``2024-W43`` for a weekly one."""
    if cadence == "daily":
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def fold(text: str) -> str:
    """Case- and accent-insensitive form of names and words."""
    if text.isascii():  # the usual case, and 20x faster
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


@dataclass(slots=True, frozen=True)
class Window:
    day_from: date
    day_to: date


def window_for(cadence: Cadence, day: date, last_day: date | None) -> Window:
    """Feed days a digest for ``day`` covers: those after the previous digest's, at
    most :data:`LOOKBACK_DAYS` of them."""
    earliest = day - timedelta(days=LOOKBACK_DAYS[cadence] - 1)
    start = earliest if last_day is None else max(earliest, last_day + timedelta(days=1))
    return Window(start, day)


class WindowPool:
    """One window's papers, ranked once, with indexes for answering topics."""

    def __init__(
        self,
        window: Window,
        papers: Sequence[Paper],
        now: datetime,
        search: SearchFunction | None,
    ) -> None:
        self.window = window
        self.papers = {paper.id: paper for paper in papers}
        self.trending = [score.paper.id for score in rank_trending(papers, now)]
        self._rank = {pid: position for position, pid in enumerate(self.trending)}
        self._search = search
        self._answers: dict[Topic, list[str]] = {}
        self._answer_sets: dict[Topic, set[str]] = {}
        self._authors: dict[str, list[tuple[str, tuple[str, ...]]]] | None = None
        self._categories: dict[str, list[str]] | None = None
        self._words: dict[str, set[str]] | None = None

    def matches(self, topic: Topic) -> list[str]:
        """Ids of the window's papers matching ``topic``, best first (memoised)."""
        found = self._answers.get(topic)
        if found is None:
            found = self._answers[topic] = self._answer(topic) if self.papers else []
        return found

    def matches_set(self, topic: Topic) -> set[str]:
        found = self._answer_sets.get(topic)
        if found is None:
            found = self._answer_sets[topic] = set(self.matches(topic))
        return found

    def _answer(self, topic: Topic) -> list[str]:
        if topic.kind == "category":
            return self._by_category(topic.query)
        if topic.kind == "author":
            return self._by_author(topic.query)
        if self._search is not None:
            searched = self._searched(topic)
            if searched is not None:
                return searched
        return self._by_words(topic.query)

    def _searched(self, topic: Topic) -> list[str] | None:
        from paperfeed.search.models import SearchFilters

        limit = SEMANTIC_TOPIC_LIMIT if topic.kind == "semantic" else SEARCH_TOPIC_LIMIT
        filters = SearchFilters(date_from=self.window.day_from, date_to=self.window.day_to)
        try:
            results = self._search(  # type: ignore[misc]
                topic.query, mode=topic.kind, filters=filters, sort="relevance", limit=limit
            )
        except PaperfeedError as exc:  # a saved query the search no longer accepts
            log.warning("digest topic %s skipped: %s", topic.as_text(), exc)
            return []
        if topic.kind == "semantic" and results.mode_used != "semantic":
            # Keyword fallback (no embedding model): the query's words must all match.
            return self._by_words(topic.query)
        if results.notice and RELAXED_NOTICE in results.notice:
            # No paper has every word and search widened to "any word": too loose for
            # a mail; a paper must have all of the topic's words.
            return self._by_words(topic.query)
        return [hit.paper.id for hit in results.hits if hit.paper.id in self.papers]

    def _ordered(self, ids: Iterable[str]) -> list[str]:
        return sorted(set(ids), key=self._rank.__getitem__)

    def _by_category(self, category: str) -> list[str]:
        if self._categories is None:
            index: dict[str, list[str]] = {}
            for pid in self.trending:  # trending order, so every list is best first
                for name in dict.fromkeys(self.papers[pid].categories):
                    index.setdefault(name, []).append(pid)
                    archive = name.partition(".")[0]
                    if archive != name:
                        index.setdefault(archive, []).append(pid)
            self._categories = {k: list(dict.fromkeys(v)) for k, v in index.items()}
        return self._categories.get(category, [])

    def _by_author(self, name: str) -> list[str]:
        """Papers with an author whose name contains the topic's words in order:
        "LeCun" and "Yann LeCun" both match "Yann LeCun"."""
        if self._authors is None:
            self._authors = {}
            for pid, paper in self.papers.items():
                for author in paper.authors:
                    tokens = tuple(words(author))
                    for token in set(tokens):
                        self._authors.setdefault(token, []).append((pid, tokens))
        wanted = tuple(words(name))
        if not wanted:
            return []
        found = []
        for pid, tokens in self._authors.get(wanted[0], []):
            size = len(wanted)
            if any(tokens[i : i + size] == wanted for i in range(len(tokens) - size + 1)):
                found.append(pid)
        return self._ordered(found)

    def _by_words(self, query: str) -> list[str]:
        """Offline stand-in for search: papers whose title or abstract has every word."""
        if self._words is None:
            self._words = {}
            for pid, paper in self.papers.items():
                for word in set(words(paper.title + " " + paper.abstract)):
                    self._words.setdefault(word, set()).add(pid)
        wanted = [w for w in words(query) if w not in ("and", "or", "not")]
        if not wanted:
            return []
        sets = sorted((self._words.get(w, set()) for w in wanted), key=len)
        return self._ordered(set.intersection(*sets))


class Composer:
    """Plans digests for many subscribers of one cadence and day."""

    def __init__(
        self,
        storage: Storage,
        *,
        trending_count: int,
        max_papers: int,
        search: SearchFunction | None = None,
    ) -> None:
        self.storage = storage
        self.trending_count = trending_count
        self.max_papers = max_papers
        self.search = search

    def compose_all(
        self, subscribers: Sequence[Subscriber], cadence: Cadence, now: datetime
    ) -> list[Digest]:
        """A digest (possibly empty) for each subscriber, in their order."""
        day = now.date()
        key = period_key(cadence, day)
        last = self.storage.digests.last_windows(cadence, [s.id for s in subscribers])
        windows = {s.id: window_for(cadence, day, last.get(s.id)) for s in subscribers}
        pools: dict[Window, WindowPool] = {}
        sent: dict[Window, dict[int, set[str]]] = {}
        for window in dict.fromkeys(windows.values()):
            if window.day_from > window.day_to:
                continue
            papers = self.storage.digests.window_papers(window.day_from, window.day_to)
            pools[window] = WindowPool(window, papers, now, self.search)
            sent[window] = self.storage.digests.sent_in_window(window.day_from, window.day_to)
        digests = []
        for subscriber in subscribers:
            window = windows[subscriber.id]
            digest = Digest(subscriber, cadence, key, window.day_from, window.day_to)
            pool = pools.get(window)
            if pool is not None and pool.papers:
                digest.candidates = len(pool.papers)
                digest.items = self._pick(subscriber, pool, sent[window].get(subscriber.id, set()))
            digests.append(digest)
        self._add_alerts(digests)
        return digests

    def _add_alerts(self, digests: list[Digest]) -> None:
        """Each account's alerts that no digest has carried yet lead its digest."""
        accounts = [d.subscriber.user_id for d in digests if d.subscriber.user_id is not None]
        if not accounts:
            return
        unsent = self.storage.follows.unsent(accounts, limit_per_user=MAX_ALERTS)
        for digest in digests:
            if digest.subscriber.user_id is not None:
                digest.alerts = unsent.get(digest.subscriber.user_id, [])

    def _pick(self, subscriber: Subscriber, pool: WindowPool, seen: set[str]) -> list[DigestItem]:
        limit = subscriber.max_papers or self.max_papers
        items: dict[str, DigestItem] = {}
        for pid in pool.trending:
            if len(items) >= min(self.trending_count, limit):
                break
            if pid not in seen:
                items[pid] = DigestItem(pool.papers[pid], trending=True)
        # Topic matches, one from each topic in turn.
        queues = [(topic, iter(pool.matches(topic))) for topic in subscriber.topics]
        while queues and len(items) < limit:
            still = []
            for topic, queue in queues:
                for pid in queue:
                    if pid in seen:
                        continue
                    item = items.get(pid)
                    if item is None:
                        if len(items) >= limit:
                            break
                        items[pid] = DigestItem(pool.papers[pid], topics=[topic.label])
                        still.append((topic, queue))
                        break
                    if topic.label not in item.topics:  # trending, or another topic's pick
                        item.topics.append(topic.label)
            queues = still
        # Trending papers that also match a topic say so.
        for item in items.values():
            if item.trending:
                for topic in subscriber.topics:
                    if topic.label not in item.topics and item.paper.id in pool.matches_set(topic):
                        item.topics.append(topic.label)
        return list(items.values())
