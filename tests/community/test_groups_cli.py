"""``paperfeed groups create|add|list|invite|remove`` in a real subprocess."""

from __future__ import annotations

import json

from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.community.test_cli import PASSWORD, run  # noqa: F401  (the fixture)


def test_groups_create_add_list_invite_remove(run, settings: Settings) -> None:  # noqa: F811
    with Library.open(settings) as library:
        for name in ("ada", "bob"):
            library.community.create_user(name, f"{name}@example.org", PASSWORD)

    made = run("groups", "create", "Vision Lab", "--owner", "ada", "--json")
    assert made.returncode == 0, made.stderr
    group = json.loads(made.stdout)
    assert (group["name"], group["member_count"]) == ("Vision Lab", 1)
    added = run("groups", "add", "vision lab", "bob")
    assert added.returncode == 0 and "bob is a member of Vision Lab" in added.stdout
    listed = json.loads(run("groups", "list", "--json").stdout)
    assert [(m["username"], m["role"]) for m in listed[0]["members"]] == [
        ("ada", "owner"), ("bob", "member"),
    ]  # fmt: skip
    assert "Vision Lab" in run("groups", "list", "--user", "bob").stdout
    invite = run("groups", "invite", str(group["id"]), "--by", "ada")
    assert invite.returncode == 0 and "/groups/join/" in invite.stdout
    refused = run("groups", "invite", "Vision Lab", "--by", "bob")
    assert refused.returncode == 7 and "only an owner" in refused.stderr
    last = run("groups", "remove", "Vision Lab", "ada")
    assert last.returncode == 3 and "needs an owner" in last.stderr
    assert run("groups", "remove", "Vision Lab", "bob").returncode == 0
    missing = run("groups", "add", "Nope", "bob")
    assert missing.returncode == 6 and "no group 'Nope'" in missing.stderr
    with Library.open(settings) as library:
        ada = library.community.user_by_username("ada")
        assert library.community.group_members(group["id"], viewer_id=ada.id)[0].role == "owner"
