"""Follows: a user's authors, papers, categories and saved searches, each bringing alerts.

* **Authors** are matched the way author search (``au:"..."``) matches them: the
  name's words, lower-cased and without accents, next to each other and in order in
  one author of the paper, so following "LeCun" or "Yann LeCun" both find
  "Yann LeCun" (the first also finds any other LeCun).
* **Papers** are followed by id (arXiv ids lose their version, URLs are accepted).
* **Categories** are arXiv categories (``cs.LG``) or whole archives (``cs``).
* **Searches** use the search syntax (``docs/search.md``); bad syntax is refused
  when the follow is made, not when an alert run meets it.

Everything about follows and alerts is private to its user: other users, the API
without the user's token and every feed see nothing of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from paperfeed.community.alerts import ensure_cursor
from paperfeed.community.votes import paper_key
from paperfeed.errors import InputError, NotFoundError
from paperfeed.models.digest import Topic
from paperfeed.models.follows import FOLLOW_KINDS, MAX_TOP_COUNT, Alert, Follow
from paperfeed.search.keyword import name_words
from paperfeed.search.query import parse_query

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from paperfeed.storage import Storage

#: How many things one account may follow.
MAX_FOLLOWS = 500
MAX_LABEL = 200
MAX_THRESHOLD = 1_000_000
#: Kinds as typed on the command line and in ``kind:value`` text.
_KIND_ALIASES = {
    "author": "author", "au": "author",
    "paper": "paper", "id": "paper",
    "category": "category", "cat": "category",
    "search": "search", "query": "search",
}  # fmt: skip

#: Leave an option as it is (``None`` means "no threshold" for update_follow).
UNCHANGED: Any = object()


def follow_kind(text: str) -> str:
    kind = _KIND_ALIASES.get((text or "").strip().lower())
    if kind is None:
        raise InputError(f"follow kind must be one of {', '.join(FOLLOW_KINDS)}, not {text!r}")
    return kind


def parse_follow_spec(text: str) -> tuple[str, str]:
    """``author:Yann LeCun``, ``paper:2410.17243``, ``cat:cs.LG``, ``search:...``."""
    head, sep, rest = (text or "").partition(":")
    if not sep:
        raise InputError(f"expected kind:value (e.g. author:Yann LeCun), not {text[:60]!r}")
    return follow_kind(head), rest


def author_key(name: str) -> str:
    words = name_words(name)
    if not words:
        raise InputError(f"{name[:60]!r} has no letters to match an author name by")
    if len(words) > 8:
        raise InputError("an author name has at most 8 words")
    return " ".join(words)


def _clean_label(value: str, what: str) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise InputError(f"empty {what}")
    if len(text) > MAX_LABEL:
        raise InputError(f"a {what} must be at most {MAX_LABEL} characters")
    return text


def _check_threshold(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_THRESHOLD:
        raise InputError(f"an upvote threshold must be a whole number from 1 to {MAX_THRESHOLD}")
    return value


def _check_top(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_COUNT:
        raise InputError(f"top must be a whole number from 1 to {MAX_TOP_COUNT}")
    return value


class FollowsMixin:
    """Follow and alert methods of :class:`paperfeed.community.Community`."""

    storage: Storage
    _now: Callable[[], datetime]

    def _target(self, kind: str, value: str) -> tuple[str, str, str | None]:
        """``(target, label, paper_id)`` for what the user typed (see the module doc)."""
        if kind == "paper":
            key = paper_key(value)
            paper = self.storage.papers.get(key) if key else None
            if paper is None:
                raise NotFoundError(f"no paper with id {value[:80]!r}")
            return paper.id, (paper.title or paper.id)[:MAX_LABEL], paper.id
        if kind == "author":
            label = _clean_label(value, "author name")
            return author_key(label), label, None
        if kind == "category":
            topic = Topic.make("category", value)  # the digest's category rule
            return topic.query.lower(), topic.query, None
        label = _clean_label(value, "search")
        parse_query(label)  # InputError now, with the parser's message
        return label, label, None

    def follow(
        self,
        user_id: int,
        kind: str,
        value: str,
        *,
        upvote_threshold: int | None = None,
        top: int | None = None,
    ) -> Follow:
        """Follow something; following it again returns the existing follow unchanged.

        ``upvote_threshold`` (papers): an alert when the paper's upvotes reach it.
        ``top`` (categories, searches): how many new papers an alert run brings.
        """
        kind = follow_kind(kind)
        if upvote_threshold is not None and kind != "paper":
            raise InputError("an upvote threshold applies to paper follows only")
        if top is not None and kind not in ("category", "search"):
            raise InputError("top applies to category and search follows only")
        threshold, top_count = _check_threshold(upvote_threshold), _check_top(top)
        target, label, paper_id = self._target(kind, value)
        store = self.storage.follows
        now = self._now()
        with self.storage.db.transaction() as tx:
            if self.storage.users.get(user_id) is None:
                raise NotFoundError(f"no user with id {user_id}")
            existing = store.find(user_id, kind, paper_id or target)
            if existing is not None:
                return existing
            if store.count(tx, user_id) >= MAX_FOLLOWS:
                raise InputError(f"an account can follow at most {MAX_FOLLOWS} things")
            ensure_cursor(self.storage, tx)
            follow_id = store.insert(
                tx, user_id=user_id, kind=kind, target=target, label=label,
                paper_id=paper_id, upvote_threshold=threshold, top_count=top_count, at=now,
            )  # fmt: skip
            if follow_id is None:  # another request made the same follow meanwhile
                found = store.find(user_id, kind, paper_id or target)
                assert found is not None
                return found
            if paper_id is not None:
                store.watch(tx, paper_id, now)
            created = store.get(follow_id, tx)
        assert created is not None
        return created

    def find_follow(self, user_id: int, kind: str, value: str) -> Follow | None:
        """The user's follow of what ``kind``/``value`` name, or None."""
        kind = follow_kind(kind)
        try:
            target, _, paper_id = self._target(kind, value)
        except NotFoundError:
            return None
        return self.storage.follows.find(user_id, kind, paper_id or target)

    def follows(self, user_id: int, *, kind: str | None = None) -> list[Follow]:
        return self.storage.follows.of_user(user_id, kind=follow_kind(kind) if kind else None)

    def get_follow(self, user_id: int, follow_id: int) -> Follow:
        found = self.storage.follows.get(follow_id)
        if found is None or found.user_id != user_id:  # someone else's: as if missing
            raise NotFoundError(f"no follow {follow_id}")
        return found

    def update_follow(
        self,
        user_id: int,
        follow_id: int,
        *,
        muted: bool | None = None,
        upvote_threshold: Any = UNCHANGED,
        top: Any = UNCHANGED,
    ) -> Follow:
        """Mute or unmute a follow, set (or clear, with None) its threshold or top."""
        current = self.get_follow(user_id, follow_id)
        changes: dict[str, Any] = {}
        if muted is not None:
            changes["muted"] = bool(muted)
        if upvote_threshold is not UNCHANGED:
            if current.kind != "paper":
                raise InputError("an upvote threshold applies to paper follows only")
            changes["upvote_threshold"] = _check_threshold(upvote_threshold)
        if top is not UNCHANGED:
            if current.kind not in ("category", "search"):
                raise InputError("top applies to category and search follows only")
            changes["top_count"] = _check_top(top)
        with self.storage.db.transaction() as tx:
            if not self.storage.follows.update(tx, follow_id, user_id, changes):
                raise NotFoundError(f"no follow {follow_id}")
        return self.get_follow(user_id, follow_id)

    def unfollow(self, user_id: int, follow_id: int) -> Follow:
        """Stop following; the alerts it brought stay on the alerts page."""
        found = self.get_follow(user_id, follow_id)
        with self.storage.db.transaction() as tx:
            self.storage.follows.delete(tx, follow_id, user_id)
            if found.paper_id is not None:
                self.storage.follows.unwatch_if_unfollowed(tx, found.paper_id)
        return found

    def unfollow_value(self, user_id: int, kind: str, value: str) -> Follow:
        found = self.find_follow(user_id, kind, value)
        if found is None:
            raise NotFoundError(f"you do not follow {follow_kind(kind)} {value[:80]!r}")
        return self.unfollow(user_id, found.id)

    def followed_paper_ids(self, user_id: int, paper_ids: Sequence[str]) -> set[str]:
        return self.storage.follows.followed_paper_ids(user_id, list(paper_ids))

    def followed_authors(self, user_id: int) -> list[str]:
        """The authors a user follows (unmuted), as typed: a recommendation signal."""
        return self.storage.follows.followed_authors(user_id)

    # -- alerts --------------------------------------------------------------------------

    def alerts(
        self, user_id: int, *, limit: int = 50, offset: int = 0, unseen: bool = False
    ) -> list[Alert]:
        """The user's alerts, newest first."""
        return self.storage.follows.alerts_of(user_id, limit=limit, offset=offset, unseen=unseen)

    def alert_count(self, user_id: int, *, unseen: bool = False) -> int:
        return self.storage.follows.count_alerts(user_id, unseen=unseen)

    def mark_alerts_seen(self, user_id: int, alert_ids: Sequence[int] | None = None) -> int:
        """Mark the given alerts (all when None) as seen; returns how many changed."""
        return self.storage.follows.mark_seen(user_id, self._now(), alert_ids)
