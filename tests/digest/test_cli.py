"""``paperfeed subscribe / subscribers / digest`` run as real processes."""

from __future__ import annotations

import json
import os
import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.digest.conftest import add_papers, with_votes
from tests.test_cli import run_cli


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """A CLI process on this test's database, mailing through the console by default."""
    found = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    found["PAPERFEED_DATA_DIR"] = str(settings.data_dir)
    found["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    found["PAPERFEED_BASE_URL"] = "https://papers.example.org"
    if settings.database_url:
        found["PAPERFEED_DATABASE_URL"] = settings.database_url
        found["PAPERFEED_DATABASE_SCHEMA"] = settings.database_schema or ""
    return found


def outbox(settings: Settings) -> list:
    files = sorted((settings.data_dir / "outbox").glob("*.eml"))
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


def test_newcomer_flow_with_the_console_sender(library: Library, env: dict[str, str]) -> None:
    add_papers(library, *[with_votes(f"2410.0000{n}", 10 - n) for n in range(1, 4)])
    printed = run_cli("subscribe", "ada@example.org", "--topic", "cat:cs.CL", env=env).stdout
    assert "Mail to ada@example.org" in printed
    link = re.search(r"https://papers\.example\.org/subscribe/confirm/(\S+)", printed)
    assert link, printed
    library.delivery.confirm(link.group(1))

    listed = json.loads(run_cli("subscribers", "list", "--json", env=env).stdout)
    assert [(s["email"], s["status"]) for s in listed] == [("ada@example.org", "active")]
    assert listed[0]["topics"][0]["query"] == "cs.CL"

    dry = json.loads(
        run_cli("digest", "--dry-run", "--date", "2024-10-25", "--json", env=env).stdout
    )
    assert [p["id"] for p in dry[0]["papers"]] == ["2410.00001", "2410.00002", "2410.00003"]
    assert library.delivery.sends() == []  # a dry run sends and logs nothing

    sent = run_cli("digest", "--send", "--date", "2024-10-25", env=env).stdout
    assert "1 sent" in sent
    assert "https://papers.example.org/papers/2410.00001" in sent  # the console "mail"
    again = run_cli("digest", "--send", "--date", "2024-10-25", env=env).stdout
    assert "0 sent" in again


def test_weekend_needs_any_day_and_file_sender(
    library: Library, env: dict[str, str], settings: Settings
) -> None:
    env["PAPERFEED_MAIL_SENDER"] = "file"
    add_papers(library, with_votes("2410.00001", 3))
    run_cli("subscribe", "ada@example.org", env=env)
    (confirmation,) = outbox(settings)
    text = confirmation.get_body(("plain",)).get_content()
    token = re.search(r"/subscribe/confirm/(\S+)", text).group(1)  # type: ignore[union-attr]
    library.delivery.confirm(token)

    saturday = run_cli("digest", "--send", "--date", "2024-10-26", env=env).stdout
    assert "no digests sent" in saturday and "--any-day" in saturday
    assert len(outbox(settings)) == 1
    report = json.loads(run_cli("digest", "--send", "--date", "2024-10-26", "--any-day",
                                "--json", env=env).stdout)  # fmt: skip
    assert report["sent"] == 1 and report["period_key"] == "2024-10-26"
    digest = outbox(settings)[-1]
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_errors_are_one_line_with_exit_codes(env: dict[str, str]) -> None:
    bad = run_cli("subscribe", "a@b.co\nBcc: x@y.example", env=env, check=False)
    assert bad.returncode == 3
    assert bad.stderr.strip().startswith("error: ") and len(bad.stderr.strip().splitlines()) == 1
    topic = run_cli("subscribe", "ada@example.org", "--topic", "cat:no such", env=env, check=False)
    assert topic.returncode == 3
    env["PAPERFEED_MAIL_SENDER"] = "smtp"
    config = run_cli("subscribe", "ada@example.org", env=env, check=False)
    assert config.returncode == 2 and "PAPERFEED_SMTP_HOST" in config.stderr
    both = run_cli("digest", env=env, check=False)
    assert both.returncode != 0 and "--send" in both.stderr
