"""The jobs table on both engines: definitions, the atomic claim, leases, outcomes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from paperfeed.settings import Settings
from paperfeed.storage import Storage, open_storage
from paperfeed.storage.jobs import JobStore

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def add_job(store: JobStore, name: str = "sync", *, due: datetime = T0) -> None:
    store.ensure(name, kind="index-sync", params={}, schedule="every 300s", next_run_at=due, now=T0)


def test_ensure_creates_once_and_updates_definitions(storage: Storage) -> None:
    jobs = storage.jobs
    assert jobs.ensure(
        "harvest", kind="harvest-arxiv", params={"sets": ["cs"]},
        schedule="daily 03:30", next_run_at=at(3600), now=T0,
    )  # fmt: skip
    # The same definition again (every worker does this at start) changes nothing.
    assert not jobs.ensure(
        "harvest", kind="harvest-arxiv", params={"sets": ["cs"]},
        schedule="daily 03:30", next_run_at=at(7200), now=at(60),
    )  # fmt: skip
    job = jobs.get("harvest")
    assert job is not None
    assert (job.params, job.schedule, job.next_run_at) == (
        {"sets": ["cs"]},
        "daily 03:30",
        at(3600),
    )
    jobs.set_paused("harvest", True)
    # New params keep the next run; a new schedule moves it; pause state survives both.
    assert jobs.ensure(
        "harvest", kind="harvest-arxiv", params={"sets": ["cs", "math"]},
        schedule="daily 03:30", next_run_at=at(9000), now=at(60),
    )  # fmt: skip
    assert jobs.get("harvest").next_run_at == at(3600)  # type: ignore[union-attr]
    assert jobs.ensure(
        "harvest", kind="harvest-arxiv", params={"sets": ["cs", "math"]},
        schedule="daily 05:00", next_run_at=at(9000), now=at(60),
    )  # fmt: skip
    job = jobs.get("harvest")
    assert job is not None
    assert (job.params["sets"], job.schedule, job.next_run_at, job.paused) == (
        ["cs", "math"], "daily 05:00", at(9000), True,
    )  # fmt: skip
    assert [j.name for j in jobs.all()] == ["harvest"]


def test_claim_takes_only_due_unpaused_unleased_jobs(storage: Storage) -> None:
    jobs = storage.jobs
    add_job(jobs, "later", due=at(600))
    add_job(jobs, "now", due=T0)
    assert jobs.due(T0) == ["now"]
    assert not jobs.claim("later", "w1", now=T0, lease_until=at(300))  # not due yet
    assert jobs.claim("now", "w1", now=T0, lease_until=at(300))
    assert not jobs.claim("now", "w2", now=at(10), lease_until=at(310))  # leased
    assert jobs.due(at(10)) == []
    job = jobs.get("now")
    assert job is not None
    assert (job.locked_by, job.locked_until, job.last_started_at) == ("w1", at(300), T0)
    assert job.running(at(299)) and not job.running(at(301))

    jobs.set_paused("later", True)
    assert not jobs.claim("later", "w1", now=at(700), lease_until=at(1000))
    assert jobs.due(at(700)) == ["now"]  # its lease lapsed: due again, oldest first
    jobs.set_paused("later", False)
    assert jobs.due(at(700)) == ["now", "later"]


def test_forced_claim_ignores_schedule_and_pause_but_not_a_lease(storage: Storage) -> None:
    jobs = storage.jobs
    add_job(jobs, "sync", due=at(600))
    jobs.set_paused("sync", True)
    assert jobs.claim("sync", "cli", now=T0, lease_until=at(300), force=True)
    assert not jobs.claim("sync", "cli2", now=at(1), lease_until=at(301), force=True)
    assert not jobs.claim("missing", "cli", now=T0, lease_until=at(300), force=True)


def test_expired_lease_is_taken_over_and_the_old_holder_cannot_finish(storage: Storage) -> None:
    jobs = storage.jobs
    add_job(jobs)
    assert jobs.claim("sync", "crashed", now=T0, lease_until=at(300))
    assert not jobs.claim("sync", "w2", now=at(300), lease_until=at(600))  # lease still held
    assert jobs.due(at(301)) == ["sync"]
    assert jobs.claim("sync", "w2", now=at(301), lease_until=at(601))
    # The first worker wakes up: its heartbeat and its result are refused.
    assert not jobs.extend_lease("sync", "crashed", at(900))
    assert not jobs.finish("sync", "crashed", now=at(302), next_run_at=at(602), status="ok")
    assert jobs.extend_lease("sync", "w2", at(900))
    assert jobs.get("sync").locked_until == at(900)  # type: ignore[union-attr]
    assert jobs.finish("sync", "w2", now=at(320), next_run_at=at(620), status="ok")
    job = jobs.get("sync")
    assert job is not None
    assert (job.locked_by, job.locked_until, job.run_count) == (None, None, 1)


def test_finish_counts_failures_and_success_resets_them(storage: Storage) -> None:
    jobs = storage.jobs
    add_job(jobs)
    for attempt in range(3):
        now = at(attempt * 1000)
        assert jobs.claim("sync", "w1", now=now, lease_until=now + timedelta(seconds=300))
        assert jobs.finish(
            "sync", "w1", now=now, next_run_at=now + timedelta(seconds=60),
            status="error", error="SourceError: down " + "x" * 5000,
        )  # fmt: skip
    job = jobs.get("sync")
    assert job is not None
    assert (job.error_count, job.run_count, job.last_status) == (3, 3, "error")
    assert job.last_error.startswith("SourceError: down") and len(job.last_error) == 2000
    assert jobs.claim("sync", "w1", now=at(5000), lease_until=at(5300))
    assert jobs.finish(
        "sync", "w1", now=at(5001), next_run_at=at(5301), status="ok", result={"fetched": 2}
    )
    job = jobs.get("sync")
    assert job is not None
    assert (job.error_count, job.last_error, job.last_result) == (0, "", {"fetched": 2})
    assert (job.run_count, job.last_finished_at, job.next_run_at) == (4, at(5001), at(5301))


def test_release_keeps_the_job_due(storage: Storage) -> None:
    jobs = storage.jobs
    add_job(jobs)
    assert jobs.claim("sync", "w1", now=T0, lease_until=at(300))
    assert jobs.release("sync", "w1", now=at(5), status="interrupted")
    job = jobs.get("sync")
    assert job is not None
    assert (job.locked_by, job.last_status, job.run_count, job.next_run_at) == (
        None, "interrupted", 0, T0,
    )  # fmt: skip
    assert jobs.due(at(5)) == ["sync"]


def test_next_due_at_skips_paused_jobs_and_waits_for_leases(storage: Storage) -> None:
    jobs = storage.jobs
    assert jobs.next_due_at() is None
    add_job(jobs, "a", due=at(100))
    add_job(jobs, "b", due=at(50))
    assert jobs.next_due_at() == at(50)
    jobs.set_paused("b", True)
    assert jobs.next_due_at() == at(100)
    assert jobs.claim("a", "w1", now=at(100), lease_until=at(400))
    assert jobs.next_due_at() == at(400)  # claimable again only when the lease lapses


def claim(
    storage: Storage, worker: str, now: datetime, barrier: threading.Barrier, wins: list[str]
) -> None:
    barrier.wait()  # all claimers released at once
    if storage.jobs.claim("sync", worker, now=now, lease_until=now + timedelta(seconds=300)):
        wins.append(worker)


def test_racing_claimers_exactly_one_wins(settings: Settings) -> None:
    """Workers with their own connections claim the same due job at the same instant."""
    workers = 4
    stores = [
        open_storage(settings.resolved_database_url, schema=settings.database_schema)
        for _ in range(workers)
    ]
    try:
        add_job(stores[0].jobs)
        for round_number in range(15):
            now = at(round_number * 1000)
            barrier = threading.Barrier(workers)
            wins: list[str] = []

            threads = [
                threading.Thread(target=claim, args=(stores[i], f"w{i}", now, barrier, wins))
                for i in range(workers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len(wins) == 1, f"round {round_number}: winners {wins}"
            job = stores[0].jobs.get("sync")
            assert job is not None and job.locked_by == wins[0]
            assert stores[0].jobs.finish(
                "sync", wins[0], now=now, next_run_at=now + timedelta(seconds=500), status="ok"
            )
        assert stores[0].jobs.get("sync").run_count == 15  # type: ignore[union-attr]
    finally:
        for store in stores:
            store.close()
