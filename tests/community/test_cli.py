"""``paperfeed users`` as a user runs it: a real subprocess, on each engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from paperfeed.library import Library
from paperfeed.settings import Settings

PASSWORD = "correct horse battery"


@pytest.fixture
def run(settings: Settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PAPERFEED_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
        env["PAPERFEED_DATABASE_SCHEMA"] = settings.database_schema or ""

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "paperfeed", *args],
            input=stdin, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    return run


def test_users_create_admin_then_sign_in(run, settings: Settings) -> None:
    created = run("users", "create", "Ada", "--email", "ada@example.org", "--admin",
                  "--password-stdin", "--json", stdin=PASSWORD + "\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert (data["username"], data["email"], data["is_admin"]) == ("ada", "ada@example.org", True)
    assert data["created_at"].endswith("Z")

    plain = run("users", "create", "bob", "--email", "bob@example.org", "--password-stdin",
                stdin=PASSWORD + "\n")  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert "created user bob" in plain.stdout

    listed = run("users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(u["username"], u["is_admin"]) for u in json.loads(listed.stdout)] == [
        ("ada", True), ("bob", False)]  # fmt: skip
    assert PASSWORD not in listed.stdout

    with Library.open(settings) as library:
        assert library.community.authenticate("ada", PASSWORD).is_admin


def test_password_prompt_asks_twice(run, settings: Settings) -> None:
    created = run("users", "create", "ada", "--email", "ada@example.org",
                  stdin=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert PASSWORD not in created.stdout + created.stderr
    mismatch = run("users", "create", "bob", "--email", "bob@example.org",
                   stdin=f"{PASSWORD}\nsomething else\n")  # fmt: skip
    assert mismatch.returncode != 0
    with Library.open(settings) as library:
        assert [u.username for u in library.community.users()] == ["ada"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["x", "--email", "x@example.org"], PASSWORD, "username must be 3-32"),
        (["ada", "--email", "nope"], PASSWORD, "not an e-mail address"),
        (["ada", "--email", "ada@example.org"], "short", "at least 10 characters"),
        (["ada", "--email", "ada@example.org"], "", "no password on stdin"),
    ],
)
def test_bad_input_exits_3_with_one_line(run, args: list[str], stdin: str, message: str) -> None:
    result = run("users", "create", *args, "--password-stdin", stdin=stdin + "\n")
    assert result.returncode == 3
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_duplicate_user_exits_3(run) -> None:
    first = run("users", "create", "ada", "--email", "ada@example.org", "--password-stdin",
                stdin=PASSWORD + "\n")  # fmt: skip
    assert first.returncode == 0, first.stderr
    again = run("users", "create", "ADA", "--email", "other@example.org", "--password-stdin",
                stdin=PASSWORD + "\n")  # fmt: skip
    assert again.returncode == 3
    assert again.stderr.strip() == "error: username 'ada' is taken"
