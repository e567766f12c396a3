"""The harvest jobs end to end against real HTTP servers replaying saved responses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from paperfeed.jobs.builtin import arxiv_start_day
from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.conftest import FIXTURES
from tests.jobs.conftest import Clock, make_scheduler
from tests.support.replay_server import ReplayServer, Reply

pytest_plugins = ("tests.support.replay_server",)

OAI_PAGE = FIXTURES / "arxiv/oai-pmh/ListRecordsArXivFormat.xml"  # 2 records, up to 2014-12-22
HF_DAY = FIXTURES / "huggingface/daily_papers_2024-10-25.json"  # 3 papers
NOW = datetime(2014, 12, 23, 3, 30, tzinfo=UTC)


@pytest.fixture
def online(settings: Settings, replay_server: ReplayServer) -> Iterator[Library]:
    """A library with harvesting on, its sources pointed at the replay server."""
    enabled = settings.model_copy(
        update={
            "harvest_enabled": True,
            "arxiv_oai_url": replay_server.url + "/oai",
            "huggingface_url": replay_server.url,
            "http_delay_seconds": 0.0,
        }
    )
    with Library.open(enabled) as library:
        yield library


def test_arxiv_job_harvests_incrementally_from_the_last_datestamp(
    online: Library, replay_server: ReplayServer
) -> None:
    replay_server.add("/oai", Reply.file(OAI_PAGE), query={"verb": "ListRecords"})
    clock = Clock(NOW)
    scheduler = make_scheduler(online, clock)

    first = scheduler.run_job("harvest-arxiv")
    assert first.status == "ok", first.error
    assert first.result["cs"]["from"] == "2014-12-21"  # no checkpoint: harvest_arxiv_first_days
    assert first.result["cs"]["inserted"] == 2
    clock.advance(86_400)
    second = scheduler.run_job("harvest-arxiv")
    assert second.status == "ok", second.error
    # From the newest datestamp the first run saw; the overlap day changes nothing.
    assert second.result["cs"] == {
        "from": "2014-12-22", "seen": 2, "inserted": 0, "updated": 0, "unchanged": 2, "skipped": 0,
    }  # fmt: skip
    sent = [request.params for request in replay_server.requests]
    assert sent == [
        {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs", "from": "2014-12-21"},
        {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs", "from": "2014-12-22"},
    ]
    assert online.stats()["papers"] == 2


def test_arxiv_job_failure_is_recorded_and_retried(
    online: Library, replay_server: ReplayServer
) -> None:
    replay_server.add(
        "/oai", Reply.file(FIXTURES / "arxiv/oai-pmh/ErrorResponseBadArgument.xml"),
        query={"verb": "ListRecords"},
    )  # fmt: skip
    clock = Clock(NOW)
    scheduler = make_scheduler(online, clock)
    run = scheduler.run_job("harvest-arxiv")
    assert run.status == "error" and run.exit_code == 5  # a remote source failed
    job = scheduler.job("harvest-arxiv")
    assert job.error_count == 1 and job.last_error == run.error
    assert (job.next_run_at - clock.now).total_seconds() == 60  # the first backoff step


def test_hf_job_fetches_yesterday_and_today(online: Library, replay_server: ReplayServer) -> None:
    replay_server.add(
        "/api/daily_papers", Reply(200, HF_DAY.read_bytes(), {"Content-Type": "application/json"}),
        query={"date": "2024-10-25"},
    )  # fmt: skip
    replay_server.add(
        "/api/daily_papers", Reply(200, b"[]", {"Content-Type": "application/json"}),
        query={"date": "2024-10-26"},
    )  # fmt: skip
    run = make_scheduler(online, Clock(datetime(2024, 10, 26, 5, 0, tzinfo=UTC))).run_job(
        "harvest-hf"
    )
    assert run.status == "ok", run.error
    assert run.result == {"2024-10-25": 3, "2024-10-26": 0}
    assert [r.param("date") for r in replay_server.requests] == ["2024-10-25", "2024-10-26"]
    assert online.stats()["papers"] == 3


# -- where the incremental arXiv harvest starts ---------------------------------------------


def checkpoint(key: str, *, done: bool, stamp: str | None = None, updated: str = "") -> dict:
    state = {"max_datestamp": stamp} if stamp else {}
    return {
        "key": key,
        "state": state,
        "done": done,
        "updated_at": updated or "2014-12-23T03:00:00Z",
    }


def start(checkpoints: list[dict], set_spec: str = "cs") -> tuple[date, str | None]:
    return arxiv_start_day(checkpoints, set_spec, now=NOW, first_days=2)


def test_start_day_without_history_looks_back_first_days() -> None:
    assert start([]) == (date(2014, 12, 21), None)


def test_start_day_follows_the_newest_finished_harvest_of_the_set() -> None:
    found = [
        checkpoint("arxiv-oai:arXiv:cs:2014-12-01:*", done=True, stamp="2014-12-10"),
        checkpoint("arxiv-oai:arXiv:cs:*:2014-12-31", done=True, stamp="2014-12-19"),
        checkpoint("arxiv-oai:arXiv:math:2014-12-01:*", done=True, stamp="2014-12-22"),
        checkpoint("arxiv-oai:arXivRaw:cs:2014-12-01:*", done=True, stamp="2014-12-22"),
        checkpoint("hf-daily:2014-12-22", done=True),
    ]
    assert start(found) == (date(2014, 12, 19), None)
    assert start(found, "math") == (date(2014, 12, 22), None)


def test_start_day_resumes_an_unfinished_incremental_harvest() -> None:
    found = [
        checkpoint("arxiv-oai:arXiv:cs:2014-12-19:*", done=True, stamp="2014-12-20"),
        checkpoint("arxiv-oai:arXiv:cs:2014-12-20:*", done=False, stamp="2014-12-22",
                   updated="2014-12-23T01:00:00Z"),
    ]  # fmt: skip
    # Same from-day, hence the same checkpoint key and its resumption token.
    assert start(found) == (date(2014, 12, 20), None)


def test_start_day_restarts_a_stale_unfinished_harvest() -> None:
    stale_key = "arxiv-oai:arXiv:cs:2014-12-15:*"
    found = [checkpoint(stale_key, done=False, updated="2014-12-20T01:00:00Z")]
    assert start(found) == (date(2014, 12, 15), stale_key)


def test_start_day_handles_sets_with_colons() -> None:
    found = [
        checkpoint("arxiv-oai:arXiv:physics:hep-th:2014-12-01:*", done=True, stamp="2014-12-18"),
        checkpoint("arxiv-oai:arXiv:physics:2014-12-01:*", done=True, stamp="2014-12-22"),
    ]
    assert start(found, "physics:hep-th") == (date(2014, 12, 18), None)
