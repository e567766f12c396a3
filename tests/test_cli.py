"""The command line, run as a real process (``python -m paperfeed``)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from paperfeed.library import Library
from paperfeed.settings import load_settings
from tests.conftest import FIXTURES, POSTGRES_URL

SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))

# Counts for the five seed pages, established by hand (see tests/sources/test_huggingface.py
# for how): 11 + 79 + 42 + 111 + 270 = 513 listings of 486 distinct papers; 27 papers
# appear on two pages. 10 of the 11 bare abstracts (file 000) have no title anywhere;
# the eleventh is "Experts Weights Averaging" on another page. 42 listings show an
# author count, 8 show upvotes.
SEED_LISTINGS = 513
SEED_PAPERS = 486
SEED_UNTITLED = 10
SEED_WITH_UPVOTES = 8


def run_cli(
    *args: str, env: dict[str, str], input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


@pytest.fixture
def cli_env(settings, tmp_path: Path) -> dict[str, str]:
    """Environment pointing a CLI process at this test's database (either engine)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PAPERFEED_DATA_DIR"] = str(settings.data_dir)
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    # These tests are about importing; embedding has its own tests (tests/search).
    env["PAPERFEED_EMBEDDINGS_ENABLED"] = "false"
    if settings.database_url:
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
        env["PAPERFEED_DATABASE_SCHEMA"] = settings.database_schema or ""
    return env


def stats(env: dict[str, str]) -> dict:
    return json.loads(run_cli("stats", "--json", env=env).stdout)


def test_import_seed_pages_counts_and_idempotence(cli_env: dict[str, str]) -> None:
    first = json.loads(run_cli("import", *map(str, SEEDS), "--json", env=cli_env).stdout)
    assert first["seen"] == SEED_LISTINGS
    assert first["inserted"] == SEED_PAPERS
    numbers = stats(cli_env)
    assert numbers["papers"] == SEED_PAPERS
    assert numbers["without_title"] == SEED_UNTITLED
    assert numbers["with_upvotes"] == SEED_WITH_UPVOTES
    assert numbers["by_source"] == {"hf-page": SEED_PAPERS}

    again = json.loads(run_cli("import", *map(str, SEEDS), "--json", env=cli_env).stdout)
    # one outcome per paper per page: the 27 papers listed twice count twice
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, SEED_LISTINGS)
    after = stats(cli_env)
    assert after["last_change_seq"] == numbers["last_change_seq"]


def test_papers_list_and_show(cli_env: dict[str, str]) -> None:
    run_cli("import", str(FIXTURES / "huggingface/daily_papers_2024-10-25.json"), env=cli_env)
    listed = json.loads(
        run_cli("papers", "list", "--sort", "upvotes", "--json", env=cli_env).stdout
    )
    assert [p["id"] for p in listed] == ["2410.17243", "2410.16251", "2410.18533"]
    assert listed[0]["upvotes"] == 64
    shown = json.loads(
        run_cli("papers", "show", "arXiv:2410.17243v1", "--json", env=cli_env).stdout
    )
    assert shown["authors"][:2] == ["Zesen Cheng", "Hang Zhang"]
    assert shown["sources"][0]["submitter"] == "ClownRat"
    assert shown["feed_date"] == "2024-10-25"
    text = run_cli("papers", "show", "2410.17243", env=cli_env).stdout
    assert "Breaking the Memory Barrier" in text and "▲ 64" in text
    day = json.loads(
        run_cli("papers", "list", "--date", "2024-10-24", "--json", env=cli_env).stdout
    )
    assert day == []


def test_malformed_file_fails_whole_import_with_one_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps({"id": "2501.00001", "title": "Good", "abstract": "Fine.", "authors": ["A"]})
        + "\n"
    )
    bad = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad, "wt") as handle:
        handle.write(json.dumps({"id": "2501.00002", "title": "Also good", "abstract": "x"}) + "\n")
        handle.write('{"id": "2501.00003", "title": broken\n')
    result = run_cli("import", str(good), str(bad), env=cli_env, check=False)
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "bad.jsonl.gz:2" in result.stderr
    assert stats(cli_env)["papers"] == 0  # nothing half-written, not even good.jsonl


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["import", "/nonexistent/file.jsonl"], 3, "file.jsonl"),
        (["import", "{fixtures}/seeds/000_5d0159cbbb6922a4.txt", "--format", "docx"], 3, "docx"),
        (["harvest", "hf", "--date", "2024-13-45"], 3, "invalid date"),
        (["harvest", "arxiv", "--from", "yesterday"], 3, "invalid date"),
        (["papers", "show", "9999.99999"], 6, "no paper"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(
    cli_env: dict[str, str], args: list[str], code: int, message: str
) -> None:
    args = [a.format(fixtures=FIXTURES) for a in args]
    result = run_cli(*args, env=cli_env, check=False)
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_unreadable_binary_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    blob = tmp_path / "image.bin"
    blob.write_bytes(bytes(range(256)) * 4)
    result = run_cli("import", str(blob), env=cli_env, check=False)
    assert result.returncode == 3 and "image.bin" in result.stderr


def test_unreachable_database_exits_4(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PAPERFEED_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    result = run_cli("stats", env=env, check=False)
    assert result.returncode == 4
    assert "cannot connect to PostgreSQL" in result.stderr and result.stderr.count("\n") == 1


def test_bad_config_file_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "paperfeed.toml"
    config.write_text("database_url = 'mysql://nope'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    result = run_cli("--config", str(config), "stats", env=env, check=False)
    assert result.returncode == 2 and "database_url" in result.stderr


def test_toml_file_and_environment_priority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "paperfeed.toml"
    config.write_text(f"data_dir = '{tmp_path / 'from-file'}'\nhttp_delay_seconds = 7\n")
    monkeypatch.setenv("PAPERFEED_HTTP_DELAY_SECONDS", "1.5")
    settings = load_settings(config)
    assert settings.data_dir == tmp_path / "from-file"
    assert settings.http_delay_seconds == 1.5  # the environment beats the file


def test_demo_imports_the_bundled_corpus(cli_env: dict[str, str]) -> None:
    out = json.loads(run_cli("demo", "--json", env=cli_env).stdout)
    assert out["new"] == out["papers_stored"] == SEED_PAPERS
    assert out["papers"], "the demo's latest feed day has papers"
    assert stats(cli_env)["papers"] == SEED_PAPERS


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PAPERFEED_TEST_DATABASE_URL")
def test_same_counts_on_both_engines(tmp_path: Path) -> None:
    counts = {}
    for name, overrides in {
        "sqlite": {},
        "postgresql": {
            "database_url": POSTGRES_URL,
            "database_schema": f"t_counts_{uuid.uuid4().hex[:12]}",
        },
    }.items():
        library = Library.open(load_settings(data_dir=tmp_path / name, **overrides))
        try:
            library.import_files(SEEDS, embed=False)
            counts[name] = library.stats()["papers"]
        finally:
            if name == "postgresql":
                library.storage.db.drop_schema()  # type: ignore[attr-defined]
            else:
                library.close()
    assert counts == {"sqlite": SEED_PAPERS, "postgresql": SEED_PAPERS}
