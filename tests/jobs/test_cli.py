"""`paperfeed jobs` and `paperfeed worker` as real processes, on both engines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from paperfeed.library import Library
from paperfeed.settings import Settings
from tests.conftest import FIXTURES
from tests.support.replay_server import ReplayServer, Reply

pytest_plugins = ("tests.support.replay_server",)

ATOM = FIXTURES / "arxiv/atom/2026-02-11-113450.xml"  # the arXiv API's answer for 2410.19022
PASSWORD = "correct horse battery"


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATA_DIR=str(settings.data_dir),
        PAPERFEED_DATABASE_URL=settings.resolved_database_url,
        PAPERFEED_HTTP_DELAY_SECONDS="0",
        PAPERFEED_WORKER_POLL_SECONDS="0.5",
    )
    if settings.database_schema:
        env["PAPERFEED_DATABASE_SCHEMA"] = settings.database_schema
    env.update(extra)
    return env


def paperfeed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def queue_submission(settings: Settings) -> None:
    """A user's submission of 2410.19022, queued because arXiv was unreachable then."""
    offline = settings.model_copy(
        update={"arxiv_api_url": "http://127.0.0.1:9/api/query", "http_delay_seconds": 0.0}
    )
    with Library.open(offline) as library:
        user = library.community.create_user("ada", "ada@example.org", PASSWORD)
        assert library.submit_paper(user.id, "2410.19022").status == "queued"


def job_row(settings: Settings, name: str) -> dict[str, Any]:
    with Library.open(settings) as library:
        job = library.storage.jobs.get(name)
        assert job is not None
        return job.as_dict()


def submission_status(settings: Settings) -> str:
    with Library.open(settings) as library:
        return library.storage.db.scalar("SELECT status FROM submissions")


def test_jobs_list_pause_resume_and_errors(settings: Settings) -> None:
    env = environment(settings)
    listed = paperfeed(env, "jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    jobs = {job["name"]: job for job in json.loads(listed.stdout)}
    assert set(jobs) == {
        "harvest-arxiv", "harvest-hf", "index-sync", "submissions", "digest-daily",
        "digest-weekly", "alerts", "group-digest-daily", "group-digest-weekly",
    }  # fmt: skip
    assert jobs["harvest-arxiv"]["schedule"] == "daily 03:30"
    assert jobs["index-sync"]["paused"] is False

    paused = paperfeed(env, "jobs", "pause", "harvest-hf", "--json")
    assert paused.returncode == 0 and json.loads(paused.stdout)["paused"] is True
    table = paperfeed(env, "jobs", "list")
    assert table.returncode == 0 and "paused" in table.stdout
    resumed = paperfeed(env, "jobs", "resume", "harvest-hf")
    assert resumed.returncode == 0 and "resumed harvest-hf" in resumed.stdout
    assert job_row(settings, "harvest-hf")["paused"] is False

    missing = paperfeed(env, "jobs", "run", "nope")
    assert missing.returncode == 6
    assert missing.stderr.strip().splitlines()[-1].startswith("error: no job named 'nope'")


def test_jobs_run_by_hand_records_like_the_scheduler(
    settings: Settings, replay_server: ReplayServer
) -> None:
    queue_submission(settings)
    replay_server.add(
        "/api/query", Reply.file(ATOM, content_type="application/atom+xml"),
        query={"id_list": "2410.19022"},
    )  # fmt: skip
    env = environment(settings, PAPERFEED_ARXIV_API_URL=replay_server.url + "/api/query")
    ran = paperfeed(env, "jobs", "run", "submissions", "--json")
    assert ran.returncode == 0, ran.stderr
    [run] = json.loads(ran.stdout)
    assert (run["name"], run["status"], run["result"]) == ("submissions", "ok", {"fetched": 1})
    row = job_row(settings, "submissions")
    assert (row["run_count"], row["last_status"], row["locked_by"]) == (1, "ok", None)
    assert submission_status(settings) == "fetched"


def test_jobs_run_failure_exits_with_the_errors_code(
    settings: Settings, replay_server: ReplayServer
) -> None:
    replay_server.add(
        "/oai", Reply.file(FIXTURES / "arxiv/oai-pmh/ErrorResponseBadArgument.xml"),
    )  # fmt: skip
    env = environment(
        settings,
        PAPERFEED_HARVEST_ENABLED="true",
        PAPERFEED_ARXIV_OAI_URL=replay_server.url + "/oai",
    )
    ran = paperfeed(env, "jobs", "run", "harvest-arxiv")
    assert ran.returncode == 5, ran.stderr  # a remote source failed
    assert "harvest-arxiv: error (" in ran.stdout
    assert "job harvest-arxiv: failed" in ran.stderr  # the log line, with a timestamp
    row = job_row(settings, "harvest-arxiv")
    assert (row["error_count"], row["last_status"]) == (1, "error")


def test_worker_once_runs_due_jobs_end_to_end(
    settings: Settings, replay_server: ReplayServer
) -> None:
    queue_submission(settings)
    replay_server.add(
        "/api/query", Reply.file(ATOM, content_type="application/atom+xml"),
        query={"id_list": "2410.19022"},
    )  # fmt: skip
    env = environment(settings, PAPERFEED_ARXIV_API_URL=replay_server.url + "/api/query")
    once = paperfeed(env, "worker", "--once", "--worker-id", "cron-1", "--json")
    assert once.returncode == 0, once.stderr
    runs = {run["name"]: run for run in json.loads(once.stdout)}
    # Only the interval jobs are due on a fresh install; daily ones wait for their time.
    assert set(runs) == {"alerts", "index-sync", "submissions"}
    assert runs["submissions"]["result"] == {"fetched": 1}
    assert submission_status(settings) == "fetched"
    assert "job submissions: started on cron-1" in once.stderr
    # Run again at once: nothing is due any more.
    again = paperfeed(env, "worker", "--once")
    assert again.returncode == 0 and "no job was due" in again.stdout


# -- the long-running worker and signals ---------------------------------------------------------


class GateServer:
    """An arXiv API stand-in that holds each request until the test opens the gate."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.gate = threading.Event()
        body = ATOM.read_bytes()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.arrived.set()
                server.gate.wait(120)
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/query"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class Worker:
    """A `paperfeed worker` process whose stderr lines the test can wait for."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "worker", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.lines.append("<eof>")
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> None:
        with self._changed:
            found = self._changed.wait_for(
                lambda: any(text in line or line == "<eof>" for line in self.lines), timeout
            )
        assert found and any(text in line for line in self.lines), "".join(self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait(timeout=60)


@pytest.fixture
def gate() -> Iterator[GateServer]:
    server = GateServer()
    yield server
    server.close()


def test_sigterm_lets_the_current_job_finish_then_exits(
    settings: Settings, gate: GateServer
) -> None:
    queue_submission(settings)
    worker = Worker(
        environment(settings, PAPERFEED_ARXIV_API_URL=gate.url), "--worker-id", "w-term"
    )
    try:
        assert gate.arrived.wait(60), "".join(worker.lines)  # the submissions job is fetching
        worker.process.send_signal(signal.SIGTERM)
        worker.wait_for("SIGTERM: stopping after the current job")
        assert worker.process.poll() is None  # still busy with the job
        gate.gate.set()
        assert worker.process.wait(timeout=60) == 0, "".join(worker.lines)
    finally:
        worker.stop()
    worker.wait_for("worker w-term stopped")
    row = job_row(settings, "submissions")
    assert (row["last_status"], row["locked_by"], row["run_count"]) == ("ok", None, 1)
    assert row["last_result"] == {"fetched": 1}
    assert submission_status(settings) == "fetched"


def test_idle_worker_stops_on_sigint(settings: Settings) -> None:
    worker = Worker(environment(settings), "--worker-id", "w-idle")
    try:
        worker.wait_for("job submissions: ok")  # it ran the due jobs and is now idle
        worker.process.send_signal(signal.SIGINT)
        assert worker.process.wait(timeout=60) == 0, "".join(worker.lines)
    finally:
        worker.stop()
    worker.wait_for("worker w-idle stopped")
    assert all(
        job_row(settings, name)["locked_by"] is None
        for name in ("alerts", "index-sync", "submissions")
    )
