"""Fixtures for the scheduler tests: a settable clock and schedulers over ``library``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paperfeed.jobs.schedule import JobContext, JobFunction, JobOutcome
from paperfeed.jobs.scheduler import Scheduler
from paperfeed.library import Library
from paperfeed.models import PaperRecord, SourceFacts

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC


class Clock:
    """A clock the test moves by hand, so nothing depends on how fast the machine is."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class Flaky:
    """A job kind that fails while ``failing`` is set (a source being down)."""

    def __init__(self) -> None:
        self.failing = True
        self.calls = 0

    def __call__(self, context: JobContext) -> JobOutcome:
        self.calls += 1
        if self.failing:
            raise RuntimeError("source unreachable")
        return JobOutcome("ok", {"call": self.calls})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flaky() -> Flaky:
    return Flaky()


def make_scheduler(
    library: Library, clock: Clock, worker: str = "w1", **kinds: JobFunction
) -> Scheduler:
    """A scheduler with the built-in job kinds plus ``kinds``, jitter fixed at its middle."""
    return library.new_scheduler(
        worker_id=worker, extra_kinds=kinds, clock=clock, jitter=lambda: 0.5
    )


def paper(number: int, day: datetime) -> PaperRecord:
    """An arXiv record listed on ``day``'s feed."""
    arxiv_id = f"2603.{number:05d}"
    return PaperRecord(
        source="arxiv", arxiv_id=arxiv_id, version=1,
        title=f"Paper {number}: scaling diffusion transformers",
        abstract="We study how diffusion transformers scale with data and compute.",
        authors=["Ada Lovelace", "Alan Turing"], categories=["cs.LG"],
        published_at=day - timedelta(days=1), updated_at=day - timedelta(days=1),
        listed_on=day.date(), abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        facts=SourceFacts(source="arxiv", external_id=arxiv_id),
    )  # fmt: skip
