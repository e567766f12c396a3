"""Alert detection from the change log: each kind, at most once, muting, crash safety."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from paperfeed.community import Community
from paperfeed.community.alerts import CURSOR_KEY, AlertDetector
from paperfeed.models import SourceFacts
from paperfeed.storage import Storage
from tests.community.helpers import Clock, arxiv_record, ingest, make_user

TODAY = date(2026, 3, 2)  # the community Clock's day


def detect(storage: Storage, clock: Clock) -> Any:
    return AlertDetector(storage, clock=clock).run()


def kinds(community: Community, user_id: int) -> list[tuple[str, str]]:
    return sorted((a.kind, a.paper_id) for a in community.alerts(user_id))


def new_paper(arxiv_id: str, **overrides: Any) -> Any:
    values: dict[str, Any] = dict(
        listed_on=TODAY, published_at=datetime(2026, 3, 1, tzinfo=UTC),
        facts=SourceFacts(source="arxiv", external_id=arxiv_id),
    )  # fmt: skip
    values.update(overrides)
    return arxiv_record(arxiv_id, **values)


def test_followed_paper_version_comment_code_and_upvote_threshold(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ingest(storage, [arxiv_record("2410.17243", comments="8 pages")])
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    community.follow(ada.id, "paper", "2410.17243", upvote_threshold=9)
    community.follow(bob.id, "paper", "2410.17243")
    assert detect(storage, clock).alerts == 0  # nothing changed since the follows

    # arXiv posts v2 with a comment, and a code link appears.
    ingest(storage, [arxiv_record(
        "2410.17243", version=2, comments="Accepted at ICLR 2026",
        updated_at=datetime(2026, 3, 1, 12, tzinfo=UTC),
        code_url="https://github.com/ada/scaling",
    )])  # fmt: skip
    report = detect(storage, clock)
    assert report.by_kind == {"version": 2, "code": 2}
    (version,) = [a for a in community.alerts(ada.id) if a.kind == "version"]
    assert version.detail["version"] == 2 and version.detail["previous_version"] == 1
    assert version.headline == "New version v2 (2026-03-01) — Accepted at ICLR 2026"
    assert version.reasons == ["A paper you follow"]

    # A new comment on the same version; then votes here reach ada's threshold (7 + 2).
    ingest(
        storage,
        [
            arxiv_record(
                "2410.17243",
                version=2,
                comments="Oral at ICLR 2026",
                updated_at=datetime(2026, 3, 1, 12, tzinfo=UTC),
            )
        ],
    )
    carol, dan = make_user(community, "carol"), make_user(community, "dan")
    community.upvote(carol.id, "2410.17243")
    assert detect(storage, clock).by_kind == {"comment": 2}
    community.upvote(dan.id, "2410.17243")
    detect(storage, clock)
    assert kinds(community, ada.id) == [
        ("code", "2410.17243"), ("comment", "2410.17243"), ("upvotes", "2410.17243"),
        ("version", "2410.17243"),
    ]  # fmt: skip
    assert "upvotes" not in {a.kind for a in community.alerts(bob.id)}  # no threshold set
    (upvotes,) = [a for a in community.alerts(ada.id) if a.kind == "upvotes"]
    assert upvotes.headline == "Reached 9 upvotes (9 now)"
    # Nothing reaches anyone twice, however often detection runs.
    assert detect(storage, clock).alerts == 0
    assert len(community.alerts(ada.id)) == 4


def test_a_version_without_a_number_is_told_by_its_date(
    community: Community, storage: Storage, clock: Clock
) -> None:
    """The OAI-PMH arXiv format has no version numbers: a later 'updated' date is one."""
    first = datetime(2026, 2, 1, tzinfo=UTC)
    ingest(storage, [arxiv_record("2410.17243", version=None, updated_at=first)])
    ada = make_user(community, "ada")
    community.follow(ada.id, "paper", "2410.17243")
    ingest(
        storage, [arxiv_record("2410.17243", version=None, updated_at=first + timedelta(days=20))]
    )
    detect(storage, clock)
    (alert,) = community.alerts(ada.id)
    assert (alert.kind, alert.headline) == ("version", "New version (2026-02-21)")


def test_new_papers_by_author_category_and_search(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    community.follow(ada.id, "author", "Yann LeCun")
    community.follow(ada.id, "category", "cs.CV", top=2)
    community.follow(bob.id, "search", '"diffusion models"', top=1)
    community.follow(bob.id, "category", "math")  # an archive: every math.* category
    ingest(storage, [
        new_paper("2603.00001", authors=["Y. LeCun"], categories=["cs.LG"]),
        new_paper("2603.00002", authors=["Léon Bottou", "Yann LeCun"], categories=["cs.LG"]),
        new_paper("2603.00003", categories=["cs.CV"], facts=SourceFacts("huggingface", upvotes=30),
                  title="Diffusion models for video"),
        new_paper("2603.00004", categories=["cs.CV"], facts=SourceFacts("huggingface", upvotes=3),
                  title="Diffusion models as priors", abstract="Diffusion models everywhere."),
        new_paper("2603.00005", categories=["cs.CV"], facts=SourceFacts("huggingface", upvotes=9)),
        new_paper("2603.00006", categories=["math.PR"]),
        # An old paper imported today is not news: no alert for anyone.
        arxiv_record("1501.00001", authors=["Yann LeCun"], categories=["cs.CV", "math.PR"],
                     listed_on=date(2015, 1, 5)),
    ])  # fmt: skip
    report = detect(storage, clock)
    assert report.new_papers == 6
    # Ada: the LeCun paper (not "Y. LeCun"), and cs.CV's top 2 by trending (30 and 9 votes).
    assert kinds(community, ada.id) == [("new-paper", p) for p in ("2603.00002", "2603.00003",
                                                                    "2603.00005")]  # fmt: skip
    (lecun,) = [a for a in community.alerts(ada.id) if a.paper_id == "2603.00002"]
    assert lecun.reasons == ["By Yann LeCun, whom you follow"]
    # Bob: the most relevant paper of his search, and the new math paper.
    assert kinds(community, bob.id) == [("new-paper", "2603.00004"), ("new-paper", "2603.00006")]
    (search,) = [a for a in community.alerts(bob.id) if a.paper_id == "2603.00004"]
    assert search.reasons == ['Matches your followed search “"diffusion models"”']


def test_one_alert_per_paper_with_every_reason(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ada = make_user(community, "ada")
    community.follow(ada.id, "author", "LeCun")
    community.follow(ada.id, "category", "cs.LG")
    community.follow(ada.id, "search", "energy")
    ingest(storage, [new_paper("2603.00001", authors=["Yann LeCun"], title="Energy-based models")])
    assert detect(storage, clock).alerts == 1
    (alert,) = community.alerts(ada.id)
    assert alert.reasons == [
        "By LeCun, whom you follow", "New in cs.LG, which you follow",
        "Matches your followed search “energy”",
    ]  # fmt: skip
    assert len(alert.follow_ids) == 3


def test_muted_follows_bring_nothing_until_unmuted(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ingest(storage, [arxiv_record("2410.17243")])
    ada = make_user(community, "ada")
    author = community.follow(ada.id, "author", "Ada Lovelace")
    paper = community.follow(ada.id, "paper", "2410.17243")
    community.update_follow(ada.id, author.id, muted=True)
    community.update_follow(ada.id, paper.id, muted=True)
    ingest(storage, [
        new_paper("2603.00001", authors=["Ada Lovelace"]),
        arxiv_record("2410.17243", version=3),
    ])  # fmt: skip
    assert detect(storage, clock).alerts == 0
    community.update_follow(ada.id, author.id, muted=False)
    community.update_follow(ada.id, paper.id, muted=False)
    ingest(storage, [new_paper("2603.00002", authors=["Ada Lovelace"])])
    detect(storage, clock)
    # Unmuting does not replay what happened meanwhile.
    assert kinds(community, ada.id) == [("new-paper", "2603.00002")]


def test_alerts_page_state_seen_and_private(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    community.follow(ada.id, "author", "Ada Lovelace")
    ingest(storage, [new_paper(f"2603.0000{n}", authors=["Ada Lovelace"]) for n in (1, 2)])
    detect(storage, clock)
    assert community.alert_count(ada.id, unseen=True) == 2
    newest = community.alerts(ada.id)[0]
    assert community.mark_alerts_seen(bob.id, [newest.id]) == 0  # not bob's
    assert community.mark_alerts_seen(ada.id, [newest.id]) == 1
    assert [a.id for a in community.alerts(ada.id, unseen=True)] != [newest.id]
    assert community.mark_alerts_seen(ada.id) == 1
    assert community.alert_count(ada.id, unseen=True) == 0
    assert community.alerts(bob.id) == []


def _fail_alert_inserts(storage: Storage) -> None:
    """A real failure at commit time: the database refuses alerts for one paper."""
    if storage.db.dialect == "sqlite":
        storage.db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON alerts WHEN NEW.paper_id = '2603.00002'"
            " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    else:
        with storage.db.transaction() as tx:
            tx.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
            )
            tx.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON alerts FOR EACH ROW"
                " WHEN (NEW.paper_id = '2603.00002') EXECUTE FUNCTION refuse()"
            )


def test_a_run_that_fails_half_way_commits_nothing_and_the_next_finishes(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ingest(storage, [arxiv_record("2410.17243")])
    ada = make_user(community, "ada")
    community.follow(ada.id, "author", "Ada Lovelace")
    community.follow(ada.id, "paper", "2410.17243")
    cursor_before = storage.checkpoints.get(CURSOR_KEY)
    ingest(storage, [
        new_paper("2603.00001", authors=["Ada Lovelace"]),
        new_paper("2603.00002", authors=["Ada Lovelace"]),
        arxiv_record("2410.17243", version=2),
    ])  # fmt: skip
    _fail_alert_inserts(storage)
    with pytest.raises(Exception, match="disk full"):
        detect(storage, clock)
    assert community.alerts(ada.id) == []
    assert storage.checkpoints.get(CURSOR_KEY) == cursor_before
    assert storage.db.scalar("SELECT version FROM paper_watch") == 1
    if storage.db.dialect == "sqlite":
        storage.db.execute("DROP TRIGGER refuse")
    else:
        storage.db.execute("DROP TRIGGER refuse ON alerts")
    assert detect(storage, clock).alerts == 3
    assert detect(storage, clock).alerts == 0
    assert kinds(community, ada.id) == [
        ("new-paper", "2603.00001"), ("new-paper", "2603.00002"), ("version", "2410.17243"),
    ]  # fmt: skip


def test_changes_from_before_the_first_follow_bring_nothing(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ingest(storage, [new_paper("2603.00001", authors=["Ada Lovelace"])])
    detect(storage, clock)  # nobody follows anything yet: the cursor starts at the head
    ada = make_user(community, "ada")
    community.follow(ada.id, "author", "Ada Lovelace")
    assert detect(storage, clock).alerts == 0
    ingest(storage, [new_paper("2603.00002", authors=["Ada Lovelace"])])
    assert detect(storage, clock).alerts == 1


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_run_that_finds_the_cursor_moved_starts_over(
    community: Community, storage: Storage, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs at once: the one that commits second notices and redoes its batch."""
    ada = make_user(community, "ada")
    community.follow(ada.id, "author", "Ada Lovelace")
    ingest(storage, [new_paper("2603.00001", authors=["Ada Lovelace"])])
    detector = AlertDetector(storage, clock=clock)
    original = detector._not_yet_made
    calls = []

    def racing(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not calls:  # another run completes while this one computes
            calls.append(AlertDetector(storage, clock=clock).run())
        return original(alerts)

    monkeypatch.setattr(detector, "_not_yet_made", racing)
    report = detector.run()
    assert calls[0].alerts == 1
    assert report.retried == 1 and report.alerts == 0
    assert len(community.alerts(ada.id)) == 1
