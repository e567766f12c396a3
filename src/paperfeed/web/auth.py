"""Who is asking, and may they change anything: sessions, API tokens and CSRF.

* **Sessions.** ``pf_session`` holds the session id from ``community.start_session``
  (only its sha256 is stored): HttpOnly, SameSite=Lax, Secure when the site is
  served over https. Every login creates a new session id (no fixation) and
  logout deletes it server-side.
* **API tokens.** ``Authorization: Bearer pf_...`` authenticates a request instead
  of the cookie. Browsers never attach that header on their own, so such requests
  cannot be forged cross-site and are exempt from CSRF checks.
* **CSRF.** :class:`CsrfMiddleware` rejects every unsafe request (POST, PUT, PATCH,
  DELETE) with 403 unless it carries a valid token in the ``csrf_token`` form field
  or the ``X-CSRF-Token`` header: the session's own token when logged in; for
  anonymous forms (login, sign-up) a token signed with the site secret that must
  match the random value in the ``pf_csrf`` cookie. Because it is middleware, no
  route can forget the check.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

import anyio.to_thread
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, Request, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.community import Community, Session, User
from paperfeed.errors import PaperfeedError

SESSION_COOKIE = "pf_session"
ANON_CSRF_COOKIE = "pf_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
#: How long an anonymous form (login, sign-up) stays valid.
ANON_CSRF_MAX_AGE = 24 * 3600
#: Forms are small; a bigger body is refused before it is buffered.
MAX_FORM_BYTES = 1 << 20
VIEWER_KEY = "paperfeed.viewer"
#: Paths of the bearer-token-only JSON API (``paperfeed.web.api``).
API_PREFIX = "/api/"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# RFC 8058 one-click unsubscribe: mail clients POST "List-Unsubscribe=One-Click" to
# the List-Unsubscribe URL with no cookies, so no CSRF token can be sent. The
# unguessable signed token in the URL is the credential (only the mail's recipient
# has it) and the action can only stop mail, so a forged request gains nothing.
# Exactly this route is exempt; everything else on /unsubscribe keeps the check.
_CSRF_EXEMPT_POST = re.compile(r"/unsubscribe/[A-Za-z0-9_.\-]+")


class LoginRequired(PaperfeedError):
    """The page needs a signed-in user (HTML: redirect to the login page; JSON: 401)."""

    exit_code = 7


@dataclass(slots=True, frozen=True)
class Viewer:
    """The person behind a request: anonymous, a browser session or an API token."""

    user: User | None = None
    session: Session | None = None
    token_auth: bool = False

    @property
    def id(self) -> int | None:
        return self.user.id if self.user else None


ANONYMOUS = Viewer()


def _bearer(headers: Headers) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _cookie(headers: Headers, name: str) -> str | None:
    # The parse Starlette does for Request.cookies, without building a Request.
    return cookie_parser(headers.get("cookie", "")).get(name)


def resolve_viewer(community: Community, headers: Headers) -> Viewer:
    """Authenticate from the bearer token if one is sent, else from the session cookie."""
    token = _bearer(headers)
    if token is not None:
        user = community.user_for_api_token(token)
        return Viewer(user, None, token_auth=True) if user else ANONYMOUS
    session_id = _cookie(headers, SESSION_COOKIE)
    if session_id:
        found = community.session(session_id)
        if found is not None:
            return Viewer(found[0], found[1])
    return ANONYMOUS


def viewer(connection: HTTPConnection) -> Viewer:
    """The request's viewer, resolved once (the CSRF check may have done it already)."""
    cached = connection.scope.get(VIEWER_KEY)
    if cached is None:
        headers = connection.headers
        if _bearer(headers) is None and SESSION_COOKIE not in connection.cookies:
            cached = ANONYMOUS  # no database round trip for anonymous page views
        else:
            cached = resolve_viewer(connection.app.state.library.community, headers)
        connection.scope[VIEWER_KEY] = cached
    return cached


def require_user(connection: HTTPConnection) -> User:
    found = viewer(connection).user
    if found is None:
        raise LoginRequired("log in first")
    return found


def client_address(connection: HTTPConnection) -> str:
    """The client's IP as the server saw it (uvicorn applies trusted proxy headers)."""
    return connection.client.host if connection.client else ""


def secure_cookies(connection: HTTPConnection) -> bool:
    settings = connection.app.state.settings
    return settings.base_url.startswith("https://") or connection.url.scheme == "https"


def set_session_cookie(response: Response, connection: HTTPConnection, session: Session) -> None:
    max_age = int((session.expires_at - session.created_at).total_seconds())
    response.set_cookie(
        SESSION_COOKIE, session.token, max_age=max_age, path="/",
        httponly=True, samesite="lax", secure=secure_cookies(connection),
    )  # fmt: skip


def clear_session_cookie(response: Response, connection: HTTPConnection) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax",
        secure=secure_cookies(connection),
    )  # fmt: skip


def csrf_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="paperfeed.csrf")


class CsrfTokens:
    """The CSRF token for forms on one page, made only if the page has a form.

    Templates call ``csrf_token()``. Logged in, it is the session's token; anonymous,
    a signed copy of a random cookie value, and :meth:`save` sets that cookie.
    """

    def __init__(self, connection: HTTPConnection, current: Viewer) -> None:
        self.connection = connection
        self.viewer = current
        self._token: str | None = None
        self._new_cookie: str | None = None

    def __call__(self) -> str:
        if self._token is None:
            if self.viewer.session is not None:
                self._token = self.viewer.session.csrf_token
            else:
                value = self.connection.cookies.get(ANON_CSRF_COOKIE)
                if not value or len(value) > 64:
                    value = self._new_cookie = secrets.token_urlsafe(24)
                serializer = self.connection.app.state.csrf_serializer
                self._token = serializer.dumps(value)
        return self._token

    def save(self, response: Response) -> None:
        if self._new_cookie:
            response.set_cookie(
                ANON_CSRF_COOKIE, self._new_cookie, max_age=ANON_CSRF_MAX_AGE, path="/",
                httponly=True, samesite="lax", secure=secure_cookies(self.connection),
            )  # fmt: skip


def csrf_token_valid(
    token: str | None, current: Viewer, anon_cookie: str | None, serializer: URLSafeTimedSerializer
) -> bool:
    if not token:
        return False
    if current.session is not None:
        return hmac.compare_digest(token.encode(), current.session.csrf_token.encode())
    if not anon_cookie:
        return False
    try:
        value = serializer.loads(token, max_age=ANON_CSRF_MAX_AGE)
    except BadSignature:  # includes SignatureExpired
        return False
    return isinstance(value, str) and hmac.compare_digest(value.encode(), anon_cookie.encode())


class ErrorPages(Protocol):
    """What the middleware answers a refused request with (the app's Renderer)."""

    def error(self, request: Request, status: int, message: str, **headers: str) -> Response:
        """An error page, or its JSON twin."""


class CsrfMiddleware:
    """Pure ASGI: buffer an unsafe request's (small) body, check its token, replay it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        community: Community,
        renderer: ErrorPages,
        serializer: URLSafeTimedSerializer,
    ) -> None:
        self.app = app
        self.community = community
        self.renderer = renderer
        self.serializer = serializer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if _bearer(headers) is not None:  # token-authenticated: not forgeable by a page
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST" and _CSRF_EXEMPT_POST.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(API_PREFIX):
            # The JSON API authenticates by bearer token only and never reads the
            # session cookie, so a forged cross-site request carries no credentials;
            # the API answers 401 itself.
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                await self._reject(scope, send, 413, "request body too large")
                return
            if not message.get("more_body", False):
                break
        replay = _Replay(bytes(body), receive)
        token = headers.get(CSRF_HEADER) or await _form_token(scope, bytes(body))
        current = await anyio.to_thread.run_sync(resolve_viewer, self.community, headers)
        scope[VIEWER_KEY] = current
        if not csrf_token_valid(
            token, current, _cookie(headers, ANON_CSRF_COOKIE), self.serializer
        ):
            await self._reject(
                scope, send, 403,
                "This form has expired or did not come from this site."
                " Go back, reload the page and try again.",
            )  # fmt: skip
            return
        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, send: Send, status: int, message: str) -> None:
        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        request = Request(scope, no_body)
        response = await anyio.to_thread.run_sync(self.renderer.error, request, status, message)
        await response(scope, no_body, send)


class _Replay:
    """A ``receive`` that hands the buffered body to the app, then defers to the server."""

    def __init__(self, body: bytes, receive: Receive) -> None:
        self.body: bytes | None = body
        self.receive = receive

    async def __call__(self) -> Message:
        if self.body is not None:
            body, self.body = self.body, None
            return {"type": "http.request", "body": body, "more_body": False}
        return await self.receive()


async def _form_token(scope: Scope, body: bytes) -> str | None:
    content_type = Headers(scope=scope).get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        found = values.get(CSRF_FIELD)
        return found[0] if found else None
    if content_type.startswith("multipart/form-data"):
        request = Request(scope, _Replay(body, _no_more))
        form: Any = await request.form()
        try:
            value = form.get(CSRF_FIELD)
            return value if isinstance(value, str) else None
        finally:
            await form.close()
    return None


async def _no_more() -> Message:
    return {"type": "http.disconnect"}
