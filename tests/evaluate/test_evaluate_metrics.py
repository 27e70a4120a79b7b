"""Automatic metrics and ranking arithmetic on hand-computed examples."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from training.evaluate.metrics import (
    bleu4,
    chars,
    distinct_n,
    lcs_length,
    lcs_length_table,
    rouge_l,
    system_metrics,
)
from training.evaluate.ranking import Judgement, agreement, kendalls_w, win_probabilities, win_table


def test_chars_drop_whitespace():
    assert chars(" 我 很\n难过 ") == ["我", "很", "难", "过"]
    assert chars(None) == []


def test_lcs_bit_parallel_matches_the_table():
    rng = random.Random(0)
    for _ in range(300):
        a = [rng.choice("我你他好") for _ in range(rng.randint(0, 40))]
        b = [rng.choice("我你他好的") for _ in range(rng.randint(0, 40))]
        assert lcs_length(a, b) == lcs_length_table(a, b)
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4  # the textbook example


def test_rouge_l_hand_computed():
    # LCS(我很难过, 我非常难过) = 我难过 = 3; P = 3/4, R = 3/5, F1 = 2PR/(P+R) = 2/3
    assert rouge_l("我很难过", ["我非常难过"]) == pytest.approx(2 / 3)
    # best over references: the identical one wins
    assert rouge_l("我很难过", ["我非常难过", "我很难过"]) == pytest.approx(1.0)
    assert rouge_l("", ["我"]) == 0.0
    assert rouge_l("我", []) == 0.0


def test_bleu4_hand_computed():
    # p1 = 3/4; p2 = (1+1)/(3+1); p3 = (0+1)/(2+1); p4 = (0+1)/(1+1) -> geometric mean 0.5
    # brevity: c = 4, r = 5 -> exp(1 - 5/4)
    assert bleu4("我很难过", ["我非常难过"]) == pytest.approx(0.5 * math.exp(-0.25))
    assert bleu4("我很难过", ["我很难过"]) == pytest.approx(1.0)
    assert bleu4("你好", ["我们"]) == 0.0  # no unigram match
    assert bleu4("", ["我"]) == 0.0


def test_bleu4_multi_reference_clips_and_picks_closest_length():
    # candidate 好好好: unigram 好 clipped to the max count in any one reference (2) -> p1 = 2/3
    # bigrams 好好 x2, best reference count 1 -> p2 = (1+1)/(2+1); p3 = (0+1)/(1+1); p4: no 4-gram -> (0+1)/(1+1)
    # closest reference length to 3 is 3 (好好的) -> no brevity penalty
    expected = math.exp((math.log(2 / 3) + math.log(2 / 3) + math.log(1 / 2) + math.log(1 / 2)) / 4)
    assert bleu4("好好好", ["好好的", "好啊啊啊啊啊"]) == pytest.approx(expected)


def test_distinct_hand_computed():
    texts = ["好好好", "好的"]
    assert distinct_n(texts, 1) == pytest.approx(2 / 5)  # {好, 的} of 5 characters
    assert distinct_n(texts, 2) == pytest.approx(2 / 3)  # {好好, 好的} of 3 bigrams
    assert distinct_n([], 1) == 0.0


def test_system_metrics_without_references_and_format():
    metrics = system_metrics(["我很难过", "好的"], [["我非常难过"], []], [None, None])
    assert metrics["posts_with_reference"] == 1
    assert metrics["rouge_l"] == pytest.approx(2 / 3)
    assert metrics["format_adherence"] is None
    assert metrics["length_mean"] == 3.0
    assert system_metrics(["a", "b"], [["a"], ["b"]], [True, False])["format_adherence"] == 0.5


def test_ties_share_places():
    wins = win_probabilities(np.array([1.5, 1.5, 3.0]), [1, 2])
    assert wins.tolist() == [[0.5, 0.5, 0.0], [1.0, 1.0, 0.0]]
    all_tied = win_probabilities(np.array([2.0, 2.0, 2.0]), [1, 2, 3])
    assert all_tied[0].tolist() == pytest.approx([1 / 3] * 3)
    assert all_tied[1].tolist() == pytest.approx([2 / 3] * 3)


def test_win_table_hand_computed():
    judgements = [
        # p1: two sources disagree on b/c -> a 1, b 2.5, c 2.5
        Judgement("p1", "fluency", ("a", "b", "c"), "x"),
        Judgement("p1", "fluency", ("a", "c", "b"), "y"),
        Judgement("p2", "fluency", ("b", "a", "c"), "x"),
        Judgement("p2", "fluency", ("b", "a", "c"), "y"),
    ]
    table = win_table(judgements, ["a", "b", "c"], [1, 2], n_bootstrap=200)
    fluency = table["fluency"]["systems"]
    assert fluency["a"]["win@1"]["value"] == 0.5
    assert fluency["b"]["win@2"]["value"] == pytest.approx((0.5 + 1) / 2)
    assert fluency["c"]["mean_rank"]["value"] == pytest.approx((2.5 + 3) / 2)
    low, high = fluency["a"]["win@1"]["ci"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    assert table["overall"]["systems"]["a"]["mean_rank"]["value"] == pytest.approx(1.5)


def test_kendalls_w_and_agreement():
    assert kendalls_w([[1, 2, 3], [1, 2, 3]]) == pytest.approx(1.0)
    assert kendalls_w([[1, 2, 3], [3, 2, 1]]) == pytest.approx(0.0)
    # sums 2,5,5 -> S = 6; W = 12 * 6 / (2^2 * (27 - 3)) = 0.75
    assert kendalls_w([[1, 2, 3], [1, 3, 2]]) == pytest.approx(0.75)
    assert kendalls_w([[1, 2, 3]]) is None
    judgements = [
        Judgement("p1", "comfort", ("a", "b", "c"), "x"),
        Judgement("p1", "comfort", ("a", "c", "b"), "y"),
        Judgement("p2", "comfort", ("b", "a", "c"), "x"),
    ]
    result = agreement(judgements, ["a", "b", "c"])
    assert result["items_with_overlap"] == 1
    assert result["kendalls_w"] == pytest.approx(0.75)
    assert -1.0 <= result["krippendorff_alpha_ordinal"] <= 1.0


BLEU_CASES = [
    (
        "我能理解你现在的焦虑，失眠真的很折磨人。睡前可以试着放下手机，把担心的事写在纸上，告诉自己明天再处理。",
        [
            "失眠确实很折磨人，我能理解你的焦虑。睡前一小时放下手机，把脑子里的担心写下来，明天再去处理它们。",
            "抱抱你，长期睡不好会让人很疲惫。建议固定起床时间，白天适当运动，必要时寻求医生的帮助。",
        ],
    ),
    (
        "分手后难过是正常的，允许自己哭一哭。",
        ["思念是告别的一部分，允许自己难过，慢慢把注意力放回自己的生活上，你并不孤单。"],
    ),
    (
        "领导当众批评你，你觉得自己什么都做不好，这种委屈和自我怀疑我很能体会。一次批评不等于你的全部价值，"
        "试着把事实和评判分开：他指出的问题里，哪些是可以改进的具体做法？哪些只是情绪化的评价？",
        [
            "被当众批评确实让人难堪。一次批评不能定义你的全部价值，可以试着区分事实和评判，找出可以改进的具体地方。",
            "你的委屈我能感受到。先照顾好自己的情绪，再冷静地想想领导的话里有哪些合理的部分。",
            "别太在意。",
        ],
    ),
    ("加油", ["加油，你可以的！"]),  # shorter than 4 characters: smoothing and the brevity penalty decide
]


@pytest.mark.parametrize("candidate,references", BLEU_CASES)
def test_bleu4_matches_nltk_on_chinese_answers(candidate, references):
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    expected = sentence_bleu(
        [chars(r) for r in references], chars(candidate), smoothing_function=SmoothingFunction().method2
    )
    assert 0 < expected < 1
    assert bleu4(candidate, references) == pytest.approx(expected, rel=1e-9)
