"""What every command shares: the lazily opened Library, error handling, progress bars, output.

Command modules import from here (and from the layers below); only
:mod:`paperfeed.cli.main` imports the command modules.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import wraps
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

from paperfeed.errors import InputError, PaperfeedError
from paperfeed.library import Library, open_library
from paperfeed.models import IngestReport
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


def print_ingest_report(context: Context, report: IngestReport, as_json: bool, label: str) -> None:
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
