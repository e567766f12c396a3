"""Write docs/cli.md from the CLI's own --help texts, so the reference cannot go stale.

python scripts/cli_reference.py          # rewrite docs/cli.md
python scripts/cli_reference.py --check  # exit 1 if docs/cli.md is out of date (tests run this)
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paperfeed.cli import main as cli

TARGET = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def help_sections(command: click.Command, path: list[str]) -> list[str]:
    """The help of ``command`` and, for groups, of every subcommand, depth first."""
    context = click.Context(command, info_name=" ".join(path), terminal_width=100)
    sections = [f"## `{' '.join(path)}`\n\n```\n{command.get_help(context)}\n```\n"]
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(context)):
            sub = command.get_command(context, name)
            if sub is not None and not sub.hidden:
                sections += help_sections(sub, [*path, name])
    return sections


def render() -> str:
    header = (
        "# Command-line reference\n\n"
        "Generated from `paperfeed --help` by `scripts/cli_reference.py`; "
        "a test fails when this file and the CLI disagree.\n\n"
    )
    return header + "\n".join(help_sections(cli, ["paperfeed"]))


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python scripts/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
