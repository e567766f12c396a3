"""Plain data classes of the community features (accounts, votes, collections, submissions).

Instants are timezone-aware UTC ``datetime``; nothing here holds a secret that
the database stores: session ids and API tokens exist in clear text only in the
objects handed to the caller who created or presented them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

SubmissionStatus = Literal["fetched", "queued", "failed"]


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


@dataclass(slots=True, frozen=True)
class User:
    id: int
    username: str
    email: str
    is_admin: bool
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; includes the e-mail address, so only for the user or an admin."""
        return {k: _iso(v) for k, v in asdict(self).items()}


@dataclass(slots=True, frozen=True)
class Session:
    #: The bearer secret (cookie value). Only its sha256 is stored.
    token: str
    user_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime


@dataclass(slots=True, frozen=True)
class Vote:
    user_id: int
    paper_id: str
    created_at: datetime


@dataclass(slots=True, frozen=True)
class Collection:
    id: int
    owner_id: int
    owner_username: str
    name: str
    slug: str
    description: str
    is_public: bool
    #: Empty unless the collection was read by its owner: the link that opens a
    #: private collection is the owner's to hand out.
    share_token: str
    created_at: datetime
    updated_at: datetime
    paper_count: int
    #: Set for a group's shared collection: only the group's members see it.
    group_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: _iso(v) for k, v in asdict(self).items()}


@dataclass(slots=True, frozen=True)
class Submission:
    id: int
    user_id: int
    arxiv_id: str
    status: SubmissionStatus
    message: str
    paper_id: str | None
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {k: _iso(v) for k, v in asdict(self).items()}
