"""A harvest of recorded arXiv OAI-PMH responses brings alerts to a paper's followers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.community.helpers import PASSWORD
from tests.support.replay_server import ReplayServer, Reply

pytest_plugins = ("tests.support.replay_server",)

OAI = Path(__file__).parents[1] / "fixtures" / "arxiv" / "oai-pmh" / "alerts"
DAY1, DAY2 = date(2014, 11, 18), date(2014, 11, 19)


def harvest_day(library: Library, day: date) -> None:
    library.harvest_arxiv(metadata_prefix="arXivRaw", from_date=day, until_date=day, embed=False)


@pytest.fixture
def harvesting(settings: Settings, replay_server: ReplayServer) -> Library:
    for day, name in ((DAY1, "day1.xml"), (DAY2, "day2.xml")):
        replay_server.add("/oai", Reply.file(OAI / name), query={"from": day.isoformat()})
    configured = settings.model_copy(update={
        "arxiv_oai_url": replay_server.url + "/oai", "http_delay_seconds": 0.0,
    })  # fmt: skip
    library = Library.open(configured)
    yield library
    library.close()


def test_new_version_and_new_comment_from_a_harvest_become_alerts(harvesting: Library) -> None:
    library = harvesting
    harvest_day(library, DAY1)
    community = library.community
    ada = community.create_user("ada", "ada@example.org", PASSWORD)
    community.follow(ada.id, "paper", "0704.0716")
    community.follow(ada.id, "paper", "0704.0471")
    assert library.detect_alerts().alerts == 0

    harvest_day(library, DAY2)
    report = library.detect_alerts()
    assert report.by_kind == {"version": 1, "comment": 1, "code": 1}
    alerts = {(a.kind, a.paper_id): a for a in community.alerts(ada.id)}
    version = alerts[("version", "0704.0716")]
    assert (version.detail["version"], version.detail["previous_version"]) == (4, 3)
    assert version.headline.startswith("New version v4 (2008-11-14) — 54 pages, 2 figures")
    assert version.headline.endswith("v4 slightly expanded")
    comment = alerts[("comment", "0704.0471")]
    assert "accepted at Phys. Rev. C" in comment.headline
    code = alerts[("code", "0704.0471")]
    assert code.detail["code_url"] == "https://github.com/dvshetty/symmetry-energy"
    # The same responses again (a re-run harvest) bring nothing new.
    harvest_day(library, DAY2)
    assert library.detect_alerts().alerts == 0
    assert len(community.alerts(ada.id)) == 3
