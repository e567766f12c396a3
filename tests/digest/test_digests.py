"""What a digest holds and when one is sent, received by a real SMTP server."""

from __future__ import annotations

import email.utils
from datetime import date, timedelta

import pytest

from paperfeed.library import Library
from paperfeed.models.digest import Topic
from paperfeed.settings import Settings
from tests.digest.conftest import (
    BASE_URL,
    FRIDAY,
    MAIL_FROM,
    MONDAY,
    SATURDAY,
    add_papers,
    at,
    html_of,
    paper_ids_in,
    record,
    subscribe_confirmed,
    text_of,
    unsubscribe_token,
    with_votes,
)
from tests.digest.smtp_server import Mailbox


def friday_papers(library: Library) -> None:
    """Seven voted cs.CL papers (trending order: 01 first), plus unvoted topic papers."""
    add_papers(
        library,
        *[with_votes(f"2410.000{n:02d}", 100 - n) for n in range(1, 8)],
        record("2410.10001", title="Diffusion models for text <b>bold</b> & more",
               abstract="We study diffusion.", categories=["cs.LG"]),
        record("2410.10002", authors=["Yann LeCun", "Ada Lovelace"], categories=["cs.CV"]),
        record("2410.10003", categories=["math.AP"]),
        record("2410.10004", title="Another diffusion paper", categories=["cs.LG"]),
        record("2410.09999", day=FRIDAY - timedelta(days=10)),  # outside any window
    )  # fmt: skip


def test_digest_contents_and_headers(library: Library, mailbox: Mailbox) -> None:
    friday_papers(library)
    subscriber_id = subscribe_confirmed(
        library, mailbox, "ada@example.org",
        topics=["diffusion", "author:lecun", "cat:math"],
    )  # fmt: skip
    report = library.delivery.send_digests(now=at(FRIDAY), worker="test")
    assert (report.due, report.sent, report.failed) == (1, 1, 0)

    mail = mailbox.to("ada@example.org")[-1]
    ids = paper_ids_in(mail)
    # Five trending first, then one match per topic in turn, then the rest.
    assert ids[:5] == [f"2410.000{n:02d}" for n in range(1, 6)]
    assert set(ids[5:8]) == {"2410.10001", "2410.10002", "2410.10003"}
    assert ids[8:] == ["2410.10004"]
    assert "2410.09999" not in ids and "2410.00006" not in ids
    text = text_of(mail)
    assert "because you follow 'diffusion'" in text
    assert "because you follow author lecun" in text
    assert "because you follow category math" in text
    assert "trending (99 upvotes)" in text
    assert sorted(library.delivery.sent_papers(subscriber_id)) == sorted(ids)

    # Headers: present and well-formed.
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["From"] == MAIL_FROM
    assert mail["To"] == "ada@example.org"
    assert "9 papers" in mail["Subject"]
    sent_at = email.utils.parsedate_to_datetime(mail["Date"])
    assert sent_at.tzinfo is not None and sent_at.date() == FRIDAY
    assert mail["Message-ID"].startswith("<") and mail["Message-ID"].endswith(
        "@papers.example.org>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_token(mail)
    assert mail["List-Id"] == "paperfeed daily digest <daily.digest.papers.example.org>"
    assert library.delivery.sends()[0]["message_id"] == mail["Message-ID"]

    # HTML: escaped, links on the site, nothing loaded from elsewhere.
    html = html_of(mail)
    assert "Diffusion models for text &lt;b&gt;bold&lt;/b&gt; &amp; more" in html
    assert "<b>bold</b>" not in html
    assert "<script" not in html and "<img" not in html and "src=" not in html
    assert "<link" not in html and "@import" not in html
    hrefs = [h for h in html.split('href="')[1:]]
    assert hrefs and all(h.startswith(BASE_URL + "/") for h in hrefs)
    assert f'{BASE_URL}/papers/2410.10001"' in html


def test_at_most_max_papers_and_per_subscriber_limit(
    library: Library, mailbox: Mailbox, settings: Settings
) -> None:
    friday_papers(library)
    small = Library(settings.model_copy(update={"digest_max_papers": 3}), library.storage)
    ada = small.community.create_user("ada", "ada@example.org", "correct horse battery")
    subscribe_confirmed(small, mailbox, "bob@example.org", topics=["cat:cs"])
    subscribe_confirmed(small, mailbox, "ada@example.org", topics=["cat:cs"], user_id=ada.id)
    found = small.delivery.subscription_of_user(ada.id)
    assert found is not None
    small.delivery.update_subscription(found.id, user_id=ada.id, max_papers=8)
    small.delivery.send_digests(now=at(FRIDAY))
    assert len(paper_ids_in(mailbox.to("bob@example.org")[-1])) == 3
    assert len(paper_ids_in(mailbox.to("ada@example.org")[-1])) == 8


def test_each_paper_reaches_a_subscriber_once(library: Library, mailbox: Mailbox) -> None:
    friday_papers(library)
    subscriber_id = subscribe_confirmed(library, mailbox, "ada@example.org", topics=["cat:cs"])
    first = library.delivery.send_digests(now=at(FRIDAY))
    again = library.delivery.send_digests(now=at(FRIDAY, 9))  # same period: already sent
    assert (first.sent, again.sent, again.due) == (1, 0, 0)
    sent_friday = set(paper_ids_in(mailbox.to("ada@example.org")[-1]))

    # Switching to weekly widens the window over Friday again: only unsent papers come.
    ada = library.delivery.subscriber(subscriber_id)
    with library.storage.db.transaction() as tx:
        library.storage.subscriptions.update(tx, ada.id, at(FRIDAY), cadence="weekly")
    add_papers(library, with_votes("2410.20001", 5, day=MONDAY))
    weekly = library.delivery.send_digests("weekly", now=at(MONDAY))
    assert weekly.sent == 1
    second = set(paper_ids_in(mailbox.to("ada@example.org")[-1]))
    assert second and not second & sent_friday
    assert "2410.20001" in second
    sent = library.delivery.sent_papers(subscriber_id)
    assert len(sent) == len(set(sent)) == len(sent_friday) + len(second)


def test_no_mail_when_nothing_is_new(library: Library, mailbox: Mailbox) -> None:
    friday_papers(library)
    subscribe_confirmed(library, mailbox, "ada@example.org")
    library.delivery.send_digests(now=at(FRIDAY))
    before = len(mailbox.messages)

    # Monday morning, before Monday's papers are harvested: nothing new, nothing sent...
    early = library.delivery.send_digests(now=at(MONDAY, 5))
    assert (early.due, early.empty, early.sent) == (1, 1, 0)
    assert len(mailbox.messages) == before
    # ... and nothing logged, so papers harvested later that day still go out.
    add_papers(library, with_votes("2410.30001", 3, day=MONDAY))
    later = library.delivery.send_digests(now=at(MONDAY, 8))
    assert later.sent == 1
    assert paper_ids_in(mailbox.messages[-1]) == ["2410.30001"]


def test_nothing_new_for_a_subscriber_is_logged_not_sent(
    library: Library, mailbox: Mailbox, settings: Settings
) -> None:
    add_papers(library, record("2410.40001", categories=["cs.CL"]))
    quiet = Library(settings.model_copy(update={"digest_trending_count": 0}), library.storage)
    subscribe_confirmed(quiet, mailbox, "ada@example.org", topics=["cat:math.AP"])
    before = len(mailbox.messages)
    report = quiet.delivery.send_digests(now=at(FRIDAY))
    assert (report.empty, report.sent) == (1, 0)
    assert len(mailbox.messages) == before
    assert [row["status"] for row in quiet.delivery.sends()] == ["skipped"]


def test_weekends_and_holidays_are_skipped(
    library: Library, mailbox: Mailbox, settings: Settings
) -> None:
    add_papers(library, with_votes("2410.50001", 9, day=SATURDAY))
    subscribe_confirmed(library, mailbox, "ada@example.org")
    before = len(mailbox.messages)
    saturday = library.delivery.send_digests(now=at(SATURDAY))
    assert saturday.skipped_reason and "Saturday" in saturday.skipped_reason
    assert saturday.sent == 0 and len(mailbox.messages) == before

    holiday = Library(settings.model_copy(update={"digest_holidays": [MONDAY]}), library.storage)
    monday = holiday.delivery.send_digests(now=at(MONDAY))
    assert monday.skipped_reason and "holiday" in monday.skipped_reason
    assert len(mailbox.messages) == before

    # Tuesday's digest covers the skipped days.
    tuesday = library.delivery.send_digests(now=at(MONDAY + timedelta(days=1)))
    assert tuesday.sent == 1
    assert paper_ids_in(mailbox.messages[-1]) == ["2410.50001"]


def test_weekend_skipping_can_be_turned_off(
    library: Library, mailbox: Mailbox, settings: Settings
) -> None:
    add_papers(library, with_votes("2410.50001", 9, day=SATURDAY))
    every_day = Library(
        settings.model_copy(update={"digest_skip_weekends": False}), library.storage
    )
    subscribe_confirmed(every_day, mailbox, "ada@example.org")
    assert every_day.delivery.send_digests(now=at(SATURDAY)).sent == 1
    # skip_days=False (paperfeed digest --any-day) overrides the setting for one run.
    add_papers(library, with_votes("2410.50002", 9, day=SATURDAY + timedelta(days=1)))
    sunday = library.delivery.send_digests(now=at(SATURDAY + timedelta(days=1)), skip_days=False)
    assert sunday.sent == 1


def test_weekly_digest_covers_the_week(library: Library, mailbox: Mailbox) -> None:
    add_papers(
        library,
        *[with_votes(f"2410.6000{n}", 10 + n, day=date(2024, 10, 21) + timedelta(days=n))
          for n in range(5)],
    )  # fmt: skip
    subscribe_confirmed(library, mailbox, "ada@example.org", cadence="weekly")
    report = library.delivery.send_digests("weekly", now=at(SATURDAY))  # weekly ignores weekends
    assert (report.period_key, report.sent) == ("2024-W43", 1)
    assert sorted(paper_ids_in(mailbox.messages[-1])) == [f"2410.6000{n}" for n in range(5)]
    assert library.delivery.send_digests("weekly", now=at(SATURDAY + timedelta(days=1))).due == 0


def test_unsubscribed_addresses_get_nothing(library: Library, mailbox: Mailbox) -> None:
    friday_papers(library)
    subscriber_id = subscribe_confirmed(library, mailbox, "ada@example.org")
    library.delivery.unsubscribe(library.delivery.tokens.unsubscribe_token(subscriber_id))
    before = len(mailbox.messages)
    assert library.delivery.send_digests(now=at(FRIDAY)).due == 0
    assert len(mailbox.messages) == before


def test_compose_sends_nothing(library: Library, mailbox: Mailbox) -> None:
    friday_papers(library)
    subscriber_id = subscribe_confirmed(library, mailbox, "ada@example.org", topics=["diffusion"])
    before = len(mailbox.messages)
    digest = library.delivery.compose(subscriber_id, now=at(FRIDAY))
    assert len(digest.items) == 7
    assert digest.items[5].topics == [Topic("keyword", "diffusion").label]
    assert len(mailbox.messages) == before
    assert library.delivery.sends() == []
    preview = library.delivery.preview(now=at(FRIDAY))
    assert [d.subscriber.id for d in preview] == [subscriber_id]


@pytest.mark.parametrize("kind", ["keyword", "semantic"])
def test_search_topics(library: Library, mailbox: Mailbox, kind: str) -> None:
    friday_papers(library)
    subscriber_id = subscribe_confirmed(
        library, mailbox, "ada@example.org", topics=[f"{kind}:diffusion"]
    )
    digest = library.delivery.compose(subscriber_id, now=at(FRIDAY))
    matched = [item.paper.id for item in digest.items if item.topics]
    assert "2410.10001" in matched
    assert "2410.10003" not in matched
