"""``paperfeed users token``: API tokens from the command line, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from paperfeed.library import Library
from paperfeed.settings import load_settings
from tests.web.conftest import PASSWORD
from tests.web.live_server import paperfeed, paperfeed_env


def test_users_token_prints_a_working_token(tmp_path: Path) -> None:
    env = paperfeed_env(tmp_path / "data")
    paperfeed(env, "users", "create", "ada", "--email", "ada@example.org", "--password-stdin",
              stdin=PASSWORD + "\n")  # fmt: skip
    token = paperfeed(env, "users", "token", "Ada", "--name", "laptop")
    assert token.startswith("pf_") and token.endswith("\n") and token.count("\n") == 1
    as_json = json.loads(paperfeed(env, "users", "token", "ada", "--name", "ci", "--json"))
    assert as_json["username"] == "ada" and as_json["name"] == "ci"
    with Library.open(load_settings(data_dir=tmp_path / "data")) as library:
        community = library.community
        found = community.user_for_api_token(token.strip())
        assert found is not None and found.username == "ada"
        listed = community.api_tokens(found.id)
        assert sorted(t["name"] for t in listed) == ["ci", "laptop"]
        assert all(token.strip() not in json.dumps(t, default=str) for t in listed)


def test_users_token_errors(tmp_path: Path) -> None:
    env = paperfeed_env(tmp_path / "data")
    paperfeed(env, "init")
    missing = subprocess.run(
        [sys.executable, "-m", "paperfeed", "users", "token", "nobody", "--name", "x"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert missing.returncode == 6
    assert "no user 'nobody'" in missing.stderr
    assert missing.stdout == ""
