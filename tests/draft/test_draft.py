"""`python -m annotation draft` against a local OpenAI-compatible server that injects faults."""

from __future__ import annotations

import json
import sys

import pyarrow.parquet as pq
import pytest
from _draft_helpers import thread, write_curated

from annotation.draft import drafter as draft
from annotation.draft.prompting import ReplyError, load_prompt, parse_reply
from annotation.draft.selection import select_pairs
from annotation.sample_endpoint import Fault

FAST = ["--timeout", "1", "--backoff-base", "0.02", "--backoff-max", "0.2", "--max-retries", "3"]


def run_draft(curated, out, stub, *extra) -> int:
    return draft.main(
        [str(curated), "--out", str(out), "--model", "m1", "--base-url", stub.url, *FAST, *extra]
    )


def records(out) -> dict[str, dict]:
    return {r["question_id"]: r for r in pq.read_table(out / "coe.parquet").to_pylist()}


def failures(out) -> dict[str, str]:
    return {r["question_id"]: r["reason"] for r in pq.read_table(out / "failures.parquet").to_pylist()}


# ----------------------------------------------------------------------------- replies
GOOD = {
    "l1": "求助者因工作压力大而长期失眠，感到焦虑和疲惫。",
    "l2": "焦虑可能来自对失败的担忧，带有灾难化的想法。",
    "l3": "求助者希望被理解，也想要改善睡眠的具体办法。",
    "l4": "回答先共情疲惫与焦虑，再给出放松和作息方面的小步骤。",
}


def test_parse_reply_accepts_json_fenced_json_and_tags():
    assert parse_reply(json.dumps(GOOD, ensure_ascii=False), "json_schema").l1 == GOOD["l1"]
    assert (
        parse_reply("```json\n" + json.dumps(GOOD, ensure_ascii=False) + "\n```", "json_object").l4
        == GOOD["l4"]
    )
    tags = "".join(f"<{k.upper()}> {v} </{k.upper()}>\n" for k, v in GOOD.items())
    assert parse_reply("好的：\n" + tags, "text").l2 == GOOD["l2"]
    assert parse_reply(tags, "json_object").l3 == GOOD["l3"]  # tags although JSON was asked for


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("", "empty"),
        ('{"l1": "求助者', "not valid JSON"),
        (json.dumps({**GOOD, "l4": None}), "missing"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "l2"}), "l2"),
        (json.dumps({**GOOD, "l3": "   "}), "l3 is empty"),
        (json.dumps({**GOOD, "l1": "焦虑"}), "too short"),
        (json.dumps({**GOOD, "l1": "很" * 900}), "too long"),
        (json.dumps({**GOOD, "l2": "The asker feels anxious about work and sleep."}), "not mostly Chinese"),
        (json.dumps({**GOOD, "l1": "<L1>求助者感到焦虑和疲惫不堪</L1>"}, ensure_ascii=False), "CoE tag"),
    ],
)
def test_parse_reply_rejects_bad_replies_with_a_reason(reply, message):
    with pytest.raises(ReplyError, match=message):
        parse_reply(reply, "json_object")


def test_prompt_is_versioned_chinese_and_holds_worked_examples():
    prompt = load_prompt()
    assert prompt.version == "coe-v1"
    assert "认知" in prompt.system and "示例一" in prompt.system
    messages = prompt.messages("标题X", "正文Y", "回答Z", "text")
    assert "标题：标题X" in messages[1]["content"] and "回答Z" in messages[1]["content"]
    assert "<L1>" in messages[1]["content"]


# ----------------------------------------------------------------------------- selection
def test_selection_counselor_first_then_likes_k_per_question_and_risk():
    answers = [
        {"answer_id": "user-top", "body": "回答甲", "author_role": "user", "likes": 99},
        {"answer_id": "pro-low", "body": "回答乙", "author_role": "counselor", "likes": 1},
        {"answer_id": "pro-high", "body": "回答丙", "author_role": "counselor", "likes": 5},
        {"answer_id": "empty", "body": "  ", "author_role": "counselor", "likes": 500},
    ]
    threads = [thread(1, answers), thread(2, risk="high"), thread(3, answers=[])]
    pairs, skipped = select_pairs(threads, per_question=2)
    assert [p.answer_id for p in pairs] == ["pro-high", "pro-low"]
    assert skipped["threads at risk high"] == 1 and skipped["threads without answers"] == 1
    pairs, _ = select_pairs(threads, per_question=3, include_risk=True)
    assert [p.answer_id for p in pairs] == ["pro-high", "pro-low", "user-top", "a2"]


# ----------------------------------------------------------------------------- faults
FAULTS = {
    1: ([Fault("status", status=429, retry_after=0.05, match="问题1：")], "drafted"),
    2: ([Fault("status", status=500, match="问题2：", times=2)], "drafted"),
    3: ([Fault("status", status=503, match="问题3：", times=-1)], "server_error"),
    4: ([Fault("timeout", delay=2.5, match="问题4：")], "drafted"),
    5: ([Fault("malformed_body", match="问题5：")], "drafted"),
    6: ([Fault("malformed_content", match="问题6：")], "drafted"),  # repaired
    7: ([Fault("missing_layer", match="问题7：")], "drafted"),  # repaired
    8: ([Fault("missing_layer", match="问题8：", times=2)], "invalid_reply"),
    9: ([Fault("length", match="问题9：")], "length"),
    10: ([Fault("content_filter", match="问题10：")], "content_filter"),
    11: ([Fault("english", match="问题11：", times=-1)], "invalid_reply"),
    12: ([Fault("status", status=400, match="问题12：")], "http_400"),
    13: ([Fault("drop", match="问题13：")], "drafted"),
}


def test_every_pair_ends_drafted_or_failed_with_the_right_reason(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in range(14)])
    faults = [f for fs, _ in FAULTS.values() for f in fs]
    with fake_endpoint(faults=faults) as stub:
        assert run_draft(tmp_path / "cur", tmp_path / "out", stub) == 0
        retried_429 = [r for r in stub.requests if "问题1：" in r["user"]]
    drafted, failed = records(tmp_path / "out"), failures(tmp_path / "out")
    for n, (_, expected) in FAULTS.items():
        qid = f"sample:{n:05d}"
        if expected == "drafted":
            assert qid in drafted and qid not in failed, n
            assert drafted[qid]["status"] == "draft" and all(
                drafted[qid][k] for k in ("l1", "l2", "l3", "l4")
            )
        else:
            assert failed.get(qid) == expected and qid not in drafted, (n, failed.get(qid))
    assert len(drafted) + len(failed) == 14
    # retry-after honoured: the retry came no sooner than the server asked
    assert len(retried_429) == 2 and retried_429[1]["t"] - retried_429[0]["t"] >= 0.05
    row = drafted["sample:00000"]
    assert row["prompt_version"] == "coe-v1" and row["model"] == "m1" and row["usage"]["prompt_tokens"] > 0
    assert row["draft"]["l1"] == row["l1"] and json.loads(row["raw_reply"])["l1"] == row["l1"]


def test_cache_prevents_repeat_calls_and_redrafts_only_changed_text(tmp_path, fake_endpoint):
    threads = [thread(i) for i in range(5)]
    write_curated(tmp_path / "cur", threads)
    out = tmp_path / "out"
    with fake_endpoint() as stub:
        assert run_draft(tmp_path / "cur", out, stub) == 0
        first = stub.count()
        assert first == 5 + 1  # five drafts and one probe
        assert run_draft(tmp_path / "cur", out, stub) == 0
        assert stub.count() == first  # nothing requested again, probe remembered
        threads[2]["answers"][0]["body"] = "改过的回答：先把睡眠和工作分开来看。"
        write_curated(tmp_path / "cur", threads)
        assert run_draft(tmp_path / "cur", out, stub) == 0
        assert stub.count() == first + 1 and stub.count(match="改过的回答") == 1
        assert run_draft(tmp_path / "cur", out, stub, "--temperature", "0.9") == 0  # params are in the key
        assert stub.count() == first + 1 + 5
    assert len(records(out)) == 5


def test_probe_falls_back_to_json_object_then_text_and_is_remembered(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in range(3)])
    with fake_endpoint(modes=("json_object", "text")) as stub:
        assert run_draft(tmp_path / "cur", tmp_path / "a", stub) == 0
        formats = [(r["body"].get("response_format") or {}).get("type") for r in stub.requests]
        assert formats[:2] == ["json_schema", "json_object"] and set(formats[2:]) == {"json_object"}
    probe = json.loads((tmp_path / "a" / draft.PROBE_FILE).read_text())
    assert [v["mode"] for v in probe.values()] == ["json_object"]
    with fake_endpoint(modes=("text",), unsupported="ignore") as stub:  # ignores response_format silently
        assert run_draft(tmp_path / "cur", tmp_path / "b", stub) == 0
        assert len(records(tmp_path / "b")) == 3
        assert all("response_format" not in r["body"] for r in stub.requests[2:])


def test_rpm_limit_spaces_requests(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in range(4)])
    with fake_endpoint() as stub:
        assert (
            run_draft(
                tmp_path / "cur", tmp_path / "out", stub, "--rpm", "120", "--response-format", "json_object"
            )
            == 0
        )
        times = sorted(r["t"] for r in stub.requests)
    # a full bucket lets the first ones through at once; 120/min refills one every 0.5 s after that
    assert len(times) == 4 and times[-1] - times[0] < 2


def test_dry_run_estimates_without_calling(tmp_path, cli):
    write_curated(tmp_path / "cur", [thread(i) for i in range(3)])
    result = cli(
        "annotation",
        [
            "draft",
            str(tmp_path / "cur"),
            "--out",
            str(tmp_path / "out"),
            "--model",
            "gpt-4o-mini",
            "--dry-run",
        ],
    )
    assert result.returncode == 0, result.stderr
    assert "no request made" in result.stderr and "requests needed" in result.stderr
    assert "cost USD, typical" in result.stderr and "unknown" not in result.stderr
    assert not (tmp_path / "out" / "coe.parquet").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["/nonexistent/curated.parquet", "--out", "o", "--model", "m", "--base-url", "http://x"],
            "not found",
        ),
        (["{bad}", "--out", "o", "--model", "m", "--base-url", "http://x"], "not a readable Parquet"),
        (
            ["{bad_table}", "--out", "o", "--model", "m", "--base-url", "http://x"],
            "is missing column(s) answers, body",
        ),
        (["{cur}", "--out", "o", "--model", "m"], "OPENAI_API_KEY"),
        (
            ["{cur}", "--out", "{out}", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", *FAST],
            "unreachable",
        ),
        (
            ["{cur}", "--out", "o", "--model", "m", "--prompt", "coe_v9", "--base-url", "http://x"],
            "not found",
        ),
    ],
)
def test_bad_input_gives_one_clear_message(tmp_path, monkeypatch, capsys, args, message):
    import pyarrow as pa

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    write_curated(tmp_path / "cur", [thread(1)])
    (tmp_path / "bad.parquet").write_text("not parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "other.parquet")
    names = {
        "bad": tmp_path / "bad.parquet",
        "bad_table": tmp_path / "other.parquet",
        "cur": tmp_path / "cur",
    }
    args = [a.format(out=tmp_path / "out", **names) for a in args]
    try:
        code = draft.main(args)
    except SystemExit as exc:  # config errors exit with their message
        code, text = (2, exc.code) if isinstance(exc.code, str) else (exc.code, "")
        print(text, file=sys.stderr)
    assert code != 0
    assert message in capsys.readouterr().err


def test_cli_errors_have_no_traceback(tmp_path, cli):
    missing = str(tmp_path / "missing")
    result = cli("annotation", ["draft", missing, "--out", str(tmp_path / "o"), "--base-url", "http://x"])
    assert (
        result.returncode == 2 and "--model is required" in result.stderr and "Traceback" not in result.stderr
    )
    result = cli(
        "annotation",
        ["draft", missing, "--out", str(tmp_path / "o"), "--model", "m", "--base-url", "http://x"],
    )
    assert result.returncode == 2 and result.stderr.strip().startswith("error: curated set not found")


def test_probe_survives_a_transient_error_and_think_blocks_are_ignored(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(1)])

    probe_fault = Fault("status", status=503, retry_after=0, match="请只输出这个 JSON")
    with fake_endpoint(faults=[probe_fault]) as stub:
        assert run_draft(tmp_path / "cur", tmp_path / "out", stub) == 0
        assert [r["fault"] for r in stub.requests][:2] == ["status", None]
    probe = json.loads((tmp_path / "out" / draft.PROBE_FILE).read_text())
    assert [v["mode"] for v in probe.values()] == ["json_schema"]
    reply = "<think>先想一想 {草稿} 怎么写</think>" + json.dumps(GOOD, ensure_ascii=False)
    assert parse_reply(reply, "json_object").l1 == GOOD["l1"]


def test_rerun_retries_transient_failures_but_not_settled_ones_unless_asked(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in range(3)])
    faults = [
        Fault("length", match="问题1：", times=-1),
        Fault("status", status=503, match="问题2：", times=4),
    ]
    out = tmp_path / "out"
    with fake_endpoint(faults=faults) as stub:
        assert run_draft(tmp_path / "cur", out, stub) == 0
        assert failures(out) == {"sample:00001": "length", "sample:00002": "server_error"}
        assert run_draft(tmp_path / "cur", out, stub) == 0  # the 503s have run out: pair 2 drafts now
        assert stub.count(match="问题1：") == 1 and stub.count(match="问题2：") == 5
        assert failures(out) == {"sample:00001": "length"} and set(records(out)) == {
            "sample:00000",
            "sample:00002",
        }
        assert run_draft(tmp_path / "cur", out, stub, "--retry-failed") == 0
        assert stub.count(match="问题1：") == 2


def test_reviewed_records_are_never_redrafted_and_one_run_per_folder(tmp_path, fake_endpoint):
    from annotation.draft.store import DraftStore, StoreBusy
    from empathyqa.io import write_parquet_atomic
    from empathyqa.schema import COE_RECORD, conform

    write_curated(tmp_path / "cur", [thread(i) for i in range(2)])
    out = tmp_path / "out"
    reviewed = {"question_id": "sample:00000", "answer_id": "a0", "status": "accepted", **GOOD}
    write_parquet_atomic(conform([reviewed], COE_RECORD), out / "coe.parquet")
    holder = DraftStore(out)
    with fake_endpoint() as stub:
        assert run_draft(tmp_path / "cur", out, stub) == 2  # the folder is busy
        assert stub.count() == 0
        holder.close()
        assert run_draft(tmp_path / "cur", out, stub) == 0
        assert stub.count(match="问题0：") == 0 and stub.count(match="问题1：") == 1
    assert records(out)["sample:00000"]["status"] == "accepted"
    with pytest.raises(StoreBusy):
        first = DraftStore(out)
        DraftStore(out)
    first.close()


def test_prices_match_dated_model_names():
    from annotation.draft.costs import cost_usd, load_prices

    prices = load_prices()
    assert cost_usd(prices, "gpt-4o-mini-2024-07-18", 1_000_000, 0) == prices["gpt-4o-mini"]["input"]
    assert cost_usd(prices, "gpt-4o-2024-08-06", 0, 1_000_000) == prices["gpt-4o"]["output"]
    assert cost_usd(prices, "some-local-model", 10, 10) is None
