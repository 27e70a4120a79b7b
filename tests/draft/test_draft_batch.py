"""`annotation batch export/submit/poll/ingest` against the stub's /v1/files and /v1/batches."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from _draft_helpers import thread, write_curated

from annotation.draft import batch
from annotation.draft import drafter as draft
from annotation.sample_endpoint import Fault


def test_export_submit_poll_ingest_then_draft_only_the_failures(tmp_path, fake_endpoint):
    write_curated(tmp_path / "cur", [thread(i) for i in range(6)])
    jsonl, out = tmp_path / "b" / "batch.jsonl", tmp_path / "out"
    assert batch.main(["export", str(tmp_path / "cur"), "--out", str(jsonl), "--model", "m1"]) == 0
    lines = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [line["custom_id"] for line in lines] == [f"sample:{i:05d}/a{i}" for i in range(6)]
    assert (
        lines[0]["url"] == "/v1/chat/completions"
        and lines[0]["body"]["response_format"]["type"] == "json_schema"
    )

    faults = [
        Fault("length", match="问题2："),
        Fault("missing_layer", match="问题3："),
        Fault("status", status=500, match="问题4："),
    ]
    with fake_endpoint(faults=faults) as stub:
        args = ["--base-url", stub.url, "--interval", "0.05", "--out", str(out)]
        assert batch.main(["submit", str(jsonl), "--wait", *args]) == 0
        assert stub.count(path="/v1/files") == 1 and stub.count() == 6
        rows = {r["question_id"] for r in pq.read_table(out / "coe.parquet").to_pylist()}
        failed = {r["question_id"]: r["reason"] for r in pq.read_table(out / "failures.parquet").to_pylist()}
        assert rows == {f"sample:{i:05d}" for i in (0, 1, 5)}
        assert failed == {
            "sample:00002": "length",
            "sample:00003": "invalid_reply_no_repair",
            "sample:00004": "http_500",
        }

        # the interactive drafter reuses the batch drafts as its cache and retries the failures worth retrying
        before = stub.count()
        args = [str(tmp_path / "cur"), "--out", str(out), "--model", "m1", "--base-url", stub.url]
        assert draft.main(args) == 0
        assert (
            stub.count() - before == 2 + 1
        )  # pairs 3 and 4, and the format probe; pair 2 hit its length cap
        assert draft.main([*args, "--retry-failed"]) == 0
        assert stub.count() - before == 2 + 1 + 1
    assert len(pq.read_table(out / "coe.parquet")) == 6 and len(pq.read_table(out / "failures.parquet")) == 0
    assert (
        batch.main(
            ["export", str(tmp_path / "cur"), "--out", str(jsonl), "--model", "m1", "--drafted", str(out)]
        )
        == 0
    )
    assert jsonl.read_text() == ""


def test_ingest_reports_bad_lines_unknown_ids_and_missing_results(tmp_path, capsys):
    write_curated(tmp_path / "cur", [thread(i) for i in range(3)])
    jsonl = tmp_path / "batch.jsonl"
    assert (
        batch.main(
            [
                "export",
                str(tmp_path / "cur"),
                "--out",
                str(jsonl),
                "--model",
                "m1",
                "--response-format",
                "text",
            ]
        )
        == 0
    )
    good = "<L1>求助者工作压力大，长期失眠，感到焦虑。</L1><L2>可能存在灾难化的想法，担心失败。</L2><L3>希望被理解，也想要具体的办法。</L3><L4>回答先共情，再给出调整作息的小步骤。</L4>"
    results = tmp_path / "results.jsonl"
    results.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "custom_id": "sample:00000/a0",
                        "response": {
                            "status_code": 200,
                            "body": {
                                "choices": [{"message": {"content": good}, "finish_reason": "stop"}],
                                "usage": {"prompt_tokens": 9, "completion_tokens": 5},
                            },
                        },
                    },
                    ensure_ascii=False,
                ),
                "{not json",
                json.dumps({"custom_id": "other/x", "response": {"status_code": 200, "body": {}}}),
                json.dumps({"custom_id": "sample:00001/a1", "error": {"code": "server_error"}}),
            ]
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert (
        batch.main(
            ["ingest", str(results), "--manifest", str(tmp_path / "batch.manifest.json"), "--out", str(out)]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "unreadable lines" in err and "unknown custom_id" in err
    record = pq.read_table(out / "coe.parquet").to_pylist()[0]
    assert record["l4"].startswith("回答先共情") and record["usage"] == {
        "prompt_tokens": 9,
        "completion_tokens": 5,
    }
    failed = {r["pair_id"]: r["reason"] for r in pq.read_table(out / "failures.parquet").to_pylist()}
    assert failed == {"sample:00001/a1": "batch_error", "sample:00002/a2": "missing_in_results"}


def test_submit_to_an_endpoint_without_batches_says_so(tmp_path, capsys, fake_endpoint):
    jsonl = tmp_path / "batch.jsonl"
    jsonl.write_text("{}\n")
    with fake_endpoint(batch_api=False) as fake:
        assert batch.main(["submit", str(jsonl), "--base-url", fake.url]) == 1
    assert "offers no Batch API" in capsys.readouterr().err
    assert (
        batch.main(["ingest", str(tmp_path / "missing.jsonl"), "--manifest", "x", "--out", str(tmp_path)])
        == 2
    )
