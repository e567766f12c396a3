"""``paperfeed search``, ``related``, ``index sync|rebuild|status`` and ``embed``."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from paperfeed.cli.context import Context, handle_errors, json_option, parse_date, pass_context
from paperfeed.search.models import SEARCH_MODES, SEARCH_SORTS, SearchFilters, SearchHit
from paperfeed.search.service import MAX_LIMIT, RELATED_METHODS


def _hit_dict(hit: SearchHit) -> dict[str, Any]:
    return {"score": hit.score, "ranks": dict(hit.ranks), **hit.paper.as_dict()}


def _hits_table(title: str, hits: list[SearchHit]) -> Table:
    table = Table(title=title)
    table.add_column("#", justify="right")
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("title")
    table.add_column("day", no_wrap=True)
    table.add_column("▲", justify="right")
    table.add_column("why", no_wrap=True)
    for position, hit in enumerate(hits, start=1):
        why = " ".join(f"{branch}#{rank}" for branch, rank in hit.ranks.items())
        table.add_row(
            str(position), hit.paper.id, hit.paper.display_title,
            str(hit.paper.feed_date or ""), str(hit.paper.upvotes), why,
        )  # fmt: skip
    return table


@click.command()
@click.argument("query")
@click.option("--mode", type=click.Choice(SEARCH_MODES), default="hybrid", show_default=True)
@click.option("--sort", type=click.Choice(SEARCH_SORTS), default="relevance",
              show_default=True)  # fmt: skip
@click.option("--from", "from_text", help="Feed days from YYYY-MM-DD.")
@click.option("--to", "to_text", help="Feed days up to YYYY-MM-DD.")
@click.option("--category", help="arXiv category, e.g. cs.LG (cs.* for a prefix).")
@click.option("--has-code/--no-code", "has_code", default=None,
              help="Only papers with (or without) a code link.")  # fmt: skip
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@json_option
@pass_context
@handle_errors
def search(
    context: Context, query: str, mode: str, sort: str, from_text: str | None,
    to_text: str | None, category: str | None, has_code: bool | None, limit: int,
    offset: int, as_json: bool,
) -> None:  # fmt: skip
    """Search papers: words, "phrases", AND/OR/NOT, -word, prefix*, ti: au: abs: cat: id:."""
    filters = SearchFilters(
        date_from=parse_date(from_text, "--from"), date_to=parse_date(to_text, "--to"),
        category=category, has_code=has_code,
    )  # fmt: skip
    results = context.library().search(
        query, mode=mode, filters=filters, sort=sort, limit=limit, offset=offset,  # type: ignore[arg-type]
    )  # fmt: skip
    if as_json:
        context.emit_json({
            "query": results.query, "mode_requested": results.mode_requested,
            "mode_used": results.mode_used, "sort": results.sort, "total": results.total,
            "offset": results.offset, "limit": results.limit, "notice": results.notice,
            "took_ms": round(results.took_ms, 2),
            "hits": [_hit_dict(hit) for hit in results.hits],
        })  # fmt: skip
        return
    if results.notice:
        context.err.print(results.notice, markup=False, highlight=False)
    title = f"{results.total} results ({results.mode_used}, {results.took_ms:.0f} ms)"
    context.out.print(_hits_table(title, results.hits))


@click.command()
@click.argument("paper_id")
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=10, show_default=True)
@click.option("--method", type=click.Choice(RELATED_METHODS), default=None,
              help="vector, lexical or hybrid (their fusion, the default).")  # fmt: skip
@json_option
@pass_context
@handle_errors
def related(context: Context, paper_id: str, limit: int, method: str | None, as_json: bool) -> None:
    """Papers related to PAPER_ID (the paper itself and its copies left out)."""
    library = context.library()
    paper = library.paper(paper_id)
    hits = library.related(paper.id, limit=limit, method=method)  # type: ignore[arg-type]
    if as_json:
        context.emit_json({"paper": paper.id, "hits": [_hit_dict(hit) for hit in hits]})
        return
    context.out.print(_hits_table(f"Related to {paper.id}: {paper.display_title}", hits))


@click.group()
def index() -> None:
    """The search indexes: caches of the database, kept in sync from its change log."""


@index.command("sync")
@click.option("--embed/--no-embed", default=True, show_default=True,
              help="Also embed new and changed papers.")  # fmt: skip
@click.option("--bulk", is_flag=True, help="Embed with the fast static model.")
@json_option
@pass_context
@handle_errors
def index_sync(context: Context, embed: bool, bulk: bool, as_json: bool) -> None:
    """Apply the database's changes since the last sync."""
    with context.progress(not as_json) as bar:
        report = context.library().sync_search(bar, embed="bulk" if bulk else embed)
    _print_index_report(context, report, as_json)


@index.command("rebuild")
@json_option
@pass_context
@handle_errors
def index_rebuild(context: Context, as_json: bool) -> None:
    """Rebuild the keyword index and the ANN files from the database (no re-embedding)."""
    with context.progress(not as_json) as bar:
        report = context.library().rebuild_search(bar)
    _print_index_report(context, report, as_json)


@index.command("status")
@json_option
@pass_context
@handle_errors
def index_status(context: Context, as_json: bool) -> None:
    """What the indexes hold and how far behind the database they are."""
    _print_index_report(context, context.library().search_status(), as_json)


def _print_index_report(context: Context, report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        context.emit_json(report)
        return
    for part, values in report.items():
        table = Table(title=f"{part} index", show_header=False)
        for key, value in (values or {}).items():
            table.add_row(str(key), str(value))
        context.out.print(table)


@click.command()
@click.argument("queries", nargs=-1, required=True)
@click.option("--per", "granularity", type=click.Choice(["auto", "week", "month"]),
              default="auto", show_default=True, help="Count per week or per month.")  # fmt: skip
@click.option("--share", is_flag=True, help="Also show each period's share of all papers.")
@click.option("--category", help="Only papers in this category (cs.* for a prefix).")
@click.option("--from", "from_text", help="Feed days from YYYY-MM-DD.")
@click.option("--to", "to_text", help="Feed days up to YYYY-MM-DD.")
@json_option
@pass_context
@handle_errors
def trend(
    context: Context, queries: tuple[str, ...], granularity: str, share: bool,
    category: str | None, from_text: str | None, to_text: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Papers matching up to four searches per week or month (keyword matches, the
    query language of `paperfeed search`), e.g. paperfeed trend diffusion '"flow matching"'."""
    filters = SearchFilters(
        date_from=parse_date(from_text, "--from"), date_to=parse_date(to_text, "--to"),
        category=category,
    )  # fmt: skip
    result = context.library().trend(list(queries), granularity=granularity, filters=filters)  # type: ignore[arg-type]
    if as_json:
        context.emit_json(result.as_dict())
        return
    table = Table(title=f"Papers per {result.granularity}")
    table.add_column(result.granularity, no_wrap=True)
    for line in result.series:
        table.add_column(line.query, justify="right")
    table.add_column("all papers", justify="right")
    for i, period in enumerate(result.periods):
        cells = [
            f"{line.counts[i]}" + (f" ({line.shares[i] * 100:.1f}%)" if share else "")
            for line in result.series
        ]
        table.add_row(period.label, *cells, str(result.totals[i]))
    context.out.print(table)


@click.command()
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
