"""``paperfeed worker`` and ``paperfeed jobs list|run|pause|resume``: scheduled work."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.table import Table

from paperfeed.cli.context import Context, handle_errors, json_option, pass_context
from paperfeed.jobs.scheduler import JobRun


def configure_worker_logging() -> None:
    """Log lines with UTC timestamps on stderr (a service manager collects them)."""
    import logging
    import time

    root = logging.getLogger("paperfeed")
    if any(getattr(h, "paperfeed_worker", False) for h in root.handlers):
        return  # already set up (several commands in one process, e.g. tests)
    handler = logging.StreamHandler(sys.stderr)
    handler.paperfeed_worker = True  # type: ignore[attr-defined]
    formatter = logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def print_runs(context: Context, runs: list[JobRun], as_json: bool) -> None:
    if as_json:
        context.emit_json([run.as_dict() for run in runs])
        return
    if not runs:
        context.out.print("no job was due")
    for run in runs:
        detail = run.error or ", ".join(f"{k}: {v}" for k, v in run.result.items())
        context.out.print(f"{run.name}: {run.status}" + (f" ({detail})" if detail else ""),
                          markup=False, highlight=False)  # fmt: skip


@click.command()
@click.option("--once", is_flag=True, help="Run the jobs due now, then exit (for cron).")
@click.option("--worker-id", help="Name in job leases and logs (default: host:pid).")
@json_option
@pass_context
@handle_errors
def worker(context: Context, once: bool, worker_id: str | None, as_json: bool) -> None:
    """Run scheduled jobs (harvests, index sync, digests) until SIGTERM or Ctrl-C.

    Any number of workers may share one database: each job runs on one of them at a
    time. Beside the jobs, the worker keeps its own host's search indexes in step
    with the database (PAPERFEED_INDEX_FOLLOW). The first SIGTERM/SIGINT stops the
    worker after its current job; a second one stops it at once (the job runs again
    later).
    """
    import signal
    import threading

    configure_worker_logging()
    library = context.library()
    scheduler = library.new_scheduler(worker_id=worker_id) if worker_id else library.scheduler
    if once:
        runs = scheduler.run_due()
        print_runs(context, runs, as_json)
        failed = [run for run in runs if run.failed]
        if failed:
            sys.exit(failed[0].exit_code)
        return
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # the second signal: stop now
        click.echo(f"{signal.Signals(signum).name}: stopping after the current job", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # This host's search indexes (digests search them) follow the change log too.
    follower = library.follow_search() if library.settings.index_follow else None
    try:
        scheduler.run_forever(stop)
    finally:
        if follower is not None:
            follower.stop()


@click.group()
def jobs() -> None:
    """List, run, pause and resume scheduled jobs."""


@jobs.command("list")
@json_option
@pass_context
@handle_errors
def jobs_list(context: Context, as_json: bool) -> None:
    """Every job with its schedule (UTC), next run and last outcome."""
    found = context.library().scheduler.jobs()
    if as_json:
        context.emit_json([job.as_dict() for job in found])
        return
    from paperfeed.models import utc_now

    now = utc_now()
    table = Table(title="paperfeed jobs (times UTC)")
    table.add_column("name", no_wrap=True)
    for column in ("schedule", "next run", "state", "last run", "errors", "runs"):
        table.add_column(column)
    for job in found:
        state = "paused" if job.paused else ""
        if job.running(now):
            state = f"running on {job.locked_by}"
        last = job.last_status + (f": {job.last_error}" if job.last_error else "")
        table.add_row(
            job.name, job.schedule, f"{job.next_run_at:%Y-%m-%d %H:%M}", state,
            last, str(job.error_count), str(job.run_count),
        )  # fmt: skip
    context.out.print(table)


@jobs.command("run")
@click.argument("name")
@json_option
@pass_context
@handle_errors
def jobs_run(context: Context, name: str, as_json: bool) -> None:
    """Run job NAME now, as the scheduler would (the same code and bookkeeping)."""
    configure_worker_logging()
    run = context.library().scheduler.run_job(name)
    print_runs(context, [run], as_json)
    if run.failed:
        sys.exit(run.exit_code)


@jobs.command("pause")
@click.argument("name")
@json_option
@pass_context
@handle_errors
def jobs_pause(context: Context, name: str, as_json: bool) -> None:
    """Stop running job NAME on its schedule (a run in progress finishes)."""
    job = context.library().scheduler.pause(name)
    if as_json:
        context.emit_json(job.as_dict())
    else:
        context.out.print(f"paused {job.name}")


@jobs.command("resume")
@click.argument("name")
@json_option
@pass_context
@handle_errors
def jobs_resume(context: Context, name: str, as_json: bool) -> None:
    """Run job NAME on its schedule again (at once if a run fell due while paused)."""
    job = context.library().scheduler.resume(name)
    if as_json:
        context.emit_json(job.as_dict())
    else:
        context.out.print(f"resumed {job.name}; next run {job.next_run_at:%Y-%m-%d %H:%M} UTC")
