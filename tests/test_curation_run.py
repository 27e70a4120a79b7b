"""`python -m curation run` end to end: reposts, PII, rejects, report, idempotence, bad input, sample data."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _curation_helpers import REPOST_KINDS, raw_thread, repost, write_jsonl

from curation.config import CurationConfig
from curation.run import curate
from empathyqa.schema import CURATED_THREAD, REJECT

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "crawlers" / "sample_site" / "data" / "questions.json"


def run_cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "EMPATHYQA_SALT": "test-salt"}
    return subprocess.run(
        [sys.executable, "-m", "curation", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def repost_corpus(n_unique: int = 60, seed: int = 1) -> tuple[list[dict], dict[str, set[str]]]:
    """Unique threads plus, for some, one repost of every kind; returns rows and repost groups."""
    rng = random.Random(seed)
    rows, groups = [], {}
    for i in range(n_unique):
        thread = raw_thread(i, rng)
        thread["body"] += "我今年23岁，这种情况已经持续了3个月。"
        rows.append(thread)
        if i % 5 == 0:
            members = {f"sample:{thread['source_id']}"}
            for k, kind in enumerate(REPOST_KINDS):
                copy = repost(thread, kind, rng, new_id=f"{thread['source_id']}-r{k}")
                rows.append(copy)
                members.add(f"sample:{copy['source_id']}")
            groups[thread["source_id"]] = members
    rng.shuffle(rows)
    return rows, groups


def test_every_repost_group_keeps_exactly_one_post(tmp_path):
    rows, groups = repost_corpus()
    write_jsonl(tmp_path / "raw.jsonl", rows)
    done = run_cli("run", str(tmp_path / "raw.jsonl"), "--out", str(tmp_path / "out"), "--workers", "2")
    assert done.returncode == 0, done.stderr
    curated = pq.read_table(tmp_path / "out" / "curated.parquet")
    kept = set(curated.column("question_id").to_pylist())
    for original, members in groups.items():
        assert len(kept & members) == 1, (original, kept & members)
    grouped = set().union(*groups.values())
    unique_ids = {f"sample:{r['source_id']}" for r in rows} - grouped
    assert unique_ids <= kept  # nothing unrelated was merged
    rejects = pq.read_table(tmp_path / "out" / "rejects.parquet").to_pylist()
    dup = [r for r in rejects if r["stage"] == "dedup" and r["answer_id"] is None]
    assert len(dup) == sum(len(m) - 1 for m in groups.values())
    clusters = {row["dup_cluster"] for row in curated.to_pylist() if row["question_id"] in grouped}
    assert None not in clusters and len(clusters) == len(groups)


def test_question_only_reposts_keep_one_post_when_answers_are_not_required(tmp_path):
    rows, groups = repost_corpus(n_unique=30, seed=5)
    for row in rows:
        row["answers"] = []
    write_jsonl(tmp_path / "raw.jsonl", rows)
    out = tmp_path / "out"
    done = run_cli("run", str(tmp_path / "raw.jsonl"), "--out", str(out), "--no-require-answers")
    assert done.returncode == 0, done.stderr
    kept = set(pq.read_table(out / "curated.parquet").column("question_id").to_pylist())
    for original, members in groups.items():
        assert len(kept & members) == 1, (original, kept & members)
    assert {f"sample:{r['source_id']}" for r in rows} - set().union(*groups.values()) <= kept
    # by default a thread with no answer is rejected, and says why
    done = run_cli("run", str(tmp_path / "raw.jsonl"), "--out", str(tmp_path / "strict"))
    assert done.returncode == 0, done.stderr
    assert pq.read_table(tmp_path / "strict" / "curated.parquet").num_rows == 0
    reasons = set(pq.read_table(tmp_path / "strict" / "rejects.parquet").column("reason").to_pylist())
    assert reasons == {"no_answers_left"}


def test_outputs_match_the_contract_and_report(tmp_path):
    rng = random.Random(2)
    rows = [raw_thread(i, rng) for i in range(30)]
    rows[0]["body"] += "有事打我电话138 1234 5678，或者发邮件 me@example.com。"
    rows[1]["body"] += "我真的不想活了，每天都很痛苦。"
    rows[2]["answers"][0]["body"] = "太短了"
    rows[3]["answers"] = []
    rows[4]["answers"][1]["body"] = rows[5]["answers"][0]["body"]  # one answer pasted under two questions
    write_jsonl(tmp_path / "raw.jsonl", rows)
    done = run_cli("run", str(tmp_path), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "threads out" in done.stderr
    curated = pq.read_table(tmp_path / "out" / "curated.parquet")
    assert curated.schema.equals(CURATED_THREAD)
    assert pq.read_table(tmp_path / "out" / "rejects.parquet").schema.equals(REJECT)
    by_id = {r["question_id"]: r for r in curated.to_pylist()}
    first = by_id["sample:1000"]
    assert "<PHONE>" in first["body"] and "<EMAIL>" in first["body"] and "138" not in first["body"]
    assert {p["kind"] for p in first["pii_counts"]} == {"PHONE", "EMAIL"}
    assert first["asker_id"] and first["asker_id"] != "asker0" and len(first["asker_id"]) == 16
    assert by_id["sample:1001"]["risk_level"] == "high"
    assert [a["answer_id"] for a in by_id["sample:1002"]["answers"]] == ["a2-1"]
    assert "sample:1003" not in by_id
    assert all(r["topic"] and r["subtopic"] for r in by_id.values())
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["threads_read"] == 30
    assert report["pii_found"] == {"EMAIL": 1, "PHONE": 1}
    assert report["rejects_by_reason"]["answer_filter:answer_too_short"] == 1
    assert report["rejects_by_reason"]["no_answers:no_answers_left"] == 1
    assert report["rejects_by_reason"]["dedup:duplicate_answer"] == 1
    assert report["risk"]["threads_by_level"]["high"] == 1
    assert {"normalise", "pii", "dedup", "total_wall"} <= set(report["timing"])
    assert "salt" not in report["settings"] and "test-salt" not in json.dumps(report)
    assert "# Curation report" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


def test_rerun_is_byte_identical_and_worker_count_does_not_matter(tmp_path):
    rows, _ = repost_corpus(n_unique=30, seed=3)
    write_jsonl(tmp_path / "raw.jsonl", rows)
    os.environ["EMPATHYQA_SALT"] = "idem"
    try:
        reports = []
        for name, workers in (("a", 2), ("b", 2), ("c", 1)):
            reports.append(curate([tmp_path / "raw.jsonl"], tmp_path / name, CurationConfig(workers=workers)))
    finally:
        del os.environ["EMPATHYQA_SALT"]
    for name in ("b", "c"):
        for file in ("curated.parquet", "rejects.parquet"):
            assert (tmp_path / "a" / file).read_bytes() == (tmp_path / name / file).read_bytes(), (name, file)
    for report in reports:
        report.pop("timing")
        report["inputs"] = None
    assert reports[0] == reports[1] == reports[2]


def test_bad_input_is_reported_with_file_and_line_and_skipped(tmp_path):
    rng = random.Random(4)
    good = [raw_thread(i, rng) for i in range(3)]
    missing = raw_thread(9, rng)
    del missing["url"]
    lines = [json.dumps(r, ensure_ascii=False) for r in good]
    lines.insert(1, json.dumps(missing, ensure_ascii=False))
    lines.insert(2, lines[0][:40])  # truncated JSON line
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "in" / "b.jsonl").write_bytes("标题".encode("gbk") + b"\n")
    done = run_cli("run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "a.jsonl:2" in done.stderr and "a.jsonl:3" in done.stderr and "b.jsonl:1" in done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["bad_input"] == 3 and report["counts"]["threads_out"] == 3
    errors = {b["where"].rsplit("/", 1)[-1]: b["error"] for b in report["bad_input"]}
    assert "missing url" in errors["a.jsonl:2"]
    assert errors["a.jsonl:3"].startswith("bad JSON")
    assert errors["b.jsonl:1"].startswith("not UTF-8")
    rejects = pq.read_table(tmp_path / "out" / "rejects.parquet").to_pylist()
    assert sum(r["stage"] == "input" for r in rejects) == 3


def test_parquet_input(tmp_path):
    rng = random.Random(5)
    rows = [raw_thread(i, rng) for i in range(5)]
    from empathyqa.schema import RAW_THREAD, conform

    pq.write_table(conform(rows, RAW_THREAD), tmp_path / "raw.parquet")
    report = curate([tmp_path / "raw.parquet"], tmp_path / "out", CurationConfig(workers=1))
    assert report["counts"]["threads_out"] == 5


def test_cli_errors_are_one_clear_line(tmp_path):
    done = run_cli("run", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "input not found" in done.stderr and "Traceback" not in done.stderr
    bad = tmp_path / "c.yaml"
    bad.write_text("min_answer_chars: 10\nnot_a_setting: 1\n", encoding="utf-8")
    (tmp_path / "x.jsonl").write_text("", encoding="utf-8")
    done = run_cli("run", str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "out"), "--config", str(bad))
    assert done.returncode != 0 and "not_a_setting" in done.stderr and "Traceback" not in done.stderr
    done = run_cli("run", "--help")
    assert done.returncode == 0 and "--min-answer-chars" in done.stdout


def test_config_yaml_sets_thresholds(tmp_path):
    rng = random.Random(6)
    rows = [raw_thread(i, rng) for i in range(4)]
    write_jsonl(tmp_path / "raw.jsonl", rows)
    config = tmp_path / "curation.yaml"
    config.write_text("min_answer_chars: 100000\nworkers: 1\n", encoding="utf-8")
    done = run_cli(
        "run", str(tmp_path / "raw.jsonl"), "--out", str(tmp_path / "out"), "--config", str(config)
    )
    assert done.returncode == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["threads_out"] == 0 and report["settings"]["min_answer_chars"] == 100000


# ----------------------------------------------------------------------------- the bundled sample
def sample_raw_threads() -> list[dict]:
    """Raw threads built from the sample site's data file (not from the crawler's code)."""
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    rows = []
    for q in data["yixinli"]["questions"]:
        asker = q.get("asker")
        rows.append(
            {
                "source": "yixinli",
                "source_id": q["id"],
                "url": f"https://www.xinli001.com/qa/{q['id']}",
                "title": q["title"],
                "body": q["body"],
                "tags": q["tags"],
                "asker": {"id": asker["id"], "name": asker["name"], "anonymous": False}
                if asker
                else {"id": None, "name": None, "anonymous": True},
                "asked_at": q["asked_at"],
                "view_count": q.get("view_count"),
                "answer_count": len(q["answers"]),
                "answers": [
                    {
                        "answer_id": a["id"],
                        "body": a["body"],
                        "author": a["author"],
                        "author_role": a["role"],
                        "likes": a["likes"],
                        "comment_count": a["comments"],
                        "answered_at": a["answered_at"],
                    }
                    for a in q["answers"]
                ],
                "crawled_at": "2025-01-10T00:00:00Z",
            }
        )
    return rows


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample site data not present")
def test_sample_site_data(tmp_path):
    write_jsonl(tmp_path / "raw.jsonl", sample_raw_threads())
    os.environ["EMPATHYQA_SALT"] = "sample"
    try:
        report = curate([tmp_path / "raw.jsonl"], tmp_path / "out", CurationConfig(workers=1))
        loose = curate(
            [tmp_path / "raw.jsonl"], tmp_path / "loose", CurationConfig(workers=1, min_answer_chars=1)
        )
    finally:
        del os.environ["EMPATHYQA_SALT"]
    curated = {r["question_id"]: r for r in pq.read_table(tmp_path / "out" / "curated.parquet").to_pylist()}
    assert report["counts"]["threads_out"] == len(curated) > 15
    text = json.dumps(list(curated.values()), ensure_ascii=False)
    assert "138 1234 5678" not in text and "13812345678" not in text
    assert "<PHONE>" in curated["yixinli:101000003"]["body"]
    assert curated["yixinli:101000014"]["risk_level"] == "high"
    assert curated["yixinli:101000021"]["risk_level"] == "low"  # 不想自杀了: past ideation, kept visible
    assert "yixinli:101000025" not in curated  # the repost (its only answer is also too short)
    # with every answer allowed, the repost is dropped by dedup and the original keeps the cluster
    loose_rows = {
        r["question_id"]: r for r in pq.read_table(tmp_path / "loose" / "curated.parquet").to_pylist()
    }
    assert "yixinli:101000025" not in loose_rows
    assert loose_rows["yixinli:101000007"]["dup_cluster"] is not None
    assert loose["duplicates"]["question_clusters"] >= 1
    assert all(len(a["body"]) >= 100 for r in curated.values() for a in r["answers"])
    table = pq.read_table(tmp_path / "out" / "curated.parquet")
    assert isinstance(table, pa.Table) and table.num_rows == len(curated)
