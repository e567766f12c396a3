"""The JSON API of follows and alerts (``/api/follows``, ``/api/alerts``).

Everything here is the token holder's own: there is no way to read another user's
follows or alerts, and another user's follow id answers 404 like a missing one.
Same rules as the rest of ``/api`` (:mod:`paperfeed.web.api`): bearer token only,
writes count against the per-minute limit, errors are ``{"error", "status"}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from paperfeed.community.follows import MAX_THRESHOLD, UNCHANGED
from paperfeed.models.follows import MAX_TOP_COUNT
from paperfeed.web.api import Limit, Page, TokenUser, Writer
from paperfeed.web.views.common import library_of

router = APIRouter(prefix="/api")


class FollowOut(BaseModel):
    id: int
    kind: Literal["author", "paper", "category", "search"]
    value: str = Field(description="The paper id, or the name, category or query as typed.")
    label: str
    muted: bool
    upvote_threshold: int | None
    top: int | None = Field(description="Categories and searches: new papers per alert run.")
    created_at: str


class FollowBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["author", "paper", "category", "search"]
    value: str = Field(max_length=300, examples=["Yann LeCun"])
    upvote_threshold: int | None = Field(default=None, ge=1, le=MAX_THRESHOLD)
    top: int | None = Field(default=None, ge=1, le=MAX_TOP_COUNT)


class FollowChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    muted: bool | None = None
    upvote_threshold: int | None = Field(default=None, ge=1, le=MAX_THRESHOLD)
    top: int | None = Field(default=None, ge=1, le=MAX_TOP_COUNT)


class AlertOut(BaseModel):
    id: int
    kind: Literal["version", "comment", "code", "upvotes", "new-paper"]
    paper_id: str
    title: str
    headline: str
    reasons: list[str]
    detail: dict[str, Any]
    follow_ids: list[int]
    created_at: str
    seen_at: str | None
    mailed_at: str | None


class SeenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[int] | None = Field(default=None, max_length=1000,
                                  description="Alert ids; all alerts when left out.")  # fmt: skip


class SeenOut(BaseModel):
    marked_seen: int


@router.get("/follows", response_model=list[FollowOut], tags=["follows"])
def list_follows(request: Request, user: TokenUser) -> list[dict[str, Any]]:
    """What the token holder follows."""
    return [f.as_dict() for f in library_of(request).community.follows(user.id)]


@router.post("/follows", response_model=FollowOut, status_code=201, tags=["follows"],
             responses={200: {"description": "Already followed: the existing follow."}})  # fmt: skip
def create_follow(request: Request, body: FollowBody, user: Writer) -> Response:
    """Follow an author, a paper, a category or a search (201; 200 if already followed)."""
    community = library_of(request).community
    existing = community.find_follow(user.id, body.kind, body.value)
    found = existing or community.follow(
        user.id, body.kind, body.value, upvote_threshold=body.upvote_threshold, top=body.top
    )
    return JSONResponse(found.as_dict(), status_code=200 if existing else 201)


@router.patch("/follows/{follow_id:int}", response_model=FollowOut, tags=["follows"])
def change_follow(
    request: Request, follow_id: int, body: FollowChange, user: Writer
) -> dict[str, Any]:
    """Mute or unmute, set a threshold or top; ``"upvote_threshold": null`` clears it."""
    fields = body.model_fields_set
    changed = library_of(request).community.update_follow(
        user.id, follow_id, muted=body.muted,
        upvote_threshold=body.upvote_threshold if "upvote_threshold" in fields else UNCHANGED,
        top=body.top if "top" in fields and body.top is not None else UNCHANGED,
    )  # fmt: skip
    return changed.as_dict()


@router.delete("/follows/{follow_id:int}", status_code=204, tags=["follows"])
def delete_follow(request: Request, follow_id: int, user: Writer) -> Response:
    """Stop following (its alerts stay)."""
    library_of(request).community.unfollow(user.id, follow_id)
    return Response(status_code=204)


@router.get("/alerts", response_model=list[AlertOut], tags=["follows"])
def list_alerts(
    request: Request,
    user: TokenUser,
    unseen: Annotated[bool, Query(description="Only alerts not yet marked seen.")] = False,
    p: Page = 0,
    limit: Limit = 50,
) -> list[dict[str, Any]]:
    """The token holder's alerts, newest first."""
    found = library_of(request).community.alerts(
        user.id, limit=limit, offset=p * limit, unseen=unseen
    )
    return [a.as_dict() for a in found]


@router.post("/alerts/seen", response_model=SeenOut, tags=["follows"])
def mark_alerts_seen(request: Request, body: SeenBody, user: Writer) -> dict[str, Any]:
    """Mark alerts as seen (all of them without ``ids``)."""
    return {"marked_seen": library_of(request).community.mark_alerts_seen(user.id, body.ids)}
