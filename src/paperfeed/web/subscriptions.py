"""Digest subscription pages: subscribe, confirm, unsubscribe, and the account's
manage page with its saved searches. Each page has its ``.json`` twin.

* ``GET`` never changes anything: mail scanners and link previews open links in
  mails, so confirming and unsubscribing take a ``POST`` from the page's button.
* ``POST /unsubscribe/{token}`` is also the RFC 8058 one-click target that mail
  clients call without cookies or a CSRF token; the CSRF middleware exempts exactly
  that route (see ``paperfeed.web.auth``).
* The answer to a subscribe request is the same whatever the address's state,
  so the page cannot be used to find out who is subscribed.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from paperfeed.digest.senders import SendError
from paperfeed.errors import ConfigError, InputError
from paperfeed.models.digest import (
    CADENCES,
    MAX_TOPICS,
    SUBSCRIPTION_CADENCES,
    TOPIC_KINDS,
    Subscriber,
    Topic,
)
from paperfeed.web.auth import client_address, require_user, viewer
from paperfeed.web.render import with_query
from paperfeed.web.views.common import done, library_of, page

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

NO_STORE = {"cache-control": "no-store"}
# Confirmation and unsubscribe URLs are credentials: keep them out of Referer headers.
NO_REFERRER = {**NO_STORE, "referrer-policy": "no-referrer"}
TOPIC_HELP = (
    "One per line: words to search for (diffusion models), or author:Name, "
    "cat:cs.LG, semantic:a description."
)


def parse_topic_lines(text: str) -> list[Topic]:
    lines = [line.strip() for line in (text or "").replace("\r", "").split("\n")]
    topics = [Topic.parse(line) for line in lines if line]
    if len(topics) > MAX_TOPICS:
        raise InputError(f"at most {MAX_TOPICS} topics")
    return topics


def _form(request: Request, **values: Any) -> dict[str, Any]:
    user = viewer(request).user
    data: dict[str, Any] = {
        "email": user.email if user else "",
        "cadence": "daily",
        "topics": "",
        "error": None,
        "cadences": list(CADENCES),
        "topic_help": TOPIC_HELP,
        "logged_in": user is not None,
    }
    data.update(values)
    return data


@router.get("/subscribe")
def subscribe_page(request: Request) -> Response:
    return page(request, "subscribe.html", _form(request), headers=NO_STORE)


@router.post("/subscribe")
def subscribe(
    request: Request,
    email: Annotated[str, Form()] = "",
    cadence: Annotated[str, Form()] = "daily",
    topics: Annotated[str, Form()] = "",
) -> Response:
    current = viewer(request)
    delivery = library_of(request).delivery
    form = _form(request, email=email, cadence=cadence, topics=topics)
    try:
        delivery.subscribe(
            email, cadence=cadence, topics=parse_topic_lines(topics),
            user_id=current.id, client=client_address(request),
        )  # fmt: skip
    except InputError as exc:
        return page(request, "subscribe.html", {**form, "error": str(exc)}, status=400,
                    headers=NO_STORE)  # fmt: skip
    except (SendError, ConfigError) as exc:
        # The details (server, login) are for the operator's log, not for visitors.
        log.error("confirmation mail to %s not sent: %s", email.strip()[:254], exc)
        message = "The confirmation mail could not be sent just now. Please try again later."
        return page(request, "subscribe.html", {**form, "error": message}, status=503,
                    headers={**NO_STORE, "retry-after": "300"})  # fmt: skip
    data = {"status": "confirmation-sent", "email": email.strip()}
    return page(request, "subscribe_sent.html", data, headers=NO_STORE)


@router.get("/subscribe/confirm/{token}")
def confirm_page(request: Request, token: str) -> Response:
    library_of(request).delivery.tokens.read_confirm(token)  # a bad link fails here, unchanged
    return page(request, "subscribe_confirm.html", {"token": token, "status": "unconfirmed"},
                headers=NO_REFERRER)  # fmt: skip


@router.post("/subscribe/confirm/{token}")
def confirm(request: Request, token: str) -> Response:
    subscriber = library_of(request).delivery.confirm(token)
    data = {"status": subscriber.status, "cadence": subscriber.cadence,
            "topics": [t.as_dict() for t in subscriber.topics]}  # fmt: skip
    return page(request, "subscribe_confirmed.html", data, headers=NO_REFERRER)


@router.get("/unsubscribe/{token}")
def unsubscribe_page(request: Request, token: str) -> Response:
    library_of(request).delivery.tokens.read_unsubscribe(token)
    return page(request, "unsubscribe.html", {"token": token, "status": "subscribed"},
                headers=NO_REFERRER)  # fmt: skip


@router.post("/unsubscribe/{token}")
def unsubscribe(request: Request, token: str) -> Response:
    """The page's button and RFC 8058 one-click (body ``List-Unsubscribe=One-Click``)."""
    library_of(request).delivery.unsubscribe(token)
    return page(request, "unsubscribe_done.html", {"status": "unsubscribed"},
                headers=NO_REFERRER)  # fmt: skip


# -- an address without an account: the signed "manage" link of every digest ----------


def _token_manage_data(request: Request, token: str, **values: Any) -> dict[str, Any]:
    found = library_of(request).delivery.managed_subscriber(token)
    data: dict[str, Any] = {
        "token": token,
        "subscription": {"email": found.email, "status": found.status, "cadence": found.cadence,
                         "max_papers": found.max_papers},
        "topics": "\n".join(t.as_text() for t in found.topics),
        "cadences": list(CADENCES),
        "topic_help": TOPIC_HELP,
        "default_max_papers": library_of(request).settings.digest_max_papers,
        "unsubscribe_url": f"/unsubscribe/{library_of(request).delivery.tokens.unsubscribe_token(found.id)}",
        "error": None,
        "saved": False,
    }  # fmt: skip
    data.update(values)
    return data


@router.get("/subscribe/manage/{token}")
def token_manage_page(request: Request, token: str) -> Response:
    return page(request, "subscribe_token_manage.html", _token_manage_data(request, token),
                headers=NO_REFERRER)  # fmt: skip


@router.post("/subscribe/manage/{token}")
def token_manage(
    request: Request,
    token: str,
    cadence: Annotated[str | None, Form()] = None,
    max_papers: Annotated[str | None, Form()] = None,
    topics: Annotated[str | None, Form()] = None,
) -> Response:
    """Save the digest's settings from its link (no login: the signed link is the key)."""
    delivery = library_of(request).delivery
    try:
        limit = None
        if max_papers not in (None, ""):
            if not max_papers.strip().isdigit():  # type: ignore[union-attr]
                raise InputError("papers per digest must be a number")
            limit = int(max_papers)  # type: ignore[arg-type]
        delivery.manage_by_token(
            token, cadence=cadence, max_papers=limit,
            topics=None if topics is None else parse_topic_lines(topics),
        )  # fmt: skip
    except InputError as exc:
        data = _token_manage_data(request, token, error=str(exc), topics=topics or "")
        return page(request, "subscribe_token_manage.html", data, status=400,
                    headers=NO_REFERRER)  # fmt: skip
    data = _token_manage_data(request, token, saved=True)
    return page(request, "subscribe_token_manage.html", data, headers=NO_REFERRER)


# -- the account's subscription and saved searches ---------------------------------------


def _manage_data(request: Request, **values: Any) -> dict[str, Any]:
    user = require_user(request)
    delivery = library_of(request).delivery
    found: Subscriber | None = delivery.subscription_of_user(user.id)
    data: dict[str, Any] = {
        "subscription": found.as_dict() if found else None,
        "saved_searches": [t.as_dict() for t in delivery.saved_searches(user.id)],
        "cadences": list(SUBSCRIPTION_CADENCES),
        "topic_kinds": list(TOPIC_KINDS),
        "default_max_papers": library_of(request).settings.digest_max_papers,
        "error": None,
    }
    data["saved_trend"] = _saved_trend(library_of(request), data["saved_searches"])
    data.update(values)
    return data


def topic_query(kind: str, query: str) -> str:
    """A saved search in the search language (what its trend counts)."""
    if kind == "author":
        return 'au:"' + query.replace('"', " ") + '"'
    if kind == "category":
        return f"cat:{query}"
    return query  # keyword, and a semantic topic's words


def _saved_trend(library: Any, saved: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The saved searches' trends on one chart (the first four), and a trends link each."""
    from paperfeed.web.views.trends import trend_view

    queries = list(dict.fromkeys(topic_query(t["kind"], t["query"]) for t in saved))[:4]
    if not queries:
        return None
    try:
        trend = library.trend(queries)
    except InputError:  # a saved query the search language rejects: no chart, no error
        return None
    view = trend_view(trend, {"share": False}, title="Your saved searches over time")
    view["url"] = "/trends?" + urlencode([("q", q) for q in queries])
    view["links"] = [
        with_query("/trends", {"q": topic_query(t["kind"], t["query"])}) for t in saved
    ]
    return view


@router.get("/subscribe/manage")
def manage_page(request: Request) -> Response:
    return page(request, "subscribe_manage.html", _manage_data(request), headers=NO_STORE)


@router.post("/subscribe/manage")
def manage(
    request: Request,
    action: Annotated[str, Form()] = "save",
    cadence: Annotated[str | None, Form()] = None,
    max_papers: Annotated[str | None, Form()] = None,
) -> Response:
    user = require_user(request)
    delivery = library_of(request).delivery
    found = delivery.subscription_of_user(user.id)
    if found is None:
        raise InputError("this account has no digest subscription yet: subscribe first")
    try:
        if action == "unsubscribe":
            subscriber = delivery.unsubscribe_account(found.id, user_id=user.id)
        else:
            limit = None
            if max_papers not in (None, ""):
                if not max_papers.strip().isdigit():  # type: ignore[union-attr]
                    raise InputError("papers per digest must be a number")
                limit = int(max_papers)  # type: ignore[arg-type]
            subscriber = delivery.update_subscription(
                found.id, user_id=user.id, cadence=cadence, max_papers=limit
            )
    except InputError as exc:
        data = _manage_data(request, error=str(exc))
        return page(request, "subscribe_manage.html", data, status=400, headers=NO_STORE)
    return done(request, "/subscribe/manage", {"subscription": subscriber.as_dict()},
                "/subscribe/manage")  # fmt: skip


@router.post("/subscribe/searches")
def add_saved_search(
    request: Request,
    kind: Annotated[str, Form()] = "keyword",
    query: Annotated[str, Form()] = "",
) -> Response:
    user = require_user(request)
    delivery = library_of(request).delivery
    try:
        saved = delivery.save_search(user.id, Topic.make(kind, query))
    except InputError as exc:
        data = _manage_data(request, error=str(exc))
        return page(request, "subscribe_manage.html", data, status=400, headers=NO_STORE)
    return done(request, "/subscribe/manage", {"saved_searches": [t.as_dict() for t in saved]},
                "/subscribe/manage")  # fmt: skip


@router.post("/subscribe/searches/{topic_id}/delete")
def delete_saved_search(request: Request, topic_id: int) -> Response:
    user = require_user(request)
    delivery = library_of(request).delivery
    delivery.delete_saved_search(user.id, topic_id)
    saved = [t.as_dict() for t in delivery.saved_searches(user.id)]
    return done(request, "/subscribe/manage", {"saved_searches": saved}, "/subscribe/manage")
