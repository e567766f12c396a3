"""What the scheduler runs and when: schedules, job definitions, a run's context and outcome.

Nothing here knows what a job does: the job kinds (functions of a
:class:`JobContext`) are handed to the :class:`~paperfeed.jobs.scheduler.Scheduler`
by whoever builds it (the Library wires :mod:`paperfeed.jobs.builtin`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Literal

from paperfeed.errors import InputError
from paperfeed.storage.jobs import Job

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SCHEDULE = re.compile(
    r"^(?:every (?P<seconds>[1-9][0-9]*)s"
    r"|daily (?P<daily>[0-2][0-9]:[0-5][0-9])"
    r"|weekly (?P<weekday>[a-z]+) (?P<weekly>[0-2][0-9]:[0-5][0-9]))$"
)


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


@dataclass(slots=True)
class JobContext:
    """What a job's code gets: its own row (``params``), the run's clock and worker id.

    A job kind reaches the rest of paperfeed through what it was built with (see
    :func:`paperfeed.jobs.builtin.builtin_kinds`), never through the scheduler.
    """

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
