"""Scheduled jobs: the scheduler's queue, kept in the database.

Every state change is one conditional ``UPDATE`` whose ``rowcount`` says whether
it applied, so several workers (threads of ``paperfeed serve``, ``paperfeed
worker`` processes, a ``paperfeed jobs run`` from a shell) coordinate through the
database alone. The claim in particular is atomic on both engines: SQLite
serialises writers (``BEGIN IMMEDIATE``), and PostgreSQL re-checks the ``WHERE``
clause of an ``UPDATE`` that waited for another transaction's row lock, so of two
workers racing for one due job exactly one sees ``rowcount == 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paperfeed.storage.base import Database, Row
from paperfeed.storage.values import instant_text, json_text, parse_instant, parse_json

_COLUMNS = (
    "name, kind, params, schedule, next_run_at, paused, locked_by, locked_until,"
    " last_started_at, last_finished_at, last_status, last_error, last_result,"
    " error_count, run_count, created_at"
)
#: Longest error message kept; tracebacks go to the log, not the table.
MAX_ERROR_CHARS = 2000


def _iso(value: datetime | None) -> str | None:
    return instant_text(value)


@dataclass(slots=True)
class Job:
    """One row of ``jobs``; instants are timezone-aware UTC."""

    name: str
    kind: str
    params: dict[str, Any]
    schedule: str
    next_run_at: datetime
    paused: bool = False
    locked_by: str | None = None
    locked_until: datetime | None = None
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_status: str = ""
    last_error: str = ""
    last_result: dict[str, Any] = field(default_factory=dict)
    error_count: int = 0
    run_count: int = 0
    created_at: datetime | None = None

    def running(self, now: datetime) -> bool:
        """True while some worker holds an unexpired lease on the job."""
        return self.locked_until is not None and self.locked_until >= now

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "params": self.params,
            "schedule": self.schedule,
            "next_run_at": _iso(self.next_run_at),
            "paused": self.paused,
            "locked_by": self.locked_by,
            "locked_until": _iso(self.locked_until),
            "last_started_at": _iso(self.last_started_at),
            "last_finished_at": _iso(self.last_finished_at),
            "last_status": self.last_status,
            "last_error": self.last_error,
            "last_result": self.last_result,
            "error_count": self.error_count,
            "run_count": self.run_count,
            "created_at": _iso(self.created_at),
        }


def job_from_row(row: Row) -> Job:
    return Job(
        name=row["name"],
        kind=row["kind"],
        params=parse_json(row["params"], {}),
        schedule=row["schedule"],
        next_run_at=parse_instant(row["next_run_at"]),  # type: ignore[arg-type]
        paused=bool(row["paused"]),
        locked_by=row["locked_by"],
        locked_until=parse_instant(row["locked_until"]),
        last_started_at=parse_instant(row["last_started_at"]),
        last_finished_at=parse_instant(row["last_finished_at"]),
        last_status=row["last_status"],
        last_error=row["last_error"],
        last_result=parse_json(row["last_result"], {}),
        error_count=int(row["error_count"]),
        run_count=int(row["run_count"]),
        created_at=parse_instant(row["created_at"]),
    )


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- definitions -----------------------------------------------------------------

    def ensure(
        self,
        name: str,
        *,
        kind: str,
        params: dict[str, Any],
        schedule: str,
        next_run_at: datetime,
        now: datetime,
    ) -> bool:
        """Create the job, or bring its definition up to date; True if anything changed.

        Idempotent, so every worker can call it at start. A changed schedule (the
        settings say "daily 05:00" now) moves ``next_run_at`` to ``next_run_at``;
        pause state, counters and a held lease are left alone.
        """
        params_text = json_text(params)
        with self.db.transaction() as tx:
            inserted = tx.execute(
                "INSERT INTO jobs (name, kind, params, schedule, next_run_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (name, kind, params_text, schedule, instant_text(next_run_at), instant_text(now)),
            )
            if inserted:
                return True
            changed = tx.execute(
                "UPDATE jobs SET kind = ?, params = ? WHERE name = ? AND (kind <> ? OR params <> ?)",
                (kind, params_text, name, kind, params_text),
            )
            changed += tx.execute(
                "UPDATE jobs SET schedule = ?, next_run_at = ? WHERE name = ? AND schedule <> ?",
                (schedule, instant_text(next_run_at), name, schedule),
            )
        return bool(changed)

    def delete(self, name: str) -> bool:
        return bool(self.db.execute("DELETE FROM jobs WHERE name = ?", (name,)))

    # -- reads -----------------------------------------------------------------------

    def get(self, name: str) -> Job | None:
        row = self.db.query_one(f"SELECT {_COLUMNS} FROM jobs WHERE name = ?", (name,))
        return job_from_row(row) if row else None

    def all(self) -> list[Job]:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM jobs ORDER BY name")
        return [job_from_row(row) for row in rows]

    def due(self, now: datetime) -> list[str]:
        """Names of jobs a worker may claim at ``now``, longest-waiting first."""
        at = instant_text(now)
        rows = self.db.query(
            "SELECT name FROM jobs WHERE paused = 0 AND next_run_at <= ?"
            " AND (locked_until IS NULL OR locked_until < ?) ORDER BY next_run_at, name",
            (at, at),
        )
        return [row["name"] for row in rows]

    def next_due_at(self) -> datetime | None:
        """When the earliest unpaused job becomes claimable (a held lease delays it)."""
        value = self.db.scalar(
            "SELECT MIN(CASE WHEN locked_until IS NOT NULL AND locked_until > next_run_at"
            " THEN locked_until ELSE next_run_at END) FROM jobs WHERE paused = 0"
        )
        return parse_instant(value)

    # -- the lease -------------------------------------------------------------------

    def claim(
        self, name: str, worker: str, *, now: datetime, lease_until: datetime, force: bool = False
    ) -> bool:
        """Take the lease on a due, unpaused, unleased job; True for exactly one claimer.

        ``force`` (a manual ``paperfeed jobs run``) skips the due and paused checks
        but never takes a job another worker is running.
        """
        at = instant_text(now)
        condition = "" if force else " AND paused = 0 AND next_run_at <= ?"
        params: list[Any] = [worker, instant_text(lease_until), at, name]
        if not force:
            params.append(at)
        params.append(at)
        return (
            self.db.execute(
                "UPDATE jobs SET locked_by = ?, locked_until = ?, last_started_at = ?"
                f" WHERE name = ?{condition} AND (locked_until IS NULL OR locked_until < ?)",
                params,
            )
            == 1
        )

    def extend_lease(self, name: str, worker: str, lease_until: datetime) -> bool:
        """Heartbeat of a long job; False if the lease was lost (expired and taken over)."""
        return (
            self.db.execute(
                "UPDATE jobs SET locked_until = ? WHERE name = ? AND locked_by = ?",
                (instant_text(lease_until), name, worker),
            )
            == 1
        )

    def finish(
        self,
        name: str,
        worker: str,
        *,
        now: datetime,
        next_run_at: datetime,
        status: str,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        """Record a run and release the lease; False if ``worker`` no longer held it.

        ``error`` set: one more consecutive failure; otherwise the count resets.
        """
        failed = error is not None
        errors_sql = "error_count + 1" if failed else "0"
        return (
            self.db.execute(
                "UPDATE jobs SET locked_by = NULL, locked_until = NULL, next_run_at = ?,"
                " last_finished_at = ?, last_status = ?, last_error = ?, last_result = ?,"
                f" error_count = {errors_sql}, run_count = run_count + 1"
                " WHERE name = ? AND locked_by = ?",
                (
                    instant_text(next_run_at),
                    instant_text(now),
                    status,
                    (error or "")[:MAX_ERROR_CHARS],
                    json_text(result or {}),
                    name,
                    worker,
                ),
            )
            == 1
        )

    def release(self, name: str, worker: str, *, now: datetime, status: str) -> bool:
        """Give the lease back without counting a run (the run was interrupted):
        ``next_run_at`` stays, so the job is due again at once."""
        return (
            self.db.execute(
                "UPDATE jobs SET locked_by = NULL, locked_until = NULL, last_finished_at = ?,"
                " last_status = ? WHERE name = ? AND locked_by = ?",
                (instant_text(now), status, name, worker),
            )
            == 1
        )

    # -- operator controls -----------------------------------------------------------

    def set_paused(self, name: str, paused: bool) -> bool:
        """Pause or resume; False if there is no such job. A running job finishes its
        current run; a paused job is never claimed by the schedule."""
        return bool(
            self.db.execute("UPDATE jobs SET paused = ? WHERE name = ?", (int(paused), name))
        )

    def set_next_run(self, name: str, at: datetime) -> bool:
        return bool(
            self.db.execute(
                "UPDATE jobs SET next_run_at = ? WHERE name = ?", (instant_text(at), name)
            )
        )
