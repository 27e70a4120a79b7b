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

ROOT = Path(__file__).resolve().parents[2]
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
    assert by_id["sample:1001"]["risk_level"] == "medium"  # 不想活了: ideation with no plan
    assert [a["answer_id"] for a in by_id["sample:1002"]["answers"]] == ["a2-1"]
    assert "sample:1003" not in by_id
    assert all(r["topic"] and r["subtopic"] for r in by_id.values())
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["threads_read"] == 30
    assert report["pii_found"] == {"EMAIL": 1, "PHONE": 1}
    assert report["rejects_by_reason"]["answer_filter:answer_too_short"] == 1
    assert report["rejects_by_reason"]["no_answers:no_answers_left"] == 1
    assert report["rejects_by_reason"]["dedup:duplicate_answer"] == 1
    assert report["risk"]["threads_by_level"]["medium"] == 1
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


# A short (71-character) post about gambling debts, reposted six ways, and a different person's post
# that opens and closes the same way: the group keeps one post, the other post stays.
SHORT_POST = (
    "我今年29岁，结婚3年。老公去年开始沉迷赌博，偷偷借了8万网贷，我是上个月才发现的。"
    "我现在每天晚上都睡不着，一想到这件事就心慌。我该不该离婚？"
)
SHORT_REPOSTS = {
    "traditional": "我今年29歲，結婚3年。老公去年開始沉迷賭博，偷偷借了8萬網貸，我是上個月才發現的。"
    "我現在每天晚上都睡不著，一想到這件事就心慌。我該不該離婚？",
    "edits": "我今年29岁，结婚3年了。老公去年开始沉迷赌博，偷偷借了8万的网贷，我是上个月才发现。"
    "我现在每天晚上都睡不着，一想到这件事就心慌。我该不该离婚？",
    "punctuation": "我今年29岁,结婚3年.\n老公去年开始沉迷赌博 偷偷借了8万网贷 我是上个月才发现的!!\n"
    "我现在每天晚上都睡不着,一想到这件事就心慌……我该不该离婚?",
    "cut": "老公去年开始沉迷赌博，偷偷借了8万网贷，我是上个月才发现的。我现在每天晚上都睡不着，"
    "一想到这件事就心慌。我该不该离婚？",
    "appended": SHORT_POST + "补充一下，婆婆还让我帮他还钱。",
    "full_width_digits": SHORT_POST.replace("29", "２９").replace("3年", "３年").replace("8万", "８万"),
}
DIFFERENT_PERSON = (
    "我今年29岁，结婚3年。老婆总是拿我和她闺蜜的老公比，说我挣得少，吵架的时候还当着孩子的面摔东西。"
    "我该不该离婚？"
)
LONG_ANSWER = (
    "看到你的描述，能感受到你现在非常辛苦，一个人扛着这么大的秘密和压力。{}先不要急着做决定，"
    "把睡眠和饮食照顾好，找一个信任的朋友或家人说一说。债务的事可以先理清楚金额和平台，必要时咨询律师，"
    "了解哪些是夫妻共同债务。也可以和他约一个冷静的时间谈一谈，看看他是否愿意面对问题、接受帮助。"
)


def _short_thread(source_id: str, body: str, answer_note: str) -> dict:
    return {
        "source": "heldout",
        "source_id": source_id,
        "url": f"https://example.test/q/{source_id}",
        "title": "老公赌博欠了网贷怎么办" if source_id != "other" else "老婆总是拿我和别人比",
        "body": body,
        "tags": [],
        "asker": {"id": f"asker-{source_id}", "name": None, "anonymous": False},
        "asked_at": "2024-01-01T10:00:00+08:00",
        "answers": [
            {
                "answer_id": f"{source_id}-a0",
                "body": LONG_ANSWER.format(answer_note),
                "author": {"id": "c1", "name": "老师"},
                "author_role": "counselor",
                "answered_at": "2024-01-02T10:00:00+08:00",
            }
        ],
        "crawled_at": "2024-02-01T00:00:00Z",
    }


OTHER_ANSWER = (
    "被拿来比较的滋味很不好受，尤其是来自最亲近的人。你可以试着在双方都平静的时候告诉她，"
    "这些比较让你觉得自己不被认可，而不是去争论谁挣得多。当着孩子的面摔东西会伤害孩子的安全感，"
    "这一点需要你们一起约定停下来。如果沟通总是失败，可以考虑一起做几次婚姻咨询，由第三方帮助你们听见彼此。"
)


def test_short_reposts_of_a_debt_story_keep_one_post_and_a_similar_story_stays(tmp_path):
    # a repost copies the thread, answer included; the other story has its own answer
    rows = [_short_thread("orig", SHORT_POST, "")]
    rows += [_short_thread(kind, body, "") for kind, body in SHORT_REPOSTS.items()]
    other = _short_thread("other", DIFFERENT_PERSON, "")
    other["answers"][0]["body"] = OTHER_ANSWER
    rows.append(other)
    write_jsonl(tmp_path / "raw.jsonl", rows)
    done = run_cli("run", str(tmp_path / "raw.jsonl"), "--out", str(tmp_path / "out"), "--workers", "1")
    assert done.returncode == 0, done.stderr
    kept = set(pq.read_table(tmp_path / "out" / "curated.parquet").column("question_id").to_pylist())
    group = {f"heldout:{sid}" for sid in ["orig", *SHORT_REPOSTS]}
    assert len(kept & group) == 1, kept
    assert "heldout:other" in kept


def test_an_answer_pasted_under_two_threads_stays_where_it_is_the_only_answer(tmp_path):
    shared = LONG_ANSWER.format("")
    two = _short_thread("orig", SHORT_POST, "")
    two["answers"] = [
        {**two["answers"][0], "answer_id": "orig-a0", "body": shared + "另外，也请记得照顾好自己的身体。"},
        {**two["answers"][0], "answer_id": "orig-a1", "body": LONG_ANSWER.format("离婚是很大的决定，")[::-1]},
    ]
    one = _short_thread("other", DIFFERENT_PERSON, "")
    one["answers"][0]["body"] = shared
    write_jsonl(tmp_path / "raw.jsonl", [two, one])
    done = run_cli("run", str(tmp_path / "raw.jsonl"), "--out", str(tmp_path / "out"), "--workers", "1")
    assert done.returncode == 0, done.stderr
    curated = {r["question_id"]: r for r in pq.read_table(tmp_path / "out" / "curated.parquet").to_pylist()}
    assert set(curated) == {"heldout:orig", "heldout:other"}
    assert [a["answer_id"] for a in curated["heldout:orig"]["answers"]] == ["orig-a1"]
    assert [a["answer_id"] for a in curated["heldout:other"]["answers"]] == ["other-a0"]


def test_a_shared_answer_pool_never_empties_distinct_questions(tmp_path):
    rng = random.Random(9)
    rows = [raw_thread(i, rng, n_answers=1) for i in range(6)]
    pooled = rows[0]["answers"][0]["body"]
    for row in rows:
        row["answers"][0]["body"] = pooled  # one stock answer under six different questions
    write_jsonl(tmp_path / "raw.jsonl", rows)
    done = run_cli("run", str(tmp_path / "raw.jsonl"), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    curated = pq.read_table(tmp_path / "out" / "curated.parquet").to_pylist()
    assert len(curated) == 6
    assert len({r["answers"][0]["dup_cluster"] for r in curated}) == 1  # all marked as one cluster
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["stages"]["dedup"]["counters"]["answers_kept_as_last_answer"] == 5
    strict = tmp_path / "strict"
    done = run_cli("run", str(tmp_path / "raw.jsonl"), "--out", str(strict), "--answer-dedup-empties-threads")
    assert done.returncode == 0, done.stderr
    assert pq.read_table(strict / "curated.parquet").num_rows == 1
