"""Plain data classes of follows and alerts.

A :class:`Follow` is a user's interest in an author, a paper, a category or a saved
search; an :class:`Alert` is one thing that happened to something followed (a new
version, a first code link, an upvote threshold reached, a new paper). Instants are
timezone-aware UTC ``datetime``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from paperfeed.models.community import _iso

FollowKind = Literal["author", "paper", "category", "search"]
FOLLOW_KINDS: tuple[FollowKind, ...] = get_args(FollowKind)
AlertKind = Literal["version", "comment", "code", "upvotes", "new-paper"]
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)

#: New papers a followed category or search brings per detection run, by default.
DEFAULT_TOP_COUNT = 3
MAX_TOP_COUNT = 20


@dataclass(slots=True, frozen=True)
class Follow:
    id: int
    user_id: int
    kind: FollowKind
    #: What is matched (see the ``follows`` table): paper id, folded name, category, query.
    target: str
    #: What the user typed (a paper's title for paper follows).
    label: str
    paper_id: str | None
    muted: bool
    upvote_threshold: int | None
    top_count: int | None
    created_at: datetime

    @property
    def top(self) -> int:
        return self.top_count or DEFAULT_TOP_COUNT

    @property
    def spec(self) -> str:
        """The follow as ``kind:value`` text, what ``paperfeed unfollow`` and exports use."""
        value = self.paper_id if self.kind == "paper" else self.label
        return f"{self.kind}:{value}"

    @property
    def description(self) -> str:
        """How an alert names it: "Yann LeCun, whom you follow"."""
        if self.kind == "author":
            return f"{self.label}, whom you follow"
        if self.kind == "category":
            return f"category {self.label}, which you follow"
        if self.kind == "search":
            return f"your followed search “{self.label}”"
        return "a paper you follow"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "value": self.paper_id if self.kind == "paper" else self.label,
            "label": self.label,
            "muted": self.muted,
            "upvote_threshold": self.upvote_threshold,
            "top": self.top if self.kind in ("category", "search") else None,
            "created_at": _iso(self.created_at),
        }


@dataclass(slots=True, frozen=True)
class Alert:
    id: int
    user_id: int
    kind: AlertKind
    paper_id: str
    follow_ids: list[int]
    #: ``reasons`` (sentences), and per kind ``version``/``previous_version``,
    #: ``comments``, ``code_url``, ``upvotes``/``threshold``.
    detail: dict[str, Any]
    created_at: datetime
    seen_at: datetime | None = None
    send_id: int | None = None
    mailed_at: datetime | None = None
    #: The paper's title when read with it (alerts pages and mails).
    title: str = ""

    @property
    def headline(self) -> str:
        """One line saying what happened."""
        detail = self.detail
        if self.kind == "version":
            line = "New version"
            if detail.get("version"):
                line += f" v{detail['version']}"
            if detail.get("updated_at"):
                line += f" ({str(detail['updated_at'])[:10]})"
            if detail.get("comments"):
                line += f" — {detail['comments']}"
            return line
        if self.kind == "comment":
            return f"New comment: {detail.get('comments') or ''}".rstrip(": ")
        if self.kind == "code":
            return "Code is out"
        if self.kind == "upvotes":
            return f"Reached {detail.get('threshold')} upvotes ({detail.get('upvotes')} now)"
        return "New paper"

    @property
    def reasons(self) -> list[str]:
        return list(self.detail.get("reasons", []))

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "paper_id": self.paper_id,
            "title": self.title,
            "headline": self.headline,
            "reasons": self.reasons,
            "detail": self.detail,
            "follow_ids": self.follow_ids,
            "created_at": _iso(self.created_at),
            "seen_at": _iso(self.seen_at),
            "mailed_at": _iso(self.mailed_at),
        }


@dataclass(slots=True)
class AlertRunReport:
    """What one detection run did."""

    changes: int = 0
    papers: int = 0
    new_papers: int = 0
    follows: int = 0
    alerts: int = 0
    #: ``kind -> count`` of alerts made.
    by_kind: dict[str, int] = field(default_factory=dict)
    #: Set when the run found another run had advanced the cursor meanwhile.
    retried: int = 0
