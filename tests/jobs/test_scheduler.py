"""The scheduler over a real library: schedules, runs, backoff, leases, pause, skips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paperfeed.errors import InputError, NotFoundError
from paperfeed.ingest.pipeline import IngestPipeline
from paperfeed.jobs.builtin import builtin_jobs
from paperfeed.jobs.schedule import Schedule
from paperfeed.jobs.scheduler import JobBusy
from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.jobs.conftest import START, Clock, Flaky, make_scheduler, paper


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# -- schedules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("every 300s", utc(2026, 3, 2, 12, 0), utc(2026, 3, 2, 12, 5)),
        ("daily 03:30", utc(2026, 3, 2, 1, 0), utc(2026, 3, 2, 3, 30)),
        ("daily 03:30", utc(2026, 3, 2, 3, 30), utc(2026, 3, 3, 3, 30)),  # strictly after
        ("daily 00:00", utc(2026, 12, 31, 23, 59), utc(2027, 1, 1, 0, 0)),
        ("weekly monday 06:00", utc(2026, 3, 2, 5, 0), utc(2026, 3, 2, 6, 0)),  # Monday
        ("weekly monday 06:00", utc(2026, 3, 2, 6, 0), utc(2026, 3, 9, 6, 0)),
        ("weekly sunday 23:00", utc(2026, 3, 2, 12, 0), utc(2026, 3, 8, 23, 0)),
        ("Weekly Friday 08:15", utc(2026, 3, 7, 0, 0), utc(2026, 3, 13, 8, 15)),
    ],
)
def test_schedule_next_run(text: str, now: datetime, expected: datetime) -> None:
    assert Schedule.parse(text).next_after(now) == expected


@pytest.mark.parametrize(
    "text", ["", "every 0s", "every 5m", "daily 24:00", "daily 3:30", "weekly funday 06:00"]
)
def test_schedule_rejects_nonsense(text: str) -> None:
    with pytest.raises(InputError, match="invalid"):
        Schedule.parse(text)


def test_schedule_text_round_trips(settings: Settings) -> None:
    for spec in builtin_jobs(settings):
        assert Schedule.parse(str(spec.schedule)) == spec.schedule


# -- built-in jobs -----------------------------------------------------------------------------


def test_builtin_jobs_created_once_with_first_runs(library: Library, clock: Clock) -> None:
    scheduler = make_scheduler(library, clock)
    jobs = {job.name: job for job in scheduler.jobs()}
    assert sorted(jobs) == [
        "alerts", "digest-daily", "digest-weekly", "group-digest-daily", "group-digest-weekly",
        "harvest-arxiv", "harvest-hf", "index-sync", "submissions",
    ]  # fmt: skip
    assert jobs["harvest-arxiv"].params == {"sets": ["cs"]}
    assert jobs["digest-weekly"].params == {"cadence": "weekly"}
    # Interval jobs start at once; calendar jobs wait for their time (START is Monday noon).
    assert jobs["index-sync"].next_run_at == START
    assert jobs["harvest-arxiv"].next_run_at == utc(2026, 3, 3, 3, 30)
    assert jobs["digest-weekly"].next_run_at == utc(2026, 3, 9, 6, 0)
    # A second worker starting later changes nothing.
    clock.advance(3600)
    again = {job.name: job for job in make_scheduler(library, clock, "w2").jobs()}
    assert {n: j.next_run_at for n, j in again.items()} == {
        n: j.next_run_at for n, j in jobs.items()
    }


def test_changed_settings_reschedule_builtin_jobs(
    settings: Settings, library: Library, clock: Clock
) -> None:
    make_scheduler(library, clock).ensure_jobs()
    changed = settings.model_copy(
        update={"harvest_arxiv_time": "05:45", "harvest_arxiv_sets": ["cs", "stat"]}
    )
    with Library.open(changed) as other:
        job = make_scheduler(other, clock).job("harvest-arxiv")
    assert (job.schedule, job.params) == ("daily 05:45", {"sets": ["cs", "stat"]})
    assert job.next_run_at == utc(2026, 3, 3, 5, 45)


# -- running -----------------------------------------------------------------------------------


def test_run_due_runs_due_jobs_and_schedules_the_next_run(library: Library, clock: Clock) -> None:
    scheduler = make_scheduler(library, clock)
    runs = {run.name: run for run in scheduler.run_due()}
    assert sorted(runs) == ["alerts", "index-sync", "submissions"]  # the interval jobs
    assert runs["submissions"].status == "ok"
    assert runs["submissions"].result == {"fetched": 0}
    job = scheduler.job("submissions")
    assert (job.run_count, job.error_count, job.locked_by) == (1, 0, None)
    assert job.next_run_at == START + timedelta(seconds=900)
    assert scheduler.run_due() == []  # nothing due until the clock moves
    clock.advance(300)
    assert [run.name for run in scheduler.run_due()] == ["index-sync"]


def test_failures_back_off_exponentially_and_success_resets(
    library: Library, clock: Clock, flaky: Flaky
) -> None:
    scheduler = make_scheduler(library, clock, flaky=flaky)
    library.storage.jobs.ensure(
        "flaky", kind="flaky", params={}, schedule="every 600s", next_run_at=START, now=START
    )
    base = library.settings.job_retry_base_seconds  # 60
    delays = []
    for expected_errors in range(1, 9):
        [run] = [r for r in scheduler.run_due() if r.name == "flaky"]
        assert run.status == "error" and run.error == "RuntimeError: source unreachable"
        job = scheduler.job("flaky")
        assert job.error_count == expected_errors
        assert job.last_error == "RuntimeError: source unreachable"
        assert job.locked_by is None
        delays.append((job.next_run_at - clock.now).total_seconds())
        clock.now = job.next_run_at  # not before: the job is not due earlier
    # Jitter fixed at its middle: exactly base * 2**(n-1), capped at the maximum (3600).
    assert delays == [base, 2 * base, 4 * base, 8 * base, 16 * base, 32 * base, 3600, 3600]
    flaky.failing = False
    [run] = [r for r in scheduler.run_due() if r.name == "flaky"]
    assert run.status == "ok"
    job = scheduler.job("flaky")
    assert (job.error_count, job.last_error, job.last_status) == (0, "", "ok")
    assert job.next_run_at == clock.now + timedelta(seconds=600)  # the regular schedule again
    assert job.run_count == 9


def test_backoff_jitter_stays_within_ten_percent_and_the_cap(library: Library) -> None:
    for jitter, expected in ((0.0, 0.9), (1.0, 1.1)):
        scheduler = make_scheduler(library, Clock())
        scheduler._jitter = lambda j=jitter: j
        assert scheduler.backoff_seconds(1) == pytest.approx(60 * expected)
        assert scheduler.backoff_seconds(3) == pytest.approx(240 * expected)
        assert scheduler.backoff_seconds(50) <= 3600


def test_crashed_workers_job_is_taken_over_after_its_lease(
    library: Library, clock: Clock, flaky: Flaky
) -> None:
    flaky.failing = False
    library.storage.jobs.ensure(
        "flaky", kind="flaky", params={}, schedule="every 600s", next_run_at=START, now=START
    )
    lease = library.settings.job_lease_seconds
    # Worker A claims the job and dies without finishing it.
    assert library.storage.jobs.claim(
        "flaky", "a", now=START, lease_until=START + timedelta(seconds=lease)
    )
    b = make_scheduler(library, clock, "b", flaky=flaky)
    assert "flaky" not in [run.name for run in b.run_due()]
    with pytest.raises(JobBusy, match="running on a"):
        b.run_job("flaky")
    assert flaky.calls == 0
    clock.advance(lease + 1)
    assert "flaky" in [run.name for run in b.run_due()]
    assert flaky.calls == 1
    job = b.job("flaky")
    assert (job.locked_by, job.run_count, job.last_status) == (None, 1, "ok")


def test_paused_jobs_wait_for_resume_but_run_by_hand(library: Library, clock: Clock) -> None:
    scheduler = make_scheduler(library, clock)
    assert scheduler.pause("submissions").paused
    assert [run.name for run in scheduler.run_due()] == ["alerts", "index-sync"]
    run = scheduler.run_job("submissions")  # by hand: same code, same bookkeeping
    assert run.status == "ok"
    job = scheduler.job("submissions")
    assert (job.paused, job.run_count) == (True, 1)
    clock.advance(3600)
    assert "submissions" not in [run.name for run in scheduler.run_due()]
    assert not scheduler.resume("submissions").paused
    assert "submissions" in [run.name for run in scheduler.run_due()]
    with pytest.raises(NotFoundError, match="no job named 'nope'"):
        scheduler.pause("nope")


def test_unknown_kind_fails_with_a_clear_error(library: Library, clock: Clock) -> None:
    library.storage.jobs.ensure(
        "mystery", kind="teleport", params={}, schedule="every 60s", next_run_at=START, now=START
    )
    run = make_scheduler(library, clock).run_job("mystery")
    assert run.status == "error"
    assert run.error is not None and "unknown job kind 'teleport'" in run.error


def test_interrupted_run_gives_the_job_back(library: Library, clock: Clock) -> None:
    def interrupted(_context: object) -> None:
        raise KeyboardInterrupt

    library.storage.jobs.ensure(
        "slow", kind="slow", params={}, schedule="every 60s", next_run_at=START, now=START
    )
    scheduler = make_scheduler(library, clock, slow=interrupted)
    with pytest.raises(KeyboardInterrupt):
        scheduler.run_job("slow")
    job = scheduler.job("slow")
    assert (job.locked_by, job.last_status, job.run_count, job.next_run_at) == (
        None, "interrupted", 0, START,
    )  # fmt: skip


# -- what each built-in job does without the network --------------------------------------------


def test_harvest_jobs_are_skipped_while_harvesting_is_disabled(
    library: Library, clock: Clock
) -> None:
    assert library.settings.environment == "development"
    scheduler = make_scheduler(library, clock)
    for name in ("harvest-arxiv", "harvest-hf"):
        run = scheduler.run_job(name)
        assert run.status == "skipped: harvesting disabled (PAPERFEED_HARVEST_ENABLED)"
        job = scheduler.job(name)
        assert (job.last_status, job.error_count) == (run.status, 0)
    assert library.stats()["papers"] == 0


def test_digest_job_sends_through_the_delivery(library: Library, clock: Clock) -> None:
    run = make_scheduler(library, clock).run_job("digest-daily")
    # No subscribers yet: a real run (Monday, not skipped) that had nobody to send to.
    assert run.status == "ok", run.error
    assert (run.result["cadence"], run.result["period_key"]) == ("daily", "2026-03-02")
    assert (run.result["due"], run.result["sent"]) == (0, 0)


def test_digest_job_on_a_weekend_is_skipped_with_the_reason(library: Library) -> None:
    saturday = Clock(datetime(2026, 3, 7, 6, 0, tzinfo=UTC))
    run = make_scheduler(library, saturday).run_job("digest-daily")
    assert run.status.startswith("skipped: 2026-03-07 is a Saturday")
    assert make_scheduler(library, saturday).job("digest-daily").error_count == 0


def test_index_sync_job_brings_the_search_indexes_up_to_date(
    library: Library, clock: Clock
) -> None:
    IngestPipeline(library.storage).ingest_records([paper(1, START)])
    assert library.search_status()["vectors"]["changes_behind"] == 1
    run = make_scheduler(library, clock).run_job("index-sync")
    assert run.status == "ok", run.error
    assert run.result["vectors"]["embedded"] == 1
    assert library.search_status()["vectors"]["changes_behind"] == 0
