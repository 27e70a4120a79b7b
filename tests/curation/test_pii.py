"""curation.pii: planted identifiers in every spelling are found; look-alike numbers stay."""

from __future__ import annotations

from collections import Counter

import pytest
from _curation_helpers import look_alikes, planted_identifiers

from curation.pii import PLACEHOLDER_RE, find, id_check_digit, luhn_ok, scrub, valid_id_card
from empathyqa.synthetic import PII_ADVERSARIAL


def test_recall_on_planted_identifiers_is_at_least_99_percent_per_kind():
    total, missed = Counter(), Counter()
    for text, kind, value in planted_identifiers(2400, seed=3):
        result = scrub(text)
        total[kind] += 1
        if value in result.text or not any(hit.kind == kind for hit in result.found):
            missed[kind] += 1
    for kind in total:
        assert 1 - missed[kind] / total[kind] >= 0.99, (kind, missed[kind], total[kind])


def test_look_alike_numbers_stay_intact():
    damaged = Counter()
    cases = look_alikes(2100, seed=5)
    for text, category in cases:
        result = scrub(text)
        if result.text != text:
            damaged[category] += 1
    assert 1 - sum(damaged.values()) / len(cases) >= 0.98, damaged


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("电话138 1234 5678", "PHONE"),
        ("打+86-139-1234-5678", "PHONE"),
        ("(+86)15012345678", "PHONE"),
        ("１３８１２３４５６７８找我", "PHONE"),
        ("０１０－８８８８６６６６", "LANDLINE"),
        ("(0755)23456789转801", "LANDLINE"),
        ("0086 21 62345678", "LANDLINE"),
        ("010-12345678", "LANDLINE"),
        ("+86 10 12345678", "LANDLINE"),
        ("联系zhang.san@qq.com", "EMAIL"),
        ("看https://example.com/a?b=1，", "URL"),
        ("去xinli001.com看看", "URL"),
        ("加我V信：happy_2023", "WECHAT"),
        ("vx号 wxid_abc123", "WECHAT"),
        ("扣扣 12345678", "QQ"),
        ("企鹅号是987654321", "QQ"),
    ],
)
def test_each_kind_and_spelling(text, kind):
    hits = find(text)
    assert [h.kind for h in hits] == [kind]
    assert PLACEHOLDER_RE.search(scrub(text).text)


def test_id_card_needs_valid_check_digit_and_birth_date():
    body = "11010519491231002"
    good = body + id_check_digit(body)
    assert valid_id_card(good)
    assert scrub(f"身份证{good}").text == "身份证<ID_CARD>"
    bad = body + ("0" if good[-1] != "0" else "1")
    assert not valid_id_card(bad)
    assert scrub(f"身份证{bad}").text == f"身份证{bad}"
    assert not valid_id_card("110105194913310021")  # month 13


def test_bank_card_needs_luhn():
    assert luhn_ok("4111111111111111")
    assert scrub("卡号4111 1111 1111 1111").text == "卡号<BANK_CARD>"
    assert scrub("卡号4111111111111112").text == "卡号4111111111111112"


def test_order_numbers_are_not_cards_even_when_luhn_passes():
    assert scrub("订单号4111111111111111已发货").found == []


def test_spans_point_into_the_original_text_and_do_not_overlap():
    text = "微信abc_12345，电话１３８-1234-5678，邮箱a@b.com"
    hits = find(text)
    assert [h.kind for h in hits] == ["WECHAT", "PHONE", "EMAIL"]
    for hit in hits:
        assert text[hit.start : hit.end] == hit.value
    assert all(a.end <= b.start for a, b in zip(hits, hits[1:], strict=False))
    assert scrub(text).counts() == {"WECHAT": 1, "PHONE": 1, "EMAIL": 1}


def test_cue_words_are_needed_for_qq_and_wechat():
    assert find("我听了12345678遍") == []
    assert find("微信运动走了12000步，QQ音乐听歌") == []
    assert find("hello_world123 is my name") == []


def test_scrub_is_idempotent_and_handles_empty():
    text = "电话13812345678，邮箱x@y.cn"
    once = scrub(text).text
    assert scrub(once).text == once
    assert scrub("").text == "" and scrub("").found == []


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        # a phone or QQ number used as the WeChat id counts as WeChat (it follows a WeChat cue)
        ("微信：15944482471，白天晚上都行", "WECHAT", "15944482471"),
        ("wx: 145 9238 0793！", "WECHAT", "145 9238 0793"),
        ("加微13812345678", "WECHAT", "13812345678"),
        ("微信号是 123456789", "WECHAT", "123456789"),
        # bare v: cue, + v, a spaced 微 信, short ids that hold a digit
        ("v：qingtian_88，谢谢大家。", "WECHAT", "qingtian_88"),
        ("v： Sunny-2020。", "WECHAT", "Sunny-2020"),
        ("➕V：lily_mom2019", "WECHAT", "lily_mom2019"),
        ("微 信：lily_mom2019", "WECHAT", "lily_mom2019"),
        ("加微 mj930，这是我唯一能想到的办法", "WECHAT", "mj930"),
        # spaced Q Q, QQ groups, a bare q: cue
        ("Q Q 84327176，白天晚上都行", "QQ", "84327176"),
        ("Q Q2030501742", "QQ", "2030501742"),
        ("QQ群：123456789", "QQ", "123456789"),
        ("q：123456789", "QQ", "123456789"),
        # three characters between digit groups
        ("010 - 1234 5678", "LANDLINE", "010 - 1234 5678"),
    ],
)
def test_held_out_spellings(text, kind, value):
    result = scrub(text)
    assert [(h.kind, h.value) for h in result.found] == [(kind, value)]


@pytest.mark.parametrize(
    "text",
    [
        "微信运动 12000 步",
        "微信转账1500元",
        "我用微信支付了 300 块",
        "wx 2000元",
        "微信 hello 我",
        "v我50",
        "微信上他说了 100 遍对不起",
        "qq空间里发了 520 条说说",
        "加了个微信群 200 人",
    ],
)
def test_held_out_look_alikes_after_cue_words_stay(text):
    assert scrub(text).text == text


def test_long_addresses_within_the_standard_limits_are_still_found():
    local = "a" * 30 + "." + "b" * 33  # a 64-character local part, the most an address allows
    text = f"简历发到 {local}@mail.dept.example-university.edu.cn 就行，谢谢。"
    assert scrub(text).text == "简历发到 <EMAIL> 就行，谢谢。"
    pasted = "日志：" + "x" * 5000 + "@b.com 结束"  # a pasted blob: the address part goes, the text stays
    assert "<EMAIL>" in scrub(pasted).text and scrub(pasted).text.endswith(" 结束")


# Inputs that make a backtracking pattern rescan a long run from each of its starts. Each is scrubbed
# at 100k and 1M characters; linear time is 10x, so 15x leaves room for a busy machine, while a
# quadratic pattern would take ~100x (the unbounded email pattern: 1.1 s for 22 kB, 4.5 s for 44 kB).
def _seconds(text: str) -> float:
    """Best of three, the garbage collector paused (its passes over many hit objects are noise here)."""
    import gc
    import time

    best = float("inf")
    gc.disable()
    try:
        for _ in range(3):
            started = time.perf_counter()
            scrub(text)
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PII_ADVERSARIAL))
def test_scrubbing_time_grows_linearly_on_adversarial_input(name):
    make = PII_ADVERSARIAL[name]
    small, large = _seconds(make(100_000)), _seconds(make(1_000_000))
    # 10x the text: linear is 10x, quadratic 100x; 25x leaves room for a loaded machine's noise
    assert large < 25 * max(small, 0.002), f"{name}: 100k chars {small:.3f} s, 1M chars {large:.3f} s"
