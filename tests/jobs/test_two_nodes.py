"""Beyond one box: two web nodes (two data dirs, two real ``paperfeed serve``
processes) and a worker on one PostgreSQL schema.

Each node keeps its own search indexes, synced from the shared change log by its
index follower. A harvest from a recorded arXiv response on node A and votes cast
on node B must show on both nodes (search, related papers, paper pages, feeds,
trending) once their followers have run, both nodes must answer alike, and a
node started later with an empty data dir must catch up and answer alike too.
No timing is asserted: each check polls until the nodes agree or a generous
deadline passes.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperfeed.library import Library
from paperfeed.settings import Settings, load_settings
from paperfeed.storage.postgres import PostgresDatabase
from tests.conftest import FIXTURES, POSTGRES_URL
from tests.support.replay_server import ReplayServer, Reply
from tests.web.live_server import live_server, paperfeed, paperfeed_env, stop

pytest_plugins = ("tests.support.replay_server",)
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PAPERFEED_TEST_DATABASE_URL"),
]

CORPUS = FIXTURES / "files/arxiv-cs-20.jsonl"  # 20 cs papers, 2025-03
OAI_PAGE = FIXTURES / "arxiv/oai-pmh/ListRecordsResponse.xml"  # 6 physics records
OAI_PAGE_2 = FIXTURES / "arxiv/oai-pmh/ListRecordsPage2.xml"  # and 2 more: the last page
HARVESTED = "0704.1114"  # "Identification of Absorption Features in an Extrasolar Planet ..."
VOTED = "2503.11731"  # a corpus paper, in the trending window
VOTED_DAY = "2025-03-18"  # its feed day (listing date)
DEADLINE = 180.0


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    PostgresDatabase(POSTGRES_URL, schema=name).drop_schema()  # type: ignore[arg-type]


def node_env(data_dir: Path, schema: str, oai_url: str) -> dict[str, str]:
    """One node: its own data dir, the shared database, the settings every node must
    share (the secret), a short follow interval so the test does not wait long."""
    return paperfeed_env(
        data_dir,
        PAPERFEED_DATABASE_URL=POSTGRES_URL or "",
        PAPERFEED_DATABASE_SCHEMA=schema,
        PAPERFEED_SECRET_KEY="two-nodes-share-this-secret-0123456789",
        PAPERFEED_INDEX_FOLLOW_SECONDS="0.5",
        PAPERFEED_ARXIV_OAI_URL=oai_url,
    )


def node_settings(data_dir: Path, schema: str) -> Settings:
    return load_settings(data_dir=data_dir, database_url=POSTGRES_URL, database_schema=schema)


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["paper"]["id"] for item in items]


class Node:
    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(self.base + path, params=params, timeout=60)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return response.json()

    def search(self, q: str, mode: str = "hybrid", sort: str = "relevance") -> list[str]:
        return ids(self.get("/api/papers/search", q=q, mode=mode, sort=sort, limit=20))

    def related(self, paper_id: str) -> list[str]:
        return ids(self.get(f"/api/papers/{paper_id}/related", limit=10))

    def upvotes(self, paper_id: str) -> int:
        return int(self.get(f"/api/papers/{paper_id}")["upvotes"])

    def trending(self) -> list[str]:
        return ids(self.get("/api/daily_papers", sort="trending", limit=5))

    def day(self, day: str) -> list[tuple[str, int]]:
        feed = self.get(f"/papers/date/{day}.json")
        return [(paper["id"], paper["upvotes"]) for paper in feed["papers"]]

    def answers(self) -> dict[str, Any]:
        """What the test compares between nodes: search in every mode, related papers."""
        return {
            "keyword": self.search("planet atmosphere", mode="keyword"),
            "semantic": self.search("extrasolar planet atmosphere", mode="semantic"),
            "hybrid": self.search("gaussian splatting sensor simulation"),
            "related harvested": self.related(HARVESTED),
            "related corpus": self.related(VOTED),
        }


def eventually(check: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    give_up = time.monotonic() + deadline
    while not check():
        if time.monotonic() > give_up:
            raise AssertionError(f"not within {deadline:.0f} s: {what}")
        time.sleep(0.3)


def test_two_nodes_and_a_worker_share_one_database(
    tmp_path: Path, schema: str, replay_server: ReplayServer
) -> None:
    replay_server.add(
        "/oai", Reply.file(OAI_PAGE), query={"verb": "ListRecords", "resumptionToken": None}
    )
    replay_server.add(
        "/oai",
        Reply.file(OAI_PAGE_2),
        query={"verb": "ListRecords", "resumptionToken": "726959|1001"},
    )
    oai = replay_server.url + "/oai"
    env_a, env_b, env_c, env_w = (
        node_env(tmp_path / name, schema, oai) for name in ("node-a", "node-b", "node-c", "worker")
    )
    # The database starts with a corpus, imported (and embedded) from node A.
    paperfeed(env_a, "import", str(CORPUS))
    paperfeed(env_b, "users", "create", "ada", "--email", "ada@example.org",
              "--password-stdin", stdin="correct horse battery staple\n")  # fmt: skip
    token = paperfeed(env_b, "users", "token", "ada", "--name", "test").strip().splitlines()[-1]
    worker = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "worker", "--worker-id", "w1"],
        env=env_w, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        with live_server(env_a) as url_a, live_server(env_b) as url_b:
            a, b = Node(url_a), Node(url_b)
            # Node B started with an empty data dir: its follower builds its indexes.
            eventually(lambda: b.search("gaussian splatting", mode="keyword")[:1] == [VOTED],
                       "node B builds its indexes from the database")  # fmt: skip
            eventually(lambda: b.related(VOTED) == a.related(VOTED),
                       "node B's related papers are node A's")  # fmt: skip

            # A harvest on node A (the CLI on A's data dir: it embeds and syncs A).
            paperfeed(env_a, "harvest", "arxiv", "--set", "physics", "--from", "2014-11-01")
            assert a.search("extrasolar planet", mode="keyword")[:1] == [HARVESTED]
            # Votes on node B.
            for paper_id in (VOTED, HARVESTED):
                response = httpx.post(
                    f"{url_b}/api/papers/{paper_id}/upvote",
                    headers={"Authorization": f"Bearer {token}"}, timeout=60,
                )  # fmt: skip
                assert response.status_code == 200, response.text

            for node, name in ((a, "A"), (b, "B")):
                eventually(lambda node=node: node.search("extrasolar planet", mode="keyword")[:1]
                           == [HARVESTED], f"node {name} finds the harvested paper")  # fmt: skip
                eventually(lambda node=node: HARVESTED in node.search("extrasolar planet"),
                           f"node {name}'s hybrid search has it")  # fmt: skip
                eventually(lambda node=node: bool(node.related(HARVESTED)),
                           f"node {name} has related papers for it")  # fmt: skip
                # From the database: at once on both nodes.
                assert node.upvotes(VOTED) == 1 and node.upvotes(HARVESTED) == 1
                assert node.trending()[0] == VOTED
                assert (VOTED, 1) in node.day(VOTED_DAY)
            # Both nodes answer alike: the same indexes from the same change log.
            eventually(lambda: a.answers() == b.answers(), "nodes A and B answer alike")
            answers = a.answers()
            assert HARVESTED in answers["semantic"] and answers["related harvested"]
            # The harvested papers were embedded once (on A), not again by B or the worker.
            with Library.open(node_settings(tmp_path / "node-b", schema)) as library:
                papers = library.stats()["papers"]
                status = library.search_status()["vectors"]
                # Each paper was embedded once (by the import and the harvest on A), not
                # again by B's follower or the worker's index-sync job: one vector change each.
                embedded = library.storage.db.scalar(
                    "SELECT COUNT(*) FROM paper_changes WHERE kind = 'vector'"
                )
            assert status["papers"] == papers > 20 and status["changes_behind"] == 0
            assert status["vectors_in_database"] == {status["model_id"]: papers}
            assert embedded == papers

            # A node started later, with an empty data dir, catches up.
            with live_server(env_c) as url_c:
                c = Node(url_c)
                eventually(lambda: c.answers() == answers, "node C catches up with A and B")
    finally:
        stderr = stop(worker)
    assert worker.returncode == 0, stderr
