"""The scheduler inside the web app: started and stopped by the app's lifespan."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import httpx
from starlette.testclient import TestClient

from paperfeed.library import Library
from paperfeed.settings import Settings
from paperfeed.web.app import create_app
from tests.jobs.test_cli import environment
from tests.jobs.test_two_workers import free_port


def scheduler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "paperfeed-scheduler"]


def test_lifespan_runs_the_scheduler_thread_and_stops_it(library: Library) -> None:
    assert library.settings.run_scheduler  # the default
    app = create_app(library, library.settings)
    with TestClient(app) as client:
        assert client.get("/static/paperfeed.css").status_code == 200
        [thread] = scheduler_threads()
        assert thread.is_alive()
    assert not thread.is_alive()  # shutdown waited for the loop to end
    assert scheduler_threads() == []


def test_no_scheduler_thread_when_run_scheduler_is_off(settings: Settings) -> None:
    off = settings.model_copy(update={"run_scheduler": False})
    with Library.open(off) as library:
        with TestClient(create_app(library, off)) as client:
            assert client.get("/static/paperfeed.css").status_code == 200
            assert scheduler_threads() == []
        assert library.storage.jobs.all() == []  # nothing ever looked at the queue


def test_serve_runs_due_jobs_and_shuts_down_cleanly(settings: Settings) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port), "--no-access-log"],
        env=environment(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ran = False
        with Library.open(settings) as library:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and server.poll() is None:
                job = library.storage.jobs.get("submissions")
                if job is not None and job.run_count >= 1 and job.locked_by is None:
                    ran = True
                    break
                time.sleep(0.2)
        assert ran, "the in-process scheduler never ran the due submissions job"
        assert httpx.get(f"http://127.0.0.1:{port}/static/paperfeed.css").status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, stderr = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    assert server.returncode == 0, stderr
    with Library.open(settings) as library:
        assert all(job.locked_by is None for job in library.storage.jobs.all())
