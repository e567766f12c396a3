"""The paper page (abstract, links, related papers, collections) and upvoting."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from paperfeed.latex import readable
from paperfeed.library import Library
from paperfeed.models import Paper
from paperfeed.web.auth import Viewer, require_user, viewer
from paperfeed.web.mapsvg import draw_map
from paperfeed.web.render import (
    dom_id,
    is_fragment_request,
    paper_path,
    safe_url,
    wants_json,
    with_query,
)
from paperfeed.web.views.common import (
    done,
    library_of,
    page,
    paper_card,
    renderer_of,
    voted_ids,
)
from paperfeed.web.views.follows import paper_follow_state

router = APIRouter(include_in_schema=False)

RELATED_LIMIT = 8


def paper_links(paper: Paper) -> list[dict[str, str]]:
    """Abstract page, PDF, code, project page and DOI; arXiv's own URLs when the
    sources gave none. Only http(s) URLs: imported metadata is not trusted."""
    arxiv = f"https://arxiv.org/abs/{paper.arxiv_id}" if paper.arxiv_id else None
    pdf = f"https://arxiv.org/pdf/{paper.arxiv_id}" if paper.arxiv_id else None
    candidates = (
        ("Abstract page", safe_url(paper.abs_url) or arxiv),
        ("PDF", safe_url(paper.pdf_url) or pdf),
        ("Code", safe_url(paper.code_url)),
        ("Project page", safe_url(paper.project_url)),
        ("DOI", f"https://doi.org/{paper.doi}" if paper.doi else None),
    )
    return [{"label": label, "url": url} for label, url in candidates if url]


def collections_box(library: Library, current: Viewer, paper_id: str) -> dict[str, Any]:
    """Collections holding the paper, and the viewer's own with an add/remove state each."""
    community = library.community
    holding = community.collections_with_paper(paper_id, viewer_id=current.id)
    groups = {g.id: g.name for g in community.groups_of(current.id)} if current.id else {}
    box: dict[str, Any] = {
        "paper_id": paper_id,
        "collections": [
            {
                "id": c.id,
                "name": c.name,
                "owner": c.owner_username,
                "is_public": c.is_public,
                "url": f"/collections/{c.id}",
                "paper_count": c.paper_count,
                "group": groups.get(c.group_id) if c.group_id is not None else None,
            }
            for c in holding
        ],
        "mine": None,
    }
    if current.user is not None:
        holding_ids = {c.id for c in holding}
        box["mine"] = [
            {"id": c.id, "contains": c.id in holding_ids,
             "name": c.name if c.group_id is None else f"{c.name} ({groups.get(c.group_id)})"}
            for c in [*community.collections_of(current.user.id),
                      *community.shared_collections_of(current.user.id)]
        ]  # fmt: skip
    return box


def related_cards(library: Library, paper: Paper, voted: set[str] | None) -> list[dict[str, Any]]:
    hits = library.related(paper.id, limit=RELATED_LIMIT)
    return [{**paper_card(hit.paper, voted), "score": round(hit.score, 4)} for hit in hits]


def map_box(library: Library, paper: Paper) -> dict[str, Any] | None:
    """Where the paper sits on the map of the field (None: not on it yet)."""
    placed = library.map_position(paper.id)
    if placed is None:
        return None
    point, whole = placed
    whole.focus = point
    hood = next((n for n in whole.neighbourhoods if n.id == point.neighbourhood), None)
    name = hood.name if hood else None
    return {
        "x": round(point.x, 5),
        "y": round(point.y, 5),
        "neighbourhood": name,
        "url": with_query("/map", {"focus": paper.id, "z": 4}),
        "svg": draw_map(
            whole, title=f"Where this paper sits on the map: {name}", zoom_link=None, compact=True
        ),
    }


def paper_data(library: Library, current: Viewer, paper_id: str) -> dict[str, Any]:
    paper = library.paper(paper_id)
    related = related_cards(library, paper, None)
    voted = voted_ids(library, current, [paper.id, *(card["id"] for card in related)])
    if voted is not None:
        for card in related:
            card["upvoted"] = card["id"] in voted
    details = paper.as_dict()
    details.update(
        url=paper_path(paper.id),
        title_text=readable(paper.display_title),
        abstract_text=readable(paper.abstract),
        authors_text=[readable(name) for name in paper.authors],
        author_count=max(paper.author_count, len(paper.authors)),
        code_url=safe_url(paper.code_url),
        project_url=safe_url(paper.project_url),
        upvoted=None if voted is None else paper.id in voted,
        submitters=sorted({f.submitter for f in paper.sources if f.submitter}),
    )
    return {
        "paper": details,
        "links": paper_links(paper),
        "related": related,
        "collections": collections_box(library, current, paper.id),
        "map": map_box(library, paper),
        "follow": paper_follow_state(library, current, paper),
    }


@router.get("/papers/{paper_id:path}")
def paper_page(request: Request, paper_id: str) -> Response:
    data = paper_data(library_of(request), viewer(request), paper_id)
    return page(request, "paper.html", data)


def _vote(request: Request, paper_id: str, next_path: str | None, *, add: bool) -> Response:
    user = require_user(request)
    library = library_of(request)
    paper = library.paper(paper_id)
    community = library.community
    total = (
        community.upvote(user.id, paper.id) if add else community.remove_upvote(user.id, paper.id)
    )
    result = {"paper_id": paper.id, "upvotes": total, "upvoted": add}
    if is_fragment_request(request, f"vote-{dom_id(paper.id)}") and not wants_json(request):
        card = {"id": paper.id, "upvotes": total, "upvoted": add}
        return renderer_of(request).html_response(request, "_vote.html", {"card": card})
    return done(request, next_path, result, paper_path(paper.id))


@router.post("/papers/{paper_id:path}/upvote")
def upvote(request: Request, paper_id: str, next: Annotated[str | None, Form()] = None) -> Response:
    return _vote(request, paper_id, next, add=True)


@router.post("/papers/{paper_id:path}/unvote")
def unvote(request: Request, paper_id: str, next: Annotated[str | None, Form()] = None) -> Response:
    return _vote(request, paper_id, next, add=False)
