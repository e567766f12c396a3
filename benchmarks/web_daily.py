"""Daily-page throughput: ``paperfeed serve`` over real HTTP at corpus scale.

    python benchmarks/web_daily.py [--data-dir DIR] [--workers 2] [--seconds 20]
                                   [--connections 8] [--path /]

With no ``--data-dir`` it imports ../shared/data/arxiv-cs-75k.jsonl.gz (74,728
arXiv cs papers, ~300-700 a day) into a temporary SQLite database first. Then it
starts ``paperfeed serve --workers N`` and drives it with ``wrk`` (apt-get install
wrk) or, without wrk, a Python client. It prints requests/s and latency
percentiles, plus the server's CPU time per request, read from /proc. The last
number is the one to compare on a shared machine: other processes steal CPU from
the load test, but not from the server's own accounting; ``cores x 1000 / CPU ms``
is what the server could do with the cores to itself.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared/data/arxiv-cs-75k.jsonl.gz"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU of ``root_pid`` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        stats[pid] = (int(fields[11]), int(fields[12]))  # utime, stime
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        utime, stime = stats.get(pid, (0, 0))
        total += utime + stime
        stack.extend(children.get(pid, []))
    return total / CLOCK_TICKS


def python_load(url: str, seconds: float, connections: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        with httpx.Client() as client:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                client.get(url).raise_for_status()
                with lock:
                    latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def wrk_load(url: str, seconds: float, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", url],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out:
        raise SystemExit(f"errors during the run:\n{out}")

    def ms(label: str) -> float:
        match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="an existing data dir (skips the import)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--path", default="/")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="paperfeed-bench-"))
    data_dir = args.data_dir or scratch / "data"
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data_dir)}
    env.pop("PAPERFEED_DATABASE_URL", None)
    try:
        if args.data_dir is None:
            print(f"importing {args.corpus} ...", flush=True)
            subprocess.run(
                [sys.executable, "-m", "paperfeed", "import", str(args.corpus)], env=env, check=True
            )
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "serve", "--port", str(port),
             "--workers", str(args.workers), "--no-access-log"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}{args.path}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            python_load(url, 3, args.connections)  # warm every worker's caches and threads
            cpu_before = tree_cpu_seconds(server.pid)
            load = wrk_load if shutil.which("wrk") else python_load
            result = load(url, args.seconds, args.connections)
            cpu_ms = (tree_cpu_seconds(server.pid) - cpu_before) * 1000 / result["requests"]
        finally:
            server.terminate()
            server.wait(30)
        print(
            f"{args.path}: {result['rps']:.0f} requests/s, p50 {result['p50_ms']:.1f} ms,"
            f" p99 {result['p99_ms']:.1f} ms ({args.workers} workers, {args.connections}"
            f" connections, {load.__name__.split('_')[0]}); server CPU {cpu_ms:.2f} ms/request"
            f" = {os.cpu_count() or 1} cores x 1000 / CPU ms ="
            f" {(os.cpu_count() or 1) * 1000 / cpu_ms:.0f} requests/s with the cores to itself"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
