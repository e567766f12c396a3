"""The JSON API of groups (``/api/groups``): the token holder's groups and their feeds.

A group another user's token is not a member of answers 404, exactly as a group that
does not exist. Same rules as the rest of ``/api`` (:mod:`paperfeed.web.api`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from paperfeed.web.api import Limit, Page, TokenUser
from paperfeed.web.api_hf import HFDailyPaper, hf_item
from paperfeed.web.views.common import library_of

router = APIRouter(prefix="/api")


class GroupOut(BaseModel):
    id: int
    name: str
    description: str
    member_count: int
    url: str
    created_at: str
    updated_at: str


class MemberOut(BaseModel):
    username: str
    role: str
    joined_at: str


class GroupPage(BaseModel):
    group: GroupOut
    members: list[MemberOut]
    papers: list[HFDailyPaper]
    member_upvotes: dict[str, int]
    total: int


@router.get("/groups", response_model=list[GroupOut], tags=["groups"])
def my_groups(request: Request, user: TokenUser) -> list[dict[str, Any]]:
    """The token holder's groups."""
    return [g.as_dict() for g in library_of(request).community.groups_of(user.id)]


@router.get("/groups/{group_id:int}", response_model=GroupPage,
            response_model_exclude_unset=True, tags=["groups"])  # fmt: skip
def group_feed(
    request: Request, group_id: int, user: TokenUser, p: Page = 0, limit: Limit = 50
) -> dict[str, Any]:
    """A group and a page of its feed: papers its members upvoted, ranked by the
    trending formula applied to their votes only (``member_upvotes``)."""
    community = library_of(request).community
    group = community.group(group_id, viewer_id=user.id)
    ranked, total = community.group_feed(group_id, viewer_id=user.id, limit=limit,
                                         offset=p * limit)  # fmt: skip
    return {
        "group": group.as_dict(),
        "members": [m.as_dict() for m in community.group_members(group_id, viewer_id=user.id)],
        "papers": [hf_item(s.paper) for s in ranked],
        "member_upvotes": {s.paper.id: s.upvotes for s in ranked},
        "total": total,
    }
