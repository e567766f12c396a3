"""``paperfeed profile export|import``: the portable profile (docs/profile.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from paperfeed.cli.context import Context, handle_errors, json_option, pass_context
from paperfeed.errors import InputError


@click.group()
def profile() -> None:
    """Take an account's upvotes, collections, searches, follows and library elsewhere."""


@profile.command("export")
@click.argument("username")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JSON document here (default: standard output).")  # fmt: skip
@click.option("--bibtex", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the papers of the library and collections as BibTeX here.")  # fmt: skip
@pass_context
@handle_errors
def profile_export(
    context: Context, username: str, output: Path | None, bibtex: Path | None
) -> None:
    """Export USERNAME's profile (a versioned JSON document another paperfeed imports)."""
    from paperfeed.community.profiles import profile_bibtex

    library = context.library()
    user = library.community.user_by_username(username)
    document = library.export_profile(user.id)
    text = json.dumps(document, ensure_ascii=False, indent=1)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
    if bibtex is not None:
        bibtex.write_text(profile_bibtex(document), encoding="utf-8")
    if output is not None or bibtex is not None:
        counts = ", ".join(f"{len(document[k])} {k.replace('_', ' ')}" for k in
                           ("upvotes", "collections", "saved_searches", "follows", "library"))  # fmt: skip
        context.err.print(f"exported {user.username}: {counts}", markup=False)


@profile.command("import")
@click.argument("username")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_context
@handle_errors
def profile_import(context: Context, username: str, file: Path, as_json: bool) -> None:
    """Import a profile FILE into USERNAME's account; again changes nothing. Prints what
    was added, what was already there and what this paperfeed does not have."""
    from paperfeed.community.profiles import parse_profile

    library = context.library()
    user = library.community.user_by_username(username)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from None
    report = library.import_profile(user.id, parse_profile(raw)).as_dict()
    if as_json:
        context.emit_json(report)
        return
    for name, section in report["sections"].items():
        line = (f"{name.replace('_', ' ')}: {section['total']} in the file, {section['added']}"
                f" added, {section['already']} already here")  # fmt: skip
        if section["unmatched"]:
            line += f", {section['unmatched']} not on this paperfeed"
        if section["refused"]:
            line += f", {section['refused']} refused"
        context.out.print(line, markup=False)
        for ref in section["unmatched_items"][:20]:
            context.out.print(f"    not here: {ref.get('arxiv_id') or ref.get('doi') or ''}"
                              f" {str(ref.get('title') or '')[:80]}", markup=False)  # fmt: skip
        for item in section["refused_items"][:20]:
            context.out.print(f"    refused: {item['reason']}", markup=False)
