"""A harvest killed with SIGKILL part-way resumes to exactly the uninterrupted result."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from paperfeed.library import Library
from paperfeed.settings import Settings, load_settings
from tests.conftest import FIXTURES
from tests.support.replay_server import ReplayServer, Reply

pytest_plugins = ("tests.support.replay_server",)

RECORDED = (FIXTURES / "arxiv/oai-pmh/ListRecordsResponse.xml").read_text()


def recorded_pages() -> list[str]:
    """The recorded ListRecords response (6 records) split into 3 pages of 2,
    chained by resumption tokens ``t1`` and ``t2``; the last carries an empty token."""
    head, rest = RECORDED.split("<record>", 1)
    records = ["<record>" + part for part in ("<record>" + rest).split("<record>")[1:]]
    records[-1] = records[-1].split("<resumptionToken")[0]
    pages = []
    for number in range(3):
        token = f"t{number + 1}" if number < 2 else ""
        body = "".join(records[number * 2 : number * 2 + 2])
        pages.append(
            f'{head}{body}<resumptionToken cursor="{number * 2}" completeListSize="6">'
            f"{token}</resumptionToken>\n</ListRecords>\n</OAI-PMH>\n"
        )
    return pages


def serve_pages(server: ReplayServer, *, hang_on_last: bool) -> None:
    first, second, third = (p.encode() for p in recorded_pages())
    xml = {"Content-Type": "text/xml; charset=utf-8"}
    server.add("/oai", Reply(200, first, xml), query={"verb": "ListRecords", "set": "cs"})
    server.add("/oai", Reply(200, second, xml), query={"resumptionToken": "t1"})
    last = [Reply(200, third, xml)]
    if hang_on_last:  # the first request for page 3 never answers in time
        last.insert(0, Reply(200, third, xml, delay_seconds=60))
    server.add("/oai", last, query={"resumptionToken": "t2"})


def dump(settings: Settings) -> dict[str, list[tuple]]:
    """Database content that must not depend on interruptions (wall-clock columns left out)."""
    with Library.open(settings) as library:
        tx_query = library.storage.db.query
        papers = tx_query("SELECT * FROM papers ORDER BY id")
        sources = tx_query("SELECT * FROM paper_sources ORDER BY paper_id, source")
        checkpoints = tx_query("SELECT key, state, done FROM checkpoints ORDER BY key")
    skip = {"created_at", "modified_at", "seen_at"}
    return {
        "papers": [tuple(v for k, v in row.items() if k not in skip) for row in papers],
        "sources": [tuple(v for k, v in row.items() if k not in skip) for row in sources],
        # The embedding step's checkpoint names the change log by its first entry's time.
        "checkpoints": [
            (row["key"], re.sub(r'"origin":"[^"]*"', "", row["state"]), row["done"])
            for row in checkpoints
        ],
    }


def harvest_command(env: dict[str, str]) -> list[str]:
    return [sys.executable, "-m", "paperfeed", "harvest", "arxiv", "--set", "cs",
            "--from", "2014-10-01", "--format", "arXivRaw", "--json"]  # fmt: skip


def cli_environment(settings: Settings, server: ReplayServer, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env |= {
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_ARXIV_OAI_URL": server.url + "/oai",
        "PAPERFEED_HTTP_DELAY_SECONDS": "0",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
    }
    if settings.database_url:
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
        env["PAPERFEED_DATABASE_SCHEMA"] = settings.database_schema or ""
    return env


def test_sigkill_mid_harvest_then_rerun_equals_uninterrupted_run(
    settings: Settings, tmp_path: Path
) -> None:
    # The reference: one uninterrupted harvest into its own SQLite database.
    reference = load_settings(data_dir=tmp_path / "reference")
    with ReplayServer() as server:
        serve_pages(server, hang_on_last=False)
        env = cli_environment(reference, server, tmp_path)
        subprocess.run(harvest_command(env), env=env, check=True, capture_output=True, timeout=60)

    with ReplayServer() as server:
        serve_pages(server, hang_on_last=True)
        env = cli_environment(settings, server, tmp_path)
        process = subprocess.Popen(
            harvest_command(env), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while not any(r.param("resumptionToken") == "t2" for r in server.requests):
            assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "harvest never asked for page 3"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL

        # Consistent after the kill: pages 1-2 committed together with their checkpoint.
        partial = dump(settings)
        assert len(partial["papers"]) == 4
        [(_key, state, done)] = partial["checkpoints"]
        assert re.search(r'"resumption_token":"t2"', state) and not done

        # The rerun resumes at page 3 (it does not start over) and finishes.
        before = len(server.requests)
        result = subprocess.run(
            harvest_command(env), env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        resumed = server.requests[before:]
        assert [r.param("resumptionToken") for r in resumed] == ["t2"]

    assert dump(settings) == dump(reference)
    assert len(dump(settings)["papers"]) == 6
