"""``paperfeed serve --demo`` as a real uvicorn process, fetched over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, server: subprocess.Popen[str], limit_seconds: float) -> None:
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.communicate()[1]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on {url}")


def test_serve_demo_over_real_http(tmp_path: Path) -> None:
    port = free_port()
    # This test is about serving pages: no background jobs, and keyword search only
    # (embedding the demo corpus takes minutes on a busy test machine).
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path / "data"),
        "PAPERFEED_RUN_SCHEDULER": "false",
        "PAPERFEED_EMBEDDINGS_ENABLED": "false",
    }
    env.pop("PAPERFEED_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base + "/static/paperfeed.css", server, limit_seconds=120)
        home = httpx.get(base + "/")
        assert home.status_code == 200
        assert home.headers["content-type"].startswith("text/html")
        assert "Daily papers" in home.text
        assert home.text.count('class="card"') == 50  # the demo's latest day, first page
        assert "content-security-policy" in home.headers
        twin = httpx.get(base + "/index.json").json()
        assert len(twin["papers"]) == 50
        assert twin["pagination"]["total"] > 50
        paper = httpx.get(base + twin["papers"][0]["url"])
        assert paper.status_code == 200 and twin["papers"][0]["id"] in paper.text
        found = httpx.get(base + "/search.json", params={"q": "mixture of experts"}).json()
        assert found["results"]["total"] > 0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, stderr = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    assert "demo corpus" in stderr
    assert "Uvicorn running on" in stderr
    assert server.returncode == 0, stderr
