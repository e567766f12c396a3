"""Sign up, log in, log out, the account page (API tokens, upvotes) and paper submission."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from paperfeed.community import RateLimited, User
from paperfeed.errors import InputError, PermissionDenied
from paperfeed.web.auth import (
    ANON_CSRF_COOKIE,
    SESSION_COOKIE,
    clear_session_cookie,
    client_address,
    require_user,
    set_session_cookie,
    viewer,
)
from paperfeed.web.render import jsonable, wants_json
from paperfeed.web.views.common import cards, done, library_of, local_path, page

router = APIRouter(include_in_schema=False)

NO_STORE = {"cache-control": "no-store"}


def _form_data(next_path: str | None, **values: Any) -> dict[str, Any]:
    return {"next": local_path(next_path), "error": None, "reset": False, **values}


def _signed_in(request: Request, user: User, next_path: str | None) -> Response:
    """Start a fresh session (a new id at every login: no session fixation)."""
    community = library_of(request).community
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        community.end_session(old)
    session = community.start_session(user.id)
    if wants_json(request):
        response: Response = JSONResponse({"user": jsonable(user.as_dict())})
    else:
        response = RedirectResponse(local_path(next_path), status_code=303)
    set_session_cookie(response, request, session)
    response.delete_cookie(ANON_CSRF_COOKIE, path="/")
    return response


@router.get("/signup")
def signup_page(request: Request, next: str | None = None) -> Response:
    return page(request, "signup.html", _form_data(next, username="", email=""), headers=NO_STORE)


@router.post("/signup")
def signup(
    request: Request,
    username: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        user = library_of(request).community.sign_up(
            username, email, password, client=client_address(request)
        )
    except RateLimited as exc:
        data = _form_data(next, username=username, email=email, error=str(exc))
        headers = {**NO_STORE, "retry-after": str(exc.retry_after)}
        return page(request, "signup.html", data, status=429, headers=headers)
    except InputError as exc:
        data = _form_data(next, username=username, email=email, error=str(exc))
        return page(request, "signup.html", data, status=400, headers=NO_STORE)
    return _signed_in(request, user, next)


@router.get("/login")
def login_page(request: Request, next: str | None = None, reset: str | None = None) -> Response:
    data = _form_data(next, login="", reset=bool(reset))
    return page(request, "login.html", data, headers=NO_STORE)


@router.post("/login")
def login(
    request: Request,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    community = library_of(request).community
    try:
        user = community.authenticate(login, password, client=client_address(request))
    except RateLimited as exc:
        data = _form_data(next, login=login, error=str(exc))
        headers = {**NO_STORE, "retry-after": str(exc.retry_after)}
        return page(request, "login.html", data, status=429, headers=headers)
    except PermissionDenied as exc:
        data = _form_data(next, login=login, error=str(exc))
        return page(request, "login.html", data, status=403, headers=NO_STORE)
    return _signed_in(request, user, next)


@router.post("/logout")
def logout(request: Request) -> Response:
    session = viewer(request).session
    if session is not None:
        library_of(request).community.end_session(session.token)
    response = done(request, "/", {"logged_out": True}, "/")
    clear_session_cookie(response, request)
    return response


def account_data(request: Request, user: User, new_token: str | None = None) -> dict[str, Any]:
    library = library_of(request)
    community = library.community
    return {
        "user": user.as_dict(),
        "tokens": community.api_tokens(user.id),
        "new_token": new_token,
        "upvoted": cards(library, viewer(request), community.upvoted_papers(user.id, limit=50)),
        "collections": [c.as_dict() for c in community.collections_of(user.id)],
        "password_error": None,
        "password_notice": None,
        "email_error": None,
        "email_notice": None,
        "import_report": None,
        "import_error": None,
    }


@router.get("/account")
def account(request: Request) -> Response:
    user = require_user(request)
    return page(request, "account.html", account_data(request, user), headers=NO_STORE)


@router.post("/account/tokens")
def create_token(request: Request, name: Annotated[str, Form()] = "") -> Response:
    """A new API token, shown this once (the page is not cached)."""
    user = require_user(request)
    token = library_of(request).community.create_api_token(user.id, name)
    data = account_data(request, user, new_token=token)
    return page(request, "account.html", data, status=201, headers=NO_STORE)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int) -> Response:
    user = require_user(request)
    library_of(request).community.revoke_api_token(user.id, token_id)
    return done(request, "/account", {"revoked": token_id}, "/account")


@router.post("/account/sessions/end")
def end_sessions(request: Request) -> Response:
    """Log out everywhere, this browser included."""
    user = require_user(request)
    ended = library_of(request).community.end_all_sessions(user.id)
    response = done(request, "/login", {"sessions_ended": ended}, "/login")
    clear_session_cookie(response, request)
    return response


def submit_data(request: Request, user: User, **extra: Any) -> dict[str, Any]:
    submissions = library_of(request).community.submissions(user.id, limit=50)
    return {"submissions": [s.as_dict() for s in submissions], "text": "", "error": None,
            "submission": None, **extra}  # fmt: skip


@router.get("/submit")
def submit_page(request: Request) -> Response:
    user = require_user(request)
    return page(request, "submit.html", submit_data(request, user))


@router.post("/submit")
def submit(request: Request, text: Annotated[str, Form()] = "") -> Response:
    """Fetch the paper from arXiv now if online, else queue it (the page says which)."""
    user = require_user(request)
    try:
        submission = library_of(request).submit_paper(user.id, text)
    except InputError as exc:
        data = submit_data(request, user, text=text, error=str(exc))
        return page(request, "submit.html", data, status=400)
    data = submit_data(request, user, submission=submission.as_dict())
    # 201: stored now; 202: queued until arXiv can be reached; 200: arXiv has no such paper.
    status = {"fetched": 201, "queued": 202}.get(submission.status, 200)
    return page(request, "submit.html", data, status=status)
