"""Account settings: forgotten password, new password, new e-mail address, deleting the
account (with the profile export offered first).

Every answer about a forgotten password is the same whether or not an account uses
the address, and the mail goes out after the answer (a background task), so neither
the page nor its timing tells who has an account here. Links in these mails are
credentials: their pages are sent with ``Referrer-Policy: no-referrer`` and never
cached, and only a POST from the page changes anything.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from starlette.responses import RedirectResponse, Response

from paperfeed.community import RateLimited
from paperfeed.errors import InputError, PaperfeedError, PermissionDenied
from paperfeed.web.auth import clear_session_cookie, client_address, require_user, viewer
from paperfeed.web.views.accounts import account_data
from paperfeed.web.views.common import done, library_of, page

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

NO_STORE = {"cache-control": "no-store"}
NO_REFERRER = {**NO_STORE, "referrer-policy": "no-referrer"}
SENT = (
    "If an account here uses that address, a link to choose a new password is on its"
    " way to it. The link works once, for a limited time."
)


def _send_later(request: Request, background: BackgroundTasks, messages: list[Any]) -> None:
    library = library_of(request)

    def send() -> None:
        try:
            library.send_account_mail(messages)
        except PaperfeedError as exc:  # the operator's log; the visitor got their answer
            log.error("account mail not sent: %s", exc)

    background.add_task(send)


# -- forgotten password ------------------------------------------------------------------


@router.get("/password/forgot")
def forgot_page(request: Request) -> Response:
    return page(request, "password_forgot.html", {"email": "", "sent": None, "error": None},
                headers=NO_STORE)  # fmt: skip


@router.post("/password/forgot")
def forgot(
    request: Request, background: BackgroundTasks, email: Annotated[str, Form()] = ""
) -> Response:
    try:
        message = library_of(request).request_password_reset(email, client=client_address(request))
    except RateLimited as exc:
        data = {"email": email, "sent": None, "error": str(exc)}
        return page(request, "password_forgot.html", data, status=429,
                    headers={**NO_STORE, "retry-after": str(exc.retry_after)})  # fmt: skip
    except InputError as exc:
        data = {"email": email, "sent": None, "error": str(exc)}
        return page(request, "password_forgot.html", data, status=400, headers=NO_STORE)
    if message is not None:
        _send_later(request, background, [message])
    return page(request, "password_forgot.html", {"email": "", "sent": SENT, "error": None},
                headers=NO_STORE)  # fmt: skip


@router.get("/password/reset/{token}")
def reset_page(request: Request, token: str) -> Response:
    user = library_of(request).community.reset_link_user(token)  # a dead link fails here
    return page(request, "password_reset.html",
                {"token": token, "username": user.username, "error": None},
                headers=NO_REFERRER)  # fmt: skip


@router.post("/password/reset/{token}")
def reset(
    request: Request,
    token: str,
    password: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    community = library_of(request).community
    user = community.reset_link_user(token)
    try:
        if password != confirm:
            raise InputError("the two passwords differ")
        community.reset_password(token, password)
    except InputError as exc:
        data = {"token": token, "username": user.username, "error": str(exc)}
        return page(request, "password_reset.html", data, status=400, headers=NO_REFERRER)
    response = RedirectResponse("/login?reset=1", status_code=303)
    clear_session_cookie(response, request)
    return response


# -- changes from the account page ---------------------------------------------------------


def _account_page(request: Request, status: int = 200, **extra: Any) -> Response:
    user = require_user(request)
    data = {**account_data(request, user), **extra}
    return page(request, "account.html", data, status=status, headers=NO_STORE)


@router.post("/account/password")
def change_password(
    request: Request,
    current: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """A new password; every other session ends, this one stays."""
    user = require_user(request)
    session = viewer(request).session
    try:
        if password != confirm:
            raise InputError("the two new passwords differ")
        library_of(request).community.change_password(
            user.id, current, password, keep_session=session.token if session else None
        )
    except (InputError, PermissionDenied) as exc:
        status = 429 if isinstance(exc, RateLimited) else 400
        return _account_page(request, status, password_error=str(exc))
    return _account_page(request, password_notice="Your password is changed; your other"
                         " sessions have ended.")  # fmt: skip


@router.post("/account/email")
def change_email(
    request: Request,
    background: BackgroundTasks,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    user = require_user(request)
    try:
        messages = library_of(request).request_email_change(user.id, email, password)
    except (InputError, PermissionDenied) as exc:
        status = 429 if isinstance(exc, RateLimited) else 400
        return _account_page(request, status, email_error=str(exc))
    _send_later(request, background, messages)
    return _account_page(request, email_notice=f"A confirmation link is on its way to"
                         f" {email.strip()}: the address changes when it is followed.")  # fmt: skip


@router.get("/account/email/confirm/{token}")
def email_confirm_page(request: Request, token: str) -> Response:
    user, address = library_of(request).community.email_link(token)
    return page(request, "account_email_confirm.html",
                {"token": token, "username": user.username, "email": address, "done": False},
                headers=NO_REFERRER)  # fmt: skip


@router.post("/account/email/confirm/{token}")
def email_confirm(request: Request, token: str) -> Response:
    user = library_of(request).community.confirm_email_change(token)
    return page(request, "account_email_confirm.html",
                {"token": None, "username": user.username, "email": user.email, "done": True},
                headers=NO_REFERRER)  # fmt: skip


# -- deleting the account ------------------------------------------------------------------


@router.get("/account/delete")
def delete_page(request: Request) -> Response:
    user = require_user(request)
    return page(request, "account_delete.html", {"username": user.username, "error": None},
                headers=NO_STORE)  # fmt: skip


@router.post("/account/delete")
def delete(
    request: Request,
    password: Annotated[str, Form()] = "",
    understood: Annotated[str | None, Form()] = None,
) -> Response:
    user = require_user(request)
    try:
        if not understood:
            raise InputError("tick the box to say you know this cannot be undone")
        removed = library_of(request).community.delete_account(user.id, password)
    except (InputError, PermissionDenied) as exc:
        status = 429 if isinstance(exc, RateLimited) else 400
        data = {"username": user.username, "error": str(exc)}
        return page(request, "account_delete.html", data, status=status, headers=NO_STORE)
    log.info("account %s deleted: %s", user.username, removed)
    response = done(request, "/account/deleted", {"removed": removed}, "/account/deleted")
    clear_session_cookie(response, request)
    return response


@router.get("/account/deleted")
def deleted_page(request: Request) -> Response:
    return page(request, "account_deleted.html", {"deleted": True}, headers=NO_STORE)
