"""``paperfeed papers list|show``: stored papers."""

from __future__ import annotations

from datetime import date

import click
from rich.table import Table

from paperfeed.cli.context import Context, handle_errors, json_option, parse_date, pass_context
from paperfeed.models import Paper


@click.group()
def papers() -> None:
    """List and show stored papers."""


def print_feed(context: Context, day: date | None, items: list[Paper]) -> None:
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
        print_feed(context, day, items)


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
