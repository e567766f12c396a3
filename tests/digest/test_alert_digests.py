"""Alerts lead the digest, and reach it once: recorded arXiv harvests, a real SMTP server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.community.test_alerts_harvest import DAY1, DAY2, OAI, harvest_day
from tests.digest.conftest import FRIDAY, at, subscribe_confirmed, text_of, with_votes
from tests.digest.smtp_server import Mailbox
from tests.support.replay_server import ReplayServer, Reply

pytest_plugins = ("tests.support.replay_server",)
PASSWORD = "correct horse battery"


@pytest.fixture
def library(settings: Settings, replay_server: ReplayServer, tmp_path: Path) -> Library:
    for day, name in ((DAY1, "day1.xml"), (DAY2, "day2.xml")):
        replay_server.add("/oai", Reply.file(OAI / name), query={"from": day.isoformat()})
    configured = settings.model_copy(update={
        "arxiv_oai_url": replay_server.url + "/oai", "http_delay_seconds": 0.0,
    })  # fmt: skip
    opened = Library.open(configured)
    yield opened
    opened.close()


def follow_both(library: Library, mailbox: Mailbox) -> int:
    community = library.community
    ada = community.create_user("ada", "ada@example.org", PASSWORD)
    community.follow(ada.id, "paper", "0704.0716")
    community.follow(ada.id, "paper", "0704.0471")
    subscribe_confirmed(library, mailbox, "ada@example.org", user_id=ada.id)
    mailbox.clear()
    return ada.id


def test_a_harvest_brings_alerts_that_lead_the_next_digest_once(
    library: Library, mailbox: Mailbox
) -> None:
    harvest_day(library, DAY1)
    ada = follow_both(library, mailbox)
    library.send_digests("daily", now=at(FRIDAY), worker="w1")  # nothing followed changed
    assert [m["Subject"] for m in mailbox.to("ada@example.org")] == []

    harvest_day(library, DAY2)
    from tests.digest.conftest import add_papers

    add_papers(library, with_votes("2410.00001", 12, FRIDAY + timedelta(days=3)))
    monday = FRIDAY + timedelta(days=3)
    report = library.send_digests("daily", now=at(monday), worker="w1")  # detects, then sends
    assert report.sent == 1
    (message,) = mailbox.to("ada@example.org")
    assert message["Subject"] == f"paperfeed daily digest, {monday:%-d %b %Y}: 3 alerts, 1 paper"
    text = text_of(message)
    assert text.index("== Alerts from what you follow ==") < text.index("== Trending ==")
    assert "New version v4 (2008-11-14) — 54 pages, 2 figures" in text
    assert "accepted at Phys. Rev. C" in text
    assert "Code: https://github.com/dvshetty/symmetry-energy" in text
    mailed = library.community.alerts(ada)
    assert len(mailed) == 3 and all(a.mailed_at is not None for a in mailed)

    # The next digests carry no alert again (and nothing else is new: no mail at all).
    mailbox.clear()
    library.send_digests("daily", now=at(monday + timedelta(days=1)), worker="w1")
    library.detect_alerts()
    library.send_digests("daily", now=at(monday + timedelta(days=2)), worker="w1")
    assert mailbox.to("ada@example.org") == []


def test_alerts_of_a_digest_that_failed_mid_run_go_with_its_resumed_send(
    library: Library, mailbox: Mailbox
) -> None:
    harvest_day(library, DAY1)
    ada = follow_both(library, mailbox)
    harvest_day(library, DAY2)
    mailbox.replies = ["421 4.3.0 mail server busy"] * 8  # the server refuses for a while
    with pytest.raises(Exception, match="421"):
        library.send_digests("daily", now=at(FRIDAY), worker="w1")
    assert mailbox.to("ada@example.org") == []
    claimed = library.storage.send_log.sends(status="claimed")
    assert len(claimed) == 1 and [c for c in claimed[0]["content"] if "alert" in c]
    # The alerts belong to that claimed digest now: a new digest does not take them.
    mailbox.replies = []
    later = at(FRIDAY) + timedelta(minutes=10)
    library.send_digests("daily", now=later, worker="w2")  # the retry delay has not passed
    assert mailbox.to("ada@example.org") == []
    report = library.send_digests("daily", now=later + timedelta(hours=1), worker="w2")
    assert report.resumed == 1 and report.sent == 1
    (message,) = mailbox.to("ada@example.org")
    assert text_of(message).count("A paper you follow") == 3
    assert all(a.mailed_at is not None for a in library.community.alerts(ada))
