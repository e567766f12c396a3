"""Group pages: my groups, a group's feed (its members' votes only), members, invites,
shared collections, the group digest choice, and the invite page.

Every route here answers a non-member exactly as a missing group (404), HTML and JSON
alike; the invite page shows a group's name to whoever holds a valid invite link.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from paperfeed.errors import InputError
from paperfeed.models.groups import GROUP_DIGESTS, Group
from paperfeed.web.auth import require_user, viewer
from paperfeed.web.views.common import (
    cards,
    done,
    library_of,
    page,
    pagination,
    parse_page,
)

router = APIRouter(include_in_schema=False)

GROUP_PAGE_SIZE = 30
RECENT_VOTES = 20
NO_STORE = {"cache-control": "no-store"}


def group_path(group: Group | int) -> str:
    return f"/groups/{group if isinstance(group, int) else group.id}"


def groups_data(request: Request, **extra: Any) -> dict[str, Any]:
    user = require_user(request)
    mine = library_of(request).community.groups_of(user.id)
    return {"groups": [g.as_dict() for g in mine], "form": {"name": "", "description": ""},
            "error": None, **extra}  # fmt: skip


@router.get("/groups")
def groups_page(request: Request) -> Response:
    return page(request, "groups.html", groups_data(request))


@router.post("/groups")
def create_group(
    request: Request,
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    user = require_user(request)
    try:
        created = library_of(request).community.create_group(user.id, name, description=description)
    except InputError as exc:
        data = groups_data(request, form={"name": name, "description": description},
                           error=str(exc))  # fmt: skip
        return page(request, "groups.html", data, status=400)
    return done(request, group_path(created), {"group": created.as_dict()}, "/groups")


def group_data(request: Request, group_id: int, **extra: Any) -> dict[str, Any]:
    library = library_of(request)
    current = viewer(request)
    community = library.community
    group = community.group(group_id, viewer_id=current.id)  # 404 for non-members
    me = community.membership(group_id, current.id)
    page_number = parse_page(request.query_params.get("page"))
    ranked, total = community.group_feed(
        group_id, viewer_id=current.id, limit=GROUP_PAGE_SIZE,
        offset=(page_number - 1) * GROUP_PAGE_SIZE,
    )  # fmt: skip
    feed = cards(library, current, [s.paper for s in ranked])
    for card, score in zip(feed, ranked, strict=True):
        card.update(group_votes=score.upvotes, score=round(score.score, 6),
                    why=score.explanation().replace("upvote", "member upvote"))  # fmt: skip
    recent = community.group_recent_votes(group_id, viewer_id=current.id, limit=RECENT_VOTES)
    recent_cards = cards(library, current, [paper for paper, _ in recent])
    for card, (_, votes) in zip(recent_cards, recent, strict=True):
        card["group_votes"] = votes
    members = community.group_members(group_id, viewer_id=current.id)
    collections = community.group_collections(group_id, viewer_id=current.id)
    is_owner = me.role == "owner"
    return {
        "group": group.as_dict(),
        "me": {"role": me.role, "digest": me.digest, "is_owner": is_owner},
        "feed": feed,
        "recent": recent_cards,
        "members": [m.as_dict() for m in members],
        "collections": [{**c.as_dict(), "url": f"/collections/{c.id}"} for c in collections],
        "digests": list(GROUP_DIGESTS),
        "pagination": pagination(
            request, total=total, page_number=page_number, page_size=GROUP_PAGE_SIZE
        ),
        "invite_url": None,
        "feed_url": None,
        "digest_confirm": request.query_params.get("digest") == "confirm",
        "error": None,
        **extra,
    }


@router.get("/groups/{group_id:int}")
def group_page(request: Request, group_id: int) -> Response:
    require_user(request)
    return page(request, "group.html", group_data(request, group_id),
                headers={"cache-control": "private, no-cache"})  # fmt: skip


def _absolute(request: Request, path: str) -> str:
    return request.app.state.settings.base_url.rstrip("/") + path


@router.post("/groups/{group_id:int}/invite")
def create_invite(request: Request, group_id: int) -> Response:
    """A fresh invite link, shown on the page (owners only)."""
    user = require_user(request)
    token = library_of(request).community.invite_token(group_id, user.id)
    url = _absolute(request, f"/groups/join/{token}")
    data = group_data(request, group_id, invite_url=url)
    return page(request, "group.html", data, status=201, headers=NO_STORE)


@router.post("/groups/{group_id:int}/invites/void")
def void_invites(request: Request, group_id: int) -> Response:
    user = require_user(request)
    library_of(request).community.void_invites(group_id, user.id)
    return done(request, group_path(group_id), {"invites_voided": True}, group_path(group_id))


@router.post("/groups/{group_id:int}/feed-token")
def new_feed_token(request: Request, group_id: int) -> Response:
    """A new secret Atom feed address, shown once (owners only); the old one stops."""
    user = require_user(request)
    token = library_of(request).community.new_group_feed_token(group_id, user.id)
    url = _absolute(request, f"/feeds/groups/{group_id}/{token}.atom")
    data = group_data(request, group_id, feed_url=url)
    return page(request, "group.html", data, status=201, headers=NO_STORE)


@router.post("/groups/{group_id:int}/members")
def add_member(request: Request, group_id: int, username: Annotated[str, Form()] = "") -> Response:
    user = require_user(request)
    community = library_of(request).community
    community.require_group_owner(group_id, user.id)  # others learn nothing of usernames
    added = community.add_member(group_id, community.user_by_username(username).id,
                                 actor_id=user.id)  # fmt: skip
    return done(request, group_path(group_id), {"member": added.as_dict()}, group_path(group_id))


@router.post("/groups/{group_id:int}/members/{username}/role")
def set_role(
    request: Request, group_id: int, username: str, role: Annotated[str, Form()] = ""
) -> Response:
    user = require_user(request)
    community = library_of(request).community
    community.require_group_owner(group_id, user.id)
    target = community.user_by_username(username)
    changed = community.set_member_role(group_id, user.id, target.id, role)
    return done(request, group_path(group_id), {"member": changed.as_dict()}, group_path(group_id))


@router.post("/groups/{group_id:int}/members/{username}/remove")
def remove_member(request: Request, group_id: int, username: str) -> Response:
    user = require_user(request)
    community = library_of(request).community
    community.membership(group_id, user.id)
    target = community.user_by_username(username)
    community.remove_member(group_id, user.id, target.id)
    leaving = target.id == user.id
    next_path = "/groups" if leaving else group_path(group_id)
    return done(request, next_path, {"removed": target.username}, next_path)


@router.post("/groups/{group_id:int}/digest")
def set_digest(request: Request, group_id: int, digest: Annotated[str, Form()] = "off") -> Response:
    user = require_user(request)
    state = library_of(request).set_group_digest(group_id, user.id, digest)
    path = group_path(group_id) + ("?digest=confirm" if state == "confirmation-sent" else "")
    return done(request, path, {"digest": digest, "state": state}, path)


@router.post("/groups/{group_id:int}/collections")
def create_group_collection(
    request: Request, group_id: int, name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    user = require_user(request)
    created = library_of(request).community.create_group_collection(
        group_id, user.id, name, description=description
    )
    return done(request, f"/collections/{created.id}", {"collection": created.as_dict()},
                group_path(group_id))  # fmt: skip


@router.post("/groups/{group_id:int}/delete")
def delete_group(request: Request, group_id: int) -> Response:
    user = require_user(request)
    library_of(request).community.delete_group(group_id, user.id)
    return done(request, "/groups", {"deleted": group_id}, "/groups")


# -- invites ----------------------------------------------------------------------------


@router.get("/groups/join/{token}")
def invite_page(request: Request, token: str) -> Response:
    """What the invite is for, and a Join button (log in first)."""
    group = library_of(request).community.read_invite(token)
    current = viewer(request)
    member = library_of(request).community.is_member(group.id, current.id)
    data = {"group": {"name": group.name, "description": group.description,
                      "member_count": group.member_count},
            "token": token, "already_member": member, "group_url": group_path(group)}  # fmt: skip
    return page(request, "group_invite.html", data, headers=NO_STORE)


@router.post("/groups/join/{token}")
def join(request: Request, token: str) -> Response:
    user = require_user(request)
    community = library_of(request).community
    member = community.join(token, user.id)
    return done(request, group_path(member.group_id), {"joined": member.group_id},
                group_path(member.group_id))  # fmt: skip
