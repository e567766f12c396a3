"""In real Chromium against a real ``paperfeed serve --demo``: what a person does.

Sign up, upvote (the count changes in place), add a paper to a collection, move
between days, search as you type (results replace themselves without a page
load), and read the API docs offline. Every test also checks that the pages
loaded nothing from another site and logged no error (a Content-Security-Policy
violation is one). Screenshots of each step go to ``artifacts/screenshots/``.
Skipped, with the reason, only where Chromium or Playwright is absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.web.browser import Tab, chromium, chromium_missing, tab
from tests.web.conftest import PASSWORD
from tests.web.live_server import live_server, paperfeed_env

if TYPE_CHECKING:
    from playwright.sync_api import Browser

MISSING = chromium_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Keyword search only: embedding the demo's abstracts takes a CPU-minute, and typing
    # into the search box works the same in every mode.
    env = paperfeed_env(
        tmp_path_factory.mktemp("browser") / "data", PAPERFEED_EMBEDDINGS_ENABLED="false"
    )
    with live_server(env, "--demo") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as opened:
        yield opened


@pytest.fixture
def t(browser: Browser, base: str) -> Iterator[Tab]:
    with tab(browser, base) as opened:
        yield opened


def assert_self_contained(t: Tab) -> None:
    assert t.foreign_requests() == []
    assert t.errors == []


def sign_up(t: Tab, username: str) -> None:
    t.go("/signup")
    t.page.fill("#username", username)
    t.page.fill("#email", f"{username}@example.org")
    t.page.fill("#password", PASSWORD)
    t.page.click("button:has-text('Create account')")
    t.page.wait_for_url(t.base + "/")
    assert t.page.locator(".account-nav a[href='/account']").inner_text() == username


def test_sign_up_upvote_and_add_to_a_collection(t: Tab) -> None:
    from playwright.sync_api import expect

    page = t.page
    sign_up(t, "ada")
    t.screenshot("signed-up")

    card = page.locator("ol.cards > li").first
    count = int(card.locator(".vote .count").inner_text())
    t.mark_document()
    card.locator("form.vote button").click()
    expect(card.locator("form.vote .count")).to_have_text(str(count + 1))
    expect(card.locator("form.vote button")).to_have_attribute("aria-pressed", "true")
    assert t.same_document(), "upvoting reloaded the page"
    t.screenshot("upvoted")
    page.reload()
    expect(card.locator("form.vote .count")).to_have_text(str(count + 1))  # stored
    card.locator("form.vote button").click()  # and taken back
    expect(card.locator("form.vote .count")).to_have_text(str(count))
    expect(card.locator("form.vote button")).to_have_attribute("aria-pressed", "false")
    paper_path = card.locator(".card-title a").get_attribute("href")
    assert paper_path and paper_path.startswith("/papers/")

    t.go("/collections")
    page.fill("#name", "Reading list")
    page.click("button:has-text('Create')")
    page.wait_for_url(re.compile(r"/collections/\d+$"))
    collection_path = page.url.removeprefix(t.base)

    t.go(paper_path)
    box = page.locator("#collections-box")
    box.locator("#add-collection").select_option(label="Reading list")
    t.mark_document()
    box.locator("button:has-text('Add')").click()
    expect(page.locator("#collections-box li a:has-text('Reading list')")).to_be_visible()
    expect(
        page.locator("#collections-box button:has-text('Remove from Reading list')")
    ).to_be_visible()
    assert t.same_document(), "adding to a collection reloaded the page"
    t.screenshot("added-to-collection")
    t.go(collection_path)
    expect(page.locator(f".card-title a[href='{paper_path}']")).to_be_visible()
    assert_self_contained(t)


def test_previous_and_next_day(t: Tab) -> None:
    from playwright.sync_api import expect

    page = t.page
    t.go("/")
    latest = page.locator("h1 .subtitle").inner_text()
    previous = page.locator(".period-nav a[rel=prev]")
    href = previous.get_attribute("href")
    assert href and re.fullmatch(r"/papers/date/\d{4}-\d\d-\d\d", href)
    previous.click()
    page.wait_for_url(t.base + href)
    earlier = page.locator("h1 .subtitle").inner_text()
    assert earlier != latest
    expect(page.locator("ol.cards > li").first).to_be_visible()
    t.screenshot("previous-day")
    page.locator(".period-nav a[rel=next]").click()
    page.wait_for_url(re.compile(r"/papers/date/\d{4}-\d\d-\d\d$"))
    assert page.locator("h1 .subtitle").inner_text() == latest
    assert_self_contained(t)


def test_search_results_update_as_you_type(t: Tab) -> None:
    from playwright.sync_api import expect

    page = t.page
    t.go("/search")
    t.mark_document()
    page.locator("#q").press_sequentially("mixture of experts", delay=40)
    summary = page.locator("#results .summary")
    expect(summary).to_contain_text("mixture of experts")
    expect(page.locator("#results .card").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"/search\?q=mixture"))  # shareable, back button works
    t.screenshot("search-typed")
    page.fill("#q", "lottery ticket")
    expect(summary).to_contain_text("lottery ticket")
    expect(page.locator("#results .card-title").first).to_contain_text("Lottery Ticket")
    assert t.same_document(), "typing a query reloaded the page"
    assert_self_contained(t)


def test_api_docs_work_offline(t: Tab) -> None:
    from playwright.sync_api import expect

    page = t.page
    t.go("/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/daily_papers" in paths and "/api/papers/{paper_id}" in paths
    t.screenshot("api-docs")
    assert_self_contained(t)
