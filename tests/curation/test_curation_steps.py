"""Curation steps one by one: normalise, filters, boilerplate, risk, topics, MinHash/LSH, union-find."""

from __future__ import annotations

import random

import numpy as np
import pytest
from _curation_helpers import varied_text

from curation.config import CurationConfig
from curation.minhash import (
    UnionFind,
    Verify,
    band_rows,
    candidate_pairs,
    choose_bands,
    detection_probability,
    jaccard_and_containment,
    signature,
)
from curation.pipeline import Context, Filter, run_batch
from curation.steps import (
    AnswerQualityFilter,
    NoAnswers,
    QuestionFilter,
    ScrubPii,
    StripBoilerplate,
    pseudonym,
    spam_reason,
)
from curation.text import char_shingles, dedup_key, normalise, repetition, zh_share


# ----------------------------------------------------------------------------- normalise
def test_normalise_html_nfkc_t2s_whitespace_control_and_paragraphs():
    raw = "<p>我們  今天&nbsp;很開心</p><p>第二段\u200b１２３ＡＢＣ</p>\x07\r\n\r\n\r\n  第三段\t\t結束  "
    # spaces between Chinese characters are layout, not content
    assert normalise(raw) == "我们今天很开心\n第二段123ABC\n第三段结束"
    assert normalise("I  am\tfine 好") == "I am fine 好"


def test_normalise_full_width_punctuation_and_empty():
    assert normalise("你好！（测试）") == "你好！（测试）"
    assert normalise(None) == "" and normalise("") == ""


def test_traditional_to_simplified_with_per_source_configs():
    assert normalise("這裡的軟體，憂鬱") == "这里的软体，忧郁"
    assert normalise("這裡的軟體", "tw2s") == "这里的软体"
    assert normalise("這裡的軟體", "tw2sp") == "这里的软件"  # phrases too, for Taiwan sources


def test_dedup_key_ignores_punctuation_whitespace_case_and_digits():
    assert dedup_key("Hello, 世界！ 2024年") == dedup_key("hello世界 1999 年。")


# ----------------------------------------------------------------------------- filters
def _doc(
    title="最近总是睡不着怎么办", body="我最近压力很大，每天晚上都睡不着觉，白天也没有精神。", answers=None
):
    return {
        "question_id": "t:1",
        "source": "t",
        "title": title,
        "body": body,
        "tags": [],
        "asker_id": "u1",
        "asker_anonymous": False,
        "answers": answers if answers is not None else [],
    }


def _answer(body, answer_id="a1"):
    return {"answer_id": answer_id, "body": body, "author_id": "x"}


def test_answer_length_edge_is_100_chars():
    config = CurationConfig()
    rng = random.Random(1)
    text = varied_text(rng, 200)
    exactly = text[:100]
    short = text[:99]
    doc = _doc(answers=[_answer(exactly, "a1"), _answer(short, "a2")])
    ctx = Context()
    AnswerQualityFilter(config)([doc], ctx)
    assert [a["answer_id"] for a in doc["answers"]] == ["a1"]
    assert ctx.rejects[0]["answer_id"] == "a2" and ctx.rejects[0]["reason"] == "answer_too_short"


def test_question_filters_each_reason():
    config = CurationConfig()
    cases = {
        "question_too_short": _doc(title="怎么办", body="好难"),
        "low_chinese_share": _doc(
            title="help", body="I cannot sleep at night and feel very tired all day long 我"
        ),
        "repetition:dup_lines": _doc(
            body="我好难过我好难过\n我好难过我好难过\n我好难过我好难过\n今天天气不错"
        ),
        "spam:ad_words": _doc(body="兼职刷单日赚五百，扫码加入，名额有限，免费领取课程资料，快来看看吧"),
    }
    for reason, doc in cases.items():
        keep, why = QuestionFilter(config).filter(doc)
        assert (keep, why) == (False, reason), reason
    assert QuestionFilter(config).filter(_doc()) is True


def test_repetition_ratios():
    rng = random.Random(2)
    fresh = varied_text(rng, 400)
    assert repetition(fresh)["dup_10gram_frac"] < 0.05
    assert repetition("我真的好难受啊" * 20)["dup_10gram_frac"] > 0.9
    assert repetition("哈哈" * 50)["top_2gram_frac"] > 0.9


def test_zh_share_ignores_placeholders_and_digits():
    assert zh_share("我的电话<PHONE>，123") == 1.0
    assert zh_share("hello 你好") == pytest.approx(2 / 7)


def test_contact_solicitation_in_answers_is_spam():
    rng = random.Random(3)
    body = varied_text(rng, 150) + "需要的话加我<WECHAT>详聊。"
    keep, reason = AnswerQualityFilter(CurationConfig()).filter_answer(_answer(body), _doc())
    assert (keep, reason) == (False, "spam:contact_solicitation")


def test_boilerplate_lines_leave_answers():
    body = "你好，谢谢你的信任。\n这里是正文内容。\n——国家二级心理咨询师 张三\n欢迎关注我的公众号\n希望对你有帮助！"
    doc = _doc(answers=[_answer(body)])
    ctx = Context()
    StripBoilerplate()([doc], ctx)
    assert doc["answers"][0]["body"] == "你好，谢谢你的信任。\n这里是正文内容。"
    assert ctx.stats["boilerplate"].counters["lines_removed"] == 3


def test_threads_left_without_answers_are_rejected():
    ctx = Context()
    out = NoAnswers()([_doc(answers=[])], ctx)
    assert out == [] and ctx.rejects[0]["reason"] == "no_answers_left"


def test_filter_may_return_plain_bool_and_reason_defaults_to_step_name():
    class Odd(Filter):
        name = "odd"

        def filter(self, doc):
            return doc["n"] % 2 == 1

    result = run_batch([Odd()], [{"n": 1}, {"n": 2}])
    assert [d["n"] for d in result.records] == [1]
    assert result.rejects[0]["reason"] == "odd"
    assert result.stats["odd"].records_in == 2 and result.stats["odd"].records_out == 1


def test_pii_step_scrubs_and_pseudonymises_with_salt():
    config = CurationConfig(salt="s1")
    doc = _doc(body="我的电话是13812345678", answers=[_answer("加我QQ 12345678")])
    ScrubPii(config)([doc], Context())
    assert doc["body"] == "我的电话是<PHONE>"
    assert doc["pii_counts"] == [{"kind": "PHONE", "count": 1}]
    assert doc["answers"][0]["body"] == "加我QQ <QQ>"
    assert doc["asker_id"] == pseudonym("s1", "u1") != pseudonym("s2", "u1")
    anonymous = _doc()
    anonymous["asker_anonymous"] = True
    ScrubPii(config)([anonymous], Context())
    assert anonymous["asker_id"] is None


# ----------------------------------------------------------------------------- MinHash / LSH
def test_bands_are_derived_from_the_threshold():
    bands, rows = choose_bands(0.4, 128)
    assert bands * rows <= 128
    assert detection_probability(0.4, bands, rows) >= 0.9
    assert detection_probability(0.7, bands, rows) >= 0.999
    assert detection_probability(0.05, bands, rows) < 0.01  # unrelated posts sit near J = 0.02
    strict = choose_bands(0.7, 128, target=0.99)
    assert detection_probability(0.7, *strict) >= 0.99 and strict[1] > rows


def test_verify_accepts_cut_and_reworded_reposts_but_not_unrelated():
    rng = random.Random(7)
    original = dedup_key(varied_text(rng, 120))
    reworded = "".join(
        rng.choice("的一是不了人我在有") if i % 12 == 5 else ch for i, ch in enumerate(original)
    )
    cut = original[: int(len(original) * 0.8)]
    other = dedup_key(varied_text(rng, 120))
    verify = Verify()

    def sh(key):
        return char_shingles(key, 5)

    assert jaccard_and_containment(sh(original), sh(reworded))[0] < 0.7  # Jaccard alone would miss it
    assert verify(original, reworded, sh(original), sh(reworded))
    assert verify(original, cut, sh(original), sh(cut))
    assert not verify(original, other, sh(original), sh(other))


def test_signature_estimates_jaccard():
    rng = random.Random(4)
    text = varied_text(rng, 800)
    edited = text[:700] + varied_text(rng, 100)
    a, b = char_shingles(dedup_key(text), 5), char_shingles(dedup_key(edited), 5)
    exact, _ = jaccard_and_containment(a, b)
    estimate = float((signature(a) == signature(b)).mean())
    assert abs(estimate - exact) < 0.12


def test_lsh_group_by_band_finds_near_duplicates_only():
    rng = random.Random(5)
    texts = [varied_text(rng, 300) for _ in range(20)]
    texts.append(texts[3][:-10] + "多加的几个字")
    sigs = np.stack([signature(char_shingles(dedup_key(t), 5)) for t in texts])
    bands, rows = choose_bands(0.7, 128)
    table = band_rows(np.arange(len(texts)), sigs, bands, rows)
    assert len(table) == len(texts) * bands and set(table.dtype.names) == {"band", "hash", "id"}
    assert candidate_pairs(table) == {(3, 20)}


def test_union_find_chains_and_roots_at_smallest():
    uf = UnionFind(6)
    uf.union(4, 5)
    uf.union(2, 4)
    uf.union(0, 1)
    assert uf.clusters() == {0: [0, 1], 2: [2, 4, 5], 3: [3]}


def test_example_config_loads_and_word_shingles_work():
    from pathlib import Path

    from curation.steps import shingler
    from empathyqa.config import build_config

    example = Path(__file__).resolve().parents[2] / "curation" / "curation.example.yaml"
    config = build_config(CurationConfig, {}, example)
    assert config == CurationConfig()  # the example documents the defaults
    words = shingler(CurationConfig(shingle="word", ngram=3))
    a, b = words("我最近总是睡不着觉，很焦虑"), words("我最近总是睡不着觉，很焦虑啊")
    assert jaccard_and_containment(a, b)[1] == 1.0


# A templated post that says a few clauses twice (dup 10-gram share 0.40): a person, not spam.
REPEATS_A_CLAUSE = (
    "我刚毕业，在郑州一家小公司做行政。刚入职那会儿在宿舍，室友当着所有人的面骂我，我整个人都是懵的。"
    "吃不下饭，体重掉了8斤，我想去看心理医生但又怕花钱。今天早上在工地，我爸借了钱一直不还，我越想越害怕。"
    "一到周日晚上就开始心慌，我甚至开始怀疑自己是不是有病。我想去看心理医生但又怕花钱，每次同事说我矫情，我就很内疚。"
    "刚入职那会儿在实验室，室友三天没回我消息，我整个人都是懵的。我不知道该不该继续忍下去，每次我爸借了钱一直不还，"
    "我就手一直在抖。一见到人多的地方就紧张，我不敢跟任何人说。前几天在奶茶店，班主任又提起了分手的事，我越想越害怕。"
    "总是反复检查门锁和煤气，我不知道该不该继续忍下去。我甚至开始怀疑自己是不是有病，每次婆婆说我不如别人家的孩子，"
    "我就委屈得想哭。吃不下饭，体重掉了7斤，我想去看心理医生但又怕花钱。求大家给点建议。"
)


def test_a_post_that_repeats_a_clause_is_kept_and_a_doubled_post_is_not():
    config = CurationConfig()
    assert 0.3 < repetition(REPEATS_A_CLAUSE)["dup_10gram_frac"] < config.max_dup_10gram_frac
    assert QuestionFilter(config).filter(_doc(body=REPEATS_A_CLAUSE)) is True
    half = REPEATS_A_CLAUSE[: len(REPEATS_A_CLAUSE) // 2]
    keep, why = QuestionFilter(config).filter(_doc(body=half + half))
    assert (keep, why) == (False, "repetition:dup_10gram")


@pytest.mark.parametrize(
    "text",
    [
        "我老公沉迷赌博，还借了网贷，每个月都要还好几千，我该不该离婚？",
        "我大学在做兼职，家里还有助学贷款，压力很大，晚上睡不着。",
        "我爸天天买彩票，还去赌，家里的钱都输光了。",
        "我被刷单骗了两万块，兼职没找到反而被骗，觉得自己特别蠢。",
        "如果网贷的压力让你睡不着，可以先拨打心理咨询热线，和专业的人聊一聊。",
    ],
)
def test_people_writing_about_gambling_debt_or_scams_are_not_ads(text):
    assert spam_reason(text, 2, contact_rule=False) is None


def test_ad_speak_beside_what_ads_sell_is_spam():
    assert spam_reason("兼职刷单日赚五百，名额有限", 2, contact_rule=False) == "ad_words"
    assert spam_reason("网贷秒批，低价利息", 2, contact_rule=False) == "ad_words"
    assert spam_reason("兼职刷单，加我<WECHAT>", 2, contact_rule=False) == "ad_words"
    assert spam_reason("我做兼职被刷单骗了，骗子的微信是<WECHAT>", 2, contact_rule=False) is None
