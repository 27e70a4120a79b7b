"""A drafting run killed midway (SIGKILL) and resumed loses nothing and repeats nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pyarrow.parquet as pq
from _draft_helpers import REPO, thread, write_curated

from annotation.sample_endpoint import Fault

PAIRS = 40
CONCURRENCY = 4


def drafted_in_shards(out) -> set[str]:
    found = set()
    for path in (out / "parts").glob("drafts-*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                found.add(json.loads(line)["question_id"])
            except ValueError:
                pass  # a line cut by the kill
    return found


def test_killed_run_resumes_without_losing_or_repeating(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in range(PAIRS)])
    out = tmp_path / "out"
    faults = [
        Fault("status", status=500, match="问题7：", times=1),
        Fault("length", match="问题9：", times=-1),
    ]
    args = [
        sys.executable,
        "-m",
        "annotation",
        "draft",
        str(tmp_path / "cur"),
        "--out",
        str(out),
        "--model",
        "m1",
    ]
    args += ["--concurrency", str(CONCURRENCY), "--timeout", "5", "--backoff-base", "0.02"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with fake_endpoint(latency=0.1, faults=faults) as stub:
        args += ["--base-url", stub.url]
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while stub.count() < 16 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
        assert not (out / "coe.parquet").exists()  # killed before compaction
        saved = drafted_in_shards(out)
        first_run = Counter(r["user"] for r in stub.requests)
        assert 5 <= len(saved) < PAIRS

        stub.requests.clear()
        done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        second = stub.requests

    records = {r["question_id"] for r in pq.read_table(out / "coe.parquet").to_pylist()}
    failed = {r["question_id"]: r["reason"] for r in pq.read_table(out / "failures.parquet").to_pylist()}
    everyone = {f"sample:{i:05d}" for i in range(PAIRS)}
    assert records | set(failed) == everyone and not records & set(failed)  # nothing lost
    assert failed == {"sample:00009": "length"}
    asked_again = [r["user"] for r in second if any(f"问题{int(q[-5:])}：" in r["user"] for q in saved)]
    assert asked_again == []  # nothing drafted before the kill was requested again
    assert not any("请只输出这个 JSON" in r["user"] for r in second)  # probe remembered
    # only the requests in flight at the kill (and the failed pair) can be sent twice
    repeated = [u for u in Counter(r["user"] for r in second) if u in first_run]
    assert len(repeated) <= CONCURRENCY + 1
    assert not (out / "parts").exists() or not list((out / "parts").glob("*.jsonl"))


def test_ctrl_c_saves_what_arrived_and_says_so(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in range(PAIRS)])
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "annotation",
        "draft",
        str(tmp_path / "cur"),
        "--out",
        str(out),
        "--model",
        "m1",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with fake_endpoint(latency=0.1) as stub:
        args += ["--base-url", stub.url, "--concurrency", "2"]
        proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 30
        while stub.count() < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "INTERRUPTED" in err and "Traceback" not in err
    saved = pq.read_table(out / "coe.parquet").num_rows
    assert 4 <= saved < PAIRS  # compacted on the way out
    drafted_now = int(re.search(r"drafted now\s+(\d+)", err).group(1))
    assert drafted_now == saved and re.search(r"requests\s+\d+", err)
