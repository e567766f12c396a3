"""Web throughput at corpus scale: pages and API over real HTTP, like a deployment.

    python benchmarks/web.py [CORPUS] [--data-dir DIR] [--workers 2] [--seconds 15]
                             [--connections 8] [--client auto|wrk|python] [--only NAME ...]

Imports CORPUS (default ../shared/data/arxiv-cs-75k.jsonl.gz, 74,728 arXiv cs
papers) into a temporary SQLite database without embeddings (``--no-embed``; the
keyword index is built), or reuses ``--data-dir``. Starts ``paperfeed serve
--workers N`` (as a deployment would) and loads it on loopback, one scenario at a
time:

  daily          /  (the latest day's page, logged out)
  daily-user     /  with a session cookie (cards rendered per viewer, upvote state)
  paper          a paper page, rotating over 500 papers
  search         /search?q=...&mode=keyword, rotating over 40 queries
  api-daily      /api/daily_papers?date=<latest day> (the Hugging Face shape)
  group          a group's page for one of its 30 members: its feed ranked by the
                 members' votes only, recent votes, members, shared collections
                 (2,030 users cast 130,000 votes first, 24,000 of them by the members)

The load comes from ``wrk`` when installed (C, cheap), else from an asyncio httpx
client in this process. Both share the 2 cores with the server, so every row
reports the client's CPU per request next to the server's: ``server CPU ms`` is
read from /proc for the server's process tree and is what to compare across runs
on a busy machine; ``cores x 1000 / server CPU ms`` is the rate the server would
reach with the cores to itself. The 1-minute load average is printed per row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared/data/arxiv-cs-75k.jsonl.gz"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PASSWORD = "benchmark password"
QUERIES = [
    "diffusion", "large language models", "reinforcement learning", "graph neural network",
    "mixture of experts", "retrieval augmented generation", "vision transformer", "contrastive",
    "federated learning", "speech recognition", "knowledge distillation", "quantization",
    "ti:agents", "au:wang", "cat:cs.CV", "\"chain of thought\"", "prompt*", "robotics",
    "code generation", "benchmark", "hallucination", "multimodal", "protein", "time series",
    "adversarial robustness", "sparse attention", "tokenizer", "world model", "3d gaussian",
    "video generation", "recommendation", "privacy", "optimization", "kernel", "causal",
    "segmentation", "summarization", "translation", "alignment", "reasoning",
]  # fmt: skip


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu_ms: float
    client_cpu_ms: float
    load: float
    client: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


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


# -- load generators ---------------------------------------------------------------------


async def _python_load(
    base: str, paths: list[str], seconds: float, connections: int, headers: dict[str, str]
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, headers=headers) as client:

        async def worker(offset: int) -> None:
            nonlocal errors
            index = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(paths[index % len(paths)])
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200
                index += connections

        await asyncio.gather(*(worker(i) for i in range(connections)))
    return latencies, errors


def python_load(
    base: str, paths: list[str], seconds: float, connections: int, headers: dict[str, str]
) -> tuple[int, float, float, int, float]:
    """requests, p50 ms, p99 ms, non-200 count, client CPU seconds."""
    cpu = time.process_time()
    latencies, errors = asyncio.run(_python_load(base, paths, seconds, connections, headers))
    cpu = time.process_time() - cpu
    latencies.sort()
    count = len(latencies)
    return (count, latencies[count // 2] * 1000, latencies[int(count * 0.99)] * 1000, errors, cpu)


_WRK_SCRIPT = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def wrk_load(
    base: str, paths: list[str], seconds: float, connections: int, headers: dict[str, str]
) -> tuple[int, float, float, int, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % ", ".join(json.dumps(p) for p in paths))
    args = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", script.name]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([*args, base], check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.unlink(script.name)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    def ms(label: str) -> float:
        match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return requests, ms("50%"), ms("99%"), int(found.group(1)) if found else 0, cpu


# -- the run -----------------------------------------------------------------------------


def start_server(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port),
         "--workers", str(workers), "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        if server.poll() is not None:
            raise SystemExit("paperfeed serve exited early")
        try:
            if httpx.get(base + "/static/paperfeed.css", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def session_cookie(base: str, env: dict[str, str]) -> str:
    """Log a benchmark user in through the login form; the session cookie's value."""
    # Fails harmlessly when a reused --data-dir has the user already.
    subprocess.run(
        [sys.executable, "-m", "paperfeed", "users", "create", "bench", "--email",
         "bench@example.org", "--password-stdin"],
        env=env, input=PASSWORD + "\n", text=True, capture_output=True,
    )  # fmt: skip
    with httpx.Client(base_url=base) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"csrf_token": token, "login": "bench", "password": PASSWORD})
        cookie = client.cookies.get("pf_session")
    if not cookie:
        raise SystemExit("could not log the benchmark user in")
    return cookie


def scenarios(base: str, env: dict[str, str]) -> dict[str, tuple[list[str], dict[str, str]]]:
    twin = httpx.get(base + "/index.json", timeout=60).json()
    day = twin["start"]
    ids = [card["id"] for card in twin["papers"]]
    for page in range(2, 11):  # 500 papers from the latest days
        more = httpx.get(base + f"/papers/date/{day}.json", params={"page": page}, timeout=60)
        if more.status_code != 200:
            break
        ids += [card["id"] for card in more.json()["papers"]]
    previous = twin["previous"]
    while len(ids) < 500 and previous:
        older = httpx.get(base + previous["url"] + ".json", timeout=60).json()
        ids += [card["id"] for card in older["papers"]]
        previous = older["previous"]
    searches = [str(httpx.URL("/search", params={"q": q, "mode": "keyword"})) for q in QUERIES]
    group_id, member_cookie = group_setup(base, env)
    return {
        "daily": (["/"], {}),
        "daily-user": (["/"], {"Cookie": f"pf_session={session_cookie(base, env)}"}),
        "paper": ([f"/papers/{paper_id}" for paper_id in ids[:500]], {}),
        "search": (searches, {}),
        "api-daily": ([f"/api/daily_papers?date={day}"], {}),
        "group": ([f"/groups/{group_id}"], {"Cookie": f"pf_session={member_cookie}"}),
    }


def group_setup(
    base: str, env: dict[str, str], members: int = 30, others: int = 2000
) -> tuple[int, str]:
    """A group of ``members`` users and ``others`` users outside it, all voting: each
    member 800 papers (a fifth of them from the latest two weeks), each other user 50.
    Returns the group's id and a member's session cookie."""
    import random

    from paperfeed.library import Library
    from paperfeed.settings import load_settings

    settings = load_settings(data_dir=env["PAPERFEED_DATA_DIR"])
    rng = random.Random(11)
    with Library.open(settings) as library:
        db, community = library.storage.db, library.community
        existing = db.scalar("SELECT id FROM user_groups WHERE name = 'Bench lab'")
        if existing is None:
            rows = db.query("SELECT id, feed_date FROM papers ORDER BY feed_date DESC, id")
            recent = [r["id"] for r in rows[:3000]]
            everything = [r["id"] for r in rows]
            with db.transaction() as tx:
                tx.executemany(
                    "INSERT INTO users (username, email, email_key, password_hash, is_admin,"
                    " created_at) VALUES (?, ?, ?, 'x', 0, '2026-01-01T00:00:00Z')",
                    [(f"g{n}", f"g{n}@bench.example.org", f"g{n}@bench.example.org")
                     for n in range(members + others)],
                )  # fmt: skip
                ids = [r["id"] for r in tx.query("SELECT id FROM users WHERE username LIKE 'g%'"
                                                  " ORDER BY id")]  # fmt: skip
                votes = []
                for n, user_id in enumerate(ids):
                    count = 800 if n < members else 50
                    chosen = set(rng.sample(recent, count // 5))
                    chosen |= set(rng.sample(everything, count - len(chosen)))
                    votes += [(user_id, pid, "2026-07-01T00:00:00Z") for pid in chosen]
                tx.executemany("INSERT INTO votes (user_id, paper_id, created_at) VALUES (?, ?, ?)",
                               votes)  # fmt: skip
            library.storage.votes.recount()
            group = community.create_group(ids[0], "Bench lab")
            for user_id in ids[1:members]:
                community.add_member(group.id, user_id)
            shared = community.create_group_collection(group.id, ids[0], "Reading list")
            for pid in recent[:40]:
                community.add_to_collection(ids[0], shared.id, pid)
            existing = group.id
        member = community.user_by_username("g1")
        session = community.start_session(member.id)
    return int(existing), session.token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--data-dir", type=Path, help="an existing data dir (skips the import)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--only", nargs="*", help="scenario names to run (default: all)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="paperfeed-web-bench-"))
    data_dir = args.data_dir or scratch / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PAPERFEED_DATA_DIR"] = str(data_dir)
    env["PAPERFEED_RUN_SCHEDULER"] = "false"  # no background jobs competing for the cores
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    load = wrk_load if use_wrk else python_load
    client_name = "wrk" if use_wrk else "python"
    try:
        if args.data_dir is None:
            print(f"importing {args.corpus} (no embeddings) ...", flush=True)
            subprocess.run(
                [sys.executable, "-m", "paperfeed", "import", "--no-embed", str(args.corpus)],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        server, base = start_server(env, args.workers)
        results: list[Result] = []
        try:
            papers = httpx.get(base + "/index.json", timeout=60).json()["pagination"]["total"]
            for name, (paths, headers) in scenarios(base, env).items():
                if args.only and name not in args.only:
                    continue
                load(base, paths, 3, args.connections, headers)  # warm every worker
                cpu_before = tree_cpu_seconds(server.pid)
                started = time.perf_counter()
                requests, p50, p99, errors, client_cpu = load(
                    base, paths, args.seconds, args.connections, headers
                )
                elapsed = time.perf_counter() - started
                server_cpu = tree_cpu_seconds(server.pid) - cpu_before
                result = Result(
                    name, requests, elapsed, p50, p99, errors,
                    server_cpu * 1000 / max(requests, 1), client_cpu * 1000 / max(requests, 1),
                    os.getloadavg()[0], client_name,
                )  # fmt: skip
                results.append(result)
                print(
                    f"{name:11} {result.rps:7.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
                    f"  server CPU {result.server_cpu_ms:5.2f} ms/req"
                    f"  client CPU {result.client_cpu_ms:5.2f} ms/req  errors {errors}"
                    f"  load {result.load:.1f}",
                    flush=True,
                )
        finally:
            server.send_signal(signal.SIGINT)  # uvicorn's clean shutdown, workers included
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        cores = os.cpu_count() or 1
        print(
            f"\n{cores} cores, {args.workers} workers, {args.connections} connections,"
            f" {client_name} client, {args.seconds:.0f} s per scenario;"
            f" latest day has {papers} papers"
        )
        print("| scenario | req/s | p50 ms | p99 ms | server CPU ms/req | req/s with the cores"
              " to itself | client CPU ms/req | load |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for r in results:
            alone = cores * 1000 / r.server_cpu_ms if r.server_cpu_ms else 0
            print(
                f"| {r.name} | {r.rps:.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} |"
                f" {r.server_cpu_ms:.2f} | {alone:.0f} | {r.client_cpu_ms:.2f} | {r.load:.1f} |"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
