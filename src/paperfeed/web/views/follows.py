"""Follow buttons, the follows page (mute, thresholds, unfollow) and the alerts page.

Follow buttons are small forms posting to ``/follows`` (``kind``, ``value``, ``next``)
and back: they work without JavaScript. Everything here is the viewer's own and
private: anonymous visitors are sent to log in, and a follow or alert id of another
user answers 404 like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from paperfeed.community.follows import UNCHANGED, author_key, follow_kind
from paperfeed.errors import InputError
from paperfeed.library import Library
from paperfeed.models import Paper
from paperfeed.models.follows import FOLLOW_KINDS, Alert, Follow
from paperfeed.web.auth import Viewer, require_user
from paperfeed.web.render import paper_path, with_query
from paperfeed.web.views.common import (
    PAGE_SIZE,
    done,
    library_of,
    page,
    pagination,
    parse_flag,
    parse_page,
)

router = APIRouter(include_in_schema=False)

#: Authors of a paper offered a follow button on its page.
PAPER_PAGE_AUTHORS = 12


def _optional_int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)  # type: ignore[arg-type]
    except ValueError:
        raise InputError(f"{name} must be a whole number, not {value!r}") from None


def follow_view(follow: Follow) -> dict[str, Any]:
    data = follow.as_dict()
    if follow.kind == "paper" and follow.paper_id:
        data["url"] = paper_path(follow.paper_id)
    elif follow.kind == "search":
        data["url"] = with_query("/search", {"q": follow.label})
    elif follow.kind == "category":
        data["url"] = with_query("/search", {"q": f"cat:{follow.label}"})
    else:
        data["url"] = with_query("/search", {"q": f'au:"{follow.label}"'})
    return data


def paper_follow_state(library: Library, current: Viewer, paper: Paper) -> dict[str, Any] | None:
    """Which of the paper, its authors and categories the viewer follows (None when
    anonymous): the follow buttons on the paper page."""
    if current.user is None:
        return None
    mine = library.community.follows(current.user.id)
    by_key = {(f.kind, f.paper_id if f.kind == "paper" else f.target): f for f in mine}

    def state(kind: str, key: str, value: str) -> dict[str, Any]:
        found = by_key.get((kind, key))
        return {"kind": kind, "value": value, "follow_id": found.id if found else None,
                "muted": found.muted if found else False}  # fmt: skip

    authors = []
    for name in paper.authors[:PAPER_PAGE_AUTHORS]:
        try:
            authors.append(state("author", author_key(name), name))
        except InputError:  # a name with no letters cannot be followed
            continue
    paper_state = state("paper", paper.id, paper.id)
    followed = by_key.get(("paper", paper.id))
    paper_state["upvote_threshold"] = followed.upvote_threshold if followed else None
    return {
        "paper": paper_state,
        "authors": authors,
        "categories": [state("category", c.lower(), c) for c in paper.categories],
    }


def search_follow_state(library: Library, current: Viewer, query: str) -> dict[str, Any] | None:
    if current.user is None or not query:
        return None
    found = library.community.find_follow(current.user.id, "search", query)
    return {"kind": "search", "value": query, "follow_id": found.id if found else None,
            "muted": found.muted if found else False}  # fmt: skip


# -- the follows page -----------------------------------------------------------------------


def follows_data(request: Request, **extra: Any) -> dict[str, Any]:
    user = require_user(request)
    found = library_of(request).community.follows(user.id)
    return {
        "follows": [follow_view(f) for f in found],
        "kinds": list(FOLLOW_KINDS),
        "form": {"kind": "author", "value": ""},
        "error": None,
        **extra,
    }


@router.get("/follows")
def follows_page(request: Request) -> Response:
    return page(request, "follows.html", follows_data(request))


@router.post("/follows")
def follow(
    request: Request,
    kind: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
    upvote_threshold: Annotated[str | None, Form()] = None,
    top: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    user = require_user(request)
    community = library_of(request).community
    try:
        created = community.follow(
            user.id, follow_kind(kind), value,
            upvote_threshold=_optional_int(upvote_threshold, "upvote threshold"),
            top=_optional_int(top, "top"),
        )  # fmt: skip
    except InputError as exc:
        if next:  # a follow button elsewhere: say it on an error page
            raise
        data = follows_data(request, form={"kind": kind, "value": value}, error=str(exc))
        return page(request, "follows.html", data, status=400)
    return done(request, next, {"follow": follow_view(created)}, "/follows")


@router.post("/follows/{follow_id:int}")
def change_follow(
    request: Request,
    follow_id: int,
    muted: Annotated[str | None, Form()] = None,
    upvote_threshold: Annotated[str | None, Form()] = None,
    top: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Mute/unmute, or set a threshold or top (an empty threshold clears it)."""
    user = require_user(request)
    changed = library_of(request).community.update_follow(
        user.id, follow_id,
        muted=parse_flag(muted, "muted"),
        upvote_threshold=UNCHANGED if upvote_threshold is None
        else _optional_int(upvote_threshold, "upvote threshold"),
        top=UNCHANGED if top in (None, "") else _optional_int(top, "top"),
    )  # fmt: skip
    return done(request, next, {"follow": follow_view(changed)}, "/follows")


@router.post("/follows/{follow_id:int}/delete")
def unfollow(
    request: Request, follow_id: int, next: Annotated[str | None, Form()] = None
) -> Response:
    user = require_user(request)
    removed = library_of(request).community.unfollow(user.id, follow_id)
    return done(request, next, {"removed": follow_view(removed)}, "/follows")


# -- the alerts page ------------------------------------------------------------------------


def alert_view(alert: Alert) -> dict[str, Any]:
    return {**alert.as_dict(), "url": paper_path(alert.paper_id)}


@router.get("/alerts")
def alerts_page(request: Request) -> Response:
    user = require_user(request)
    community = library_of(request).community
    unseen_only = bool(parse_flag(request.query_params.get("unseen"), "unseen"))
    page_number = parse_page(request.query_params.get("page"))
    found = community.alerts(
        user.id, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE, unseen=unseen_only
    )
    total = community.alert_count(user.id, unseen=unseen_only)
    data = {
        "alerts": [alert_view(a) for a in found],
        "unseen": community.alert_count(user.id, unseen=True),
        "unseen_only": unseen_only,
        "follow_count": len(community.follows(user.id)),
        "pagination": pagination(request, total=total, page_number=page_number),
    }
    return page(request, "alerts.html", data, headers={"cache-control": "private, no-cache"})


@router.post("/alerts/seen")
def alerts_seen(request: Request, next: Annotated[str | None, Form()] = None) -> Response:
    """Mark every alert as seen."""
    user = require_user(request)
    changed = library_of(request).community.mark_alerts_seen(user.id)
    return done(request, next, {"marked_seen": changed}, "/alerts")
