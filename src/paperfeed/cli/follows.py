"""``paperfeed follow``, ``follows``, ``unfollow`` and ``alerts``: follows and their alerts."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from paperfeed.cli.context import Context, handle_errors, json_option, pass_context
from paperfeed.community.follows import UNCHANGED
from paperfeed.models.follows import FOLLOW_KINDS, Follow


def _what(
    author: str | None, paper: str | None, category: str | None, search: str | None
) -> tuple[str, str]:
    given = [(kind, value) for kind, value in
             (("author", author), ("paper", paper), ("category", category), ("search", search))
             if value is not None]  # fmt: skip
    if len(given) != 1:
        raise click.UsageError("give exactly one of --author, --paper, --category, --search")
    return given[0]


def _what_options(func: Any) -> Any:
    for option in reversed((
        click.option("--author", metavar="NAME", help="An author (matched like au:\"NAME\")."),
        click.option("--paper", metavar="ID", help="A paper: arXiv id or URL."),
        click.option("--category", metavar="CAT", help="An arXiv category (cs.LG) or archive (cs)."),
        click.option("--search", metavar="QUERY", help="A search query (docs/search.md syntax)."),
    )):  # fmt: skip
        func = option(func)
    return func


def _line(follow: Follow) -> str:
    extra = []
    if follow.upvote_threshold is not None:
        extra.append(f"alert at {follow.upvote_threshold} upvotes")
    if follow.kind in ("category", "search"):
        extra.append(f"top {follow.top} per run")
    if follow.muted:
        extra.append("muted")
    value = f"{follow.paper_id} ({follow.label})" if follow.kind == "paper" else follow.label
    return f"{follow.kind} {value}" + (f" [{', '.join(extra)}]" if extra else "")


@click.command()
@click.argument("username")
@_what_options
@click.option("--threshold", type=click.IntRange(1, 1_000_000),
              help="Papers: alert when its upvotes reach this.")  # fmt: skip
@click.option("--top", type=click.IntRange(1, 20),
              help="Categories and searches: new papers per alert run (default 3).")  # fmt: skip
@click.option(
    "--mute/--unmute", default=None, help="Keep the follow but stop (or restart) its alerts."
)
@json_option
@pass_context
@handle_errors
def follow(
    context: Context, username: str, author: str | None, paper: str | None,
    category: str | None, search: str | None, threshold: int | None, top: int | None,
    mute: bool | None, as_json: bool,
) -> None:  # fmt: skip
    """Follow an author, a paper, a category or a search for USERNAME (alerts on
    /alerts and in the digest). Again with options changes them."""
    kind, value = _what(author, paper, category, search)
    community = context.library().community
    user = community.user_by_username(username)
    existing = community.find_follow(user.id, kind, value)
    if existing is None:
        found = community.follow(user.id, kind, value, upvote_threshold=threshold, top=top)
        created = True
    else:
        found, created = existing, False
    options_given = threshold is not None or top is not None
    if (options_given and not created) or mute is not None:
        found = community.update_follow(
            user.id, found.id, muted=mute,
            upvote_threshold=threshold if threshold is not None else UNCHANGED,
            top=top if top is not None else UNCHANGED,
        )  # fmt: skip
    if as_json:
        context.emit_json({**found.as_dict(), "created": created})
    else:
        verb = "now follows" if created else "already follows"
        context.out.print(f"{user.username} {verb} {_line(found)}", markup=False)


@click.command()
@click.argument("username")
@click.option("--kind", type=click.Choice(FOLLOW_KINDS), help="Only follows of this kind.")
@json_option
@pass_context
@handle_errors
def follows(context: Context, username: str, kind: str | None, as_json: bool) -> None:
    """List what USERNAME follows."""
    community = context.library().community
    user = community.user_by_username(username)
    found = community.follows(user.id, kind=kind)
    if as_json:
        context.emit_json([f.as_dict() for f in found])
        return
    if not found:
        context.out.print(f"{user.username} follows nothing yet", markup=False)
        return
    table = Table(title=f"{user.username} follows")
    for column in ("id", "kind", "what", "alerts"):
        table.add_column(column, overflow="fold")
    for item in found:
        what = f"{item.paper_id}: {item.label}" if item.kind == "paper" else item.label
        if item.muted:
            state = "muted"
        elif item.upvote_threshold is not None:
            state = f"on, and at {item.upvote_threshold} upvotes"
        elif item.kind in ("category", "search"):
            state = f"on, top {item.top}"
        else:
            state = "on"
        table.add_row(str(item.id), item.kind, what, state)
    context.out.print(table)


@click.command()
@click.argument("username")
@_what_options
@click.option("--id", "follow_id", type=int, help="The follow's id (from `paperfeed follows`).")
@json_option
@pass_context
@handle_errors
def unfollow(
    context: Context, username: str, author: str | None, paper: str | None,
    category: str | None, search: str | None, follow_id: int | None, as_json: bool,
) -> None:  # fmt: skip
    """Stop following (the alerts it brought stay)."""
    community = context.library().community
    user = community.user_by_username(username)
    if follow_id is not None:
        if any(v is not None for v in (author, paper, category, search)):
            raise click.UsageError("give --id or what to unfollow, not both")
        removed = community.unfollow(user.id, follow_id)
    else:
        kind, value = _what(author, paper, category, search)
        removed = community.unfollow_value(user.id, kind, value)
    if as_json:
        context.emit_json({**removed.as_dict(), "removed": True})
    else:
        context.out.print(f"{user.username} no longer follows {_line(removed)}", markup=False)


@click.group()
def alerts() -> None:
    """Alerts from follows: new versions, code links, upvotes, new papers."""


@alerts.command("detect")
@json_option
@pass_context
@handle_errors
def alerts_detect(context: Context, as_json: bool) -> None:
    """Look for new alerts now (the `alerts` job does this every few minutes)."""
    with context.progress() as bar:
        report = context.library().detect_alerts(progress=bar)
    if as_json:
        context.emit_json({
            "changes": report.changes, "papers": report.papers, "new_papers": report.new_papers,
            "follows": report.follows, "alerts": report.alerts, "by_kind": report.by_kind,
        })  # fmt: skip
    else:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.by_kind.items()))
        context.out.print(
            f"{report.changes} changes, {report.papers} papers ({report.new_papers} new):"
            f" {report.alerts} alerts" + (f" ({kinds})" if kinds else ""),
            markup=False,
        )


@alerts.command("list")
@click.argument("username")
@click.option("--unseen", is_flag=True, help="Only alerts not yet seen on /alerts.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
@pass_context
@handle_errors
def alerts_list(context: Context, username: str, unseen: bool, limit: int, as_json: bool) -> None:
    """USERNAME's alerts, newest first."""
    community = context.library().community
    user = community.user_by_username(username)
    found = community.alerts(user.id, limit=limit, unseen=unseen)
    if as_json:
        context.emit_json([a.as_dict() for a in found])
        return
    if not found:
        context.out.print("no alerts", markup=False)
        return
    for alert in found:
        stamp = alert.created_at.isoformat().replace("+00:00", "Z")
        context.out.print(f"{stamp}  {alert.paper_id}  {alert.headline}", markup=False)
        context.out.print(f"    {alert.title[:90]}", markup=False)
        context.out.print(f"    {'; '.join(alert.reasons)}", markup=False, style="dim")
