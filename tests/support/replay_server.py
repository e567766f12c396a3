"""A real HTTP server that replays canned responses, for testing source clients end to end.

Tests exercise the actual httpx code paths (query encoding, headers, status
handling, retries) against a socket instead of mocking our own code. Routes map
``(method, path, query predicate)`` to one reply (served every time) or a list
of replies (served once each, in order — e.g. a 503 then a 200). Every request
is recorded so tests can assert what the client actually sent.

Use the ``replay_server`` fixture from a test module with::

    pytest_plugins = ("tests.support.replay_server",)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

# A query predicate: required parameter values (None = must be absent), or a callable
# receiving the first value of each parameter.
QueryMatch = Mapping[str, str | None] | Callable[[dict[str, str]], bool] | None


@dataclass(frozen=True)
class Reply:
    """One canned HTTP response."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    # Seconds to wait before answering (to exercise client timeouts).
    delay_seconds: float = 0.0

    @classmethod
    def file(
        cls,
        path: str | Path,
        *,
        status: int = 200,
        content_type: str = "application/xml; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """A reply whose body is a fixture file."""
        return cls(
            status, Path(path).read_bytes(), {"Content-Type": content_type, **(headers or {})}
        )

    @classmethod
    def text(
        cls,
        body: str,
        *,
        status: int = 200,
        content_type: str = "text/plain; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        return cls(status, body.encode(), {"Content-Type": content_type, **(headers or {})})


@dataclass(frozen=True)
class RecordedRequest:
    """What the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    matched: bool

    def param(self, name: str) -> str | None:
        """First value of query parameter ``name`` (None if absent)."""
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def params(self) -> dict[str, str]:
        """First value of every query parameter."""
        return {key: values[0] for key, values in self.query.items()}


class Route:
    """One entry of the route table; see :meth:`ReplayServer.add`."""

    def __init__(
        self, method: str, path: str, query: QueryMatch, replies: Reply | Sequence[Reply]
    ) -> None:
        self.method = method.upper()
        self.path = path
        self.query = query
        self.repeat = isinstance(replies, Reply)
        self._replies = [replies] if isinstance(replies, Reply) else list(replies)
        self.hits = 0

    def _query_matches(self, params: dict[str, str]) -> bool:
        if self.query is None:
            return True
        if callable(self.query):
            return bool(self.query(params))
        return all(params.get(key) == value for key, value in self.query.items())

    def take(self, method: str, path: str, params: dict[str, str]) -> Reply | None:
        """The reply for a request, or None if this route does not apply (or is used up)."""
        if method != self.method or path != self.path or not self._query_matches(params):
            return None
        if not self.repeat and self.hits >= len(self._replies):
            return None
        reply = self._replies[min(self.hits, len(self._replies) - 1)]
        self.hits += 1
        return reply


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.replay.dispatch(
            self.command, parts.path, query, dict(self.headers.items()), body
        )
        if reply.delay_seconds:
            time.sleep(reply.delay_seconds)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    replay: ReplayServer

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that went away (e.g. a harvest killed on purpose) is not a test failure.
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class ReplayServer:
    """Threaded HTTP server on 127.0.0.1 (ephemeral port) replaying a route table."""

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> ReplayServer:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.replay = self
        self._httpd = httpd
        # A short poll interval keeps shutdown() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="replay-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- routes
    def add(
        self,
        path: str,
        replies: Reply | Sequence[Reply],
        *,
        query: QueryMatch = None,
        method: str = "GET",
    ) -> Route:
        """Serve ``replies`` for requests to ``path`` whose query matches ``query``.

        A single :class:`Reply` is served for every matching request; a sequence
        is served once each, in order, after which the route stops matching (so an
        unexpected extra request gets a 404 and shows up in :attr:`unmatched`).
        Routes are tried in the order they were added.
        """
        route = Route(method, path, query, replies)
        with self._lock:
            self._routes.append(route)
        return route

    def dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> Reply:
        params = {key: values[0] for key, values in query.items()}
        with self._lock:
            reply = None
            for route in self._routes:
                reply = route.take(method, path, params)
                if reply is not None:
                    break
            self._requests.append(
                RecordedRequest(method, path, query, headers, body, matched=reply is not None)
            )
        if reply is None:
            return Reply.text(f"replay server: no route for {method} {path}?{params}", status=404)
        return reply

    # -- what was received
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def unmatched(self) -> list[RecordedRequest]:
        return [r for r in self.requests if not r.matched]


@pytest.fixture
def replay_server() -> Iterator[ReplayServer]:
    """A started :class:`ReplayServer`, stopped after the test."""
    with ReplayServer() as server:
        yield server
