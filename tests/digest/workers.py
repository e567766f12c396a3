"""Digest runs in real worker processes, so tests can kill them (SIGKILL) mid-send."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime

from paperfeed.settings import Settings

_SCRIPT = textwrap.dedent("""
    import json, sys
    from datetime import datetime
    from paperfeed.library import Library
    from paperfeed.settings import Settings

    settings = Settings.model_validate_json(sys.argv[1])
    with Library.open(settings) as library:
        delivery = library.delivery
        if sys.argv[4] == "wait":  # started ahead of time: go on a line on stdin
            sys.stdin.readline()
        report = delivery.send_digests(
            now=datetime.fromisoformat(sys.argv[2]), worker=sys.argv[3], skip_days=False
        )
    print(json.dumps(report.as_dict()))
""")


def start_digest_worker(
    settings: Settings, now: datetime, name: str, *, wait: bool = False
) -> subprocess.Popen[str]:
    """``send_digests(now=now)`` in a new process (``now`` lets a test move time on
    past the claims' leases instead of waiting for them). ``wait``: the process
    starts up, then waits for :func:`go` before sending (starting Python and opening
    the library take seconds on a busy machine)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    return subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, settings.model_dump_json(), now.isoformat(), name,
         "wait" if wait else "now"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def go(workers: list[subprocess.Popen[str]]) -> None:
    """Let workers started with ``wait=True`` send."""
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()  # communicate() closes it
