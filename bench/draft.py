"""Drafting throughput against the offline endpoint at real latencies: is the client the bottleneck?

    PYTHONPATH=$PWD .venv/bin/python bench/draft.py [--pairs 6000] [--concurrency 256] [--latency-ms 1000-3000]

The bound is concurrency / mean latency (256 / 2 s = 128 requests/s). In one run, against one
`python -m annotation.sample_endpoint --latency-ms A-B` process (its default sample replies):
1. baseline: a bare aiohttp client posting the same request bodies at the same concurrency (what the
   server and this machine allow with no drafting logic);
2. `python -m annotation draft` itself (openai client, retries, validation, JSONL store, fsync), as a
   child process; its figures come from its own summary.
Each is reported overall (first request to last reply: the tail is in it) and in the steady state (C in
flight, before the queue runs dry), with the client's and the server's CPU per request and the client's
event-loop lag. The last lines turn client CPU per request into headroom: the share of one core the
client needs at its bound, here and at --headroom (concurrency/latency, default 1000 in flight at 10 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from annotation.draft.llm import GenParams  # noqa: E402
from annotation.draft.prompting import load_prompt, response_format  # noqa: E402
from annotation.draft.selection import read_curated, select_pairs  # noqa: E402
from annotation.draft.timeline import Timeline  # noqa: E402
from annotation.sample_endpoint import parse_latency, spawn  # noqa: E402
from empathyqa.io import write_parquet_atomic  # noqa: E402
from empathyqa.progress import summary_figures  # noqa: E402
from empathyqa.schema import CURATED_THREAD, conform  # noqa: E402
from empathyqa.synthetic import iter_threads  # noqa: E402

MODEL = "empathyqa-offline-sample"


def curated(pairs: int, folder: Path) -> Path:
    """Synthetic threads (realistic lengths, 4.1 answers a question) as a curated set of `pairs` pairs."""
    rows, n = [], 0
    for thread in iter_threads(pairs // 3 + 10, seed=1, risk_rate=0.0):
        answers = [{**a, "author_id": None} for a in thread["answers"]][: pairs - n]
        rows.append(
            {**thread, "question_id": f"{thread['source']}:{thread['source_id']}", "answers": answers,
             "risk_level": "none"}
        )  # fmt: skip
        n += len(answers)
        if n >= pairs:
            break
    return write_parquet_atomic(conform(rows, CURATED_THREAD), folder / "curated.parquet")


async def bare_aiohttp(url: str, bodies: list[dict], concurrency: int) -> dict[str, float]:
    timeline = Timeline(concurrency)
    queue = list(reversed(bodies))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                started = time.monotonic()
                async with session.post(url + "/chat/completions", json=body) as response:
                    await response.json()
                timeline.add(started, time.monotonic())

        watch = asyncio.create_task(timeline.watch_loop())
        cpu0 = time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        timeline.cpu_s = time.process_time() - cpu0
        watch.cancel()
    return timeline.figures()


def draft_command(folder: Path, url: str, concurrency: int) -> dict[str, float]:
    cmd = [sys.executable, "-m", "annotation", "draft", str(folder), "--out", str(folder / "drafts"),
           "--model", MODEL, "--base-url", url, "--concurrency", str(concurrency),
           "--answers-per-question", "100"]  # fmt: skip
    env = dict(os.environ, OPENAI_API_KEY="offline-sample", PYTHONPATH=str(REPO))
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode:
        raise SystemExit(f"annotation draft exited {done.returncode}:\n{done.stderr[-3000:]}")
    return summary_figures(done.stderr)


def row(name: str, f: dict[str, float], bound: float, server_ms: float) -> str:
    steady = f.get("requests/s steady state", 0.0)
    return (
        f"| {name} | {f['requests/s overall']:.1f} ({f['requests/s overall'] / bound:.1%}) | "
        f"{steady:.1f} ({steady / bound:.1%}) | {f.get('in flight, steady state mean', 0):.0f} | "
        f"{f['ramp s']:.2f} / {f['tail s']:.2f} | {f['mean reply latency s']:.3f} | "
        f"{f.get('client CPU ms/request', 0):.2f} | {server_ms:.2f} | "
        f"{f.get('event loop lag p99 ms', 0):.0f} / {f.get('event loop lag max ms', 0):.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--latency-ms", default="1000-3000")
    parser.add_argument("--headroom", default="1000/10", help="concurrency/latency s to state headroom at")
    args = parser.parse_args()
    low, high = parse_latency(args.latency_ms)
    mean = (low + high) / 2
    bound = args.concurrency / mean
    server_cpu = lambda: sum(server.cpu_times()[:2])  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        curated(args.pairs, tmp)
        pairs, _ = select_pairs(read_curated(tmp), 100)
        prompt, rf = load_prompt(), response_format("json_schema")
        bodies = [
            {"model": MODEL, "messages": prompt.messages(p.title, p.question, p.answer, "json_schema"),
             "response_format": rf, **GenParams().as_dict()}
            for p in pairs
        ]  # fmt: skip
        random.Random(0).shuffle(bodies)
        proc, url = spawn(tmp / "port", "--quiet", "--latency-ms", args.latency_ms)
        server = psutil.Process(proc.pid)
        try:
            asyncio.run(bare_aiohttp(url, bodies[: args.concurrency], args.concurrency))  # warm both sides
            s0 = server_cpu()
            base = asyncio.run(bare_aiohttp(url, bodies, args.concurrency))
            s1 = server_cpu()
            drafted = draft_command(tmp, url, args.concurrency)
            s2 = server_cpu()
        finally:
            proc.terminate()
            proc.wait(10)
    n = len(bodies)
    requests = drafted.get("requests", n)
    load = os.getloadavg()[0]
    print(f"drafting bench: {n} pairs, concurrency {args.concurrency}, endpoint latency {args.latency_ms} ms "
          f"(mean {mean:.1f} s); {psutil.cpu_count()} CPUs, load average {load:.1f} (shared machine)")  # fmt: skip
    print(f"bound: concurrency / mean latency = {bound:.1f} req/s; a finite run's ideal wall is about "
          f"{n / bound:.1f} s plus a tail of up to {high:.0f} s\n")  # fmt: skip
    print(
        "| client | req/s overall (of bound) | req/s steady state (of bound) | in flight, steady | "
        "ramp / tail s | mean latency s | client CPU ms/req | server CPU ms/req | loop lag p99 / max ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(row("baseline: bare aiohttp", base, bound, 1000 * (s1 - s0) / n))
    print(row("`annotation draft`", drafted, bound, 1000 * (s2 - s1) / requests))
    print(f"\n`annotation draft`: wall {drafted.get('wall time s', 0):.1f} s for the whole command "
          f"(start, read, probe, requests, compaction), requests {requests:.0f}, retries {drafted.get('retries', 0):.0f}, "
          f"client CPU {drafted.get('client CPU s', 0):.1f} s in all")  # fmt: skip
    ms = drafted.get("client CPU ms/request", 0.0)
    conc, _, lat = args.headroom.partition("/")
    for c, latency in ((args.concurrency, mean), (int(conc), float(lat))):
        need = c / latency
        print(f"headroom: at {c} in flight / {latency:g} s the bound is {need:.0f} req/s; the client needs "
              f"{need * ms / 1000:.0%} of one core for it ({1000 / max(ms, 1e-9):.0f} req/s per free core)")  # fmt: skip
    steady = drafted.get("requests/s steady state", 0.0)
    print(f"target >= 95% of the bound in the steady state: {'met' if steady >= 0.95 * bound else 'missed'} "
          f"({steady / bound:.1%}); overall {drafted['requests/s overall'] / bound:.1%} "
          f"(the bare client {base['requests/s overall'] / bound:.1%}: the tail of a finite run)")  # fmt: skip


if __name__ == "__main__":
    main()
