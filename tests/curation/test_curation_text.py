"""Normalisation keeps Chinese punctuation whole; widths fold in the dedup key, not in the text."""

from __future__ import annotations

import opencc
import pytest

from curation.text import CodeMap, dedup_key, normalise

POST = (
    "我今年２６岁，在一家互联网公司做运营（已经三年了）。最近总是失眠：每天凌晨两三点才睡着……"
    "男朋友说我“想太多”，可我真的控制不住！我该怎么办？\n"
    "我试过的方法：①睡前不看手机；②每天跑步３０分钟；③听白噪音、冥想。都没什么用。"
)


def test_chinese_punctuation_survives_normalisation():
    out = normalise(POST)
    for mark in "，（）。：……“”！？；①②③、":
        assert out.count(mark) == POST.count(mark), mark
    assert "26岁" in out and "30分钟" in out  # full-width digits become ASCII
    assert not any(c in out for c in ",?!:;()")


def test_full_width_latin_becomes_ascii_and_punctuation_stays():
    assert normalise("我用的是ｉＰｈｏｎｅ，ＡＰＰ里设置不了？") == "我用的是iPhone，APP里设置不了？"
    assert normalise("邮箱ｘｉａｏ＠ｑｑ．ｃｏｍ，电话＋８６") == "邮箱xiao@qq.com，电话+86"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("我很难过,不知道怎么办?", "我很难过，不知道怎么办？"),
        ("心情不好!!我该怎么办??", "心情不好！！我该怎么办？？"),
        ("症状:失眠;焦虑", "症状：失眠；焦虑"),
        ("(重发)有人能回答一下吗", "（重发）有人能回答一下吗"),
        ("我(女)今年读大三", "我（女）今年读大三"),
        ("他说“滚”,我就哭了", "他说“滚”，我就哭了"),
        ("求助, 我该怎么办", "求助，我该怎么办"),
    ],
)
def test_ascii_punctuation_between_chinese_becomes_full_width(typed, expected):
    assert normalise(typed) == expected


@pytest.mark.parametrize(
    "text",
    [
        "早上10:30的课用Python写了a(b)",
        "网址:http://example.com/a?b=1",
        "电话(+86)13812345678",
        "I feel sad, what can I do?",
        "GPA 3.5,rank 10",
    ],
)
def test_ascii_punctuation_among_latin_and_digits_stays(text):
    assert normalise(text) == text


def test_ellipsis_circled_digits_and_compat_forms():
    assert normalise("算了吧……") == "算了吧……"
    assert normalise("步骤①②③⑩") == "步骤①②③⑩"
    assert normalise("ｶﾞｷﾞ，ﬁ") == "ガギ，fi"  # NFKC still applies to half-width kana and ligatures
    assert normalise("半角句号｡半角顿号､") == "半角句号。半角顿号、"


def test_traditional_copy_dedups_against_simplified_copy():
    traditional = opencc.OpenCC("s2t").convert(POST)
    assert traditional != POST
    assert normalise(traditional) == normalise(POST)
    assert dedup_key(normalise(traditional)) == dedup_key(normalise(POST))


def test_dedup_key_folds_widths_and_punctuation():
    full = "我今年２６岁，月薪３０００（税前）……①早睡②早起"
    ascii_typed = "我今年26岁,月薪3000(税前)......1.早睡2.早起"
    assert dedup_key(normalise(full)) == dedup_key(normalise(ascii_typed))
    assert dedup_key(full) == dedup_key(ascii_typed)


def test_code_map_translates_as_str_translate_does():
    mapping = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0x2014: 0x2D}
    text = "电话：１３８—１２３４　５６７８，ｗｅｃｈａｔ😢𠮷，好的。"
    assert CodeMap(mapping)(text) == text.translate(mapping) == "电话:138-1234 5678,wechat😢𠮷,好的。"
    assert CodeMap(mapping)("") == ""
