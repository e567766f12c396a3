"""One view context, two presentations: an HTML page (Jinja2) or its JSON twin.

Every page handler builds a plain dict of view data and hands it to
:meth:`Renderer.page`. A request for the same URL with ``.json`` appended (or with
``Accept: application/json``) gets that dict as JSON; anything else gets the
template rendered from it, plus request-specific extras (the viewer, a CSRF
token) that never go into the JSON. UI and API therefore cannot drift.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from paperfeed.latex import readable
from paperfeed.settings import Settings
from paperfeed.web import auth
from paperfeed.web.charts import Svg

#: Anonymous cards kept rendered (about 1 kB each).
CARD_CACHE_SIZE = 20_000
#: Scope key set by the JSON-twin middleware when the path ended in ``.json``.
JSON_TWIN_KEY = "paperfeed.json_twin"


def wants_json(connection: HTTPConnection) -> bool:
    """The JSON twin: ``.json`` URL, an API path, or a client that asks for JSON over HTML."""
    if connection.scope.get(JSON_TWIN_KEY) or connection.url.path.startswith("/api/"):
        return True
    accept = connection.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def is_fragment_request(request: Request, target: str) -> bool:
    """An htmx request that swaps only element ``#target`` (not a history restore)."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-history-restore-request") != "true"
        and headers.get("hx-target") == target
    )


def jsonable(value: Any) -> Any:
    """View data as JSON-ready values: ISO dates, lists for sets, dicts for dataclasses."""
    if isinstance(value, dict):
        # Pictures stay on the page; the twin has the numbers they were drawn from.
        return {str(k): jsonable(v) for k, v in value.items() if not isinstance(v, Svg)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "as_dict"):
        return jsonable(value.as_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    return value


def paper_path(paper_id: str) -> str:
    # Old-style arXiv ids keep their slash (/papers/hep-th/9901001): the route accepts it.
    return "/papers/" + quote(paper_id, safe="/")


def author_path(name: str) -> str:
    """An author's page; any name works (slashes and all are escaped)."""
    return "/authors/" + quote(" ".join(name.split()), safe="")


def category_path(code: str) -> str:
    return "/categories/" + quote(code, safe=".")


_NOT_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def dom_id(paper_id: str) -> str:
    """A paper id usable in an HTML id attribute and a CSS selector (htmx targets)."""
    return _NOT_ID_CHARS.sub("-", paper_id)


def safe_url(url: str | None) -> str | None:
    """Only http(s) links from imported metadata: never ``javascript:`` in an href."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


def with_query(path: str, params: dict[str, Any]) -> str:
    """``path?params`` without empty values, for pagination and filter links."""
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return f"{path}?{urlencode(kept)}" if kept else path


def referer_path(request: Request) -> str:
    """The page a form was sent from, if it is on this site (else ``/``)."""
    referer = request.headers.get("referer", "")
    base = f"{request.url.scheme}://{request.url.netloc}"
    if referer.startswith(base + "/"):
        return referer[len(base) :]
    return "/"


def json_twin_url(request: Request) -> str:
    path = request.url.path
    path = "/index.json" if path == "/" else path + ".json"
    return f"{path}?{request.url.query}" if request.url.query else path


def format_day(value: date | str | None, style: str = "short") -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if style == "long":
        return value.strftime("%A %-d %B %Y")
    return value.strftime("%-d %b %Y")


def format_count(value: int) -> str:
    return f"{value / 1000:.1f}k" if value >= 10_000 else str(value)


def _static_versions() -> dict[str, str]:
    """Content hashes of the static files, for cache-busting ``?v=`` parameters."""
    versions: dict[str, str] = {}
    root = resources.files("paperfeed.web") / "static"
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                stack.append((entry, name + "/"))
            else:
                versions[name] = hashlib.sha256(entry.read_bytes()).hexdigest()[:10]
    return versions


def _unseen_alerts(request: Request, viewer: auth.Viewer) -> Any:
    """The nav's count of unseen alerts, queried only if a template asks for it."""

    def count() -> int:
        if viewer.user is None:
            return 0
        return int(request.app.state.library.community.alert_count(viewer.user.id, unseen=True))

    return count


class Renderer:
    """Compiled templates and the page/JSON/error responses built from view data."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = Environment(
            loader=PackageLoader("paperfeed.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            auto_reload=False,  # templates are package data: compile once per process
            undefined=StrictUndefined,  # a typo in a template fails tests instead of hiding
            trim_blocks=True,
            lstrip_blocks=True,
        )
        versions = _static_versions()
        self.env.globals.update(
            static=lambda name: f"/static/{name}?v={versions.get(name, '0')}",
            paper_path=paper_path,
            author_path=author_path,
            category_path=category_path,
            dom_id=dom_id,
            with_query=with_query,
        )
        self.env.filters.update(readable=readable, day=format_day, count=format_count)
        self.env.globals["anonymous_card"] = self.anonymous_card
        self._cache: dict[str, Template] = {}
        self._cards: dict[tuple[Any, ...], Markup] = {}

    def template(self, name: str) -> Template:
        found = self._cache.get(name)
        if found is None:
            found = self._cache[name] = self.env.get_template(name)
        return found

    def anonymous_card(self, card: dict[str, Any], level: int = 2) -> Markup:
        """A paper card as logged-out visitors see it, memoised on everything it shows.

        Feed pages render 50 cards per request; for anonymous visitors a card depends
        on nothing but its own data, so the key is that data and a cached card can never
        be stale (changed upvotes are a different key). Cards holding unhashable
        values are rendered each time.
        """
        try:
            key = (level, *((k, tuple(v) if isinstance(v, list) else v) for k, v in card.items()))
            found = self._cards.get(key)
        except TypeError:
            return Markup(self.template("_card.html").render(card=card, level=level, viewer=None))
        if found is None:
            if len(self._cards) >= CARD_CACHE_SIZE:
                self._cards.clear()  # crude but thread-safe bound; refills in a few pages
            found = Markup(self.template("_card.html").render(card=card, level=level, viewer=None))
            self._cards[key] = found
        return found

    def html(self, name: str, context: dict[str, Any]) -> str:
        return self.template(name).render(context)

    def page(
        self,
        request: Request,
        name: str,
        data: dict[str, Any],
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """The page ``name`` rendered from ``data``, or ``data`` itself as the JSON twin."""
        if wants_json(request):
            return JSONResponse(jsonable(data), status_code=status, headers=headers)
        return self.html_response(request, name, data, status=status, headers=headers)

    def html_response(
        self,
        request: Request,
        name: str,
        data: dict[str, Any],
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        viewer = auth.viewer(request)
        csrf = auth.CsrfTokens(request, viewer)
        url = request.url
        if request.method == "GET":
            current_url = f"{url.path}?{url.query}" if url.query else url.path
        else:  # a form re-rendered after a POST: links and "next" go back where it came from
            current_url = referer_path(request)
        context = {
            **data,
            "viewer": viewer.user,
            "csrf_token": csrf,
            "current_path": request.url.path,
            "current_url": current_url,
            "json_url": json_twin_url(request),
            "unseen_alerts": _unseen_alerts(request, viewer),
            "login_url": "/login"
            if url.path in ("/login", "/signup")
            else with_query("/login", {"next": current_url}),
        }
        response = HTMLResponse(self.html(name, context), status_code=status, headers=headers)
        response.headers.setdefault("vary", "Cookie, HX-Request")
        if viewer.user is not None:  # holds the user's CSRF token and votes: no shared caches
            response.headers.setdefault("cache-control", "private, no-cache")
        csrf.save(response)
        return response

    def error(self, request: Request, status: int, message: str, **headers: str) -> Response:
        """An error page (or ``{"error": message}`` for the JSON twin and the API)."""
        data = {"error": message, "status": status}
        if wants_json(request):
            return JSONResponse(data, status_code=status, headers=headers or None)
        if request.headers.get("hx-request") == "true":
            # htmx swaps this into the element it targeted (a vote button, a box).
            body = f'<p class="error" role="alert">{escape(message)}</p>'
            return HTMLResponse(body, status_code=status, headers=headers or None)
        try:
            return self.html_response(request, "error.html", data, status=status, headers=headers)
        except Exception:  # the error page must not fail on a broken session store
            body = f"<!doctype html><title>Error {status}</title><p>{escape(message)}</p>"
            return HTMLResponse(body, status_code=status, headers=headers or None)
