"""``paperfeed users create|token|list``: accounts."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from paperfeed.cli.context import Context, handle_errors, json_option, pass_context
from paperfeed.errors import InputError


@click.group()
def users() -> None:
    """Manage accounts (the first web sign-up becomes an admin too)."""


@users.command("create")
@click.argument("username")
@click.option("--email", required=True, help="The user's e-mail address.")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@json_option
@pass_context
@handle_errors
def users_create(
    context: Context, username: str, email: str, admin: bool, password_stdin: bool, as_json: bool
) -> None:
    """Create an account; asks for the password twice unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("--password-stdin: no password on stdin")
    else:
        # Never an option value: it would end up in shell history and `ps`.
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    user = context.library().community.create_user(username, email, password, admin=admin)
    if as_json:
        context.emit_json(user.as_dict())
    else:
        role = "admin" if user.is_admin else "user"
        context.out.print(f"created {role} {user.username} <{user.email}>", markup=False)


@users.command("token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for (shown on /account).")
@json_option
@pass_context
@handle_errors
def users_token(context: Context, username: str, name: str, as_json: bool) -> None:
    """Create a JSON API token for USERNAME (printed once; revoke it on /account)."""
    community = context.library().community
    user = community.user_by_username(username)
    token = community.create_api_token(user.id, name)
    if as_json:
        context.emit_json({"username": user.username, "name": name.strip(), "token": token})
    else:
        # Only the token on stdout, so `TOKEN=$(paperfeed users token ...)` works.
        click.echo(token)


@users.command("list")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@json_option
@pass_context
@handle_errors
def users_list(context: Context, limit: int, as_json: bool) -> None:
    """List accounts, oldest first."""
    found = context.library().community.users(limit=limit)
    if as_json:
        context.emit_json([user.as_dict() for user in found])
        return
    table = Table(title="paperfeed users")
    for column in ("id", "username", "email", "admin", "created"):
        table.add_column(column)
    for user in found:
        table.add_row(
            str(user.id), user.username, user.email, "yes" if user.is_admin else "",
            user.created_at.isoformat().replace("+00:00", "Z"),
        )  # fmt: skip
    context.out.print(table)
