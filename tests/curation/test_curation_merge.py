"""Question dedup keeps every answer: reposts merge into the kept thread; recrawls resolve to the newest."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pyarrow.parquet as pq

from curation.config import CurationConfig
from curation.run import curate
from empathyqa.synthetic import generate_corpus

POST = {
    "title": "工作三年了，每天上班都像上刑场，我该辞职吗？",
    "body": (
        "我今年27岁，在一家互联网公司做产品经理，已经三年了。最近半年每天早上醒来第一个念头就是不想去上班，"
        "一到公司就心慌、胸闷，开会的时候领导一说话我就紧张得手心出汗。晚上回到家什么都不想做，躺在床上刷手机"
        "刷到两三点，第二天又起不来。我知道这样下去不行，可是辞职又怕找不到更好的，房租每个月要四千多，"
        "父母也一直说稳定最重要。我是不是太矫情了？有没有人能告诉我该怎么办？"
    ),
}
ANSWER_1 = (
    "你好，看到你的描述，能感受到你这半年过得非常辛苦。每天醒来就不想上班、到了公司心慌胸闷，这些都是身体在"
    "提醒你：你承受的压力已经超过了能负荷的程度，这并不是矫情。\n"
    "我想先请你区分两件事：一是这份工作本身是否适合你，二是你目前的身心状态是否需要先被照顾。很多时候，人在"
    "极度疲惫的时候做的决定，事后会后悔。建议你先做几件小事：①固定睡觉时间，睡前一小时不看手机；②每天记录"
    "一下让你最紧张的场景，看看是某个人、某类任务，还是整体的工作环境；③如果心慌胸闷持续，可以去医院做个检查，"
    "排除身体上的问题。\n等状态稍微稳定一些，再来评估要不要换工作，会更清楚自己真正想要的是什么。"
)
ANSWER_2 = (
    "题主你好。从你的文字里，我读到了很多“应该”：应该稳定、应该坚持、应该不矫情。这些声音也许来自父母，也许"
    "来自你自己，但它们让你很难听见自己真实的感受。\n你可以试着问问自己：如果不考虑别人的看法，我最希望一年后"
    "的自己过着什么样的生活？把答案写下来，再看看现在的工作离它有多远。辞职不是唯一的选项，换部门、调整工作"
    "内容、和领导谈一谈，都是可以尝试的方向。"
)
ANSWER_3 = (
    "抱抱你。我之前也有过一模一样的状态，每天上班前在地铁上就开始胃疼。后来我做的第一件事是去看了心理咨询，"
    "发现自己其实是长期焦虑，和工作本身关系没有那么大。咨询了两个多月，慢慢学会了在开会紧张的时候做几次深呼吸，"
    "也开始每周去游泳。现在我还在原来的公司，但感觉完全不一样了。希望你也能先照顾好自己，不要急着做决定。"
)
ANSWER_4 = (
    "你好，你提到晚上刷手机到两三点，第二天起不来，这其实会形成一个恶性循环：睡眠不足让白天更焦虑，焦虑又让"
    "晚上更难入睡。可以先从打破这个循环开始，比如把手机放在卧室外面充电，睡前听一些放松的音乐。另外，你说父母"
    "一直强调稳定，可以试着和他们聊一聊你现在真实的感受，让他们知道你不是一时冲动，而是真的很难受。"
    "有了家人的理解，你做任何决定的时候都会更有底气。"
)
RISKY = "有时候真的觉得我想死，活着太累了。"


def thread(source_id: str, answers: list[tuple[str, str]], crawled_at: str, **fields) -> dict:
    return {
        "source": "yixinli",
        "source_id": source_id,
        "url": f"https://www.xinli001.com/qa/{source_id}",
        "title": POST["title"],
        "body": POST["body"],
        "tags": ["职场", "职业发展"],
        "asker": {"id": "88001234", "name": "迷茫的小鹿", "anonymous": False},
        "asked_at": "2024-03-01T21:14:00+08:00",
        "answers": [
            {
                "answer_id": aid,
                "body": body,
                "author": {"id": f"c{aid}", "name": "陈老师"},
                "author_role": "counselor",
                "likes": 3,
                "answered_at": "2024-03-02T10:00:00+08:00",
            }
            for aid, body in answers
        ],
        "crawled_at": crawled_at,
        **fields,
    }


def run(
    tmp_path: Path, rows: list[dict], name: str = "out", **options
) -> tuple[dict, list[dict], list[dict]]:
    raw = tmp_path / f"{name}.jsonl"
    raw.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    config = CurationConfig(workers=1, demo_salt=True, **options)
    report = curate([raw], tmp_path / name, config)
    curated = pq.read_table(tmp_path / name / "curated.parquet").to_pylist()
    rejects = pq.read_table(tmp_path / name / "rejects.parquet").to_pylist()
    return report, curated, rejects


def test_a_repost_merges_its_answers_and_its_risk_into_the_kept_thread(tmp_path):
    original = thread(
        "301001", [("9001", ANSWER_1), ("9002", ANSWER_2), ("9003", ANSWER_4)], "2024-04-01T00:00:00Z"
    )
    repost = thread("301377", [("9107", ANSWER_3), ("9108", ANSWER_2)], "2024-04-01T00:00:00Z")
    repost["title"] = "（重发）" + repost["title"]
    repost["body"] = repost["body"].replace(
        "有没有人能告诉我该怎么办？", RISKY + "有没有人能告诉我该怎么办？"
    )
    report, curated, rejects = run(tmp_path, [original, repost])

    assert len(curated) == 1
    kept = curated[0]
    assert kept["question_id"] == "yixinli:301001"  # more answers
    assert kept["merged_source_ids"] == ["yixinli:301377"]
    by_id = {a["answer_id"]: a for a in kept["answers"]}
    # ANSWER_2 was pasted under both: one copy stays; the repost's own answer 9107 is merged in
    assert sorted(by_id) == ["9001", "9002", "9003", "9107"]
    assert by_id["9107"]["question_source_id"] == "yixinli:301377"
    assert by_id["9001"]["question_source_id"] == "yixinli:301001"
    assert by_id["9107"]["body"] == ANSWER_3
    # the dropped repost said 我想死: the kept thread is gated as high risk
    repost_flags = [f for f in kept["risk_flags"] if f["field"] == "body:yixinli:301377"]
    assert [f["category"] for f in repost_flags] == ["suicide"]
    assert kept["risk_level"] == repost_flags[0]["level"] != "none"  # drafting skips it
    dropped = [r for r in rejects if r["question_id"] == "yixinli:301377"]
    assert [r["reason"] for r in dropped] == ["near_duplicate_question"]
    assert json.loads(dropped[0]["record"])["answers"] == []  # nothing left behind in the rejects
    assert report["counts"]["answers_merged_from_duplicates"] == 2


def test_no_distinct_answer_is_lost_to_question_dedup_on_a_synthetic_corpus(tmp_path):
    corpus = generate_corpus(
        40, seed=5, repost_rate=0.5, same_id_rate=0.0, pii_rate=0.0, stock_sentence_rate=0.0
    )
    report, curated, rejects = run(tmp_path, corpus.threads)
    assert report["duplicates"]["question_clusters"] >= 5
    out_answers = {a["answer_id"] for t in curated for a in t["answers"]}
    answer_rejects = {r["answer_id"] for r in rejects if r["answer_id"]}
    whole_rejects = {r["question_id"] for r in rejects if r["answer_id"] is None and r["stage"] != "dedup"}
    for t in corpus.threads:
        if f"yixinli:{t['source_id']}" in whole_rejects:
            continue
        for answer in t["answers"]:
            assert answer["answer_id"] in out_answers | answer_rejects, answer["answer_id"]
    for r in rejects:
        if r["reason"] in ("near_duplicate_question", "exact_duplicate_question"):
            assert json.loads(r["record"])["answers"] == []
    merged = [t for t in curated if t["merged_source_ids"]]
    assert merged and all(
        {a["question_source_id"] for a in t["answers"]} <= {t["question_id"], *t["merged_source_ids"]}
        for t in merged
    )


def test_two_crawls_of_one_post_are_one_question_and_the_newest_wins_whole(tmp_path):
    old = thread("402200", [("9201", ANSWER_1), ("9202", ANSWER_2)], "2024-04-01T08:00:00Z")
    new = thread("402200", [("9201", ANSWER_1), ("9203", ANSWER_3)], "2024-06-11T08:00:00Z")
    new["body"] = "（已经和领导谈过一次，没什么用。）" + new["body"]
    other = thread("402999", [("9301", ANSWER_4)], "2024-05-01T00:00:00Z")
    other["title"], other["body"] = "和男朋友异地两年，越来越没话说", ANSWER_2 + "我们还能走下去吗？"
    report, curated, rejects = run(tmp_path, [new, other, old])  # the older crawl read last

    by_id = {t["question_id"]: t for t in curated}
    assert sorted(by_id) == ["yixinli:402200", "yixinli:402999"]
    kept = by_id["yixinli:402200"]
    # 9202 is gone from the site: not revived
    assert [a["answer_id"] for a in kept["answers"]] == ["9201", "9203"]
    assert kept["crawled_at"] == "2024-06-11T08:00:00Z" and kept["body"].startswith("（已经")
    assert [r["reason"] for r in rejects if r["question_id"] == "yixinli:402200"] == ["older_crawl"]
    assert report["duplicates"]["same_id_questions"] == 1
    assert report["counts"]["same_id_older_crawls"] == 1


def test_an_older_crawl_does_not_stand_in_for_a_newest_crawl_a_filter_rejected(tmp_path):
    old = thread("402200", [("9201", ANSWER_1)], "2024-04-01T08:00:00Z")
    new = copy.deepcopy(old)
    new["crawled_at"] = "2024-06-11T08:00:00Z"
    new["answers"][0]["body"] = "已删除"  # the site now shows only a stub
    report, curated, rejects = run(tmp_path, [old, new])
    assert curated == []
    reasons = sorted(r["reason"] for r in rejects if r["question_id"] == "yixinli:402200")
    assert reasons == ["answer_too_short", "no_answers_left", "older_crawl"]
