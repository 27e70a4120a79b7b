"""Endpoint misbehaviour beyond the basics (found by a held-out hostile server): each pair still ends
drafted, or failed with a reason that says what happened, and a refused key or model stops the run."""

from __future__ import annotations

import email.utils
import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
from _draft_helpers import REPO, thread, write_curated

from annotation.draft import drafter as draft
from annotation.draft.prompting import parse_reply
from annotation.sample_endpoint import Fault, stock_layers

FAST = ["--timeout", "1", "--backoff-base", "0.02", "--backoff-max", "0.2", "--max-retries", "3"]
GOOD = {
    "l1": "求助者因工作压力大而长期失眠，感到焦虑和疲惫。",
    "l2": "焦虑可能来自对失败的担忧，带有灾难化的想法。",
    "l3": "求助者希望被理解，也想要改善睡眠的具体办法。",
    "l4": "回答先共情疲惫与焦虑，再给出放松和作息方面的小步骤。",
}


def run_draft(curated, out, stub, *extra) -> int:
    args = [str(curated), "--out", str(out), "--model", "m1", "--base-url", stub.url, *FAST, *extra]
    return draft.main(args)


def outcome(out) -> tuple[dict[str, dict], dict[str, dict]]:
    drafted = {r["question_id"]: r for r in pq.read_table(out / "coe.parquet").to_pylist()}
    failed = {r["question_id"]: r for r in pq.read_table(out / "failures.parquet").to_pylist()}
    return drafted, failed


def test_parse_reply_unwraps_nested_layers_and_ignores_prose_with_braces():
    text = json.dumps(GOOD, ensure_ascii=False)
    assert parse_reply(json.dumps({"layers": GOOD}, ensure_ascii=False), "json_object").l3 == GOOD["l3"]
    upper = {"chain_of_empathy": {k.upper(): v for k, v in GOOD.items()}}
    assert parse_reply(json.dumps(upper, ensure_ascii=False), "json_object").l1 == GOOD["l1"]
    assert parse_reply(f"好的，共情链如下：\n{text}\n希望有帮助！{{完}}", "json_object").l4 == GOOD["l4"]
    assert parse_reply('{"note": 1} 前言{不是JSON}\n' + text, "json_object").l2 == GOOD["l2"]


# pair number -> (faults, expected outcome, requests the pair should cost)
CASES = {
    1: ([Fault("status", status=529, match="问题1：")], "drafted", 2),  # "overloaded" is retried
    2: ([Fault("status", status=520, match="问题2：", times=-1)], "server_error", 4),
    3: ([Fault("status", status=503, match="问题3：", times=2)], "drafted", 3),  # no retry-after
    4: ([Fault("error_body", match="问题4：")], "drafted", 2),
    5: ([Fault("error_body", match="问题5：", times=-1)], "bad_response", 4),
    6: ([Fault("no_choices", match="问题6：")], "drafted", 2),
    7: ([Fault("garbage", match="问题7：")], "drafted", 2),
    8: ([Fault("garbage", match="问题8：", times=-1)], "bad_response", 4),
    9: ([Fault("reset", match="问题9：")], "drafted", 2),
    10: ([Fault("null_content", match="问题10：")], "drafted", 2),  # the repair brings a reply
    11: ([Fault("null_content", match="问题11：", times=-1)], "invalid_reply", 2),
    12: ([Fault("no_usage", match="问题12：")], "drafted", 1),
    13: ([Fault("status", status=501, match="问题13：")], "http_501", 1),
    14: ([Fault("trickle", delay=10, match="问题14：")], "drafted", 2),  # --timeout 1 is per request
    15: ([Fault("drop", match="问题15：", times=-1)], "connection", 4),  # not reported as a timeout
    16: ([Fault("timeout", delay=3, match="问题16：", times=-1)], "timeout", 4),
}


def test_hostile_endpoint_every_pair_drafted_or_failed_with_its_reason(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in CASES])
    faults = [f for fs, _, _ in CASES.values() for f in fs]
    with fake_endpoint(faults=faults) as stub:
        started = time.monotonic()
        assert run_draft(tmp_path / "cur", tmp_path / "out", stub) == 0
        assert time.monotonic() - started < 8  # the trickled reply was cut at the request timeout
        counts = {n: stub.count(match=f"问题{n}：") for n in CASES}
    drafted, failed = outcome(tmp_path / "out")
    for n, (_, expected, requests) in CASES.items():
        qid = f"sample:{n:05d}"
        got = "drafted" if qid in drafted else failed[qid]["reason"]
        assert (got, counts[n]) == (expected, requests), n
    assert "upstream model error" in failed["sample:00005"]["last_error"]  # the error the body carried
    assert "not JSON" in failed["sample:00008"]["last_error"]
    assert "HTTP 520" in failed["sample:00002"]["last_error"]
    usage = drafted["sample:00012"]["usage"]
    assert usage["prompt_tokens"] > 100 and usage["completion_tokens"] > 10  # estimated, not zero


def test_retry_after_as_float_and_as_http_date_is_honoured(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(1), thread(2)])
    when = email.utils.formatdate(time.time() + 1.5, usegmt=True)  # whole seconds: waits 0.5-1.5 s
    faults = [
        Fault("status", status=429, retry_after="0.4", match="问题1："),
        Fault("status", status=429, retry_after=when, match="问题2："),
    ]
    with fake_endpoint(faults=faults) as stub:
        assert run_draft(tmp_path / "cur", tmp_path / "out", stub) == 0
        gaps = {}
        for n in (1, 2):
            times = [r["t"] for r in stub.requests if f"问题{n}：" in r["user"]]
            gaps[n] = times[1] - times[0]
    assert gaps[1] >= 0.4 and gaps[2] >= 0.4
    assert len(outcome(tmp_path / "out")[0]) == 2


def test_probe_moves_on_when_json_schema_gets_500s_and_accepts_upper_case_keys(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in range(2)])

    def upper(body):
        return {k.upper(): v for k, v in stock_layers(body).items()}

    with fake_endpoint(modes=("json_object", "text"), unsupported="fail", reply=upper) as stub:
        assert run_draft(tmp_path / "cur", tmp_path / "out", stub) == 0
        formats = [(r["body"].get("response_format") or {}).get("type") for r in stub.requests]
    assert formats.count("json_schema") == 4  # one probe, retried 3 times
    assert set(formats[4:]) == {"json_object"}
    probe = json.loads((tmp_path / "out" / draft.PROBE_FILE).read_text())
    assert [v["mode"] for v in probe.values()] == ["json_object"]
    assert len(outcome(tmp_path / "out")[0]) == 2


def test_refused_key_stops_the_run_without_marking_pairs_failed(tmp_path, capsys, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in range(6)])
    out = tmp_path / "out"
    with fake_endpoint() as stub:
        assert run_draft(tmp_path / "cur", out, stub, "--limit", "1") == 0  # probe remembered
        stub.add_fault(Fault("status", status=401, times=-1))
        assert run_draft(tmp_path / "cur", out, stub, "--concurrency", "1") == 1
        assert "HTTP 401" in capsys.readouterr().err
        assert stub.count() == 1 + 1 + 1  # probe, one draft, one refused request: then it stopped
        drafted, failed = outcome(out)
        assert len(drafted) == 1 and failed == {}
        stub.faults.clear()
        assert run_draft(tmp_path / "cur", out, stub) == 0  # the key fixed: the rest drafts
    assert len(outcome(out)[0]) == 6


def test_sigterm_saves_what_arrived_like_ctrl_c(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in range(30)])
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with fake_endpoint(latency=0.1) as stub:
        args = [sys.executable, "-m", "annotation", "draft", str(tmp_path / "cur"), "--out", str(out)]
        args += ["--model", "m1", "--base-url", stub.url, "--concurrency", "2"]
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while stub.count() < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        err = err.decode()
        assert proc.returncode == 130, err
        assert "INTERRUPTED" in err and "Traceback" not in err
        saved = pq.read_table(out / "coe.parquet").num_rows
        assert 3 <= saved < 30
        before = stub.count()
        done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, timeout=60)
        assert done.returncode == 0
        assert stub.count() - before == 30 - saved  # only what was missing


def test_ctrl_c_pressed_repeatedly_neither_hangs_nor_loses_drafts(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in range(200)])
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with fake_endpoint(latency=0.05) as stub:
        args = [sys.executable, "-m", "annotation", "draft", str(tmp_path / "cur"), "--out", str(out)]
        args += ["--model", "m1", "--base-url", stub.url, "--concurrency", "16"]
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while stub.count() < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(5):  # an impatient user: asyncio's own handler hung or died in its cleanup here
            proc.send_signal(signal.SIGINT)
            time.sleep(0.005)
        _, err = proc.communicate(timeout=20)
        err = err.decode()
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "INTERRUPTED" in err
        saved = pq.read_table(out / "coe.parquet").num_rows
        before = stub.count()
        done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, timeout=60)
        assert done.returncode == 0
        assert stub.count() - before == 200 - saved


def test_unreachable_endpoint_says_connection_refused_not_timeout(tmp_path, capsys, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(1)])
    with fake_endpoint() as stub:
        url = stub.url  # a port that was just free and is closed again
    args = [str(tmp_path / "cur"), "--out", str(tmp_path / "out"), "--model", "m1", "--base-url", url, *FAST]
    assert draft.main(args) == 1
    err = capsys.readouterr().err
    assert "ConnectionRefusedError" in err and "within" not in err
