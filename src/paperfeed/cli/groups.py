"""``paperfeed groups``: create groups, add members, list them, make invite links."""

from __future__ import annotations

import click
from rich.table import Table

from paperfeed.cli.context import Context, handle_errors, json_option, pass_context


@click.group()
def groups() -> None:
    """Groups (a lab, a reading group): members, a feed of their upvotes, shared collections."""


@groups.command("create")
@click.argument("name")
@click.option("--owner", "owner", required=True, metavar="USERNAME", help="Its first owner.")
@click.option("--description", default="", help="A line about the group.")
@json_option
@pass_context
@handle_errors
def groups_create(context: Context, name: str, owner: str, description: str, as_json: bool) -> None:
    """Create the group NAME owned by USERNAME."""
    community = context.library().community
    user = community.user_by_username(owner)
    group = community.create_group(user.id, name, description=description)
    if as_json:
        context.emit_json(group.as_dict())
    else:
        context.out.print(f"created group {group.name} (id {group.id}), owner {user.username}",
                          markup=False)  # fmt: skip


@groups.command("add")
@click.argument("group")
@click.argument("username")
@click.option("--owner", "as_owner", is_flag=True, help="Make them an owner.")
@json_option
@pass_context
@handle_errors
def groups_add(context: Context, group: str, username: str, as_owner: bool, as_json: bool) -> None:
    """Add USERNAME to GROUP (its name or id); a member already stays as they are."""
    community = context.library().community
    found = community.find_group(group)
    user = community.user_by_username(username)
    member = community.add_member(found.id, user.id, role="owner" if as_owner else "member")
    if as_json:
        context.emit_json({"group": found.as_dict(), "member": member.as_dict()})
    else:
        context.out.print(f"{member.username} is {'an owner' if member.role == 'owner' else 'a member'}"
                          f" of {found.name}", markup=False)  # fmt: skip


@groups.command("remove")
@click.argument("group")
@click.argument("username")
@json_option
@pass_context
@handle_errors
def groups_remove(context: Context, group: str, username: str, as_json: bool) -> None:
    """Take USERNAME out of GROUP (a group keeps at least one owner)."""
    community = context.library().community
    found = community.find_group(group)
    user = community.user_by_username(username)
    community.remove_member(found.id, user.id, user.id)
    if as_json:
        context.emit_json({"group": found.as_dict(), "removed": user.username})
    else:
        context.out.print(f"{user.username} left {found.name}", markup=False)


@groups.command("list")
@click.option("--user", "username", metavar="USERNAME", help="Only the groups of this user.")
@json_option
@pass_context
@handle_errors
def groups_list(context: Context, username: str | None, as_json: bool) -> None:
    """List groups with their members."""
    community = context.library().community
    if username:
        found = community.groups_of(community.user_by_username(username).id)
    else:
        found = community.all_groups()
    members = {g.id: community.storage.groups.members(g.id) for g in found}
    if as_json:
        context.emit_json([
            {**g.as_dict(), "members": [m.as_dict() for m in members[g.id]]} for g in found
        ])  # fmt: skip
        return
    table = Table(title="paperfeed groups")
    for column in ("id", "name", "members", "owners"):
        table.add_column(column, overflow="fold")
    for g in found:
        owners = ", ".join(m.username for m in members[g.id] if m.role == "owner")
        table.add_row(str(g.id), g.name, str(len(members[g.id])), owners)
    context.out.print(table)


@groups.command("invite")
@click.argument("group")
@click.option("--by", "username", required=True, metavar="USERNAME", help="An owner of the group.")
@json_option
@pass_context
@handle_errors
def groups_invite(context: Context, group: str, username: str, as_json: bool) -> None:
    """Print an invite link to GROUP (valid PAPERFEED_GROUP_INVITE_DAYS days)."""
    library = context.library()
    community = library.community
    found = community.find_group(group)
    token = community.invite_token(found.id, community.user_by_username(username).id)
    url = f"{library.settings.base_url.rstrip('/')}/groups/join/{token}"
    if as_json:
        context.emit_json({"group": found.as_dict(), "invite_url": url,
                           "valid_days": community.invite_days})  # fmt: skip
    else:
        click.echo(url)
