"""The official ``huggingface_hub`` client, pointed at a real paperfeed server.

``HfApi(endpoint=...)`` runs in its own process (so its settings are read from a
clean environment: ``HF_HUB_OFFLINE=0``, telemetry off, no saved token) with a
Python audit hook that records every DNS lookup and socket connection: the test
fails if anything but the local server is contacted. Also: paperfeed's own Hugging
Face harvester reads a paperfeed server as if it were the Hub.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.web.conftest import PASSWORD
from tests.web.live_server import live_server, paperfeed, paperfeed_env

pytest.importorskip("huggingface_hub", reason="pip install -e '.[test]' installs huggingface_hub")

CLIENT = r"""
import json, sys

contacts = []

def audit(event, args):
    # Every name lookup and connection this process makes, whoever makes it.
    if event == "socket.getaddrinfo":
        contacts.append(["dns", str(args[0])])
    elif event == "socket.connect":
        address = args[1]
        contacts.append(["connect", str(address[0]) if isinstance(address, tuple) else str(address)])

sys.addaudithook(audit)

from huggingface_hub import HfApi

endpoint, token = sys.argv[1], sys.argv[2]
api = HfApi(endpoint=endpoint)

def paper(info):
    return {
        "id": info.id,
        "title": info.title,
        "summary": (info.summary or "")[:60],
        "upvotes": info.upvotes,
        "authors": [a.name for a in info.authors or []],
        "published_at": info.published_at.isoformat() if info.published_at else None,
        "submitted_at": info.submitted_at.isoformat() if info.submitted_at else None,
        "submitted_by": getattr(info.submitted_by, "username", None),
        "comments": info.comments,
        "github_repo": info.github_repo,
    }

out = {
    "daily": [paper(p) for p in api.list_daily_papers(date="2024-10-25")],
    "week": [p.id for p in api.list_daily_papers(week="2024-W43", limit=2, p=1)],
    "by_submitter": [p.id for p in api.list_daily_papers(submitter="ClownRat")],
    "info": paper(api.paper_info("2410.17243")),
    "search": [p.id for p in api.list_papers(query="ti:contrastive", limit=5)],
    "markdown": api.read_paper("2410.17243")[:200],
    "whoami": HfApi(endpoint=endpoint, token=token).whoami()["name"],
}
try:
    api.paper_info("2410.99999")
    out["missing"] = "found"
except Exception as exc:
    out["missing"] = type(exc).__name__ + ": " + str(getattr(exc, "response", None) and exc.response.status_code)
out["contacts"] = contacts
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dict[str, str]]]:
    """A server with the recorded Hub response of 2024-10-25 and 20 arXiv papers."""
    data_dir = tmp_path_factory.mktemp("hf-client") / "data"
    env = paperfeed_env(data_dir)
    paperfeed(env, "import", str(FIXTURES / "huggingface" / "daily_papers_2024-10-25.json"),
              str(FIXTURES / "files" / "arxiv-cs-20.jsonl"))  # fmt: skip
    paperfeed(env, "users", "create", "ada", "--email", "ada@example.org", "--password-stdin",
              stdin=PASSWORD + "\n")  # fmt: skip
    token = paperfeed(env, "users", "token", "ada", "--name", "hf client").strip()
    assert token.startswith("pf_")
    with live_server(env) as base:
        yield base, token, env


def run_client(base: str, token: str, home: Path) -> dict[str, Any]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "HF_HOME": str(home / "hf"),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, base, token],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_huggingface_hub_client_reads_paperfeed(
    server: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    base, token, _ = server
    out = run_client(base, token, tmp_path)

    recorded = json.loads((FIXTURES / "huggingface" / "daily_papers_2024-10-25.json").read_text())
    assert [p["id"] for p in out["daily"]] == [item["paper"]["id"] for item in recorded]
    first = out["daily"][0]
    assert first["title"] == (
        "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for Contrastive Loss"
    )
    assert first["upvotes"] == 64
    assert first["authors"][:2] == ["Zesen Cheng", "Hang Zhang"]
    assert first["published_at"] == "2024-10-22T17:59:30+00:00"
    assert first["submitted_at"] == "2024-10-25T00:00:00+00:00"
    assert first["submitted_by"] == "ClownRat"
    assert first["comments"] == 3
    assert first["summary"].startswith("Contrastive loss is a powerful approach")

    assert len(out["week"]) == 1  # page 1 of 2-paper pages of a 3-paper week
    assert out["by_submitter"] == ["2410.17243"]
    info = out["info"]
    assert info["id"] == "2410.17243" and info["upvotes"] == 64
    assert info["submitted_by"] == "ClownRat" and info["comments"] == 3
    assert "2410.17243" in out["search"]
    assert out["markdown"].startswith("# Breaking the Memory Barrier")
    assert out["whoami"] == "ada"
    assert out["missing"].endswith("404")

    # Nothing but the local server was looked up or contacted.
    assert out["contacts"], "the audit hook saw no connection at all"
    for kind, host in out["contacts"]:
        assert host in ("127.0.0.1", "localhost"), (kind, host)


def test_paperfeed_harvests_another_paperfeed_as_if_it_were_the_hub(
    server: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    base, _, _ = server
    mirror = paperfeed_env(tmp_path / "mirror", PAPERFEED_HUGGINGFACE_URL=base)
    paperfeed(mirror, "init")
    report = json.loads(paperfeed(mirror, "harvest", "hf", "--date", "2024-10-25", "--json"))
    assert report["inserted"] == 3
    shown = json.loads(paperfeed(mirror, "papers", "show", "2410.17243", "--json"))
    assert shown["upvotes"] == 64
    assert shown["feed_date"] == "2024-10-25"
    assert shown["authors"][0] == "Zesen Cheng"
    facts = {f["source"]: f for f in shown["sources"]}
    assert facts["huggingface"]["submitter"] == "ClownRat"
    assert facts["huggingface"]["num_comments"] == 3
