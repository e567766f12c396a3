"""Collections: create, list, view (public, own, or by share link), change, add/remove papers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from paperfeed.community import Collection
from paperfeed.errors import InputError
from paperfeed.web.auth import require_user, viewer
from paperfeed.web.render import is_fragment_request, wants_json
from paperfeed.web.views.common import (
    PAGE_SIZE,
    cards,
    done,
    library_of,
    page,
    pagination,
    parse_flag,
    parse_page,
    renderer_of,
)
from paperfeed.web.views.papers import collections_box

router = APIRouter(include_in_schema=False)

#: The paper page's collections box, swapped by htmx after an add or remove.
BOX_TARGET = "collections-box"


def collection_path(collection: Collection) -> str:
    return f"/collections/{collection.id}"


def share_path(collection: Collection) -> str | None:
    """The secret link to a collection; only its owner is ever shown one."""
    if not collection.share_token:
        return None
    return f"/c/{collection.id}/{collection.share_token}"


def collections_data(request: Request, **extra: Any) -> dict[str, Any]:
    library = library_of(request)
    current = viewer(request)
    community = library.community
    mine = community.collections_of(current.user.id) if current.user else None
    return {
        "mine": None if mine is None else [_summary(c) for c in mine],
        "public": [_summary(c) for c in community.public_collections(limit=100)],
        "form": {"name": "", "description": "", "public": False},
        "error": None,
        **extra,
    }


def _summary(collection: Collection) -> dict[str, Any]:
    return {**collection.as_dict(), "url": collection_path(collection)}


@router.get("/collections")
def collections_page(request: Request) -> Response:
    return page(request, "collections.html", collections_data(request))


@router.post("/collections")
def create_collection(
    request: Request,
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    public: Annotated[str | None, Form()] = None,
) -> Response:
    user = require_user(request)
    is_public = bool(parse_flag(public, "public"))
    try:
        created = library_of(request).community.create_collection(
            user.id, name, description=description, public=is_public
        )
    except InputError as exc:
        form = {"name": name, "description": description, "public": is_public}
        data = collections_data(request, form=form, error=str(exc))
        return page(request, "collections.html", data, status=400)
    if wants_json(request):
        return done(request, None, {"collection": _summary(created)}, "/")
    return done(request, collection_path(created), {}, "/collections")


def collection_data(
    request: Request, collection_id: int, share_token: str | None = None
) -> dict[str, Any]:
    library = library_of(request)
    current = viewer(request)
    community = library.community
    collection = community.collection(collection_id, viewer_id=current.id, share_token=share_token)
    page_number = parse_page(request.query_params.get("page"))
    papers = community.collection_papers(
        collection_id, viewer_id=current.id, share_token=share_token,
        limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE,
    )  # fmt: skip
    group = None
    can_edit = can_change = current.id == collection.owner_id
    if collection.group_id is not None:  # a group's: we know the viewer is a member
        found = community.group(collection.group_id, viewer_id=current.id)
        me = community.membership(collection.group_id, current.id)
        group = {"id": found.id, "name": found.name, "url": f"/groups/{found.id}"}
        can_edit, can_change = True, can_change or me.role == "owner"
    return {
        "collection": _summary(collection),
        "group": group,
        "is_owner": can_change,
        "can_edit_papers": can_edit,
        "share_url": share_path(collection),
        "papers": cards(library, current, papers),
        "pagination": pagination(request, total=collection.paper_count, page_number=page_number),
    }


@router.get("/collections/{collection_id:int}")
def collection_page(request: Request, collection_id: int) -> Response:
    return page(request, "collection.html", collection_data(request, collection_id))


@router.get("/c/{collection_id:int}/{share_token}")
def shared_collection_page(request: Request, collection_id: int, share_token: str) -> Response:
    """The shareable link: opens a private collection to whoever has it."""
    return page(request, "collection.html", collection_data(request, collection_id, share_token))


@router.post("/collections/{collection_id:int}")
def update_collection(
    request: Request,
    collection_id: int,
    name: Annotated[str | None, Form()] = None,
    description: Annotated[str | None, Form()] = None,
    public: Annotated[str | None, Form()] = None,
) -> Response:
    """The settings form sends every field; an unticked "public" box sends nothing."""
    user = require_user(request)
    updated = library_of(request).community.update_collection(
        user.id, collection_id, name=name, description=description,
        public=bool(parse_flag(public, "public")),
    )  # fmt: skip
    return done(request, collection_path(updated), {"collection": _summary(updated)}, "/")


@router.post("/collections/{collection_id:int}/share")
def new_share_link(request: Request, collection_id: int) -> Response:
    """A new share link; the old one stops working."""
    user = require_user(request)
    updated = library_of(request).community.update_collection(
        user.id, collection_id, new_share_token=True
    )
    data = {"collection": _summary(updated), "share_url": share_path(updated)}
    return done(request, collection_path(updated), data, "/")


@router.post("/collections/{collection_id:int}/delete")
def delete_collection(request: Request, collection_id: int) -> Response:
    user = require_user(request)
    library_of(request).community.delete_collection(user.id, collection_id)
    return done(request, "/collections", {"deleted": collection_id}, "/collections")


def _change(
    request: Request, collection_id: int, paper_id: str, next_path: str | None, *, add: bool
) -> Response:
    user = require_user(request)
    library = library_of(request)
    paper = library.paper(paper_id)
    community = library.community
    if add:
        changed = community.add_to_collection(user.id, collection_id, paper.id)
    else:
        changed = community.remove_from_collection(user.id, collection_id, paper.id)
    if is_fragment_request(request, BOX_TARGET) and not wants_json(request):
        data = {"box": collections_box(library, viewer(request), paper.id)}
        return renderer_of(request).html_response(request, "_collections_box.html", data)
    result = {"collection_id": collection_id, "paper_id": paper.id, "in_collection": add,
              "changed": changed}  # fmt: skip
    return done(request, next_path, result, f"/collections/{collection_id}")


@router.post("/collections/{collection_id:int}/add")
def add_paper(
    request: Request,
    collection_id: int,
    paper_id: Annotated[str, Form()] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    return _change(request, collection_id, paper_id, next, add=True)


@router.post("/collections/add")
def add_paper_chosen(
    request: Request,
    collection_id: Annotated[int, Form()],
    paper_id: Annotated[str, Form()] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """The paper page's "add to collection" form, where the collection is a select box."""
    return _change(request, collection_id, paper_id, next, add=True)


@router.post("/collections/{collection_id:int}/remove")
def remove_paper(
    request: Request,
    collection_id: int,
    paper_id: Annotated[str, Form()] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    return _change(request, collection_id, paper_id, next, add=False)
