"""``paperfeed digest``, ``subscribe`` and ``subscribers list``: e-mail digests."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from paperfeed.cli.context import Context, handle_errors, json_option, parse_date, pass_context
from paperfeed.models.digest import CADENCES, Digest


def _print_digest(out: Any, digest: Digest) -> None:
    window = f"{digest.window_from} to {digest.window_to}"
    if digest.is_empty:
        out.print(f"{digest.subscriber.email}: nothing new ({window})", markup=False)
        return
    out.print(
        f"{digest.subscriber.email}: {len(digest.alerts)} alerts, {len(digest.items)} papers"
        f" ({window})",
        markup=False, style="bold",
    )  # fmt: skip
    for alert in digest.alerts:
        out.print(f"  alert  {alert.paper_id}  {alert.headline[:90]}", markup=False)
    for item in digest.items:
        out.print(f"  {item.paper.id}  {item.paper.display_title[:90]}", markup=False)
        out.print(f"      {'; '.join(item.reasons)}", markup=False, style="dim")


@click.command()
@click.option("--send", is_flag=True, help="Send the due digests now.")
@click.option("--dry-run", is_flag=True, help="Show what each due subscriber would get.")
@click.option("--cadence", type=click.Choice(CADENCES), default="daily", show_default=True)
@click.option("--date", "date_text", help="Act as on this day (YYYY-MM-DD, UTC).")
@click.option("--any-day", is_flag=True,
              help="Send even on a weekend or holiday (PAPERFEED_DIGEST_SKIP_WEEKENDS).")  # fmt: skip
@click.option("--worker-id", default="", help="Name in the send log (default host:pid).")
@click.option("--groups", is_flag=True, help="Send the groups' digests instead (with --send).")
@json_option
@pass_context
@handle_errors
def digest(
    context: Context, send: bool, dry_run: bool, cadence: str, date_text: str | None,
    any_day: bool, worker_id: str, groups: bool, as_json: bool,
) -> None:  # fmt: skip
    """Compose e-mail digests; with --send, send the due ones (each exactly once).
    Alerts of followed things are looked for first: they lead the digests."""
    if send == dry_run:
        raise click.UsageError("give exactly one of --send and --dry-run")
    if groups and not send:
        raise click.UsageError("--groups goes with --send")
    library = context.library()
    delivery = library.delivery
    day = parse_date(date_text, "--date")
    now = datetime.now(UTC).replace(microsecond=0)
    if day is not None:
        now = datetime.combine(day, now.time() if day == now.date() else time(12), UTC)
    if dry_run:
        digests = delivery.preview(cadence, now=now)
        if as_json:
            context.emit_json([d.as_dict() for d in digests])
            return
        reason = delivery.skip_reason(cadence, now.date())  # type: ignore[arg-type]
        if reason:
            context.err.print(f"note: --send would send nothing: {reason}", markup=False)
        if not digests:
            context.out.print(f"no {cadence} digest is due")
        for found in digests:
            _print_digest(context.out, found)
        return
    if groups:
        report = library.send_group_digests(cadence, now=now, worker=worker_id)  # type: ignore[arg-type]
    else:
        report = library.send_digests(cadence, now=now, worker=worker_id, skip_days=not any_day)  # type: ignore[arg-type]
    if as_json:
        context.emit_json(report.as_dict())
        return
    if report.skipped_reason:
        context.out.print(
            f"no digests sent: {report.skipped_reason}; --any-day sends anyway",
            markup=False,
        )
        return
    context.out.print(
        f"{cadence} {'group ' if groups else ''}digests for {report.period_key}: {report.sent} sent,"
        f" {report.empty} with nothing new, {report.failed} failed,"
        f" {report.deferred} deferred, {report.resumed} resumed from an earlier run,"
        f" {report.elsewhere} sent by another worker"
    )
    if report.uncertain:
        context.out.print(
            f"note: {report.uncertain} resumed digest(s) had been handed to the mail server"
            " when the earlier run stopped; sent again with the same Message-ID, the reader"
            " may see them twice",
            markup=False,
        )


@click.command()
@click.argument("email")
@click.option("--cadence", type=click.Choice(CADENCES), default="daily", show_default=True)
@click.option("--topic", "topics", multiple=True,
              help="keyword:diffusion, semantic:..., author:Name, cat:cs.LG (repeatable).")  # fmt: skip
@json_option
@pass_context
@handle_errors
def subscribe(
    context: Context, email: str, cadence: str, topics: tuple[str, ...], as_json: bool
) -> None:
    """Subscribe EMAIL to a digest: sends the confirmation mail (double opt-in)."""
    subscriber = context.library().delivery.subscribe(email, cadence=cadence, topics=topics)
    if as_json:
        context.emit_json(subscriber.as_dict())
    else:
        context.out.print(
            f"confirmation mail sent to {subscriber.email}; the digest starts once the"
            " link in it is followed",
            markup=False,
        )


@click.group()
def subscribers() -> None:
    """Digest subscribers."""


@subscribers.command("list")
@click.option("--status", type=click.Choice(["pending", "active", "unsubscribed"]))
@click.option("--cadence", type=click.Choice(CADENCES))
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@json_option
@pass_context
@handle_errors
def subscribers_list(
    context: Context, status: str | None, cadence: str | None, limit: int, as_json: bool
) -> None:
    """List subscribers, oldest first."""
    found = context.library().delivery.subscribers(status=status, cadence=cadence, limit=limit)
    if as_json:
        context.emit_json([s.as_dict() for s in found])
        return
    table = Table(title="paperfeed subscribers")
    for column in ("id", "email", "status", "cadence", "topics", "since"):
        table.add_column(column)
    for s in found:
        table.add_row(  # Text(): addresses and topics are not rich markup
            str(s.id), Text(s.email), s.status, s.cadence,
            Text(", ".join(t.as_text() for t in s.topics)), f"{s.created_at:%Y-%m-%d}",
        )  # fmt: skip
    context.out.print(table)
