"""Subscribing: validation, double opt-in, signed links, rate limits, account topics."""

from __future__ import annotations

from datetime import timedelta

import pytest

from paperfeed.community import RateLimited
from paperfeed.digest.mail import normalize_email
from paperfeed.errors import InputError, NotFoundError
from paperfeed.library import Library
from paperfeed.models import utc_now
from paperfeed.models.digest import Topic
from tests.digest.conftest import FRIDAY, at, confirm_token, subscribe_confirmed, text_of
from tests.digest.smtp_server import Mailbox

INJECTIONS = [
    "a@b.c\r\nBcc: evil@x.y",
    "a@b.c\nBcc: evil@x.y",
    "a@b.c\rBcc: evil@x.y",
    "a@b.c\x00",
    "evil@x.y\u2028Bcc: a@b.c",
]


@pytest.mark.parametrize(
    ("typed", "address", "key"),
    [
        ("Ada@Example.ORG", "Ada@example.org", "ada@example.org"),
        ("  ada.lovelace+papers@mail.example.org ", "ada.lovelace+papers@mail.example.org",
         "ada.lovelace+papers@mail.example.org"),
        ("ada@bücher.example", "ada@xn--bcher-kva.example", "ada@xn--bcher-kva.example"),
    ],
)  # fmt: skip
def test_addresses_are_normalised(typed: str, address: str, key: str) -> None:
    assert normalize_email(typed) == (address, key)


@pytest.mark.parametrize(
    "typed", ["", "ada", "ada@", "@example.org", "ada@localhost", "a b@example.org",
              "ada@exa mple.org", "ada..x@example.org", "ädа@example.org", "a@-x.org",
              "x" * 65 + "@example.org", "<ada@example.org>", "ada@example.org, bob@example.org"],
)  # fmt: skip
def test_bad_addresses_are_refused(typed: str) -> None:
    with pytest.raises(InputError):
        normalize_email(typed)


@pytest.mark.parametrize("typed", INJECTIONS)
def test_header_injection_is_refused_and_nothing_is_sent(
    library: Library, mailbox: Mailbox, typed: str
) -> None:
    with pytest.raises(InputError, match="line breaks or control characters"):
        library.delivery.subscribe(typed)
    assert mailbox.messages == []
    assert mailbox.data_commands == 0
    assert library.delivery.subscribers() == []


def test_double_opt_in(library: Library, mailbox: Mailbox) -> None:
    delivery = library.delivery
    pending = delivery.subscribe("ada@example.org", cadence="weekly", topics=["cat:cs.LG"])
    assert pending.status == "pending"
    assert [t.as_text() for t in pending.topics] == ["category:cs.LG"]
    (mail,) = mailbox.to("ada@example.org")
    assert mail["Subject"] == "Confirm your paperfeed subscription"
    assert "weekly digest" in text_of(mail)
    assert "cs.LG" not in text_of(mail)  # topics are counted, never quoted to the address

    active = delivery.confirm(confirm_token(mail))
    assert active.status == "active"
    assert active.cadence == "weekly"
    assert active.confirmed_at is not None
    assert delivery.confirm(confirm_token(mail)).status == "active"  # a second click is fine
    assert len(mailbox.messages) == 1  # confirming sends nothing


def test_links_are_purpose_bound_and_signed(library: Library, mailbox: Mailbox) -> None:
    delivery = library.delivery
    subscriber_id = subscribe_confirmed(library, mailbox, "ada@example.org")
    confirm_link = confirm_token(mailbox.to("ada@example.org")[0])
    unsubscribe_link = delivery.tokens.unsubscribe_token(subscriber_id)
    with pytest.raises(NotFoundError, match="unsubscribe link"):
        delivery.unsubscribe(confirm_link)
    with pytest.raises(NotFoundError, match="confirmation link"):
        delivery.confirm(unsubscribe_link)
    forged = unsubscribe_link[:-2] + ("AA" if not unsubscribe_link.endswith("AA") else "BB")
    with pytest.raises(NotFoundError):
        delivery.unsubscribe(forged)
    assert delivery.subscriber(subscriber_id).status == "active"

    assert delivery.unsubscribe(unsubscribe_link).status == "unsubscribed"
    assert delivery.unsubscribe(unsubscribe_link).status == "unsubscribed"  # idempotent
    # The old confirmation link cannot switch the address back on.
    with pytest.raises(InputError, match="already used"):
        delivery.confirm(confirm_link)
    assert delivery.subscriber(subscriber_id).status == "unsubscribed"


def test_confirmation_links_expire(library: Library, mailbox: Mailbox) -> None:
    delivery = library.delivery
    start = utc_now()
    delivery.clock = lambda: start
    delivery.subscribe("ada@example.org")
    token = confirm_token(mailbox.to("ada@example.org")[0])
    delivery.clock = lambda: start + timedelta(hours=72, minutes=1)
    with pytest.raises(InputError, match="expired"):
        delivery.confirm(token)
    delivery.clock = lambda: start + timedelta(hours=71)
    assert delivery.confirm(token).status == "active"


def test_someone_else_cannot_change_an_active_subscription(
    library: Library, mailbox: Mailbox
) -> None:
    delivery = library.delivery
    start = utc_now()
    delivery.clock = lambda: start
    subscriber_id = subscribe_confirmed(library, mailbox, "ada@example.org", topics=["cat:cs.CL"])
    delivery.clock = lambda: start + timedelta(minutes=90)
    delivery.subscribe("ADA@example.org", cadence="weekly", topics=["cat:math.AP"])
    unchanged = delivery.subscriber(subscriber_id)
    assert (unchanged.status, unchanged.cadence) == ("active", "daily")
    assert [t.query for t in unchanged.topics] == ["cs.CL"]
    # A third request within the hour sends no further mail.
    delivery.clock = lambda: start + timedelta(minutes=100)
    delivery.subscribe("ada@example.org", cadence="weekly", topics=["cat:math.AP"])
    mails = mailbox.to("ada@example.org")
    assert len(mails) == 2
    # The owner's click applies the change.
    changed = delivery.confirm(confirm_token(mails[-1]))
    assert (changed.status, changed.cadence) == ("active", "weekly")
    assert [t.query for t in changed.topics] == ["math.AP"]


def test_confirmation_mails_are_rate_limited_per_address(
    library: Library, mailbox: Mailbox
) -> None:
    delivery = library.delivery
    start = utc_now()
    for minutes in range(3):
        delivery.clock = lambda m=minutes: start + timedelta(minutes=m)
        delivery.subscribe("ada@example.org")
    delivery.clock = lambda: start + timedelta(minutes=5)
    with pytest.raises(RateLimited, match="to this address") as refused:
        delivery.subscribe("Ada@example.org")
    assert 0 < refused.value.retry_after <= 24 * 3600
    assert len(mailbox.to("ada@example.org")) == 3
    delivery.clock = lambda: start + timedelta(days=1, minutes=1)
    delivery.subscribe("ada@example.org")
    assert len(mailbox.to("ada@example.org")) == 4
    # All of them confirm the same pending subscription: the first link still works.
    assert delivery.confirm(confirm_token(mailbox.to("ada@example.org")[0])).status == "active"


def test_confirmation_mails_are_rate_limited_per_client(library: Library, mailbox: Mailbox) -> None:
    delivery = library.delivery
    for n in range(10):
        delivery.subscribe(f"user{n}@example.org", client="203.0.113.9")
    with pytest.raises(RateLimited, match="from your network"):
        delivery.subscribe("user10@example.org", client="203.0.113.9")
    delivery.subscribe("user10@example.org", client="198.51.100.1")  # another client
    assert len(mailbox.messages) == 11
    assert delivery.storage.subscriptions.by_email("user10@example.org") is not None


def test_bad_topics_are_refused_before_anything_is_stored(
    library: Library, mailbox: Mailbox
) -> None:
    for topics in (["cat:not a category"], ["author:x"], ["keyword:" + "x" * 201],
                   ["diffusion\nBcc: x@y.z"], [f"kw:{n}" for n in range(21)]):  # fmt: skip
        with pytest.raises(InputError):
            library.delivery.subscribe("ada@example.org", topics=topics)
    assert library.delivery.subscribers() == []
    assert mailbox.messages == []


def test_topic_text() -> None:
    assert Topic.parse("diffusion models") == Topic("keyword", "diffusion models")
    assert Topic.parse("cat:CS.LG") == Topic("category", "cs.LG")
    assert Topic.parse("au:  Yann   LeCun ") == Topic("author", "Yann LeCun")
    assert Topic.parse("semantic:robots that fold laundry").kind == "semantic"
    assert Topic.parse("title: a colon").kind == "keyword"  # unknown prefix: all words


def test_account_topics_are_its_saved_searches(library: Library, mailbox: Mailbox) -> None:
    community = library.community
    ada = community.create_user("ada", "ada@example.org", "correct horse battery")
    bob = community.create_user("bob", "bob@example.org", "correct horse battery")
    delivery = library.delivery
    delivery.save_search(ada.id, "cat:cs.LG")
    linked = delivery.subscribe("ada@example.org", topics=["au:Grace Hopper"], user_id=ada.id)
    assert linked.user_id == ada.id
    assert {t.as_text() for t in delivery.saved_searches(ada.id)} == {
        "category:cs.LG", "author:Grace Hopper",
    }  # fmt: skip
    assert {t.as_text() for t in linked.topics} == {"category:cs.LG", "author:Grace Hopper"}
    # Bob, logged in, subscribing Ada's address does not link it to his account.
    stranger = delivery.subscribe("carol@example.org", user_id=bob.id)
    assert stranger.user_id is None
    delivery.confirm(confirm_token(mailbox.to("ada@example.org")[0]))
    assert delivery.subscription_of_user(ada.id).status == "active"  # type: ignore[union-attr]
    topic_id = delivery.saved_searches(ada.id)[0].id
    with pytest.raises(NotFoundError):
        delivery.delete_saved_search(bob.id, topic_id)  # type: ignore[arg-type]
    delivery.delete_saved_search(ada.id, topic_id)  # type: ignore[arg-type]
    assert len(delivery.saved_searches(ada.id)) == 1


def test_pending_addresses_get_no_digest(library: Library, mailbox: Mailbox) -> None:
    from tests.digest.conftest import add_papers, record

    add_papers(library, record("2410.00001"))
    library.delivery.subscribe("ada@example.org")
    report = library.delivery.send_digests(now=at(FRIDAY))
    assert (report.due, report.sent) == (0, 0)
    assert len(mailbox.to("ada@example.org")) == 1  # only the confirmation


def test_mail_server_down_costs_nothing(library: Library, mailbox: Mailbox, settings) -> None:
    from paperfeed.digest.senders import SendError, make_sender
    from tests.digest.smtp_server import free_port

    delivery = library.delivery
    delivery.sender = make_sender(
        settings.model_copy(update={"smtp_port": free_port(), "smtp_max_attempts": 1})
    )
    with pytest.raises(SendError):
        delivery.subscribe("ada@example.org", client="203.0.113.9")
    assert library.storage.subscriptions.mails_since("email_key", "ada@example.org",
                                                     utc_now() - timedelta(days=1)) == []  # fmt: skip
    delivery.sender = make_sender(settings)  # the server is back
    for _ in range(3):  # the failed attempt did not use up the address's 3 a day
        delivery.subscribe("ada@example.org", client="203.0.113.9")
    assert len(mailbox.to("ada@example.org")) == 3
    assert delivery.confirm(confirm_token(mailbox.to("ada@example.org")[0])).status == "active"
