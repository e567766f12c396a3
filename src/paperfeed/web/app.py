"""The ASGI app: ``create_app(library, settings)`` wires pages, the API and middleware.

Nothing is created at import time; ``paperfeed serve`` (or any ASGI server, via
:func:`create_app_from_environment`) builds the app from settings. Route handlers
are plain functions run in the threadpool, so they call the synchronous Library
directly (SQLite keeps one connection per thread).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.community import RateLimited
from paperfeed.errors import InputError, NotFoundError, PaperfeedError, PermissionDenied
from paperfeed.library import Library, open_library
from paperfeed.settings import Settings, load_settings
from paperfeed.web import api, api_follows, api_groups, subscriptions
from paperfeed.web import feeds as xml_feeds  # Atom/RSS; views.feeds are the HTML pages
from paperfeed.web.auth import CsrfMiddleware, LoginRequired, csrf_serializer
from paperfeed.web.render import JSON_TWIN_KEY, Renderer, referer_path, wants_json, with_query
from paperfeed.web.views import (
    account_settings,
    accounts,
    browse,
    collections,
    feeds,
    fieldmap,
    follows,
    groups,
    papers,
    profiles,
    search,
    trends,
)

#: No inline scripts or styles anywhere; htmx is configured not to inject any.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
)
# Paths whose ``.json`` suffix is real, not a request for a page's JSON twin.
_NOT_TWINS = ("/static/", "/api/", "/openapi.json")


class VersionedStaticFiles(StaticFiles):
    """Static files; pages link them as ``?v=<content hash>``, so those URLs never change
    content and browsers may keep them for a year."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200 and b"v=" in scope.get("query_string", b""):
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


class SecurityHeadersMiddleware:
    """Adds the security headers to every response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    if name.decode() not in headers:
                        headers.append(name.decode(), value.decode())
            await send(message)

        await self.app(scope, receive, send_with_headers)


class JsonTwinMiddleware:
    """``/any/page.json`` is served by the route for ``/any/page``, answering in JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.endswith(".json") and not path.startswith(_NOT_TWINS):
                page = path[: -len(".json")]
                page = "/" if page in ("", "/index") else page
                raw: bytes = scope.get("raw_path") or path.encode()
                raw = b"/" if raw in (b"/index.json", b"/.json") else raw.removesuffix(b".json")
                scope = {**scope, "path": page, "raw_path": raw, JSON_TWIN_KEY: True}
        await self.app(scope, receive, send)


def create_app(library: Library, settings: Settings) -> FastAPI:
    """The web app over ``library``: pages with JSON twins, accounts and ``/api``."""
    renderer = Renderer(settings)
    serializer = csrf_serializer(settings.secret())  # fails now if production has no secret
    app = FastAPI(
        lifespan=_scheduler_lifespan(library, settings),
        title="paperfeed",
        version="0.1.0",
        summary="Self-hosted daily papers: feeds, search, community and a JSON API.",
        # Swagger/ReDoc pages load their assets from a CDN; /docs is served offline by api.
        docs_url=None,
        redoc_url=None,
    )
    app.state.library = library
    app.state.settings = settings
    app.state.renderer = renderer
    app.state.csrf_serializer = serializer

    # Before the pages: /papers/{id}.md (huggingface_hub's read_paper) is not a paper id.
    app.include_router(api.markdown_router)
    for module in (feeds, papers, search, accounts, account_settings, profiles, collections,
                   follows, groups, trends, browse, fieldmap):  # fmt: skip
        app.include_router(module.router)
    app.include_router(xml_feeds.router)  # /feeds/*.atom, *.rss
    app.include_router(subscriptions.router)  # /subscribe, /unsubscribe (e-mail digests)
    api.install(app, settings)  # /api/*, offline /docs, the API's rate limits
    app.include_router(api_follows.router)  # /api/follows, /api/alerts
    app.include_router(api_groups.router)  # /api/groups
    static_dir = resources.files("paperfeed.web") / "static"
    app.mount("/static", VersionedStaticFiles(directory=str(static_dir)), name="static")

    _add_error_handlers(app, renderer)
    # Added innermost first: headers wrap everything, twins are known before CSRF runs.
    app.add_middleware(
        CsrfMiddleware, community=library.community, renderer=renderer, serializer=serializer
    )
    app.add_middleware(JsonTwinMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def _scheduler_lifespan(library: Library, settings: Settings) -> Any:
    """While the app serves: the job scheduler in a background thread when
    ``settings.run_scheduler`` (a team server turns it off and runs ``paperfeed worker``),
    and the index follower when ``settings.index_follow`` (every node keeps its own
    search indexes in step with the shared database)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        follower = library.follow_search() if settings.index_follow else None
        background = library.scheduler.start_background() if settings.run_scheduler else None
        try:
            yield
        finally:
            if background is not None:  # lets a running job finish (bounded wait)
                await anyio.to_thread.run_sync(background.stop)
            if follower is not None:
                await anyio.to_thread.run_sync(follower.stop)

    return lifespan


def _add_error_handlers(app: FastAPI, renderer: Renderer) -> None:
    """Our errors become pages (or JSON) with the matching status and a one-line message."""

    def status_of(exc: PaperfeedError) -> int:
        if isinstance(exc, NotFoundError):
            return 404
        if isinstance(exc, InputError):
            return 400
        if isinstance(exc, RateLimited):
            return 429
        if isinstance(exc, PermissionDenied):
            return 403
        return 500

    async def paperfeed_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PaperfeedError)
        if isinstance(exc, LoginRequired):
            return login_required(request)
        headers = {}
        if isinstance(exc, RateLimited):
            headers["retry-after"] = str(exc.retry_after)
        return renderer.error(request, status_of(exc), str(exc), **headers)

    def login_required(request: Request) -> Response:
        if wants_json(request):
            return renderer.error(request, 401, "log in or send an API token", **{
                "www-authenticate": 'Bearer realm="paperfeed"'
            })  # fmt: skip
        url = request.url
        if request.method != "GET":
            back = referer_path(request)
        else:
            back = f"{url.path}?{url.query}" if url.query else url.path
        return RedirectResponse(with_query("/login", {"next": back}), status_code=303)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = {404: "page not found", 405: "method not allowed"}.get(
            exc.status_code, str(exc.detail)
        )
        return renderer.error(request, exc.status_code, message, **(exc.headers or {}))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return renderer.error(request, 400, f"invalid {where}: {first.get('msg', 'bad value')}")

    app.add_exception_handler(PaperfeedError, paperfeed_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


def create_app_from_environment() -> FastAPI:
    """Factory for ASGI servers (``uvicorn --factory paperfeed.web.app:create_app_from_environment``):
    settings from ``PAPERFEED_*`` and ``PAPERFEED_CONFIG``, one library per worker process."""
    settings = load_settings()
    return create_app(open_library(settings), settings)
