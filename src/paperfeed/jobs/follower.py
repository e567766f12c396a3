"""Keeping this node's derived indexes in step with the database: a loop in every
process that has a data dir (``paperfeed serve``, ``paperfeed worker``).

The job queue (:mod:`paperfeed.jobs.scheduler`) runs each job once for the whole
installation, on whichever worker claims it. That is right for work whose result
lives in the database (harvests, embedding new papers, digests) and wrong for the
search indexes: every node keeps its own copies under its data dir, so every node
must apply the change log itself, or a web node would only ever see the papers
of the day it was started. Hence this loop, beside the scheduler: it calls the
library's local sync (no embedding, no network) once at start, which builds the
indexes of a node started with an empty data dir, and then every
``index_follow_seconds``. Several processes on one data dir (``serve --workers
2``) share the work through the indexes' own locks: one applies, the others
skip and reload.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("paperfeed.index")


def _applied(report: Mapping[str, Any]) -> bool:
    """Whether a sync report says anything changed (worth a log line)."""
    keyword = report.get("keyword") or {}
    vectors = report.get("vectors") or {}
    return bool(
        keyword.get("applied") or keyword.get("rebuilt")
        or vectors.get("applied") or vectors.get("rebuilt") or vectors.get("embedded")
    )  # fmt: skip


class IndexFollower:
    """Runs ``sync`` in a daemon thread now and then every ``interval`` seconds."""

    def __init__(
        self,
        sync: Callable[[], Mapping[str, Any]],
        interval: float,
        *,
        name: str = "paperfeed-index-follower",
    ) -> None:
        self._sync = sync
        self.interval = interval
        self.stop_event = threading.Event()
        self.runs = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> IndexFollower:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def run_once(self) -> Mapping[str, Any] | None:
        """One sync; never raises (a database hiccup is retried at the next interval)."""
        began = time.monotonic()
        try:
            report = self._sync()
        except Exception:
            log.exception("index sync failed; retrying in %.0f s", self.interval)
            return None
        finally:
            self.runs += 1
        if _applied(report):
            log.info("indexes updated in %.1f s: %s", time.monotonic() - began, dict(report))
        return report

    def _run(self) -> None:
        while not self.stop_event.is_set():
            self.run_once()
            self.stop_event.wait(self.interval)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop after the sync in progress; True if the thread ended within ``timeout``
        (else it is a daemon and ends with the process; the next start catches up)."""
        self.stop_event.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()
