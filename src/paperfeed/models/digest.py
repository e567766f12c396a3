"""Plain data classes of e-mail delivery: subscribers, topics, digests and run reports.

Instants are timezone-aware UTC ``datetime``; days are ``date``. Nothing here holds
a secret: confirmation and unsubscribe links are signed on demand from the ids.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal, get_args

from paperfeed.errors import InputError
from paperfeed.models import Paper
from paperfeed.models.follows import Alert

Cadence = Literal["daily", "weekly"]
CADENCES: tuple[Cadence, ...] = get_args(Cadence)
#: What a subscription asks for: a digest of a cadence, or "off": no personal digest,
#: the address confirmed for group digests only.
SubscriptionCadence = Literal["daily", "weekly", "off"]
SUBSCRIPTION_CADENCES: tuple[SubscriptionCadence, ...] = get_args(SubscriptionCadence)
SubscriberStatus = Literal["pending", "active", "unsubscribed"]
TopicKind = Literal["keyword", "semantic", "author", "category"]
TOPIC_KINDS: tuple[TopicKind, ...] = get_args(TopicKind)
SendStatus = Literal["claimed", "sent", "failed", "skipped"]

#: Prefixes accepted in ``kind:query`` topic text (CLI ``--topic``, the web form).
_TOPIC_PREFIXES: dict[str, TopicKind] = {
    "keyword": "keyword", "kw": "keyword", "search": "keyword",
    "semantic": "semantic", "sem": "semantic", "similar": "semantic",
    "author": "author", "au": "author",
    "category": "category", "cat": "category",
}  # fmt: skip
# An arXiv archive ("cs", "hep-th") or category ("cs.LG", "math.AP", "astro-ph.GA").
_CATEGORY_RE = re.compile(r"^[a-z][a-z\-]{0,15}(\.[A-Za-z][A-Za-z\-]{0,15})?$")
TOPIC_MAX_LENGTH = 200
MAX_TOPICS = 20


def _check_text(value: str, what: str) -> str:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InputError(f"{what} must not contain control characters or line breaks")
    return " ".join(value.split())


def cadence_of(value: str) -> Cadence:
    cleaned = (value or "").strip().lower()
    if cleaned not in CADENCES:
        raise InputError(f"cadence must be daily or weekly, not {value[:40]!r}")
    return cleaned  # type: ignore[return-value]


def subscription_cadence_of(value: str) -> SubscriptionCadence:
    cleaned = (value or "").strip().lower()
    if cleaned not in SUBSCRIPTION_CADENCES:
        raise InputError(f"cadence must be daily, weekly or off, not {value[:40]!r}")
    return cleaned  # type: ignore[return-value]


@dataclass(slots=True, frozen=True)
class Topic:
    """A saved search: a keyword or semantic query, an author name or a category."""

    kind: TopicKind
    query: str
    id: int | None = field(default=None, compare=False)

    @classmethod
    def make(cls, kind: str, query: str) -> Topic:
        """A validated topic (clear InputError otherwise)."""
        if kind not in TOPIC_KINDS:
            raise InputError(f"topic kind must be one of {', '.join(TOPIC_KINDS)}, not {kind!r}")
        text = _check_text(query or "", "a topic")
        if not text:
            raise InputError(f"empty {kind} topic")
        if len(text) > TOPIC_MAX_LENGTH:
            raise InputError(f"a topic must be at most {TOPIC_MAX_LENGTH} characters")
        if kind == "category":
            archive, dot, rest = text.partition(".")
            text = archive.lower() + dot + rest
            if not _CATEGORY_RE.fullmatch(text):
                raise InputError(f"{query[:40]!r} is not an arXiv category like cs.LG")
        if kind == "author" and len(text) < 2:
            raise InputError("an author topic needs at least 2 characters")
        return cls(kind, text)  # type: ignore[arg-type]

    @classmethod
    def parse(cls, text: str) -> Topic:
        """``keyword:diffusion``, ``cat:cs.LG``, ``author:Yann LeCun``, ``semantic:...``;
        text without a known prefix is a keyword query."""
        head, sep, rest = (text or "").partition(":")
        kind = _TOPIC_PREFIXES.get(head.strip().lower()) if sep else None
        if kind is None:
            return cls.make("keyword", text)
        return cls.make(kind, rest)

    @property
    def label(self) -> str:
        """How the topic is named to its subscriber: "because you follow <label>"."""
        if self.kind == "author":
            return f"author {self.query}"
        if self.kind == "category":
            return f"category {self.query}"
        return f"'{self.query}'"

    def as_text(self) -> str:
        return f"{self.kind}:{self.query}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "query": self.query, "label": self.label}


@dataclass(slots=True, frozen=True)
class Subscriber:
    id: int
    email: str
    status: SubscriberStatus
    cadence: SubscriptionCadence
    max_papers: int | None
    user_id: int | None
    created_at: datetime
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    topics: tuple[Topic, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; includes the address, so only for its owner or an admin."""
        data = asdict(self)
        data["topics"] = [topic.as_dict() for topic in self.topics]
        for key in ("created_at", "confirmed_at", "unsubscribed_at"):
            value = data[key]
            data[key] = value.isoformat().replace("+00:00", "Z") if value else None
        return data


@dataclass(slots=True)
class DigestItem:
    """One paper of a digest and why it is there."""

    paper: Paper
    trending: bool = False
    #: Labels of the subscriber's topics the paper matched, e.g. "'diffusion'".
    topics: list[str] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        found = []
        if self.trending:
            votes = self.paper.upvotes
            found.append(f"trending ({votes} upvote{'s' if votes != 1 else ''})")
        found += [f"because you follow {label}" for label in self.topics]
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.paper.id,
            "title": self.paper.display_title,
            "feed_date": self.paper.feed_date.isoformat() if self.paper.feed_date else None,
            "trending": self.trending,
            "topics": list(self.topics),
            "reasons": self.reasons,
        }


@dataclass(slots=True)
class Digest:
    """What one subscriber gets for one period (empty: nothing is sent)."""

    subscriber: Subscriber
    cadence: Cadence
    period_key: str
    window_from: date
    window_to: date
    items: list[DigestItem] = field(default_factory=list)
    #: Papers in the window before choosing (0: nothing new on the site at all).
    candidates: int = 0
    #: Alerts of the subscriber's account (follows) no digest carried yet: they lead.
    alerts: list[Alert] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.items and not self.alerts

    @property
    def trending_items(self) -> list[DigestItem]:
        return [item for item in self.items if item.trending]

    @property
    def topic_items(self) -> list[DigestItem]:
        return [item for item in self.items if not item.trending]

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscriber_id": self.subscriber.id,
            "email": self.subscriber.email,
            "cadence": self.cadence,
            "period": self.period_key,
            "window": [self.window_from.isoformat(), self.window_to.isoformat()],
            "papers": [item.as_dict() for item in self.items],
            "alerts": [alert.as_dict() for alert in self.alerts],
        }


@dataclass(slots=True)
class DigestRunReport:
    """What one ``send_digests`` call did."""

    cadence: Cadence
    period_key: str
    #: Set when the whole run was skipped (weekend, holiday).
    skipped_reason: str | None = None
    due: int = 0
    sent: int = 0
    #: Due subscribers with nothing new for them (no mail, logged as skipped).
    empty: int = 0
    failed: int = 0
    #: Transient failures: kept claimed, retried by a later run.
    deferred: int = 0
    #: Claimed by another worker first.
    elsewhere: int = 0
    #: Claims of a crashed run taken over and sent now.
    resumed: int = 0
    #: Of those, claims whose worker died while handing the digest to the mail
    #: server: it may have had it already, so the reader may get it twice.
    uncertain: int = 0
    #: Claims of this cadence not finished when the run ended (deferred, or held by
    #: a worker that is sending them or died: a later run takes them over).
    pending: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
