"""Drafting throughput: 2,000 pairs against a local OpenAI-compatible server with 50 ms latency.

The bound is concurrency / latency (64 / 0.05 s = 1,280 requests/s). Baseline in the same run: a bare
httpx client posting the same request bodies at the same concurrency (what the server and the
machine allow with no drafting logic). Then the real drafter: openai client, rate limiter, retries,
validation, JSONL appends. Prints requests/s, the share of the bound, and client CPU per request.

    .venv/bin/python bench/draft.py [--pairs 2000] [--concurrency 64] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from _draft_helpers import thread, write_curated  # noqa: E402

from annotation import draft  # noqa: E402
from annotation.draft.llm import Drafter, GenParams, RateLimiter, RetryPolicy, make_client  # noqa: E402
from annotation.draft.prompting import load_prompt, response_format  # noqa: E402
from annotation.draft.selection import read_curated, select_pairs  # noqa: E402
from annotation.draft.store import DraftStore  # noqa: E402


def start_stub(latency: float, folder: Path) -> tuple[subprocess.Popen, str]:
    port_file = folder / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "annotation.sample_endpoint", "--reply", "stock", "--quiet",
         "--latency-ms", f"{latency * 1000:g}", "--port-file", str(port_file)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("stub server did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}/v1"


def cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


async def _hammer(post, bodies: list[dict], concurrency: int) -> tuple[float, float]:
    queue = list(bodies)

    async def worker() -> None:
        while queue:
            await post(queue.pop())

    c0, t0 = cpu(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, cpu() - c0


async def baseline_httpx(url: str, bodies: list[dict], concurrency: int) -> tuple[float, float]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=None), timeout=30) as client:

        async def post(body: dict) -> None:
            (await client.post(url + "/chat/completions", json=body)).json()

        return await _hammer(post, bodies, concurrency)


async def baseline_aiohttp(url: str, bodies: list[dict], concurrency: int) -> tuple[float, float]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def post(body: dict) -> None:
            async with session.post(url + "/chat/completions", json=body) as response:
                await response.json()

        return await _hammer(post, bodies, concurrency)


async def drafter_run(url: str, jobs, store, config) -> tuple[float, float, int, Drafter]:
    client = make_client(url, "bench", 30)
    prompt = load_prompt()
    d = Drafter(
        client, "bench-model", prompt, GenParams(), RetryPolicy(timeout=30), RateLimiter(), mode="json_schema"
    )
    state = draft.RunState()
    c0, t0 = cpu(), time.perf_counter()
    drafted = await draft.draft_all(jobs, store, d, config, state)
    wall, used = time.perf_counter() - t0, cpu() - c0
    await client.close()
    if state.failed:
        print(f"  failures: {dict(state.failed)}")
    return wall, used, drafted, d


def line(name: str, count: int, seconds: float, client_cpu: float, server_cpu: float, bound: float) -> str:
    rate = count / seconds
    server = f", server CPU {server_cpu / count * 1000:.2f} ms/req" if server_cpu else ""
    return (
        f"  {name:<34} {rate:6.0f} req/s ({rate / bound:5.1%} of bound)"
        f"  client CPU {client_cpu / count * 1000:.2f} ms/req{server}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    bound = args.concurrency / args.latency
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_curated(tmp / "cur", [thread(i) for i in range(args.pairs)])
        pairs, _ = select_pairs(read_curated(tmp / "cur"))
        prompt = load_prompt()
        rf = response_format("json_schema")
        bodies = [
            {"model": "bench-model", "messages": prompt.messages(p.title, p.question, p.answer, "json_schema"),
             "response_format": rf, **GenParams().as_dict()}
            for p in pairs
        ]  # fmt: skip
        stub, url = start_stub(args.latency, tmp)
        server = psutil.Process(stub.pid)
        server_cpu = lambda: sum(server.cpu_times()[:2])  # noqa: E731
        try:
            asyncio.run(baseline_aiohttp(url, bodies[:128], args.concurrency))  # warm up both sides
            s0 = server_cpu()
            base_wall, base_cpu = asyncio.run(baseline_aiohttp(url, bodies, args.concurrency))
            s1 = server_cpu()
            httpx_n = min(len(bodies), 500)  # httpx's own pool is slow: a shorter run tells enough
            httpx_wall, httpx_cpu = asyncio.run(baseline_httpx(url, bodies[:httpx_n], args.concurrency))
            config = draft.DraftConfig(model="bench-model", concurrency=args.concurrency)
            store = DraftStore(tmp / "out")
            jobs, _, _ = draft.plan_jobs(pairs, store, prompt, config, GenParams())
            s2 = server_cpu()
            wall, used, drafted, d = asyncio.run(drafter_run(url, jobs, store, config))
            s3 = server_cpu()
            store.compact()
        finally:
            stub.terminate()
            stub.wait(10)
    n, reqs = len(pairs), d.stats.requests
    print(
        f"drafting bench: {n} pairs, concurrency {args.concurrency}, server latency {args.latency * 1000:.0f} ms"
    )
    print(
        f"  machine: {psutil.cpu_count()} CPUs, load average {psutil.getloadavg()[0]:.1f} (shared with other work)"
    )
    print(f"  bound (concurrency / latency)      {bound:6.0f} req/s")
    print(line("baseline: bare aiohttp client", n, base_wall, base_cpu, s1 - s0, bound))
    print(line("reference: bare httpx client", httpx_n, httpx_wall, httpx_cpu, 0.0, bound))
    print(line("annotation draft (openai client)", reqs, wall, used, s3 - s2, bound))
    print(f"  drafted {drafted}/{n}, requests {reqs}, retries {d.stats.retries}, wall {wall:.2f} s")
    print(f"  drafter CPU ceiling: {reqs / used:.0f} req/s per free core (1 / client CPU per request)")
    rate, target = reqs / wall, 0.8 * bound
    print(f"  target >= 80% of bound ({target:.0f} req/s): {'met' if rate >= target else 'missed'}"
          f" ({rate / (n / base_wall):.0%} of the bare aiohttp baseline in this run)")  # fmt: skip


if __name__ == "__main__":
    main()
