"""Pieces every page family uses: paper cards, pagination, input parsing, redirects."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from paperfeed.errors import InputError
from paperfeed.latex import readable
from paperfeed.library import Library
from paperfeed.models import Paper
from paperfeed.web.auth import Viewer
from paperfeed.web.render import (
    Renderer,
    jsonable,
    paper_path,
    safe_url,
    wants_json,
    with_query,
)

#: Cards shown per page of a feed or search.
PAGE_SIZE = 50
#: Names shown on a card before "and N more".
CARD_AUTHORS = 3
MAX_PAGE = 10_000


def library_of(request: Request) -> Library:
    return request.app.state.library


def renderer_of(request: Request) -> Renderer:
    return request.app.state.renderer


def page(request: Request, template: str, data: dict[str, Any], **kwargs: Any) -> Response:
    return renderer_of(request).page(request, template, data, **kwargs)


def voted_ids(library: Library, current: Viewer, paper_ids: Iterable[str]) -> set[str] | None:
    """The viewer's upvotes among ``paper_ids`` in one query; None for anonymous viewers."""
    if current.user is None:
        return None
    ids = list(paper_ids)
    return library.community.upvoted(current.user.id, ids) if ids else set()


def paper_card(paper: Paper, voted: set[str] | None) -> dict[str, Any]:
    """What a card shows (and the JSON twin lists): a paper without its abstract."""
    return {
        "id": paper.id,
        "url": paper_path(paper.id),
        "title": paper.display_title,
        "title_text": readable(paper.display_title),
        "authors": [readable(name) for name in paper.authors[:CARD_AUTHORS]],
        "author_count": max(paper.author_count, len(paper.authors)),
        "feed_date": paper.feed_date,
        "published_at": paper.published_at,
        "categories": paper.categories,
        "upvotes": paper.upvotes,
        "upvoted": None if voted is None else paper.id in voted,
        "code_url": safe_url(paper.code_url),
        "project_url": safe_url(paper.project_url),
    }


def cards(library: Library, current: Viewer, papers: list[Paper]) -> list[dict[str, Any]]:
    voted = voted_ids(library, current, (p.id for p in papers))
    return [paper_card(p, voted) for p in papers]


def pagination(
    request: Request, *, total: int, page_number: int, page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    """Page numbers and the links to the neighbouring pages (other query values kept)."""
    pages = max(1, -(-total // page_size))
    params = dict(request.query_params)

    def link(number: int) -> str:
        return with_query(request.url.path, {**params, "page": number if number > 1 else None})

    return {
        "page": page_number,
        "pages": pages,
        "total": total,
        "page_size": page_size,
        "previous_url": link(page_number - 1) if page_number > 1 else None,
        "next_url": link(page_number + 1) if page_number < pages else None,
    }


def parse_page(value: str | int | None) -> int:
    if value in (None, ""):
        return 1
    try:
        number = int(value)  # type: ignore[arg-type]
    except ValueError:
        raise InputError(f"page must be a number, not {value!r}") from None
    if not 1 <= number <= MAX_PAGE:
        raise InputError(f"page must be between 1 and {MAX_PAGE}")
    return number


def parse_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_flag(value: str | None, name: str) -> bool | None:
    """Checkbox and query flags: on/1/true/yes, off/0/false/no, or absent (None)."""
    if value in (None, ""):
        return None
    lowered = value.strip().lower()  # type: ignore[union-attr]
    if lowered in ("1", "true", "on", "yes"):
        return True
    if lowered in ("0", "false", "off", "no"):
        return False
    raise InputError(f"{name} must be true or false, not {value!r}")


def local_path(value: str | None, default: str = "/") -> str:
    """A redirect target on this site only: ``/path``, never ``//host`` or ``http://``."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return default


def done(request: Request, next_path: str | None, data: dict[str, Any], default: str) -> Response:
    """After a change: JSON callers get ``data``; browsers are sent back (POST-redirect-GET)."""
    if wants_json(request):
        return JSONResponse(jsonable(data))
    return RedirectResponse(local_path(next_path, default), status_code=303)
