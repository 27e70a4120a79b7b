"""Risk flags: the frozen dev set's figures pinned with a floor, and each context rule on real-length posts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotation.draft.selection import select_pairs
from curation.risk import RiskScanner, asker_level, load_lexicon, load_triggers, overall_level
from curation.text import normalise
from training.data import is_risky

DEV = Path(__file__).resolve().parents[1] / "data" / "risk_eval" / "dev.jsonl"
TUNING = DEV.with_name("tuning.jsonl")
SCANNER = RiskScanner()


def level(text: str, field: str = "body") -> str:
    return overall_level(SCANNER.scan(normalise(text), field))


def _figures(path: Path) -> tuple[float, float, float, float]:
    """(at-risk recall, at-risk precision, false-flag rate on level none, exact-level accuracy)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    pred = [level(r["text"], "answer:x" if r["where"] == "answer" else "body") for r in rows]
    at_risk = {"medium", "high"}
    gold_pos = [r["level"] in at_risk for r in rows]
    pred_pos = [p in at_risk for p in pred]
    tp = sum(g and p for g, p in zip(gold_pos, pred_pos, strict=True))
    nones = [p for r, p in zip(rows, pred, strict=True) if r["level"] == "none"]
    exact = sum(r["level"] == p for r, p in zip(rows, pred, strict=True)) / len(rows)
    return tp / sum(gold_pos), tp / sum(pred_pos), sum(p != "none" for p in nones) / len(nones), exact


def test_dev_set_recall_and_precision_floors():
    recall, precision, false_flags, exact = _figures(DEV)  # 1.00, 1.00, 0.00, 1.00 when pinned
    assert recall >= 0.95 and precision >= 0.9 and false_flags <= 0.05 and exact >= 0.9


def test_tuning_set_recall_and_precision_floors():
    # 251 sentences written apart from dev (other wording, dialect, slang, hard negatives), with the model
    # (trained on them too): pinned at recall 0.994, false flags on level none 0.033.
    recall, precision, false_flags, exact = _figures(TUNING)
    assert recall >= 0.95 and precision >= 0.95 and false_flags <= 0.05 and exact >= 0.95


def test_every_bundled_entry_is_reached_by_a_trigger_word():
    # Sentences without a trigger word skip the patterns; an entry not reached by one would make its own
    # anchors triggers (correct, slower): keep the bundled lexicon free of those.
    assert SCANNER.uncovered == []
    assert SCANNER.scan("今天和同事一起吃了午饭，下午开会讨论了下个季度的计划。", "body") == []


def test_an_extra_entry_without_trigger_words_still_flags(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        'entries:\n  - {pattern: "人生没有盼头", category: suicide, level: medium, kind: ideation}\n',
        encoding="utf-8",
    )
    scanner = RiskScanner(load_lexicon(extra))
    assert scanner.uncovered == [len(scanner.entries) - 1]
    flags = scanner.scan(normalise("我今年四十岁，离婚以后一个人住，觉得人生没有盼头。"), "body")
    assert [(f.level, f.term) for f in flags] == [("medium", "人生没有盼头")]


def test_trigger_words_are_literal_or_small_finite_patterns(tmp_path):
    bad = tmp_path / "lexicon.yaml"
    bad.write_text('triggers: ["死.*"]\nentries: []\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="not a small finite pattern"):
        load_triggers(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我想跳江，就是我们家旁边那条江，晚上没人。", "high"),  # method x place
        ("昨天晚上我把攒了两个月的安眠药和半瓶白酒放在一起，今晚就吃。", "high"),  # overdose with alcohol
        ("我刚刚吃了一整瓶安眠药，头好晕，不知道该跟谁说。", "high"),  # an act done
        ("每天晚上睡前都在想，要是睡过去就不要再醒来该多好。", "medium"),  # passive wish
        ("工作没了，女朋友也走了，不如死了算了。", "medium"),  # resignation
        ("我就是要毁掉自己，让他们后悔一辈子。", "medium"),  # self-destruction aimed at others
        ("你要是敢跟我分手，我就从你家楼上跳下来。", "medium"),  # a threat caps at medium
        ("今天又有想划自己的冲动了，刀都被我收起来了。", "medium"),  # an urge, not an act
    ],
)
def test_levels_of_the_asker(text, expected):
    assert level(text) == expected


def test_third_party_is_low_and_marked():
    flags = SCANNER.scan(
        normalise("我朋友上周跳楼了，我到现在都睡不着，总在想是不是我没发现她的异常。"), "body"
    )
    assert overall_level(flags) == "low" and {f.party for f in flags} == {"third"}
    flags = SCANNER.scan(normalise("我姐说她想一了百了，我让她去看医生她不去，我该怎么办？"), "body")
    assert [(f.level, f.party) for f in flags] == [("low", "third")]


def test_negation_and_past_tense():
    assert level("以前想过自杀，现在好多了，就是偶尔还会失眠。") == "low"
    assert level("我从来没想过自杀，只是最近压力很大，想找人聊聊。") == "none"
    assert level("我一点轻生的想法都没有，就是焦虑，心慌，睡不着。") == "none"
    assert level("初中被霸凌的时候想过从教学楼跳下去，现在我已经大学毕业了。") == "low"
    # a past act with a renewed intent now is not resolved
    assert level("上周我跳进河里又被人捞上来了，现在每天都想再试一次。") == "high"


@pytest.mark.parametrize(
    "text",
    [
        "今天加班到十一点，累死了，回家还要给孩子检查作业。",
        "看了个视频笑死我了，我妈学我说话学得一模一样。",
        "好久没见你了，想死你了！下周回来一起吃火锅吧。",
        "我妈的观念太死板了，觉得女孩子就该考公务员。",
        "看新闻说某大学生跳楼了，评论区都在骂学校。",
        "今天吃了两片布洛芬，头疼好点了，明天还要上班。",
    ],
)
def test_figures_of_speech_idioms_media_and_ordinary_medicine_raise_nothing(text):
    assert level(text) == "none"


def test_counsellor_wording_in_an_answer_never_flags():
    answer = (
        "看得出你真的很累了。如果出现伤害自己的念头，请拨打24小时心理危机干预热线，或者去最近的医院急诊。"
    )
    assert SCANNER.scan(normalise(answer), "answer:a1") == []
    # a peer who tells of their own risk is recorded
    peer = SCANNER.scan(normalise("楼主我跟你一样，我也天天想死，只是一直没跟别人说。"), "answer:a2")
    assert overall_level(peer) == "medium" and peer[0].field == "answer:a2"


def test_asker_level_gates_drafting_answer_only_flags_do_not():
    answer_only = {
        "question_id": "yixinli:1",
        "title": "异地恋怎么维持",
        "body": "男朋友在外地工作，我们一个月见一次，最近总吵架，我该怎么办？",
        "risk_level": "none",
        "risk_flags": [{"category": "suicide", "level": "medium", "term": "想死", "field": "answer:a1"}],
        "answers": [{"answer_id": "a1", "body": "我当年异地的时候也天天想死，后来熬过来了。", "likes": 3}],
    }
    asker = {
        **answer_only,
        "question_id": "yixinli:2",
        "risk_level": "medium",
        "risk_flags": [{"category": "suicide", "level": "medium", "term": "想死", "field": "body"}],
    }
    assert asker_level(answer_only["risk_flags"]) == "none" and asker_level(asker["risk_flags"]) == "medium"
    pairs, skipped = select_pairs([answer_only, asker])
    assert [p.question_id for p in pairs] == ["yixinli:1"]
    assert skipped["threads at risk medium"] == 1


def test_training_gates_every_row_of_a_risk_question():
    rows = [
        {
            "question_id": "q1",
            "risk_level": "high",
            "risk_flags": [],
        },  # an answer row with no flag of its own
        {"question_id": "q1", "risk_level": "high", "risk_flags": ["suicide:high"]},
        {"question_id": "q2", "risk_level": "none", "risk_flags": ["suicide:low"]},  # answer-only flag
    ]
    assert [is_risky(r) for r in rows] == [True, True, False]
    assert is_risky({"question_id": "q3", "risk_flags": ["suicide:high"]})  # older releases: flags


def test_bad_lexicon_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "extra.yaml"
    bad.write_text("entries:\n  - {pattern: '(unclosed', level: high}\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="not a valid pattern"):
        load_lexicon(bad)
    bad.write_text("entries:\n  - {pattern: '跳崖', level: extreme}\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="level 'extreme'"):
        load_lexicon(bad)
    extra = tmp_path / "words.yaml"
    extra.write_text("- {term: 跳崖, category: suicide, level: high}\n", encoding="utf-8")
    assert overall_level(RiskScanner(load_lexicon(extra)).scan("我想去跳崖", "body")) == "high"
