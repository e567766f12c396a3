"""Group digests through a real SMTP server: to members who opt in, at a confirmed address,
the members' votes only, once per period."""

from __future__ import annotations

from datetime import timedelta

from paperfeed.community import Community
from paperfeed.library import Library
from tests.community.helpers import fast_hasher
from tests.digest.conftest import (
    FRIDAY,
    MONDAY,
    add_papers,
    at,
    confirm_token,
    record,
    text_of,
)
from tests.digest.smtp_server import Mailbox

PASSWORD = "correct horse battery"


def test_a_group_digest_goes_to_members_who_ask_with_their_votes_only(
    library: Library, mailbox: Mailbox
) -> None:
    add_papers(library, *(record(f"2410.0000{n}", FRIDAY, title=f"Paper number {n}")
                          for n in range(1, 6)))  # fmt: skip
    # Votes and additions happen on the Friday the papers appear.
    community = library.community = Community(
        library.storage,
        password_hasher=fast_hasher(),
        clock=lambda: at(FRIDAY, 18),
        secret=library.settings.secret,
    )
    ada, bob, eve = (community.create_user(n, f"{n}@example.org", PASSWORD)
                     for n in ("ada", "bob", "eve"))  # fmt: skip
    lab = community.create_group(ada.id, "Vision Lab")
    community.add_member(lab.id, bob.id)
    for user, paper in ((ada, "2410.00001"), (bob, "2410.00001"), (ada, "2410.00002"),
                        (eve, "2410.00003"), (eve, "2410.00001")):  # fmt: skip
        community.upvote(user.id, paper)
    shared = community.create_group_collection(lab.id, ada.id, "Reading list")
    community.add_to_collection(ada.id, shared.id, "2410.00004")

    # Bob asks for the weekly group digest: his address is confirmed first.
    assert library.set_group_digest(lab.id, bob.id, "weekly") == "confirmation-sent"
    (confirmation,) = mailbox.to("bob@example.org")
    assert "group digests" in text_of(confirmation)
    subscriber = library.delivery.confirm(confirm_token(confirmation))
    assert (subscriber.cadence, subscriber.user_id) == ("off", bob.id)
    assert library.set_group_digest(lab.id, bob.id, "weekly") == "active"
    mailbox.clear()

    # No personal digest for an "off" subscription; the group digest comes on Monday.
    assert library.send_digests("daily", now=at(MONDAY), worker="w1").sent == 0
    report = library.send_group_digests("weekly", now=at(MONDAY), worker="w1")
    assert (report.sent, report.due) == (1, 1)
    (digest,) = mailbox.to("bob@example.org")
    assert digest["Subject"] == "Vision Lab: 3 papers (weekly)"
    assert digest["List-Unsubscribe"]
    text = text_of(digest)
    assert (
        text.index("Paper number 1") < text.index("Paper number 2") < text.index("Paper number 4")
    )
    assert "(2 member upvotes)" in text  # eve's vote does not count
    assert "Paper number 3" not in text  # only eve, not a member, voted for it
    assert "(added to Reading list)" in text
    assert f"https://papers.example.org/groups/{lab.id}" in text
    # Once per period; the next week brings only what is new.
    assert library.send_group_digests("weekly", now=at(MONDAY) + timedelta(hours=2),
                                      worker="w2").sent == 0  # fmt: skip
    next_monday = MONDAY + timedelta(days=7)
    add_papers(library, record("2410.00009", next_monday - timedelta(days=2), title="Later paper"))
    community.upvote(ada.id, "2410.00009")
    library.send_group_digests("weekly", now=at(next_monday), worker="w1")
    later = mailbox.to("bob@example.org")[-1]
    assert "Later paper" in text_of(later) and "Paper number 1" not in text_of(later)
    # A member who leaves gets no more group digests.
    community.remove_member(lab.id, bob.id, bob.id)
    community.upvote(ada.id, "2410.00005")
    mailbox.clear()
    library.send_group_digests("weekly", now=at(next_monday + timedelta(days=7)), worker="w1")
    assert mailbox.to("bob@example.org") == []
    assert FRIDAY.weekday() == 4
