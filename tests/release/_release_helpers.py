"""Synthetic curation and CoE outputs for the release tests, written through the shared contracts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from curation.release.ids import release_answer_id, release_question_id
from empathyqa.outputs import write_manifest
from empathyqa.schema import COE_RECORD, CURATED_THREAD, conform, pair_id

REPO = Path(__file__).resolve().parents[2]
TOPICS = ("情绪压力", "亲密关系", "家庭关系")
FEELINGS = ("焦虑", "委屈", "迷茫", "疲惫", "孤独", "害怕", "内疚", "烦躁")


def question_text(n: int, topic: str) -> str:
    feeling = FEELINGS[n % len(FEELINGS)]
    return (
        f"关于{topic}的第{n}个求助：最近一段时间我总是感到{feeling}，晚上睡不着，白天也提不起精神。"
        f"和身边的人说起来，他们只让我想开一点。我不知道自己哪里出了问题，该怎么办才好？"
    )


def answer_text(n: int, k: int) -> str:
    feeling = FEELINGS[(n + k) % len(FEELINGS)]
    return (
        f"你好，谢谢你愿意说出来（第{n}题回答{k}）。从你的描述里，我能感到你的{feeling}和无力。"
        "这些感受并不奇怪，它们在提醒你需要被照顾。可以先从规律作息开始，也可以找信任的人聊聊，"
        "如果持续很久，建议寻求专业咨询师的帮助。"
    )


def thread(n: int, topic: str, answers: int = 2, dup_cluster: str | None = None, **extra: Any) -> dict:
    row = {
        "question_id": f"yixinli:{100 + n}",
        "source": "yixinli",
        "source_id": str(100 + n),
        "url": f"https://www.xinli001.com/qa/{100 + n}",
        "title": f"{topic}：我该怎么办（{n}）",
        "body": question_text(n, topic),
        "tags": [topic],
        "asker_anonymous": True,
        "answer_count": answers,
        "answers": [
            {"answer_id": f"a{n}-{k}", "body": answer_text(n, k), "author_role": "counselor", "likes": k}
            for k in range(answers)
        ],
        "crawled_at": f"2026-11-{10 + n % 5:02d}T08:00:00+00:00",
        "topic": topic,
        "subtopic": f"{topic}-{n % 2}",
        "dup_cluster": dup_cluster,
        "risk_level": "none",
        "risk_flags": [],
    }
    row.update(extra)
    return row


def coe_record(qid: str, aid: str, status: str, created_at: str, tag: str = "", **extra: Any) -> dict:
    row = {
        "question_id": qid,
        "answer_id": aid,
        "l1": f"求助者感到焦虑和无力{tag}",
        "l2": f"可能源于对自己的过高要求{tag}",
        "l3": f"希望被理解并得到可行建议{tag}",
        "l4": f"先共情再给出具体步骤{tag}",
        "model": "sample-llm",
        "prompt_version": "v1",
        "status": status,
        "created_at": created_at,
    }
    row.update(extra)
    return row


def sample_threads() -> list[dict]:
    threads = [thread(n, TOPICS[n % 3], answers=1 + n % 3) for n in range(30)]
    # Near-duplicates: questions 0 and 3 share a question cluster; 4 and 7 share an answer cluster.
    threads[0]["dup_cluster"] = "q-dup-1"
    threads[3]["dup_cluster"] = "q-dup-1"
    threads[4]["answers"][0]["dup_cluster"] = "a-dup-1"
    threads[7]["answers"][0]["dup_cluster"] = "a-dup-1"
    threads[5]["risk_level"] = "high"
    threads[5]["risk_flags"] = [{"category": "suicide", "level": "high", "term": "不想活", "field": "body"}]
    return threads


def sample_drafts() -> list[dict]:
    records = []
    for t in sample_threads():
        for a in t["answers"]:
            records.append(
                coe_record(t["question_id"], a["answer_id"], "draft", "2026-11-20T00:00:00Z", "（草稿）")
            )
    return records


def sample_reviews() -> list[dict]:
    review = {
        "ratings": [4, 5],
        "agreement": 1.0,
        "annotators": ["r1", "r2"],
        "verdicts": ["accept", "accept"],
    }
    return [
        coe_record("yixinli:100", "a0-0", "accepted", "2026-11-21T00:00:00Z", review=review),
        coe_record(
            "yixinli:101", "a1-0", "edited", "2026-11-21T00:00:00Z", "（修改）", review={"ratings": [3]}
        ),
        coe_record("yixinli:101", "a1-1", "rejected", "2026-11-21T00:00:00Z"),
        # Two verified records for one pair: the later one wins.
        coe_record("yixinli:102", "a2-0", "accepted", "2026-11-21T00:00:00Z", "（旧）"),
        coe_record("yixinli:102", "a2-0", "edited", "2026-11-22T00:00:00Z", "（新）"),
        # A verified record beats a later draft.
        coe_record("yixinli:103", "a3-0", "accepted", "2026-11-21T00:00:00Z", "（已审）"),
    ]


REPORT = {
    "counts": {"in": 40, "out": 30},
    "steps": [
        {"name": "normalise", "in": 40, "out": 40, "removed": 0},
        {"name": "filter", "in": 40, "out": 33, "removed": {"answer_too_short": 5, "empty": 2}},
        {"name": "dedup", "in": 33, "out": 30, "removed": 3},
    ],
}


AGREEMENT = {
    "project": "empathy-qa review",
    "tasks": 6,
    "tasks_with_overlap": 1,
    "verdict_agreement": 1.0,
    "rating_alpha_ordinal": None,
    "verdict_alpha_nominal": 0.812345,
    "needs_adjudication": 0,
}


def write_inputs(
    root: Path,
    threads: list[dict] | None = None,
    drafts: list[dict] | None = None,
    reviews: list[dict] | None = None,
    report: dict | None = REPORT,
    manifest: bool = True,
    salt_fingerprint: str = "test",
) -> dict[str, Path]:
    """curated/, coe_draft/ and coe_review/ folders as the earlier stages write them.

    The curated folder gets the manifest curation writes (`manifest=False`: a folder from before).
    """
    paths = {"curated": root / "curated", "draft": root / "coe_draft", "review": root / "coe_review"}
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        conform(sample_threads() if threads is None else threads, CURATED_THREAD),
        paths["curated"] / "curated.parquet",
    )
    if report is not None:
        (paths["curated"] / "report.json").write_text(
            json.dumps(report, ensure_ascii=False), encoding="utf-8"
        )
    if manifest:
        write_manifest(paths["curated"], "curation", {"salt_fingerprint": salt_fingerprint})
    pq.write_table(
        conform(sample_drafts() if drafts is None else drafts, COE_RECORD), paths["draft"] / "coe.parquet"
    )
    pq.write_table(
        conform(sample_reviews() if reviews is None else reviews, COE_RECORD), paths["review"] / "coe.parquet"
    )
    (paths["review"] / "agreement.json").write_text(json.dumps(AGREEMENT), encoding="utf-8")
    return paths


def build_args(paths: dict[str, Path], out: Path, version: str = "1.0.0", *extra: str) -> list[str]:
    return [
        "--curated", str(paths["curated"]),
        "--coe", str(paths["draft"]), str(paths["review"]),
        "--version", version,
        "--out", str(out),
        "--split", "0.6,0.2,0.2",  # 30 questions: every split gets some
        *extra,
    ]  # fmt: skip


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "curation.release", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_rows(release: Path) -> dict[str, list[dict]]:
    return {s: pq.read_table(release / f"{s}.parquet").to_pylist() for s in ("train", "validation", "test")}


def all_rows(release: Path) -> dict[str, dict]:
    return {r["id"]: r for rows in read_rows(release).values() for r in rows}


def pid(qid: str, aid: str) -> str:
    """The release id of the site's pair (question_id, answer_id)."""
    return pair_id(release_question_id(qid), release_answer_id(qid, aid))


def rid(qid: str) -> str:
    return release_question_id(qid)


def synthetic_curated(n: int, seed: int = 0) -> list[dict]:
    """Curated-shaped threads from the realistic generator: reposts share a dup_cluster, risk is flagged.

    Identifiers are not planted (curation removes them before a release sees the rows).
    """
    from empathyqa.synthetic import generate_corpus

    corpus = generate_corpus(n, seed=seed, pii_rate=0.0, same_id_rate=0.0)
    cluster_of = {sid: f"repost-{i}" for i, group in enumerate(corpus.truth.repost_groups) for sid in group}
    rows = []
    for raw in corpus.threads:
        sid = raw["source_id"]
        level = corpus.truth.risk.get(sid, "none")
        topic, subtopic = corpus.truth.topic.get(sid, (raw["tags"][0], None))
        rows.append(
            {
                "question_id": f"{raw['source']}:{sid}",
                "source": raw["source"],
                "source_id": sid,
                "url": raw["url"],
                "title": raw["title"],
                "body": raw["body"],
                "tags": raw["tags"],
                "answers": [
                    {
                        "answer_id": a["answer_id"],
                        "body": a["body"],
                        "author_role": a.get("author_role", "unknown"),
                        "likes": a.get("likes"),
                    }
                    for a in raw["answers"]
                ],
                "asked_at": raw.get("asked_at"),
                "crawled_at": raw.get("crawled_at"),
                "topic": topic,
                "subtopic": subtopic,
                "dup_cluster": cluster_of.get(sid),
                "risk_level": level,
                "risk_flags": []
                if level == "none"
                else [{"category": "suicide", "level": level, "term": "不想活", "field": "body"}],
            }
        )
    return [r for r in rows if r["answers"]]
