"""Account basics in real Chromium, mail through a real SMTP server (aiosmtpd): forgot the
password and reset it from the mailed link, change the address and confirm it from the
new inbox, manage an address-only digest from its signed link, and delete the account
after downloading the profile. Screenshots go to ``artifacts/screenshots/``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.digest.smtp_server import Mailbox, smtp_server
from tests.web.browser import Tab, chromium, chromium_missing, tab
from tests.web.conftest import PASSWORD
from tests.web.live_server import free_port, live_server, paperfeed_env

if TYPE_CHECKING:
    from email.message import EmailMessage

    from playwright.sync_api import Browser

MISSING = chromium_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Mailbox, dict[str, str]]]:
    port = free_port()
    with smtp_server() as (mailbox, smtp_port):
        env = paperfeed_env(
            tmp_path_factory.mktemp("accounts") / "data",
            PAPERFEED_EMBEDDINGS_ENABLED="false", PAPERFEED_BASE_URL=f"http://127.0.0.1:{port}",
            PAPERFEED_MAIL_SENDER="smtp", PAPERFEED_SMTP_HOST="127.0.0.1",
            PAPERFEED_SMTP_PORT=str(smtp_port), PAPERFEED_SMTP_SECURITY="none",
            PAPERFEED_MAIL_FROM="paperfeed <mail@example.org>",
            PAPERFEED_DIGEST_SKIP_WEEKENDS="false",
        )  # fmt: skip
        with live_server(env, "--demo", port=port) as base:
            yield base, mailbox, env


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as opened:
        yield opened


@pytest.fixture
def t(browser: Browser, site: tuple[str, Mailbox, dict[str, str]]) -> Iterator[Tab]:
    with tab(browser, site[0]) as opened:
        yield opened


def link(message: EmailMessage, base: str, path: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(re.escape(base + path) + r"[A-Za-z0-9_.\-]+", text)
    assert found, text
    return found.group(0)


def wait_for_mail(mailbox: Mailbox, address: str, count: int) -> list[EmailMessage]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = mailbox.to(address)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no mail #{count} to {address}")


def test_forgot_reset_change_address_and_delete(
    t: Tab, site: tuple[str, Mailbox, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    base, mailbox, _ = site
    page = t.page
    t.go("/signup")
    page.fill("#username", "grace")
    page.fill("#email", "grace@example.org")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Create account')")
    page.wait_for_url(base + "/")
    page.click(".account-nav button:has-text('Log out')")

    # Forgot the password: the mailed link, a new password, log in with it.
    t.go("/login")
    page.click("text=Forgot your password?")
    page.fill("#email", "grace@example.org")
    page.click("button:has-text('Send the link')")
    expect(page.locator(".notice")).to_contain_text("If an account here uses that address")
    t.screenshot("password-forgot")
    (reset,) = wait_for_mail(mailbox, "grace@example.org", 1)
    page.goto(link(reset, base, "/password/reset/"))
    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    t.screenshot("password-reset")
    page.click("button:has-text('Save the new password')")
    page.wait_for_url(base + "/login?reset=1")
    page.fill("#login", "grace")
    page.fill("#password", NEW_PASSWORD)
    page.click("form.stacked button:has-text('Log in')")
    page.wait_for_url(base + "/")

    # A new address, confirmed from the new inbox.
    t.go("/account")
    page.fill("#new-email", "grace@navy.example.org")
    page.fill("#email-password", NEW_PASSWORD)
    page.click("button:has-text('Change address')")
    expect(page.locator("[role=status]")).to_contain_text("confirmation link is on its way")
    (confirm,) = wait_for_mail(mailbox, "grace@navy.example.org", 1)
    assert len(wait_for_mail(mailbox, "grace@example.org", 2)) == 2  # the notice to the old one
    page.goto(link(confirm, base, "/account/email/confirm/"))
    page.click("button:has-text('Use this address')")
    expect(page.locator("[role=status]")).to_contain_text("now uses grace@navy.example.org")

    # Delete, after downloading the profile.
    t.go("/account/delete")
    with page.expect_download() as download:
        page.click("text=Download your profile (JSON)")
    document = json.loads(open(download.value.path(), encoding="utf-8").read())  # noqa: SIM115
    assert (document["format"], document["account"]["email"]) == (
        "paperfeed-profile", "grace@navy.example.org",
    )  # fmt: skip
    page.fill("#password", NEW_PASSWORD)
    page.check("input[name=understood]")
    t.screenshot("account-delete")
    page.click("button:has-text('Delete my account')")
    page.wait_for_url(base + "/account/deleted")
    expect(page.locator("h1")).to_have_text("Your account is deleted")
    assert t.foreign_requests() == [] and t.errors == []


def test_an_address_only_digest_is_managed_from_its_link(
    t: Tab, site: tuple[str, Mailbox, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    base, mailbox, env = site
    page = t.page
    t.go("/subscribe")
    page.fill("#email", "reader@example.org")
    page.fill("#topics", "diffusion")
    page.click("main form button:has-text('Subscribe')")
    (confirmation,) = wait_for_mail(mailbox, "reader@example.org", 1)
    page.goto(link(confirmation, base, "/subscribe/confirm/"))
    page.click("button:has-text('Confirm')")
    sent = subprocess.run(
        [sys.executable, "-m", "paperfeed", "digest", "--send", "--any-day"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    digest = wait_for_mail(mailbox, "reader@example.org", 2)[-1]
    page.goto(link(digest, base, "/subscribe/manage/"))
    expect(page.locator("#topics")).to_have_value("keyword:diffusion")
    page.check("input[name=cadence][value=weekly]")
    page.fill("#topics", "cat:cs.LG\nauthor:Grace Hopper")
    page.click("button:has-text('Save')")
    expect(page.locator("[role=status]")).to_contain_text("Saved")
    expect(page.locator("input[name=cadence][value=weekly]")).to_be_checked()
    t.screenshot("digest-manage-link")
    assert t.foreign_requests() == [] and t.errors == []
