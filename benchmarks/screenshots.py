"""Curated screenshots for the docs: ``paperfeed serve --demo`` in real Chromium.

    python benchmarks/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]

Starts the demo on a temporary data dir and a free port, then saves, at 1280x900:
``daily.png`` (the latest day, logged out), ``paper.png`` (a paper page, logged in,
upvoted and in a public collection), ``search.png`` (a query typed into the search
box) and ``api-docs.png`` (the offline API docs). Needs ``pip install playwright``
and Debian's ``chromium`` (no ``playwright install``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip
VIEWPORT = {"width": 1280, "height": 900}
QUERY = "mixture of experts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_demo(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PAPERFEED_DATA_DIR"] = str(data_dir)
    env["PAPERFEED_RUN_SCHEDULER"] = "false"
    server = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--demo", "--port", str(port),
         "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(1800):
        if server.poll() is not None:
            raise SystemExit("paperfeed serve --demo exited early")
        try:
            if httpx.get(base + "/", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the demo server did not start")


def take(base: str, out: Path, chromium: str) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    saved: list[Path] = []

    def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
        path = out / f"{name}.png"
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path))
        saved.append(path)

    # Load the embedding model now, so the screenshot shows a warm search's time.
    httpx.get(f"{base}/search.json", params={"q": "warm up"}, timeout=300)
    # The paper: the best keyword hit for QUERY that links its code.
    hits = httpx.get(f"{base}/search.json", params={"q": QUERY, "mode": "keyword"}).json()
    cards = hits["results"]["hits"]
    paper = next((c for c in cards if c["code_url"]), cards[0])

    expect.set_options(timeout=30_000)  # a shared machine can be slow
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=ARGS)
        anonymous = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
        anonymous.goto(base + "/")
        shot(anonymous, "daily")

        page = browser.new_context(viewport=VIEWPORT).new_page()  # type: ignore[arg-type]
        page.set_default_timeout(60_000)
        page.goto(base + "/signup")
        page.fill("#username", "ada")
        page.fill("#email", "ada@example.org")
        page.fill("#password", "correct horse battery")
        page.click("button:has-text('Create account')")
        page.wait_for_url(base + "/")
        page.goto(base + "/collections")
        page.fill("#name", "Mixture of experts")
        page.fill("#description", "Routing, load balancing and sparse experts.")
        page.check("input[name=public]")
        page.click("button:has-text('Create')")
        page.wait_for_url(f"{base}/collections/*")
        page.goto(base + paper["url"])
        page.locator(".vote button").first.click()
        expect(page.locator(".vote button").first).to_have_attribute("aria-pressed", "true")
        page.locator("#add-collection").select_option(label="Mixture of experts")
        page.locator("#collections-box button:has-text('Add')").click()
        expect(page.locator("#collections-box li a")).to_have_count(1)
        page.reload()
        shot(page, "paper")

        page.goto(base + "/search")
        page.locator("#q").press_sequentially(QUERY, delay=30)
        expect(page.locator("#results .card").first).to_be_visible()
        page.locator("#q").blur()
        shot(page, "search")

        page.goto(base + "/docs")
        expect(page.locator(".opblock").first).to_be_visible()
        shot(page, "api-docs")
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--base", help="a fresh demo server already running (http://host:port)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.base:
        for path in take(args.base.rstrip("/"), args.out, args.chromium):
            print(path)
        return
    scratch = Path(tempfile.mkdtemp(prefix="paperfeed-shots-"))
    server, base = start_demo(scratch / "data")
    try:
        for path in take(base, args.out, args.chromium):
            print(path)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
