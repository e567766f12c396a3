"""The ``paperfeed`` command group: global options, and every command group registered.

A new command or group goes in the module of its topic (or a new module in this
package), defined with ``@click.command``/``@click.group`` and added to
:data:`COMMANDS` here; command modules never import this one.
"""

from __future__ import annotations

import click

from paperfeed.cli import (
    digest,
    follows,
    groups,
    jobs,
    library,
    papers,
    profile,
    search,
    serve,
    users,
)
from paperfeed.cli.context import Context

#: Every top-level command, by module (``paperfeed --help`` lists them alphabetically).
COMMANDS: list[click.Command] = [
    library.init, library.import_command, library.demo, library.harvest, library.stats,
    library.backup,
    papers.papers,
    serve.serve,
    search.search, search.related, search.trend, search.index, search.embed,
    users.users,
    jobs.worker, jobs.jobs,
    digest.digest, digest.subscribe, digest.subscribers,
    follows.follow, follows.follows, follows.unfollow, follows.alerts,
    groups.groups,
    profile.profile,
]  # fmt: skip


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


for _command in COMMANDS:
    main.add_command(_command)
