"""A real ``paperfeed serve`` process on a free port, for tests that need real HTTP
(the official Hugging Face client, a browser). Not a fixture module: test modules
build their own (module-scoped) fixtures from :func:`live_server`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

#: Nothing listens on port 9: submissions and harvests that would reach arXiv fail fast.
OFFLINE_URL = "http://127.0.0.1:9"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def paperfeed_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a paperfeed process on ``data_dir``, offline (no arXiv, no Hub)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATA_DIR=str(data_dir),
        PAPERFEED_ARXIV_API_URL=f"{OFFLINE_URL}/api/query",
        PAPERFEED_ARXIV_OAI_URL=f"{OFFLINE_URL}/oai",
        PAPERFEED_HUGGINGFACE_URL=OFFLINE_URL,
        PAPERFEED_HTTP_DELAY_SECONDS="0",
        PAPERFEED_HTTP_TIMEOUT_SECONDS="5",
        # No background jobs: the test decides what the server does.
        PAPERFEED_RUN_SCHEDULER="false",
        NO_PROXY="127.0.0.1,localhost",
    )
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(proxy, None)
    env.update(extra)
    return env


def paperfeed(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run the CLI; its stdout, or an AssertionError with its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        env=env, input=stdin, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, f"paperfeed {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


@contextmanager
def live_server(
    env: dict[str, str],
    *args: str,
    ready_path: str = "/static/paperfeed.css",
    port: int | None = None,
) -> Iterator[str]:
    """``paperfeed serve`` with ``args`` until the block ends; yields its base URL.
    ``port``: a port chosen beforehand (when ``PAPERFEED_BASE_URL`` must name it)."""
    port = port or free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port), "--no-access-log", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base + ready_path, server, limit_seconds=180)
        yield base
    finally:
        stop(server)


def stop(server: subprocess.Popen[str]) -> str:
    """Ctrl-C the server (uvicorn shuts down cleanly); its stderr."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
    try:
        _, stderr = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        _, stderr = server.communicate()
    return stderr


def _wait_until_serving(url: str, server: subprocess.Popen[str], limit_seconds: float) -> None:
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.communicate()[1]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"nothing answered on {url} within {limit_seconds:.0f} s")
