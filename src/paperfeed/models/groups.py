"""Plain data classes of groups: a group, its members, a group's ranked feed.

Instants are timezone-aware UTC ``datetime``. Nothing here holds a secret: invite
links are signed on demand, and the feed token exists in clear text only where it
was just made or shown to a member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from paperfeed.models.community import _iso

GroupRole = Literal["owner", "member"]
GROUP_ROLES: tuple[GroupRole, ...] = get_args(GroupRole)
GroupDigest = Literal["off", "daily", "weekly"]
GROUP_DIGESTS: tuple[GroupDigest, ...] = get_args(GroupDigest)


@dataclass(slots=True, frozen=True)
class Group:
    id: int
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    member_count: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "description": self.description,
            "member_count": self.member_count, "url": f"/groups/{self.id}",
            "created_at": _iso(self.created_at), "updated_at": _iso(self.updated_at),
        }  # fmt: skip


@dataclass(slots=True, frozen=True)
class Member:
    group_id: int
    user_id: int
    username: str
    role: GroupRole
    digest: GroupDigest
    joined_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """What other members see (not the member's digest choice)."""
        return {"username": self.username, "role": self.role, "joined_at": _iso(self.joined_at)}
