"""``paperfeed serve``: the web app and JSON API."""

from __future__ import annotations

import click

from paperfeed.cli.context import Context, handle_errors, pass_context
from paperfeed.settings import load_settings


@click.command()
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
