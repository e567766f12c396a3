"""Screenshots of the picture pages (trends, map, an author, a category) in real
Chromium at 1280 and 390 px wide, for ``docs/screenshots/``.

    python benchmarks/picture_screenshots.py [--base http://127.0.0.1:8000] [--out DIR]
        [--query diffusion --query "flow matching"] [--author NAME] [--category cs.RO]

Without ``--base`` it starts ``paperfeed serve --demo`` on a scratch data dir (as
``benchmarks/screenshots.py`` does) and waits for the map to be drawn. Names:
``trends``, ``map``, ``author``, ``category`` with ``-390`` for the narrow ones and
``-dark`` for a dark-scheme map. Needs Playwright and Debian's chromium.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshots import ARGS, REPO, start_demo

WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


def wait_for_map(base: str, seconds: float = 1800) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = httpx.get(base + "/map.json", timeout=120).json()
        if data.get("map"):
            return
        time.sleep(5)
    raise SystemExit("the map was not drawn in time")


def pick_author(base: str, category: str) -> str:
    """A prolific author of the category's newest papers."""
    counts: dict[str, int] = {}
    data = httpx.get(f"{base}/search.json", params={"q": f"cat:{category}", "sort": "newest",
                                                    "mode": "keyword"}, timeout=120).json()  # fmt: skip
    for card in data["results"]["hits"]:
        for name in card["authors"]:
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=lambda n: (counts[n], n)) if counts else "Anonymous"


def take(base: str, out: Path, chromium: str, args: argparse.Namespace) -> list[Path]:
    from playwright.sync_api import sync_playwright

    author = args.author or pick_author(base, args.category)
    trend_query = urlencode([("q", q) for q in args.query] + [("granularity", "week")])
    pages = {
        "trends": f"/trends?{trend_query}",
        "map": "/map?" + urlencode({"q": args.query[0]}),
        "author": "/authors/" + quote(author, safe=""),
        "category": f"/categories/{args.category}",
    }
    saved: list[Path] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=ARGS)
        for suffix, viewport, scheme in (("", WIDE, "light"), ("-390", NARROW, "light"),
                                         ("-dark", WIDE, "dark")):  # fmt: skip
            context = browser.new_context(viewport=viewport, color_scheme=scheme)  # type: ignore[arg-type]
            page = context.new_page()
            page.set_default_timeout(120_000)
            for name, path in pages.items():
                if scheme == "dark" and name not in ("map", "trends"):
                    continue
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                target = out / f"{name}{suffix}.png"
                page.screenshot(path=str(target), full_page=name != "map" or suffix == "-390")
                saved.append(target)
            context.close()
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--base", help="a running paperfeed (http://host:port)")
    parser.add_argument("--query", action="append", default=None)
    parser.add_argument("--author")
    parser.add_argument("--category", default="cs.LG")
    args = parser.parse_args()
    args.query = args.query or ["diffusion", '"mixture of experts"']
    args.out.mkdir(parents=True, exist_ok=True)
    if args.base:
        for path in take(args.base.rstrip("/"), args.out, args.chromium, args):
            print(path)
        return
    scratch = Path(tempfile.mkdtemp(prefix="paperfeed-shots-"))
    server, base = start_demo(scratch / "data")
    try:
        wait_for_map(base)
        for path in take(base, args.out, args.chromium, args):
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
