"""``paperfeed`` command line: parse, call the Library, print.

Every command takes ``--json`` for machine-readable output. Errors print one line
to stderr and exit non-zero (exit codes in ``paperfeed.errors``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from paperfeed.errors import InputError, PaperfeedError
from paperfeed.library import Library, open_library
from paperfeed.models import IngestReport, Paper
from paperfeed.settings import load_settings

F = TypeVar("F", bound=Callable[..., Any])


class RichProgress:
    """:class:`paperfeed.progress.Progress` drawn as a rich bar on stderr."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: Any = None

    def start(self, description: str, total: int | None = None) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(description, total=total)
        else:
            self._progress.update(self._task, description=description, total=total)

    def advance(self, amount: int = 1, *, total: int | None = None) -> None:
        if self._task is not None:
            if total is not None:
                self._progress.update(self._task, total=total)
            self._progress.advance(self._task, amount)

    def finish(self) -> None:
        return None

    def close(self) -> None:
        if self._task is not None:
            self._progress.stop()


class Context:
    """What every command needs: settings overrides and lazily opened library."""

    def __init__(self, config: str | None, overrides: dict[str, Any]) -> None:
        self.config = config
        self.overrides = overrides
        self.out = Console()
        self.err = Console(stderr=True)
        self._library: Library | None = None

    def library(self) -> Library:
        if self._library is None:
            self._library = open_library(load_settings(self.config, **self.overrides))
        return self._library

    def close(self) -> None:
        if self._library is not None:
            self._library.close()

    @contextmanager
    def progress(self, enabled: bool = True) -> Iterator[RichProgress | None]:
        if not enabled or not self.err.is_terminal:
            yield None
            return
        bar = RichProgress(self.err)
        try:
            yield bar
        finally:
            bar.close()

    def emit_json(self, data: Any) -> None:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def handle_errors(func: F) -> F:
    """Turn our errors into one line on stderr and the error's exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PaperfeedError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted; committed work is kept and the next run resumes", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option}: invalid date {value!r}, expected YYYY-MM-DD") from None


pass_context = click.make_pass_decorator(Context)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
@click.option("--config", type=click.Path(dir_okay=False), help="TOML settings file.")
@click.option(
    "--database-url", help="sqlite:///file.db or postgresql://... (PAPERFEED_DATABASE_URL)"
)
@click.option(
    "--data-dir", type=click.Path(file_okay=False), help="Data directory (PAPERFEED_DATA_DIR)"
)
@click.version_option(package_name="paperfeed")
@click.pass_context
def main(
    ctx: click.Context, config: str | None, database_url: str | None, data_dir: str | None
) -> None:
    """paperfeed: a self-hosted daily papers service."""
    overrides = {"database_url": database_url, "data_dir": data_dir}
    ctx.obj = Context(config, overrides)
    ctx.call_on_close(ctx.obj.close)


@main.command()
@json_option
@pass_context
@handle_errors
def init(context: Context, as_json: bool) -> None:
    """Create the data directory and database schema."""
    result = context.library().init()
    if as_json:
        context.emit_json(result)
    else:
        context.out.print(
            f"paperfeed ready: {result['database']} schema v{result['schema_version']}"
            f" in {result['data_dir']}"
        )


def _print_report(context: Context, report: IngestReport, as_json: bool, label: str) -> None:
    data = {
        "seen": report.seen, "inserted": report.inserted, "updated": report.updated,
        "unchanged": report.unchanged, "skipped": report.skipped,
    }  # fmt: skip
    if as_json:
        context.emit_json(data)
    else:
        context.out.print(
            f"{label}: {report.seen} records, {report.inserted} new, {report.updated} updated,"
            f" {report.unchanged} unchanged, {report.skipped} skipped"
        )


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "file_format", help="Input format (default: detected from content).")
@click.option("--embed/--no-embed", default=True, show_default=True,
              help="Embed the new papers for semantic search (else: `paperfeed index sync`).")  # fmt: skip
@click.option("--bulk", is_flag=True, help="Embed with the fast static model (all of arXiv).")
@json_option
@pass_context
@handle_errors
def import_command(
    context: Context, paths: tuple[Path, ...], file_format: str | None, embed: bool, bulk: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Import papers from files (JSONL/CSV/BibTeX, HF JSON or page text, OAI-PMH/Atom XML)."""
    with context.progress(not as_json) as bar:
        report = context.library().import_files(
            list(paths), format=file_format, progress=bar, embed="bulk" if bulk else embed
        )
    _print_report(context, report, as_json, "imported")


@main.command()
@json_option
@pass_context
@handle_errors
def demo(context: Context, as_json: bool) -> None:
    """Load the bundled demo corpus and show its latest daily feed."""
    library = context.library()
    library.init()
    report = library.import_demo()
    feed = library.feed("day", limit=100)
    if as_json:
        context.emit_json({
            "new": report.inserted, "papers_stored": library.stats()["papers"],
            "day": feed.start, "papers": [p.as_dict() for p in feed.papers],
        })  # fmt: skip
        return
    stored = library.stats()["papers"]
    context.out.print(f"demo corpus: {stored} papers stored ({report.inserted} new)")
    _print_feed(context, feed.start, feed.papers)


@main.command()
@click.option("--host", help="Interface to listen on (PAPERFEED_HOST, default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (PAPERFEED_PORT, default 8000).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (one per CPU core for the most requests per second).")  # fmt: skip
@click.option("--demo", "with_demo", is_flag=True,
              help="Import the bundled demo corpus first (same as `paperfeed demo`).")  # fmt: skip
@click.option("--access-log/--no-access-log", default=True, show_default=True)
@pass_context
@handle_errors
def serve(
    context: Context,
    host: str | None,
    port: int | None,
    workers: int,
    with_demo: bool,
    access_log: bool,
) -> None:
    """Run the web app: daily/weekly/monthly/trending pages, search, accounts, JSON API."""
    from paperfeed.web.server import serve as run_server

    configured = load_settings(context.config, **context.overrides)
    host = host or configured.host
    port = configured.port if port is None else port
    if "base_url" not in configured.model_fields_set:
        # Links in mails, feeds and the API must point where this server listens.
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        context.overrides["base_url"] = f"http://{shown_host}:{port}"
    library = context.library()
    library.init()
    settings = library.settings
    if with_demo:
        report = library.import_demo()
        context.err.print(f"demo corpus: {report.inserted} new, {report.unchanged} already stored")
    context.err.print(f"paperfeed serving on http://{host}:{port}/ (Ctrl-C stops)")
    run_server(
        library, settings, host=host, port=port, workers=workers,
        access_log=access_log, config_file=context.config,
    )  # fmt: skip


@main.group()
def harvest() -> None:
    """Fetch papers from remote sources (resumable)."""


@harvest.command("arxiv")
@click.option(
    "--set",
    "set_spec",
    default="cs",
    show_default=True,
    help="OAI-PMH set, e.g. cs, math, physics:hep-th.",
)
@click.option("--from", "from_text", help="Harvest records changed on or after YYYY-MM-DD.")
@click.option("--until", "until_text", help="... and on or before YYYY-MM-DD.")
@click.option(
    "--format",
    "metadata_prefix",
    type=click.Choice(["arXiv", "arXivRaw"]),
    default="arXiv",
    show_default=True,
)
@json_option
@pass_context
@handle_errors
def harvest_arxiv(
    context: Context,
    set_spec: str,
    from_text: str | None,
    until_text: str | None,
    metadata_prefix: str,
    as_json: bool,
) -> None:
    """Bulk harvest arXiv over OAI-PMH."""
    from_date = parse_date(from_text, "--from")
    until_date = parse_date(until_text, "--until")
    with context.progress(not as_json) as bar:
        report = context.library().harvest_arxiv(
            set_spec=set_spec, from_date=from_date, until_date=until_date,
            metadata_prefix=metadata_prefix, progress=bar,
        )  # fmt: skip
    _print_report(context, report, as_json, "harvested")


@harvest.command("arxiv-query")
@click.option(
    "--query", "search_query", help="arXiv search_query, e.g. 'ti:\"diffusion\" AND cat:cs.LG'."
)
@click.option("--id", "ids", multiple=True, help="arXiv id (repeatable).")
@click.option("--max", "max_results", type=int, default=100, show_default=True)
@json_option
@pass_context
@handle_errors
def harvest_arxiv_query(
    context: Context,
    search_query: str | None,
    ids: tuple[str, ...],
    max_results: int,
    as_json: bool,
) -> None:
    """Fetch papers through the arXiv query API."""
    if not search_query and not ids:
        raise InputError("give --query or at least one --id")
    with context.progress(not as_json) as bar:
        report = context.library().harvest_arxiv_query(
            search_query=search_query, id_list=ids, max_results=max_results, progress=bar
        )
    _print_report(context, report, as_json, "fetched")


@harvest.command("hf")
@click.option("--date", "date_text", required=True, help="Featured day, YYYY-MM-DD.")
@json_option
@pass_context
@handle_errors
def harvest_hf(context: Context, date_text: str, as_json: bool) -> None:
    """Fetch one day of Hugging Face daily papers."""
    day = parse_date(date_text, "--date")
    assert day is not None
    with context.progress(not as_json) as bar:
        report = context.library().harvest_hf(day, progress=bar)
    _print_report(context, report, as_json, "fetched")


@main.group()
def papers() -> None:
    """List and show stored papers."""


def _print_feed(context: Context, day: date | None, items: list[Paper]) -> None:
    table = Table(title=f"Daily papers {day or ''}".strip(), show_lines=False)
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("title")
    table.add_column("authors", justify="right")
    table.add_column("▲", justify="right")
    table.add_column("day", no_wrap=True)
    for paper in items:
        table.add_row(
            paper.id, paper.display_title, str(paper.author_count or ""),
            str(paper.upvotes), str(paper.feed_date or ""),
        )  # fmt: skip
    context.out.print(table)


@papers.command("list")
@click.option("--date", "date_text", help="Only this feed day (YYYY-MM-DD).")
@click.option("--from", "from_text", help="Feed days from YYYY-MM-DD.")
@click.option("--to", "to_text", help="Feed days up to YYYY-MM-DD.")
@click.option("--category", help="arXiv category, e.g. cs.LG.")
@click.option(
    "--sort",
    type=click.Choice(["feed", "published", "upvotes", "updated"]),
    default="feed",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@json_option
@pass_context
@handle_errors
def papers_list(
    context: Context,
    date_text: str | None,
    from_text: str | None,
    to_text: str | None,
    category: str | None,
    sort: str,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List papers, newest feed day first."""
    day = parse_date(date_text, "--date")
    day_from = day or parse_date(from_text, "--from")
    day_to = day or parse_date(to_text, "--to")
    items = context.library().papers(
        day_from=day_from, day_to=day_to, category=category,
        sort=sort, limit=limit, offset=offset,  # type: ignore[arg-type]
    )  # fmt: skip
    if as_json:
        context.emit_json([paper.as_dict() for paper in items])
    else:
        _print_feed(context, day, items)


@papers.command("show")
@click.argument("paper_id")
@json_option
@pass_context
@handle_errors
def papers_show(context: Context, paper_id: str, as_json: bool) -> None:
    """Show one paper (arXiv id, URL or paperfeed id)."""
    paper = context.library().paper(paper_id)
    if as_json:
        context.emit_json(paper.as_dict())
        return
    out = context.out
    out.print(f"[bold]{paper.display_title}[/bold]")
    out.print(", ".join(paper.authors) or f"{paper.author_count} authors", style="italic")
    facts = [f"id {paper.id}"]
    if paper.version:
        facts.append(f"v{paper.version}")
    if paper.published_at:
        facts.append(f"published {paper.published_at.date()}")
    if paper.feed_date:
        facts.append(f"feed day {paper.feed_date}")
    if paper.categories:
        facts.append(" ".join(paper.categories))
    facts.append(f"▲ {paper.upvotes}")
    out.print(" · ".join(facts))
    out.print()
    out.print(paper.abstract, markup=False, highlight=False)
    out.print()
    for label, url in (
        ("abs", paper.abs_url),
        ("pdf", paper.pdf_url),
        ("code", paper.code_url),
        ("project", paper.project_url),
    ):
        if url:
            out.print(f"{label}: {url}", markup=False)


@main.command()
@json_option
@pass_context
@handle_errors
def stats(context: Context, as_json: bool) -> None:
    """Counts of stored papers by source, date range, database size."""
    data = context.library().stats()
    if as_json:
        context.emit_json(data)
        return
    table = Table(title="paperfeed stats", show_header=False)
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        table.add_row(key, str(value))
    context.out.print(table)


@main.group()
def users() -> None:
    """Manage accounts (the first web sign-up becomes an admin too)."""


@users.command("create")
@click.argument("username")
@click.option("--email", required=True, help="The user's e-mail address.")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@json_option
@pass_context
@handle_errors
def users_create(
    context: Context, username: str, email: str, admin: bool, password_stdin: bool, as_json: bool
) -> None:
    """Create an account; asks for the password twice unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("--password-stdin: no password on stdin")
    else:
        # Never an option value: it would end up in shell history and `ps`.
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    user = context.library().community.create_user(username, email, password, admin=admin)
    if as_json:
        context.emit_json(user.as_dict())
    else:
        role = "admin" if user.is_admin else "user"
        context.out.print(f"created {role} {user.username} <{user.email}>", markup=False)


@users.command("token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for (shown on /account).")
@json_option
@pass_context
@handle_errors
def users_token(context: Context, username: str, name: str, as_json: bool) -> None:
    """Create a JSON API token for USERNAME (printed once; revoke it on /account)."""
    community = context.library().community
    user = community.user_by_username(username)
    token = community.create_api_token(user.id, name)
    if as_json:
        context.emit_json({"username": user.username, "name": name.strip(), "token": token})
    else:
        # Only the token on stdout, so `TOKEN=$(paperfeed users token ...)` works.
        click.echo(token)


@users.command("list")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@json_option
@pass_context
@handle_errors
def users_list(context: Context, limit: int, as_json: bool) -> None:
    """List accounts, oldest first."""
    found = context.library().community.users(limit=limit)
    if as_json:
        context.emit_json([user.as_dict() for user in found])
        return
    table = Table(title="paperfeed users")
    for column in ("id", "username", "email", "admin", "created"):
        table.add_column(column)
    for user in found:
        table.add_row(
            str(user.id), user.username, user.email, "yes" if user.is_admin else "",
            user.created_at.isoformat().replace("+00:00", "Z"),
        )  # fmt: skip
    context.out.print(table)


# -- scheduler: `paperfeed worker` and `paperfeed jobs` ---------------------------------------


def _configure_worker_logging() -> None:
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


def _print_runs(context: Context, runs: list[Any], as_json: bool) -> None:
    if as_json:
        context.emit_json([run.as_dict() for run in runs])
        return
    if not runs:
        context.out.print("no job was due")
    for run in runs:
        detail = run.error or ", ".join(f"{k}: {v}" for k, v in run.result.items())
        context.out.print(f"{run.name}: {run.status}" + (f" ({detail})" if detail else ""),
                          markup=False, highlight=False)  # fmt: skip


@main.command()
@click.option("--once", is_flag=True, help="Run the jobs due now, then exit (for cron).")
@click.option("--worker-id", help="Name in job leases and logs (default: host:pid).")
@json_option
@pass_context
@handle_errors
def worker(context: Context, once: bool, worker_id: str | None, as_json: bool) -> None:
    """Run scheduled jobs (harvests, index sync, digests) until SIGTERM or Ctrl-C.

    Any number of workers may share one database: each job runs on one of them at a
    time. The first SIGTERM/SIGINT stops the worker after its current job; a
    second one stops it at once (the job runs again later).
    """
    import signal
    import threading

    from paperfeed.ingest.scheduler import Scheduler

    _configure_worker_logging()
    library = context.library()
    scheduler = Scheduler(library, worker_id=worker_id) if worker_id else library.scheduler
    if once:
        runs = scheduler.run_due()
        _print_runs(context, runs, as_json)
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
    scheduler.run_forever(stop)


@main.group()
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
    _configure_worker_logging()
    run = context.library().scheduler.run_job(name)
    _print_runs(context, [run], as_json)
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


@main.command()
@click.option("--bulk", is_flag=True,
              help="Use the fast static model distilled from the default one (all of arXiv).")  # fmt: skip
@click.option("--rebuild", is_flag=True, help="Re-embed every paper, even current ones.")
@json_option
@pass_context
@handle_errors
def embed(context: Context, bulk: bool, rebuild: bool, as_json: bool) -> None:
    """Embed papers for semantic search (only new, changed or other-model ones).

    Without --bulk this uses the default model (all-MiniLM-L6-v2), upgrading any
    vectors a bulk import made. Interrupted runs resume where they stopped.
    """
    with context.progress(not as_json) as bar:
        report = context.library().embed(bulk=bulk, rebuild=rebuild, progress=bar)
    if as_json:
        context.emit_json(report)
        return
    index = report["index"]
    context.out.print(
        f"embedded {report['embedded']} papers; the index holds {index['papers']}"
        f" papers from {report['model_id']}",
        markup=False, highlight=False,
    )  # fmt: skip


def _add_digest_commands() -> None:
    """``digest``, ``subscribe``, ``subscribers`` (defined in ``paperfeed.digest.commands``)."""
    from paperfeed.digest.commands import register

    register(main)


_add_digest_commands()


def _add_search_commands() -> None:
    """``search``, ``related``, ``index`` (defined in ``paperfeed.search.commands``)."""
    from paperfeed.search.commands import register

    register(main)


_add_search_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
