"""``paperfeed search``, ``related`` and ``index`` run as real processes on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import cli_env, run_cli  # noqa: F401  (cli_env is a fixture)

PAPERS = [
    ("2401.00001", "Denoising diffusion models for image synthesis",
     "We train diffusion models that generate images from noise.", ["cs.CV"], "2024-01-05"),
    ("2401.00002", "Graph neural networks for molecules",
     "Message passing on molecular graphs predicts chemical properties.", ["cs.LG"], "2024-01-06"),
    ("2401.00003", "Neural graph rendering",
     "A renderer for scenes; diffusion of light is simulated on a graph.", ["cs.GR"], "2024-01-07"),
    ("2401.00004", "Video generation with diffusion transformers",
     "Diffusion transformers generate long videos.", ["cs.CV"], "2024-03-01"),
]  # fmt: skip


@pytest.fixture
def env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:  # noqa: F811
    # No embedding model in these processes: search must say it fell back.
    cli_env["PAPERFEED_EMBEDDINGS_ENABLED"] = "false"
    path = tmp_path / "papers.jsonl"
    path.write_text("".join(
        json.dumps({"id": i, "title": t, "abstract": a, "authors": ["Ada Lovelace"],
                    "categories": c, "listing_date": d}) + "\n"
        for i, t, a, c, d in PAPERS
    ))  # fmt: skip
    imported = json.loads(run_cli("import", str(path), "--no-embed", "--json", env=cli_env).stdout)
    assert imported["inserted"] == 4
    return cli_env


def search(env: dict[str, str], *args: str) -> dict:
    return json.loads(run_cli("search", *args, "--json", env=env).stdout)


def test_search_command(env: dict[str, str]) -> None:
    data = search(env, "diffusion", "--mode", "keyword")
    assert data["mode_used"] == "keyword" and data["total"] == 3 and data["notice"] is None
    assert {hit["id"] for hit in data["hits"]} == {"2401.00001", "2401.00003", "2401.00004"}
    assert data["hits"][0]["ranks"] == {"keyword": 1}
    fielded = search(env, "ti:diffusion -video", "--mode", "keyword")
    assert [hit["id"] for hit in fielded["hits"]] == ["2401.00001"]
    filtered = search(env, "diffusion", "--mode", "keyword", "--category", "cs.CV",
                      "--from", "2024-02-01")  # fmt: skip
    assert [hit["id"] for hit in filtered["hits"]] == ["2401.00004"]
    newest = search(env, "diffusion", "--mode", "keyword", "--sort", "newest", "--limit", "2")
    assert [hit["id"] for hit in newest["hits"]] == ["2401.00004", "2401.00003"]
    assert newest["total"] == 3
    # Hybrid (the default) without a model: keyword results and a notice saying so.
    hybrid = search(env, "diffusion")
    assert hybrid["mode_requested"] == "hybrid" and hybrid["mode_used"] == "keyword"
    assert "showing keyword results" in hybrid["notice"]
    table = run_cli("search", "graph", "--mode", "keyword", env=env).stdout
    assert "2401.00002" in table and "2 results" in table


def test_related_and_errors(env: dict[str, str]) -> None:
    data = json.loads(run_cli("related", "2401.00002v1", "--json", env=env).stdout)
    assert data["paper"] == "2401.00002"
    related = [hit["id"] for hit in data["hits"]]
    assert related and related[0] == "2401.00003" and "2401.00002" not in related
    bad = run_cli("search", '"unclosed', env=env, check=False)
    assert bad.returncode == 3 and "unbalanced quote" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    missing = run_cli("related", "2499.99999", env=env, check=False)
    assert missing.returncode == 6 and "no paper" in missing.stderr
    bad_date = run_cli("search", "x", "--from", "May", env=env, check=False)
    assert bad_date.returncode == 3 and "--from" in bad_date.stderr


def test_index_commands(env: dict[str, str]) -> None:
    status = json.loads(run_cli("index", "status", "--json", env=env).stdout)["keyword"]
    assert status["built"] and status["documents"] == 4 and status["changes_behind"] == 0
    rebuilt = json.loads(run_cli("index", "rebuild", "--json", env=env).stdout)["keyword"]
    assert rebuilt["rebuilt"] and rebuilt["applied"] == 4
    synced = json.loads(run_cli("index", "sync", "--no-embed", "--json", env=env).stdout)
    assert synced["keyword"]["applied"] == 0 and "embedded" not in synced["vectors"]
    after = json.loads(run_cli("index", "status", "--json", env=env).stdout)["keyword"]
    assert after["generation"] != status["generation"] and after["documents"] == 4
