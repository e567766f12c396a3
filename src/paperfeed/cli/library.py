"""``paperfeed init``, ``import``, ``demo``, ``harvest``, ``stats``, ``backup``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from paperfeed.cli.context import (
    Context,
    handle_errors,
    json_option,
    parse_date,
    pass_context,
    print_ingest_report,
)
from paperfeed.cli.papers import print_feed
from paperfeed.errors import InputError


@click.command()
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


@click.command("import")
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
    print_ingest_report(context, report, as_json, "imported")


@click.command()
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
    print_feed(context, feed.start, feed.papers)


@click.group()
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
    print_ingest_report(context, report, as_json, "harvested")


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
    print_ingest_report(context, report, as_json, "fetched")


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
    print_ingest_report(context, report, as_json, "fetched")


@click.command()
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


@click.command()
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_context
@handle_errors
def backup(context: Context, destination: Path, as_json: bool) -> None:
    """Copy the SQLite database to DESTINATION while the site keeps running.

    A consistent snapshot (SQLite's online backup API). To restore: stop paperfeed,
    put the copy in place of the database file, run `paperfeed index rebuild`, start
    again. PostgreSQL databases are backed up with pg_dump (docs/deployment.md).
    """
    result = context.library().backup(destination)
    if as_json:
        context.emit_json(result)
    else:
        context.out.print(f"backed up {result['bytes']:,} bytes to {result['path']}")
