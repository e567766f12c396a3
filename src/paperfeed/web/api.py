"""The JSON API under ``/api``, compatible with the Hugging Face papers API.

Read endpoints answer in the Hub's shapes (:mod:`paperfeed.web.api_hf`), so
``huggingface_hub`` works against paperfeed unchanged::

    HfApi(endpoint="http://127.0.0.1:8000").list_daily_papers(date="2024-10-25")

* ``GET /api/daily_papers`` with ``date``/``week``/``month``, ``submitter``,
  ``sort=publishedAt|trending``, ``p`` (0-based page) and ``limit``;
* ``GET /api/papers/{id}``, ``/api/papers/search?q=``, ``/api/papers/{id}/related``;
* ``GET /api/whoami-v2`` (``HfApi.whoami``) and ``/papers/{id}.md`` (``read_paper``).

Write endpoints (upvotes, submissions, collections) take an API token and nothing
else: ``Authorization: Bearer pf_...`` (create one on ``/account`` or with
``paperfeed users token``). The API never reads the session cookie, so a page on
another site cannot make a browser act through it and there is no CSRF token to
send. No token: 401 with ``WWW-Authenticate: Bearer``; someone else's collection:
403 (404 when it is private, so its existence does not leak); too many changes:
429 with ``Retry-After``. Errors are ``{"error": message, "status": code}``, except
malformed parameters (422, FastAPI's ``{"detail": [...]}`` naming the parameter).
Every route is documented at ``/docs`` (served offline) and ``/openapi.json``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, PlainTextResponse, Response

from paperfeed.community import Collection, User
from paperfeed.errors import InputError
from paperfeed.library import period_bounds
from paperfeed.models import Paper, utc_now
from paperfeed.rank.trending import rank_trending
from paperfeed.search.models import SearchFilters
from paperfeed.settings import Settings
from paperfeed.web import api_docs
from paperfeed.web.api_hf import (
    HFDailyPaper,
    HFPaperInfo,
    hf_item,
    hf_paper_info,
    hf_time,
    submitter_of,
)
from paperfeed.web.api_limits import ApiLimits
from paperfeed.web.auth import client_address
from paperfeed.web.render import jsonable, paper_path, safe_url
from paperfeed.web.views.common import library_of, parse_day, parse_flag
from paperfeed.web.views.feeds import parse_feed_day, parse_month, parse_week

router = APIRouter(prefix="/api")
#: Pages outside ``/api`` that ``huggingface_hub`` reads (``/papers/{id}.md``).
markdown_router = APIRouter(include_in_schema=False)

MAX_LIMIT = 100
MAX_PAGE = 10_000
#: Trending re-ranks the most upvoted papers of the period; deeper pages are empty.
TRENDING_CANDIDATES = 1000
RELATED_MAX = 50
MAX_QUERY_CHARS = 500
_REALM = 'Bearer realm="paperfeed"'

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="API token",
    description="An API token (pf_...) from /account or `paperfeed users token`.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def install(app: FastAPI, settings: Settings) -> None:
    """Add ``/api``, the offline ``/docs`` and the API's rate limits to ``app``."""
    app.state.api_limits = ApiLimits(
        writes_per_minute=settings.api_writes_per_minute,
        submissions_per_hour=settings.api_submissions_per_hour,
        bad_tokens_per_minute=settings.api_bad_tokens_per_minute,
    )
    app.include_router(router)
    app.include_router(api_docs.router)


# -- who is calling ----------------------------------------------------------------------


def _limits(request: Request) -> ApiLimits:
    return request.app.state.api_limits


def _unauthorized(message: str, error: str | None = None) -> HTTPException:
    challenge = _REALM + (f', error="{error}"' if error else "")
    return HTTPException(401, message, headers={"WWW-Authenticate": challenge})


def token_user(request: Request, credentials: Credentials) -> User:
    """The token's owner, or 401. Wrong tokens count against the client's address."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("send an API token: Authorization: Bearer pf_... (see /account)")
    limits = _limits(request)
    client = client_address(request)
    limits.bad_tokens.check(client)
    user = library_of(request).community.user_for_api_token(credentials.credentials)
    if user is None:
        limits.bad_tokens.record(client)
        raise _unauthorized("this API token is not valid (revoked or mistyped)", "invalid_token")
    return user


def writer(request: Request, user: Annotated[User, Depends(token_user)]) -> User:
    """A token holder about to change something, within the per-minute write limit."""
    _limits(request).writes.hit(user.id)
    return user


def optional_user(request: Request, credentials: Credentials) -> User | None:
    """The token's owner if a valid token is sent. Anything else reads as anonymous: a
    client may send its Hugging Face token along to every endpoint, as HfApi does."""
    if credentials is None or not credentials.credentials:
        return None
    return library_of(request).community.user_for_api_token(credentials.credentials)


Writer = Annotated[User, Depends(writer)]
TokenUser = Annotated[User, Depends(token_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]

# -- reading papers ----------------------------------------------------------------------

Page = Annotated[int, Query(ge=0, le=MAX_PAGE, description="Page number, 0-based.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Papers per page.")]


def _period(
    date_: str | None, week: str | None, month: str | None
) -> tuple[date | None, date | None]:
    given = [name for name, value in (("date", date_), ("week", week), ("month", month)) if value]
    if len(given) > 1:
        raise InputError(f"give one of date, week and month, not {' and '.join(given)}")
    if date_:
        day = parse_feed_day(date_)
        return day, day
    if week:
        return period_bounds("week", parse_week(week))
    if month:
        return period_bounds("month", parse_month(month))
    return None, None


def paper_list(papers: list[Paper], headers: dict[str, str] | None = None) -> Response:
    """A list of papers in the Hub's item shape, encoded here: these lists carry 50
    abstracts each, and checking them against the schema on every request would cost
    more than building them (the tests check the schema instead)."""
    body = json.dumps([hf_item(paper) for paper in papers], ensure_ascii=False,
                      separators=(",", ":"))  # fmt: skip
    return Response(body.encode(), media_type="application/json", headers=headers)


def _trending(papers: list[Paper], offset: int, limit: int) -> list[Paper]:
    return [scored.paper for scored in rank_trending(papers, utc_now())][offset : offset + limit]


@router.get(
    "/daily_papers",
    response_model=list[HFDailyPaper],
    response_model_exclude_unset=True,
    summary="Daily papers of a day, week or month",
    tags=["papers"],
)
def daily_papers(
    request: Request,
    date: Annotated[str | None, Query(description="A feed day, YYYY-MM-DD.")] = None,
    week: Annotated[str | None, Query(description="An ISO week, YYYY-Www.")] = None,
    month: Annotated[str | None, Query(description="A month, YYYY-MM.")] = None,
    submitter: Annotated[
        str | None, Query(max_length=100, description="Only papers this user submitted.")
    ] = None,
    sort: Annotated[
        Literal["publishedAt", "trending"] | None,
        Query(
            description="Absent: the feed's order (most upvoted first; without a period, the"
            " newest day first). publishedAt: most recently published on arXiv first. trending: the"
            " published formula (/about/ranking)."
        ),
    ] = None,
    p: Page = 0,
    limit: Limit = 50,
) -> Response:
    """The papers of a feed day (``date``), ISO week (``week``) or month (``month``);
    with none of them, the most recent days. Same shape as the Hugging Face API."""
    library = library_of(request)
    day_from, day_to = _period(date, week, month)
    submitter = (submitter or "").strip() or None
    offset = p * limit
    if sort == "trending":
        if day_from is None and submitter is None:
            papers = [
                s.paper for s in library.trending(limit=min(offset + limit, TRENDING_CANDIDATES))
            ]
            papers = papers[offset:]
        else:
            candidates = library.papers(
                day_from=day_from, day_to=day_to, submitter=submitter,
                sort="upvotes" if day_from else "feed", limit=TRENDING_CANDIDATES,
            )  # fmt: skip
            papers = _trending(candidates, offset, limit)
    else:
        order = "published" if sort == "publishedAt" else "upvotes" if day_from else "feed"
        papers = library.papers(
            day_from=day_from, day_to=day_to, submitter=submitter,
            sort=order, limit=limit, offset=offset,
        )  # fmt: skip
    return paper_list(papers)


@router.get(
    "/papers/search",
    response_model=list[HFDailyPaper],
    response_model_exclude_unset=True,
    summary="Search papers",
    tags=["papers"],
)
def search_papers(
    request: Request,
    q: Annotated[
        str,
        Query(
            max_length=MAX_QUERY_CHARS,
            description='Words, "phrases", AND/OR/NOT, prefixes (diffus*), fields ti: au:'
            " abs: cat:. Empty: the most recent papers.",
        ),
    ] = "",
    mode: Literal["hybrid", "keyword", "semantic"] = "hybrid",
    sort: Literal["relevance", "newest", "upvotes"] = "relevance",
    category: Annotated[str | None, Query(max_length=40)] = None,
    date_from: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD")] = None,
    has_code: Annotated[str | None, Query(description="true: only papers with code")] = None,
    p: Page = 0,
    limit: Limit = 50,
) -> Response:
    """Keyword, semantic or hybrid search. Headers tell what ran: ``X-Total-Count``,
    ``X-Search-Mode`` (the mode used) and ``X-Search-Notice`` (when search fell back)."""
    library = library_of(request)
    query = q.strip()
    if not query:
        return paper_list(library.papers(sort="feed", limit=limit, offset=p * limit))
    day_from, day_to = parse_day(date_from, "from"), parse_day(date_to, "to")
    if day_from and day_to and day_from > day_to:
        raise InputError(f"from {day_from} is after to {day_to}")
    filters = SearchFilters(
        date_from=day_from, date_to=day_to, category=(category or "").strip() or None,
        has_code=parse_flag(has_code, "has_code"),
    )  # fmt: skip
    results = library.search(  # type: ignore[attr-defined]
        query, mode=mode, filters=filters, sort=sort, limit=limit, offset=p * limit
    )
    headers = {"x-total-count": str(results.total), "x-search-mode": results.mode_used}
    if results.notice:
        headers["x-search-notice"] = results.notice.encode("ascii", "replace").decode()
    return paper_list([hit.paper for hit in results.hits], headers)


@router.get(
    "/papers/{paper_id:path}/related",
    response_model=list[HFDailyPaper],
    response_model_exclude_unset=True,
    summary="Papers related to a paper",
    tags=["papers"],
)
def related_papers(
    request: Request,
    paper_id: str,
    limit: Annotated[int, Query(ge=1, le=RELATED_MAX)] = 10,
) -> Response:
    """The most similar papers (the paper itself and its duplicates left out)."""
    library = library_of(request)
    paper = library.paper(paper_id)
    hits = library.related(paper.id, limit=limit)  # type: ignore[attr-defined]
    return paper_list([hit.paper for hit in hits])


# -- changing things (API token required) ------------------------------------------------


class Upvote(BaseModel):
    id: str = Field(description="The paper id.")
    upvotes: int = Field(description="The paper's upvotes after the change.")
    upvoted: bool = Field(description="Whether the token's owner now upvotes it.")


def _vote(request: Request, user: User, paper_id: str, *, add: bool) -> dict[str, Any]:
    library = library_of(request)
    paper = library.paper(paper_id)
    community = library.community
    total = (
        community.upvote(user.id, paper.id) if add else community.remove_upvote(user.id, paper.id)
    )
    return {"id": paper.id, "upvotes": total, "upvoted": add}


@router.post("/papers/{paper_id:path}/upvote", response_model=Upvote, tags=["community"])
def upvote(request: Request, paper_id: str, user: Writer) -> dict[str, Any]:
    """Upvote a paper (again: no change)."""
    return _vote(request, user, paper_id, add=True)


@router.delete("/papers/{paper_id:path}/upvote", response_model=Upvote, tags=["community"])
def remove_upvote(request: Request, paper_id: str, user: Writer) -> dict[str, Any]:
    """Take an upvote back (none: no change)."""
    return _vote(request, user, paper_id, add=False)


class SubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(
        max_length=300, description="An arXiv id or abs/pdf URL", examples=["2410.17243"]
    )


class SubmissionOut(BaseModel):
    id: int
    arxiv_id: str
    status: Literal["fetched", "queued", "failed"]
    message: str
    paper_id: str | None
    created_at: str
    updated_at: str


class SubmitResult(BaseModel):
    submission: SubmissionOut
    paper: HFPaperInfo | None = Field(description="The stored paper, once fetched.")


@router.post(
    "/papers/submit",
    response_model=SubmitResult,
    response_model_exclude_unset=True,
    tags=["community"],
    responses={
        201: {"description": "Fetched (or already stored)"},
        202: {"description": "Queued: arXiv is unreachable; fetched later"},
    },
)
def submit_paper(request: Request, body: SubmitBody, user: Writer) -> JSONResponse:
    """Submit a paper by arXiv id or URL: fetched from arXiv now when online (201),
    else queued and fetched later (202); 200 with status ``failed`` when arXiv has no
    such paper."""
    _limits(request).submissions.hit(user.id)
    library = library_of(request)
    submission = library.submit_paper(user.id, body.id)
    data = submission.as_dict()
    data.pop("user_id", None)
    paper = None
    if submission.paper_id:
        paper = hf_paper_info(library.paper(submission.paper_id))
    status = {"fetched": 201, "queued": 202}.get(submission.status, 200)
    return JSONResponse(jsonable({"submission": data, "paper": paper}), status_code=status)


# -- collections -------------------------------------------------------------------------


class CollectionOut(BaseModel):
    id: int
    owner_id: int
    owner_username: str
    name: str
    slug: str
    description: str
    is_public: bool
    share_token: str = Field(description="Only the owner sees it; empty for everyone else.")
    created_at: str
    updated_at: str
    paper_count: int
    url: str
    share_url: str | None


class CollectionPage(BaseModel):
    collection: CollectionOut
    papers: list[HFDailyPaper]


class CollectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=5000)
    public: bool = False


class CollectionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    public: bool | None = None


class PaperRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(max_length=300, description="A paper id", examples=["2410.17243"])


class Membership(BaseModel):
    collection_id: int
    paper_id: str
    in_collection: bool
    changed: bool = Field(description="False when the paper already was (or was not) there.")


def _collection(found: Collection) -> dict[str, Any]:
    data = found.as_dict()
    data["url"] = f"/collections/{found.id}"
    data["share_url"] = f"/c/{found.id}/{found.share_token}" if found.share_token else None
    return data


@router.get("/collections", response_model=list[CollectionOut], tags=["collections"])
def public_collections(request: Request, p: Page = 0, limit: Limit = 50) -> list[dict[str, Any]]:
    """Public collections, most recently changed first."""
    found = library_of(request).community.public_collections(limit=limit, offset=p * limit)
    return [_collection(c) for c in found]


@router.get("/collections/mine", response_model=list[CollectionOut], tags=["collections"])
def my_collections(request: Request, user: TokenUser) -> list[dict[str, Any]]:
    """The token owner's collections, public and private, with their share links."""
    return [_collection(c) for c in library_of(request).community.collections_of(user.id)]


@router.post("/collections", response_model=CollectionOut, status_code=201, tags=["collections"])
def create_collection(request: Request, body: CollectionBody, user: Writer) -> dict[str, Any]:
    created = library_of(request).community.create_collection(
        user.id, body.name, description=body.description, public=body.public
    )
    return _collection(created)


@router.get(
    "/collections/{collection_id:int}",
    response_model=CollectionPage,
    response_model_exclude_unset=True,
    tags=["collections"],
)
def get_collection(
    request: Request,
    collection_id: int,
    user: OptionalUser,
    share_token: Annotated[str | None, Query(max_length=100)] = None,
    p: Page = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    """A collection and its papers (most recently added first). Private ones need the
    owner's token or the share token."""
    community = library_of(request).community
    viewer_id = user.id if user else None
    found = community.collection(collection_id, viewer_id=viewer_id, share_token=share_token)
    papers = community.collection_papers(
        collection_id, viewer_id=viewer_id, share_token=share_token,
        limit=limit, offset=p * limit,
    )  # fmt: skip
    return {"collection": _collection(found), "papers": [hf_item(paper) for paper in papers]}


@router.patch(
    "/collections/{collection_id:int}", response_model=CollectionOut, tags=["collections"]
)
def change_collection(
    request: Request, collection_id: int, body: CollectionChange, user: Writer
) -> dict[str, Any]:
    """Rename, describe, or make public/private (only what is sent changes)."""
    updated = library_of(request).community.update_collection(
        user.id, collection_id, name=body.name, description=body.description, public=body.public
    )
    return _collection(updated)


@router.delete("/collections/{collection_id:int}", status_code=204, tags=["collections"])
def delete_collection(request: Request, collection_id: int, user: Writer) -> Response:
    library_of(request).community.delete_collection(user.id, collection_id)
    return Response(status_code=204)


def _membership(
    request: Request, user: User, collection_id: int, paper_id: str, *, add: bool
) -> dict[str, Any]:
    library = library_of(request)
    paper = library.paper(paper_id)
    community = library.community
    if add:
        changed = community.add_to_collection(user.id, collection_id, paper.id)
    else:
        changed = community.remove_from_collection(user.id, collection_id, paper.id)
    return {"collection_id": collection_id, "paper_id": paper.id, "in_collection": add,
            "changed": changed}  # fmt: skip


@router.post(
    "/collections/{collection_id:int}/papers", response_model=Membership, tags=["collections"]
)
def add_to_collection(
    request: Request, collection_id: int, body: PaperRef, user: Writer
) -> dict[str, Any]:
    """Add a paper (on top); only the owner may."""
    return _membership(request, user, collection_id, body.id, add=True)


@router.delete(
    "/collections/{collection_id:int}/papers/{paper_id:path}",
    response_model=Membership,
    tags=["collections"],
)
def remove_from_collection(
    request: Request, collection_id: int, paper_id: str, user: Writer
) -> dict[str, Any]:
    return _membership(request, user, collection_id, paper_id, add=False)


# -- accounts ----------------------------------------------------------------------------


class WhoAmI(BaseModel):
    type: str = "user"
    id: str
    name: str
    fullname: str
    email: str
    isAdmin: bool
    auth: dict[str, Any]


@router.get("/whoami-v2", response_model=WhoAmI, tags=["accounts"], summary="Who am I")
def whoami(user: TokenUser) -> dict[str, Any]:
    """The token's owner (what ``HfApi.whoami`` reads)."""
    return {
        "type": "user", "id": str(user.id), "name": user.username, "fullname": user.username,
        "email": user.email, "isAdmin": user.is_admin,
        "auth": {"type": "access_token", "accessToken": {"role": "write"}},
    }  # fmt: skip


# -- paper info (last: its path would swallow the routes above) --------------------------


@router.get(
    "/papers/{paper_id:path}",
    response_model=HFPaperInfo,
    response_model_exclude_unset=True,
    summary="A paper",
    tags=["papers"],
)
def paper_info(request: Request, paper_id: str) -> dict[str, Any]:
    """One paper by arXiv id (a version suffix or an arXiv URL works too)."""
    return hf_paper_info(library_of(request).paper(paper_id))


@markdown_router.get("/papers/{paper_id:path}.md")
def paper_markdown(request: Request, paper_id: str) -> Response:
    """The paper as Markdown (``HfApi.read_paper``): title, authors, dates, abstract, links."""
    paper = library_of(request).paper(paper_id)
    lines = [f"# {paper.display_title}", ""]
    if paper.authors:
        lines += [f"**Authors:** {', '.join(paper.authors)}", ""]
    facts = [
        ("arXiv", paper.arxiv_id),
        ("Published", hf_time(paper.published_at)),
        ("On the daily feed", paper.feed_date.isoformat() if paper.feed_date else None),
        ("Categories", ", ".join(paper.categories) or None),
        ("Upvotes", str(paper.upvotes)),
        ("Submitted by", submitter_of(paper)),
    ]
    lines += [f"- {label}: {value}" for label, value in facts if value]
    lines += ["", "## Abstract", "", paper.abstract or "(no abstract)", ""]
    links = [
        ("Abstract page", safe_url(paper.abs_url)),
        ("PDF", safe_url(paper.pdf_url)),
        ("Code", safe_url(paper.code_url)),
        ("Project page", safe_url(paper.project_url)),
        ("On this site", str(request.base_url).rstrip("/") + paper_path(paper.id)),
    ]
    found = [(label, url) for label, url in links if url]
    if found:
        lines += ["## Links", ""] + [f"- {label}: <{url}>" for label, url in found] + [""]
    return PlainTextResponse("\n".join(lines), media_type="text/markdown; charset=utf-8")
