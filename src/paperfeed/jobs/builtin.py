"""The built-in jobs: their definitions (name, kind, schedule) and the code of each kind.

Each kind is a small function calling the same façade method a person would call
by hand (``paperfeed harvest hf``, ``paperfeed digest --send``): one code path per
job. The functions reach those methods through :class:`JobHost`, the few things
they use, which the Library provides (it wires the scheduler with
``builtin_kinds(self)``); nothing here imports the Library. A job that cannot do
its work in this installation (harvesting switched off) says so in its status,
``skipped: <why>``, rather than reporting a success it did not have.

A new job: a function ``run_x(host, context) -> JobOutcome`` here (or in a module of
this package next to it), the methods it calls on :class:`JobHost`, an entry in
:func:`builtin_kinds` and a :class:`JobSpec` in :func:`builtin_jobs`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from paperfeed.errors import ConfigError
from paperfeed.jobs.schedule import JobContext, JobFunction, JobOutcome, JobSpec, Schedule
from paperfeed.models import IngestReport
from paperfeed.models.digest import Cadence, DigestRunReport
from paperfeed.models.follows import AlertRunReport
from paperfeed.settings import Settings
from paperfeed.storage import Storage
from paperfeed.storage.values import parse_instant


class JobHost(Protocol):
    """What the built-in jobs use: settings, checkpoints and façade methods."""

    @property
    def settings(self) -> Settings: ...

    @property
    def storage(self) -> Storage: ...

    def harvest_arxiv(self, *, set_spec: str = ..., from_date: date | None = ...) -> IngestReport:
        """OAI-PMH harvest of one set (resumable)."""

    def harvest_hf(self, day: date) -> IngestReport:
        """One day of Hugging Face daily papers."""

    def sync_search(self) -> Mapping[str, Any]:
        """Bring the search indexes up to date."""

    def process_submissions(self, *, limit: int = ...) -> int:
        """Fetch queued submissions; how many got fetched."""

    def send_digests(self, cadence: Cadence, *, now: datetime, worker: str) -> DigestRunReport:
        """Send the due digests of ``cadence`` (each exactly once)."""

    def detect_alerts(self) -> AlertRunReport:
        """Make the alerts of follows from the change log (each at most once)."""

    def send_group_digests(
        self, cadence: Cadence, *, now: datetime, worker: str
    ) -> DigestRunReport:
        """Send the due group digests of ``cadence`` (each at most once)."""


log = logging.getLogger("paperfeed.scheduler")

#: An unfinished scheduled arXiv harvest older than this is restarted rather than
#: resumed: arXiv's resumption tokens expire within hours.
STALE_HARVEST = timedelta(hours=12)


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
        JobSpec("alerts", "alerts", Schedule("interval", seconds=settings.alerts_interval_seconds)),
        JobSpec("digest-daily", "digest",
                Schedule.parse(f"daily {settings.digest_daily_time}"), {"cadence": "daily"}),
        JobSpec("digest-weekly", "digest", Schedule.parse(weekly), {"cadence": "weekly"}),
        JobSpec("group-digest-daily", "group-digest",
                Schedule.parse(f"daily {settings.digest_daily_time}"), {"cadence": "daily"}),
        JobSpec("group-digest-weekly", "group-digest", Schedule.parse(weekly),
                {"cadence": "weekly"}),
    ]  # fmt: skip


def harvesting_enabled(settings: Settings) -> bool:
    """``harvest_enabled`` if set, else on in production and off in development."""
    if settings.harvest_enabled is not None:
        return settings.harvest_enabled
    return settings.environment == "production"


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


def run_harvest_arxiv(host: JobHost, context: JobContext) -> JobOutcome:
    settings = host.settings
    if not harvesting_enabled(settings):
        return JobOutcome.skipped("harvesting disabled (PAPERFEED_HARVEST_ENABLED)")
    sets = context.params.get("sets") or ["cs"]
    checkpoints = host.storage.checkpoints
    result: dict[str, Any] = {}
    for set_spec in sets:
        start, stale = arxiv_start_day(
            checkpoints.all(), set_spec,
            now=context.now, first_days=settings.harvest_arxiv_first_days,
        )  # fmt: skip
        if stale:
            log.info("harvest-arxiv: restarting stale harvest %s", stale)
            checkpoints.clear(stale)
        log.info("harvest-arxiv: set %s from %s", set_spec, start)
        report = host.harvest_arxiv(set_spec=set_spec, from_date=start)
        result[set_spec] = {"from": start.isoformat(), **_report(report)}
    return JobOutcome("ok", result)


def run_harvest_hf(host: JobHost, context: JobContext) -> JobOutcome:
    if not harvesting_enabled(host.settings):
        return JobOutcome.skipped("harvesting disabled (PAPERFEED_HARVEST_ENABLED)")
    today = context.now.date()
    result: dict[str, Any] = {}
    # Yesterday again: its list and upvote counts keep changing after we first saw it.
    for day in (today - timedelta(days=1), today):
        report = host.harvest_hf(day)
        result[day.isoformat()] = report.inserted + report.updated
    return JobOutcome("ok", result)


def run_index_sync(host: JobHost, context: JobContext) -> JobOutcome:
    return JobOutcome("ok", summary(host.sync_search()))


def run_submissions(host: JobHost, context: JobContext) -> JobOutcome:
    limit = int(context.params.get("limit", 50))
    return JobOutcome("ok", {"fetched": host.process_submissions(limit=limit)})


def run_digest(host: JobHost, context: JobContext) -> JobOutcome:
    cadence = context.params.get("cadence", "daily")
    if cadence not in ("daily", "weekly"):
        raise ConfigError(
            f"job {context.job.name}: cadence must be daily or weekly, not {cadence!r}"
        )
    report = host.send_digests(cadence, now=context.now, worker=context.worker)
    reason = report.skipped_reason  # a weekend or holiday
    return JobOutcome(f"skipped: {reason}" if reason else "ok", summary(report))


def run_group_digest(host: JobHost, context: JobContext) -> JobOutcome:
    cadence = context.params.get("cadence", "daily")
    if cadence not in ("daily", "weekly"):
        raise ConfigError(
            f"job {context.job.name}: cadence must be daily or weekly, not {cadence!r}"
        )
    return JobOutcome("ok", summary(host.send_group_digests(cadence, now=context.now,
                                                            worker=context.worker)))  # fmt: skip


def run_alerts(host: JobHost, context: JobContext) -> JobOutcome:
    return JobOutcome("ok", summary(host.detect_alerts()))


def builtin_kinds(host: JobHost) -> dict[str, JobFunction]:
    """The job kinds by name, bound to ``host``. A row whose kind is missing here
    fails with a clear error."""
    return {
        "harvest-arxiv": partial(run_harvest_arxiv, host),
        "harvest-hf": partial(run_harvest_hf, host),
        "index-sync": partial(run_index_sync, host),
        "submissions": partial(run_submissions, host),
        "digest": partial(run_digest, host),
        "alerts": partial(run_alerts, host),
        "group-digest": partial(run_group_digest, host),
    }
