"""The learned risk model beside the lexicon: the shipped weights are a retrain of the committed sets, the
vectorised scoring equals the plain TF-IDF sum, the leave-one-writer-out recall stays above its floor,
and the combined scanner keeps the context rules and the policy on real-length posts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from curation.risk import MODEL_CATEGORY, RiskScanner, asker_level, overall_level
from curation.risk_model import (
    BUNDLED_MODEL,
    EXTRA_NONE,
    THRESHOLD,
    WRITERS,
    RiskModel,
    cross_validate,
    features,
    load_rows,
    train_on_rows,
    training_rows,
)
from curation.text import normalise

SCANNER = RiskScanner()
MODEL = RiskModel.load()


def level(text: str, field: str = "body") -> str:
    return overall_level(SCANNER.scan(normalise(text), field))


def test_the_shipped_model_is_a_retrain_of_the_committed_sets():
    shipped = MODEL.data
    retrained = train_on_rows(training_rows() + load_rows(EXTRA_NONE))
    assert shipped["trained_on"] == retrained["trained_on"]
    assert shipped["trained_on"]["per_level"] == {"high": 479, "low": 357, "medium": 523, "none": 4659}
    assert list(shipped["idf"]) == list(retrained["idf"])
    assert np.allclose(shipped["weights"], retrained["weights"], atol=2e-3)
    again = RiskModel(retrained)
    texts = [normalise(r["text"]) for r in load_rows(["dev"])]
    assert [MODEL.call(p) for p in MODEL.probabilities(texts)] == [
        again.call(p) for p in again.probabilities(texts)
    ]


def _reference(model: RiskModel, text: str) -> np.ndarray:
    counts = Counter(model.index[f] for f in features(text) if f in model.index)
    logits = model.bias.copy()
    if counts:
        rows = np.array(list(counts))
        values = (1 + np.log(np.array(list(counts.values()), dtype=float))) * model.idf[rows]
        logits += (values / np.linalg.norm(values)) @ model.matrix[rows]
    e = np.exp(logits - logits.max())
    return e / e.sum()


def test_vectorised_scoring_equals_the_plain_tfidf_sum():
    sentences = ["最近总是失眠。", "我真的不想活了，", "活着 太累\n了", "", "a", "想死你了！", "。"]
    got = MODEL.probabilities(sentences)
    assert np.allclose(got, [_reference(MODEL, s) for s in sentences], atol=1e-12)
    # a sentence's window is the pair joined: the same figures from one pass over the text
    windows = MODEL.window_probabilities(sentences)
    joined = [(sentences[i - 1] if i else "") + s for i, s in enumerate(sentences)]
    assert np.allclose(windows, [_reference(MODEL, t) for t in joined], atol=1e-12)


def test_an_unusable_model_file_is_refused(tmp_path):
    bad = tmp_path / "model.json"
    bad.write_text('{"format": "something-else"}', encoding="utf-8")
    with pytest.raises(SystemExit, match="unusable risk model"):
        RiskModel.load(bad)
    assert RiskModel.load(tmp_path / "absent.json") is None
    assert BUNDLED_MODEL.exists()


def test_leave_one_writer_out_recall_of_the_combined_detector_stays_above_its_floor():
    # Pinned when the rule was chosen (fill, threshold 0.5, anchors, weak anchors at 0.5, the replier's own
    # words in answers): pooled at-risk recall 0.957, precision 0.890; per left-out writer recall old 0.986,
    # train_a 0.930, train_b 0.935, holdout2 0.961.
    # The lexicon alone: recall 0.40 on train_a and train_b, the writers it was never tuned on.
    groups = {w: load_rows(names) for w, names in WRITERS.items()}
    results = cross_validate(groups, (THRESHOLD,), load_rows(EXTRA_NONE))

    def at_risk(rows):
        gold = [g in ("medium", "high") for _, g, _ in rows]
        pred = [p in ("medium", "high") for _, _, p in rows]
        tp = sum(a and b for a, b in zip(gold, pred, strict=True))
        return tp / sum(gold), tp / sum(pred)

    combined = results[("fill", THRESHOLD)]
    recall, precision = at_risk(combined)
    assert recall >= 0.95 and precision >= 0.87
    for writer in groups:
        assert at_risk([r for r in combined if r[0] == writer])[0] >= 0.92
    lexicon_recall, _ = at_risk([r for r in results[("lexicon", THRESHOLD)] if r[0] == "train_b"])
    assert lexicon_recall < recall - 0.3


BURIED = (
    "我今年三十四岁，在一家外企做财务，结婚六年，有一个四岁的女儿。去年公司裁员，我被调去了一个完全不熟悉的"
    "岗位，每天加班到很晚，回家还要辅导孩子作业。老公常年出差，婆婆住在我们家，什么事都要插手，我说一句她"
    "能说十句。这半年我一直睡不好，凌晨三四点醒了就再也睡不着，白天靠咖啡撑着。前几天站在公司天台上，我看"
    "着下面的车，心想从这里下去是不是就什么都不用管了。后来同事叫我，我才回过神来。我不知道该跟谁说，"
    "也不想让家里人担心，想问问大家，这种情况要不要去看医生？"
)


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        (BURIED, "body", "high"),  # the decisive sentence mid-post: a height, looked down from
        ("我想跳江。", "title", "high"),
        ("我刚刚吃了一整瓶安眠药，头好晕，不知道该跟谁说。", "body", "high"),
        ("每天晚上躺下都在想，要是睡过去就不要再醒来该多好。", "body", "medium"),
        ("工作丢了，女朋友也走了，不如死了算了。", "body", "medium"),
        ("他们从来不听我说话，我真想毁掉自己，让他们后悔一辈子。", "body", "medium"),
        ("我跟爸妈说了，再逼我结婚我就以死威胁，我是认真的。", "body", "medium"),
        ("我朋友跳楼了，我到现在都不敢相信，整晚整晚睡不着。", "body", "low"),
        ("以前想过自杀，现在好多了，就是偶尔还会失眠。", "body", "low"),
        ("今天加班到十一点，累死了，明天还要早起。", "body", "none"),
        ("这个视频笑死我了哈哈哈，推荐给你。", "body", "none"),
        ("宝贝好久不见，想死你了！周末一起吃饭吧。", "body", "none"),
        ("如果你出现伤害自己的念头，请一定拨打心理援助热线，或者去医院急诊。", "answer:a1", "none"),
        ("我也天天想死，真的，撑不下去了。", "answer:a2", "medium"),  # a peer's own risk, lexicon only
    ],
)
def test_combined_scanner_on_real_length_posts(text, field, expected):
    assert level(text, field) == expected


def test_model_flags_are_the_askers_own_and_answers_never_reach_the_model():
    # the lexicon already calls the buried 天台 sentence high: the model adds no second flag
    assert [(f.category, f.level) for f in SCANNER.scan(normalise(BURIED), "body")] == [("suicide", "high")]
    text = normalise(
        BURIED.replace("前几天站在公司天台上，我看着下面的车，心想从这里下去是不是就什么都不用管了。", WIND)
    )
    model = [f for f in SCANNER.scan(text, "body") if f.category == MODEL_CATEGORY]
    assert [(f.party, f.field) for f in model] == [("self", "body")] and model[0].level in ("medium", "high")
    assert "(model 0." in model[0].term
    # a peer's own words in a reply are recorded; they gate nothing
    peer = SCANNER.scan(normalise("跟楼主一样，" + WIND), "answer:x")
    assert [f.category for f in peer] == [MODEL_CATEGORY] and asker_level(
        [f.to_dict() for f in peer]
    ) == "none"
    # a counselor's advice never reaches the model
    advice = "我能理解你有时候会觉得活着太累、不想再醒来，请一定拨打心理援助热线，或者尽快去医院找医生。"
    assert SCANNER.scan(normalise(advice), "answer:x") == []


WIND = "有时候真想变成一阵风，吹散了就什么都不剩了，谁也不用再记得我。"


def test_the_lexicon_alone_misses_what_the_model_catches():
    text = normalise(WIND)
    assert overall_level(RiskScanner(model=False).scan(text, "body")) in ("none", "low")
    assert overall_level(SCANNER.scan(text, "body")) in ("medium", "high")


def test_bad_combine_rule_is_refused():
    with pytest.raises(ValueError, match="combine"):
        RiskScanner(combine="min")
