"""What the scheduler runs: schedules, the built-in jobs and the code of each job kind.

Each kind is a small function over the :class:`~paperfeed.library.Library`, calling
the same façade method a person would call by hand (``paperfeed harvest hf``,
``paperfeed digest --send``): one code path per job. A job that cannot do its work
in this installation (harvesting switched off, digests not installed) says so in
its status, ``skipped: <why>``, rather than reporting a success it did not have.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from paperfeed.errors import ConfigError, InputError
from paperfeed.settings import Settings
from paperfeed.storage.jobs import Job
from paperfeed.storage.values import parse_instant

if TYPE_CHECKING:
    from paperfeed.library import Library

log = logging.getLogger("paperfeed.scheduler")

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SCHEDULE = re.compile(
    r"^(?:every (?P<seconds>[1-9][0-9]*)s"
    r"|daily (?P<daily>[0-2][0-9]:[0-5][0-9])"
    r"|weekly (?P<weekday>[a-z]+) (?P<weekly>[0-2][0-9]:[0-5][0-9]))$"
)
#: An unfinished scheduled arXiv harvest older than this is restarted rather than
#: resumed: arXiv's resumption tokens expire within hours.
STALE_HARVEST = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a job runs: every N seconds, daily at HH:MM UTC, or weekly on a day at HH:MM UTC.

    Stored as its text form (``every 300s``, ``daily 03:30``, ``weekly monday 06:00``).
    """

    kind: Literal["interval", "daily", "weekly"]
    seconds: int = 0
    at: time | None = None
    weekday: int = 0  # Monday = 0, as date.weekday()

    @classmethod
    def parse(cls, text: str) -> Schedule:
        match = _SCHEDULE.match(text.strip().lower())
        if match is None:
            raise InputError(
                f"invalid schedule {text!r}: use 'every <N>s', 'daily HH:MM' or"
                " 'weekly <weekday> HH:MM' (UTC)"
            )
        if match["seconds"]:
            return cls("interval", seconds=int(match["seconds"]))
        clock = match["daily"] or match["weekly"]
        try:
            at = time.fromisoformat(clock)
        except ValueError:
            raise InputError(f"invalid time of day {clock!r} in schedule {text!r}") from None
        if match["daily"]:
            return cls("daily", at=at)
        if match["weekday"] not in WEEKDAYS:
            raise InputError(f"invalid weekday {match['weekday']!r} in schedule {text!r}")
        return cls("weekly", at=at, weekday=WEEKDAYS.index(match["weekday"]))

    def __str__(self) -> str:
        if self.kind == "interval":
            return f"every {self.seconds}s"
        clock = self.at.strftime("%H:%M") if self.at else "00:00"
        if self.kind == "daily":
            return f"daily {clock}"
        return f"weekly {WEEKDAYS[self.weekday]} {clock}"

    def next_after(self, now: datetime) -> datetime:
        """The first run time strictly after ``now`` (a UTC datetime)."""
        if self.kind == "interval":
            return now + timedelta(seconds=self.seconds)
        assert self.at is not None
        candidate = now.replace(hour=self.at.hour, minute=self.at.minute, second=0, microsecond=0)
        if self.kind == "daily":
            return candidate if candidate > now else candidate + timedelta(days=1)
        candidate += timedelta(days=(self.weekday - now.weekday()) % 7)
        return candidate if candidate > now else candidate + timedelta(days=7)

    def first_run(self, now: datetime) -> datetime:
        """When a new job first runs: interval jobs at once, calendar jobs at their time."""
        return now if self.kind == "interval" else self.next_after(now)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """The definition of a job (its row's name, kind, params and schedule)."""

    name: str
    kind: str
    schedule: Schedule
    params: Mapping[str, Any] = field(default_factory=dict)


def builtin_jobs(settings: Settings) -> list[JobSpec]:
    """The jobs every installation has, with timings from the settings."""
    weekly = f"weekly {settings.digest_weekly_day} {settings.digest_weekly_time}"
    return [
        JobSpec("harvest-arxiv", "harvest-arxiv",
                Schedule.parse(f"daily {settings.harvest_arxiv_time}"),
                {"sets": list(settings.harvest_arxiv_sets)}),
        JobSpec("harvest-hf", "harvest-hf", Schedule.parse(f"daily {settings.harvest_hf_time}")),
        JobSpec("index-sync", "index-sync",
                Schedule("interval", seconds=settings.index_sync_interval_seconds)),
        JobSpec("submissions", "submissions",
                Schedule("interval", seconds=settings.submissions_interval_seconds)),
        JobSpec("digest-daily", "digest",
                Schedule.parse(f"daily {settings.digest_daily_time}"), {"cadence": "daily"}),
        JobSpec("digest-weekly", "digest", Schedule.parse(weekly), {"cadence": "weekly"}),
    ]  # fmt: skip


def harvesting_enabled(settings: Settings) -> bool:
    """``harvest_enabled`` if set, else on in production and off in development."""
    if settings.harvest_enabled is not None:
        return settings.harvest_enabled
    return settings.environment == "production"


# -- running a job ---------------------------------------------------------------------


@dataclass(slots=True)
class JobContext:
    """What a job's code gets: the library, its own row, the run's clock and worker id."""

    library: Library
    job: Job
    now: datetime
    worker: str

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params


@dataclass(slots=True)
class JobOutcome:
    """How a run ended when it did not raise: ``ok`` or ``skipped: <why>``, and a summary."""

    status: str = "ok"
    result: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def skipped(cls, why: str) -> JobOutcome:
        return cls(f"skipped: {why}")


JobFunction = Callable[[JobContext], JobOutcome]


def _plain(value: Any) -> Any:
    """JSON-ready: scalars and mappings as they are, lists only counted (a digest
    run's per-message log would bloat the job row), anything else as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return len(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def summary(value: Any) -> dict[str, Any]:
    """A JSON-ready summary of whatever a façade method returned."""
    plain = _plain(value)
    if plain is None:
        return {}
    if isinstance(plain, dict):
        return plain
    if isinstance(plain, int | float) and not isinstance(plain, bool):
        return {"count": plain}
    return {"result": plain}


def arxiv_start_day(
    checkpoints: list[dict[str, Any]],
    set_spec: str,
    *,
    now: datetime,
    first_days: int,
    metadata_prefix: str = "arXiv",
) -> tuple[date, str | None]:
    """Where the scheduled OAI-PMH harvest of ``set_spec`` starts, and a stale checkpoint
    key to discard first (or None).

    In order: resume an unfinished incremental harvest (same ``from`` day, so the
    same checkpoint and resumption token); else start from the newest
    ``max_datestamp`` any finished harvest of the set reached (OAI-PMH ``from`` is
    inclusive, so that day is fetched again and deduplicated, never missed); else
    ``first_days`` before today.
    """
    head = f"arxiv-oai:{metadata_prefix}:{set_spec}"
    unfinished: list[tuple[str, str, str]] = []  # (updated_at, from day, key)
    newest_stamp: str | None = None
    for checkpoint in checkpoints:
        key: str = checkpoint["key"]
        prefix, _, rest = key.rpartition(":")  # rest: the until day or "*"
        prefix, _, from_day = prefix.rpartition(":")
        if prefix != head:
            continue
        if not checkpoint["done"]:
            if from_day != "*" and rest == "*":
                unfinished.append((checkpoint["updated_at"], from_day, key))
            continue
        stamp = checkpoint["state"].get("max_datestamp")
        if stamp and (newest_stamp is None or stamp > newest_stamp):
            newest_stamp = stamp
    if unfinished:
        updated_at, from_day, key = max(unfinished)
        updated = parse_instant(updated_at)
        stale = updated is None or now - updated > STALE_HARVEST
        return date.fromisoformat(from_day), key if stale else None
    if newest_stamp:
        return date.fromisoformat(newest_stamp[:10]), None
    return now.date() - timedelta(days=first_days), None


def _report(report: Any) -> dict[str, int]:
    return {name: getattr(report, name) for name in
            ("seen", "inserted", "updated", "unchanged", "skipped")}  # fmt: skip


def run_harvest_arxiv(context: JobContext) -> JobOutcome:
    library = context.library
    if not harvesting_enabled(library.settings):
        return JobOutcome.skipped("harvesting disabled (PAPERFEED_HARVEST_ENABLED)")
    sets = context.params.get("sets") or ["cs"]
    result: dict[str, Any] = {}
    for set_spec in sets:
        start, stale = arxiv_start_day(
            library.storage.checkpoints.all(), set_spec,
            now=context.now, first_days=library.settings.harvest_arxiv_first_days,
        )  # fmt: skip
        if stale:
            log.info("harvest-arxiv: restarting stale harvest %s", stale)
            library.storage.checkpoints.clear(stale)
        log.info("harvest-arxiv: set %s from %s", set_spec, start)
        report = library.harvest_arxiv(set_spec=set_spec, from_date=start)
        result[set_spec] = {"from": start.isoformat(), **_report(report)}
    return JobOutcome("ok", result)


def run_harvest_hf(context: JobContext) -> JobOutcome:
    library = context.library
    if not harvesting_enabled(library.settings):
        return JobOutcome.skipped("harvesting disabled (PAPERFEED_HARVEST_ENABLED)")
    today = context.now.date()
    result: dict[str, Any] = {}
    # Yesterday again: its list and upvote counts keep changing after we first saw it.
    for day in (today - timedelta(days=1), today):
        report = library.harvest_hf(day)
        result[day.isoformat()] = report.inserted + report.updated
    return JobOutcome("ok", result)


def run_index_sync(context: JobContext) -> JobOutcome:
    sync = getattr(context.library, "sync_search", None)
    if sync is None:
        log.info("index-sync: search sync is not installed in this version; nothing to do")
        return JobOutcome.skipped("search sync not installed")
    return JobOutcome("ok", summary(sync()))


def run_submissions(context: JobContext) -> JobOutcome:
    limit = int(context.params.get("limit", 50))
    return JobOutcome("ok", {"fetched": context.library.process_submissions(limit=limit)})


def run_digest(context: JobContext) -> JobOutcome:
    cadence = context.params.get("cadence", "daily")
    if cadence not in ("daily", "weekly"):
        raise ConfigError(
            f"job {context.job.name}: cadence must be daily or weekly, not {cadence!r}"
        )
    delivery = getattr(context.library, "delivery", None)
    if delivery is None:
        log.warning("%s: digests are not installed in this version; no mail sent", context.job.name)
        return JobOutcome.skipped("digests not installed")
    report = delivery.send_digests(cadence, now=context.now, worker=context.worker)
    reason = getattr(report, "skipped_reason", None)  # a weekend or holiday
    return JobOutcome(f"skipped: {reason}" if reason else "ok", summary(report))


#: Job kinds by name. A row whose kind is missing here fails with a clear error.
JOB_KINDS: dict[str, JobFunction] = {
    "harvest-arxiv": run_harvest_arxiv,
    "harvest-hf": run_harvest_hf,
    "index-sync": run_index_sync,
    "submissions": run_submissions,
    "digest": run_digest,
}
