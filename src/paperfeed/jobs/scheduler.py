"""The scheduler: due jobs from the database, run by whichever worker claims them first.

There is no coordinator process. Every worker (the background thread of
``paperfeed serve``, each ``paperfeed worker`` process, a ``paperfeed jobs run``
typed in a shell) runs the same steps against the ``jobs`` table
(:mod:`paperfeed.storage.jobs`):

1. claim a due job: one atomic conditional ``UPDATE`` sets ``locked_by`` and a
   lease (``locked_until``); of several workers exactly one gets the row;
2. run it, renewing the lease from a heartbeat thread while it runs;
3. record the outcome and release: success schedules the next regular run and
   resets the error count; a failure counts one more error and retries after an
   exponential backoff with jitter.

A worker that dies mid-job leaves its lease to expire, after which another worker
claims the job again. Jobs must therefore be safe to re-run; ours are (harvests
resume from checkpoints, digests claim each mail in a send log first).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from paperfeed.errors import NotFoundError, PaperfeedError
from paperfeed.jobs.schedule import JobContext, JobFunction, JobOutcome, JobSpec, Schedule
from paperfeed.models import utc_now
from paperfeed.settings import Settings
from paperfeed.storage.jobs import Job, JobStore
from paperfeed.storage.values import instant_text

log = logging.getLogger("paperfeed.scheduler")

#: Exponents beyond this cannot matter: the delay is capped long before.
_MAX_BACKOFF_EXPONENT = 30


class JobBusy(PaperfeedError):
    """A manual run asked for a job another worker is running right now."""

    exit_code = 1


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(slots=True)
class JobRun:
    """The outcome of one run, as recorded in the job's row."""

    name: str
    status: str  # 'ok', 'error', 'skipped: <why>'
    started_at: datetime
    finished_at: datetime
    next_run_at: datetime
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: Exit code for the CLI: 0, or that of the error (``paperfeed.errors``), else 1.
    exit_code: int = 0

    @property
    def failed(self) -> bool:
        return self.error is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "started_at": instant_text(self.started_at),
            "finished_at": instant_text(self.finished_at),
            "next_run_at": instant_text(self.next_run_at),
            "result": self.result,
            "error": self.error,
        }


class _Heartbeat:
    """Renews a job's lease every third of its length until stopped."""

    def __init__(self, scheduler: Scheduler, name: str) -> None:
        self._scheduler = scheduler
        self._name = name
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"paperfeed-heartbeat-{name}", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        scheduler = self._scheduler
        interval = scheduler.lease_seconds / 3
        while not self._done.wait(interval):
            try:
                held = scheduler.store.extend_lease(
                    self._name, scheduler.worker_id, scheduler.lease_end()
                )
            except Exception:  # a database hiccup: the next beat may get through
                log.warning("job %s: could not renew the lease", self._name, exc_info=True)
                continue
            if not held:
                log.warning(
                    "job %s: lease lost (expired and taken over); this run's result"
                    " will not be recorded",
                    self._name,
                )
                return


class Scheduler:
    """Runs the jobs kept in ``store``. Construction does no work; see the module doc.

    ``kinds`` maps a job kind to its code; ``specs`` gives the jobs to create (or
    update from the settings) before the first run, called once then.
    """

    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        kinds: Mapping[str, JobFunction],
        *,
        specs: Callable[[], Iterable[JobSpec]] = tuple,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.settings = settings
        self.kinds: dict[str, JobFunction] = dict(kinds)
        self._specs = specs
        self._worker_id = worker_id
        self.clock = clock
        self._jitter = jitter
        self._ensured = False

    # -- configuration -----------------------------------------------------------------

    @property
    def worker_id(self) -> str:
        # Resolved late: a process forked after construction has its own pid.
        return self._worker_id or default_worker_id()

    @property
    def lease_seconds(self) -> int:
        return self.settings.job_lease_seconds

    def lease_end(self) -> datetime:
        return self.clock() + timedelta(seconds=self.lease_seconds)

    def backoff_seconds(self, failures: int) -> float:
        """Delay before retrying after ``failures`` consecutive failures (>= 1):
        base * 2**(failures - 1), at most max, spread by ±10% so that jobs failing
        together (a network outage) do not all retry in the same second."""
        settings = self.settings
        exponent = min(max(failures - 1, 0), _MAX_BACKOFF_EXPONENT)
        delay = min(settings.job_retry_base_seconds * 2**exponent, settings.job_retry_max_seconds)
        return min(delay * (0.9 + 0.2 * self._jitter()), settings.job_retry_max_seconds)

    # -- the job table -----------------------------------------------------------------

    def ensure_jobs(self) -> None:
        """Create the built-in jobs or update their schedules from the settings."""
        if self._ensured:
            return
        now = self.clock()
        for spec in self._specs():
            self.store.ensure(
                spec.name, kind=spec.kind, params=dict(spec.params),
                schedule=str(spec.schedule), next_run_at=spec.schedule.first_run(now), now=now,
            )  # fmt: skip
        self._ensured = True

    def jobs(self) -> list[Job]:
        self.ensure_jobs()
        return self.store.all()

    def job(self, name: str) -> Job:
        self.ensure_jobs()
        found = self.store.get(name)
        if found is None:
            known = ", ".join(job.name for job in self.store.all())
            raise NotFoundError(f"no job named {name!r} (jobs: {known})")
        return found

    def pause(self, name: str) -> Job:
        self.job(name)
        self.store.set_paused(name, True)
        return self.job(name)

    def resume(self, name: str) -> Job:
        self.job(name)
        self.store.set_paused(name, False)
        return self.job(name)

    # -- running -----------------------------------------------------------------------

    def run_due(self, stop: threading.Event | None = None) -> list[JobRun]:
        """Claim and run every job due now, one after another; returns what ran.

        Stops between jobs once ``stop`` is set. A job another worker claimed first
        is skipped silently: it is in good hands.
        """
        self.ensure_jobs()
        runs: list[JobRun] = []
        for name in self.store.due(self.clock()):
            if stop is not None and stop.is_set():
                break
            now = self.clock()
            if not self.store.claim(name, self.worker_id, now=now, lease_until=self.lease_end()):
                continue
            job = self.store.get(name)
            if job is not None:
                runs.append(self._execute(job, now))
        return runs

    def run_job(self, name: str) -> JobRun:
        """Run one job now, due or not, paused or not (``paperfeed jobs run``): the
        same code and bookkeeping as a scheduled run. Refuses a job another worker
        is running."""
        self.job(name)
        now = self.clock()
        claimed = self.store.claim(
            name, self.worker_id, now=now, lease_until=self.lease_end(), force=True
        )
        job = self.job(name)
        if not claimed:
            raise JobBusy(
                f"job {name} is running on {job.locked_by} (lease until"
                f" {instant_text(job.locked_until)}); try again when it has finished"
            )
        return self._execute(job, now)

    def _execute(self, job: Job, started: datetime) -> JobRun:
        """Run a job this worker has claimed, record the outcome, release the lease."""
        log.info("job %s: started on %s", job.name, self.worker_id)
        began = time.monotonic()
        function = self.kinds.get(job.kind)
        context = JobContext(job, started, self.worker_id)
        try:
            with _Heartbeat(self, job.name):
                if function is None:
                    raise PaperfeedError(
                        f"unknown job kind {job.kind!r} (known: {', '.join(sorted(self.kinds))})"
                    )
                outcome = function(context)
        except Exception as exc:
            return self._record_failure(job, started, exc, time.monotonic() - began)
        except BaseException:
            # Interrupted (Ctrl-C on `jobs run`, SystemExit): not the job's fault. Give the
            # lease back with next_run_at unchanged so the job is due again at once.
            self.store.release(job.name, self.worker_id, now=self.clock(), status="interrupted")
            log.warning("job %s: interrupted; it is due again", job.name)
            raise
        finished = self.clock()
        try:
            schedule = Schedule.parse(job.schedule)
        except PaperfeedError as exc:
            return self._record_failure(job, started, exc, time.monotonic() - began)
        next_run = schedule.next_after(finished)
        if not isinstance(outcome, JobOutcome):
            outcome = JobOutcome("ok")
        recorded = self.store.finish(
            job.name, self.worker_id, now=finished, next_run_at=next_run,
            status=outcome.status, result=outcome.result,
        )  # fmt: skip
        if not recorded:
            log.warning("job %s: finished after losing its lease; outcome not recorded", job.name)
        log.info(
            "job %s: %s in %.1fs %s; next run %s",
            job.name, outcome.status, time.monotonic() - began, outcome.result or "",
            instant_text(next_run),
        )  # fmt: skip
        return JobRun(job.name, outcome.status, started, finished, next_run, outcome.result)

    def _record_failure(
        self, job: Job, started: datetime, exc: Exception, seconds: float
    ) -> JobRun:
        finished = self.clock()
        failures = job.error_count + 1
        next_run = finished + timedelta(seconds=self.backoff_seconds(failures))
        message = str(exc) if isinstance(exc, PaperfeedError) else f"{type(exc).__name__}: {exc}"
        self.store.finish(
            job.name, self.worker_id, now=finished, next_run_at=next_run,
            status="error", error=message,
        )  # fmt: skip
        # Our own errors are expected conditions (a source down): one line. Anything
        # else is a bug worth its traceback.
        log.error(
            "job %s: failed after %.1fs (%d in a row): %s; retry at %s",
            job.name, seconds, failures, message, instant_text(next_run),
            exc_info=not isinstance(exc, PaperfeedError),
        )  # fmt: skip
        exit_code = exc.exit_code if isinstance(exc, PaperfeedError) else 1
        return JobRun(
            job.name, "error", started, finished, next_run, error=message,
            exit_code=exit_code or 1,
        )  # fmt: skip

    # -- the loop ------------------------------------------------------------------------

    def seconds_until_due(self) -> float:
        """How long an idle worker may sleep before some job becomes claimable."""
        poll = self.settings.worker_poll_seconds
        due = self.store.next_due_at()
        if due is None:
            return poll
        return min(max((due - self.clock()).total_seconds(), 0.0), poll)

    def run_forever(self, stop: threading.Event) -> None:
        """Run due jobs until ``stop`` is set; a job in progress is finished first.

        Never raises for a job's failure or a database hiccup: it logs and tries
        again after the poll interval, as a long-running service must.
        """
        log.info("scheduler: worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                self.run_due(stop)
                wait = self.seconds_until_due()
            except Exception:
                log.exception("scheduler: cannot read the job queue; retrying")
                wait = self.settings.worker_poll_seconds
            # A job may have become due while the others ran: check again at once then,
            # else sleep until the next one (never longer than the poll interval).
            stop.wait(max(wait, 0.05))
        log.info("scheduler: worker %s stopped", self.worker_id)

    def start_background(self) -> BackgroundScheduler:
        """Run :meth:`run_forever` in a daemon thread (inside ``paperfeed serve``)."""
        return BackgroundScheduler(self).start()


class BackgroundScheduler:
    """The scheduler loop in a daemon thread, stoppable from the web app's shutdown."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.stop_event = threading.Event()
        self._thread = threading.Thread(
            target=scheduler.run_forever, args=(self.stop_event,),
            name="paperfeed-scheduler", daemon=True,
        )  # fmt: skip

    def start(self) -> BackgroundScheduler:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the loop to stop after its current job; True if it stopped within ``timeout``.

        A job still running after that is abandoned with the process (the thread is
        a daemon); its lease expires and another worker runs it again.
        """
        self.stop_event.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("scheduler: a job is still running; leaving it to its lease")
            return False
        return True
