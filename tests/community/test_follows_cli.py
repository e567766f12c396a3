"""``paperfeed follow``, ``follows``, ``unfollow`` and ``alerts`` in a real subprocess."""

from __future__ import annotations

import json
from datetime import date

from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.community.helpers import arxiv_record, ingest
from tests.community.test_cli import PASSWORD, run  # noqa: F401  (the fixture)


def test_follow_list_mute_unfollow_and_alerts(run, settings: Settings) -> None:  # noqa: F811
    with Library.open(settings) as library:
        ingest(library.storage, [arxiv_record("2410.17243")])
        library.community.create_user("ada", "ada@example.org", PASSWORD)

    made = run("follow", "ada", "--paper", "https://arxiv.org/abs/2410.17243v1",
               "--threshold", "20", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) | {"created": True, "upvote_threshold": 20} == json.loads(
        made.stdout
    )
    assert run("follow", "ada", "--author", "Grace Hopper").stdout.startswith(
        "ada now follows author Grace Hopper"
    )
    again = run("follow", "ada", "--author", "grace  hopper", "--mute")
    assert again.returncode == 0 and "already follows author Grace Hopper [muted]" in again.stdout
    assert run("follow", "ada", "--category", "cs.LG", "--top", "2").returncode == 0

    both = run("follow", "ada", "--author", "X", "--paper", "2410.17243")
    assert both.returncode == 2 and "exactly one of" in both.stderr
    bad = run("follow", "ada", "--search", '"open')
    assert bad.returncode == 3 and bad.stderr.startswith("error: unbalanced quote")
    nobody = run("follow", "zed", "--author", "X")
    assert nobody.returncode == 6

    listed = json.loads(run("follows", "ada", "--json").stdout)
    assert [(f["kind"], f["value"], f["muted"]) for f in listed] == [
        ("author", "Grace Hopper", True), ("category", "cs.LG", False),
        ("paper", "2410.17243", False),
    ]  # fmt: skip
    table = run("follows", "ada")
    assert "on, and at 20 upvotes" in table.stdout and "muted" in table.stdout

    with Library.open(settings) as library:
        ingest(library.storage, [
            arxiv_record("2410.17243", version=2, comments="Accepted at ICML"),
            arxiv_record("2603.00001", authors=["Grace Hopper"], listed_on=date.today()),
        ])  # fmt: skip
    detected = run("alerts", "detect", "--json")
    assert detected.returncode == 0, detected.stderr
    assert json.loads(detected.stdout)["by_kind"] == {"version": 1, "new-paper": 1}  # muted author
    alerts = run("alerts", "list", "ada")
    assert "New version v2" in alerts.stdout and "Accepted at ICML" in alerts.stdout
    assert json.loads(run("alerts", "detect", "--json").stdout)["alerts"] == 0

    gone = run("unfollow", "ada", "--paper", "2410.17243")
    assert gone.returncode == 0 and "no longer follows paper 2410.17243" in gone.stdout
    assert run("unfollow", "ada", "--paper", "2410.17243").returncode == 6
    assert run("unfollow", "ada", "--id", str(listed[0]["id"])).returncode == 0
    assert [f["kind"] for f in json.loads(run("follows", "ada", "--json").stdout)] == ["category"]
