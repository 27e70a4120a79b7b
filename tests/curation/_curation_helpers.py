"""Generators for curation tests: planted identifiers, look-alike numbers, raw threads, reposts."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from curation.pii import id_check_digit, luhn_ok

FULL_WIDTH = str.maketrans("0123456789+-()", "０１２３４５６７８９＋－（）")

# ----------------------------------------------------------------------------- identifiers


def mobile(rng: random.Random) -> str:
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


def spell_mobile(number: str, rng: random.Random) -> str:
    style = rng.randrange(9)
    a, b, c = number[:3], number[3:7], number[7:]
    spelled = [
        number,
        f"{a} {b} {c}",
        f"{a}-{b}-{c}",
        f"+86 {number}",
        f"+86-{a}-{b}-{c}",
        f"(+86){number}",
        f"86 {a} {b} {c}",
        " ".join(number),
        f"{a}.{b}.{c}",
    ][style]
    return spelled.translate(FULL_WIDTH) if rng.random() < 0.25 else spelled


def landline(rng: random.Random) -> str:
    area = rng.choice(
        ["010", "021", "020", "022", "023", "025", "027", "028", "029", "0755", "0571", "0531", "0898"]
    )
    local_len = 8 if len(area) == 3 else rng.choice([7, 8])
    local = rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(local_len - 1))
    style = rng.randrange(5)
    spelled = [
        f"{area}-{local}",
        f"({area}){local}",
        f"{area} {local}",
        f"{area}{local}",
        f"{area}-{local}转{rng.randint(1, 999)}",
    ][style]
    return spelled.translate(FULL_WIDTH) if rng.random() < 0.2 else spelled


def id_body(rng: random.Random) -> str:
    region = rng.choice(["110101", "310104", "440305", "510107", "330106", "420102", "610113"])
    born = f"{rng.randint(1950, 2008)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return region + born + f"{rng.randint(0, 999):03d}"


def id_card(rng: random.Random) -> str:
    body = id_body(rng)
    number = body + id_check_digit(body)
    if rng.random() < 0.15:
        return f"{number[:6]} {number[6:14]} {number[14:]}"
    return number.lower() if rng.random() < 0.1 else number


def id_card_bad_check(rng: random.Random) -> str:
    body = id_body(rng)
    good = id_check_digit(body)
    return body + rng.choice([c for c in "0123456789" if c != good])


def luhn_complete(prefix: str) -> str:
    for digit in "0123456789":
        if luhn_ok(prefix + digit):
            return prefix + digit
    raise AssertionError("unreachable")


def bank_card(rng: random.Random) -> str:
    length = rng.choice([16, 16, 17, 19, 19])
    start = rng.choice(["62", "4", "5", "60", "95"])
    body = start + "".join(rng.choice("0123456789") for _ in range(length - 1 - len(start)))
    number = luhn_complete(body)
    if rng.random() < 0.3:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


def non_luhn(rng: random.Random, length: int) -> str:
    while True:
        number = rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(length - 1))
        if not luhn_ok(number):
            return number


def email(rng: random.Random) -> str:
    user = rng.choice(["zhang.san", "li_si88", "wangwu2020", "xiaoming", "happy.day", "cc_lee"])
    return f"{user}{rng.randint(1, 99)}@{rng.choice(['qq.com', '163.com', 'gmail.com', 'sina.com.cn', 'outlook.com'])}"


def url(rng: random.Random) -> str:
    return rng.choice(
        [
            f"https://www.example{rng.randint(1, 99)}.com/page?id={rng.randint(1, 9999)}",
            f"http://t.cn/A{rng.randint(1000, 9999)}xyz",
            f"www.xinli{rng.randint(1, 999)}.com",
            f"weibo.com/u/{rng.randint(100000, 999999)}",
            f"mysite{rng.randint(1, 99)}.cn",
            f"https://bit.ly/{rng.randint(10000, 99999)}",
        ]
    )


WECHAT_CUES = [
    "微信",
    "微信号",
    "VX",
    "vx",
    "V信",
    "v信",
    "wx",
    "WX",
    "威信",
    "薇信",
    "加v",
    "微信号是",
    "wechat",
]
QQ_CUES = ["QQ", "qq", "QQ号", "扣扣", "Q号", "企鹅号"]


def wechat_id(rng: random.Random) -> str:
    head = rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    tail = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_-") for _ in range(rng.randint(5, 14)))
    return head + tail if rng.random() < 0.8 else f"wxid_{tail}"


def qq_number(rng: random.Random) -> str:
    return rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 9)))


SEPARATORS = ["", "：", ":", " ", "号：", "是", " : "]

# Chinese frames around a planted value, so boundaries are realistic.
FRAMES = [
    "有需要可以联系我{}，随时都在。",
    "我的{}，希望有人能帮帮我",
    "（{}）",
    "请打{}咨询",
    "{}",
    "老师您好，{}谢谢您。",
    "联系方式:{}。",
]


def planted_identifiers(n: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """(text, kind, value) with one identifier planted in Chinese text."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = ["PHONE", "LANDLINE", "ID_CARD", "BANK_CARD", "EMAIL", "WECHAT", "QQ", "URL"][i % 8]
        if kind == "PHONE":
            value = spell_mobile(mobile(rng), rng)
            shown = "电话" + value if rng.random() < 0.5 else value
        elif kind == "LANDLINE":
            value = landline(rng)
            shown = "座机" + value
        elif kind == "ID_CARD":
            value = id_card(rng)
            shown = "身份证号" + value if rng.random() < 0.5 else value
        elif kind == "BANK_CARD":
            value = bank_card(rng)
            shown = "卡号" + value if rng.random() < 0.5 else value
        elif kind == "EMAIL":
            value = email(rng)
            shown = "邮箱" + value
        elif kind == "WECHAT":
            value = wechat_id(rng)
            shown = rng.choice(["加", "我的", ""]) + rng.choice(WECHAT_CUES) + rng.choice(SEPARATORS) + value
        elif kind == "QQ":
            value = qq_number(rng)
            shown = rng.choice(["加", "我的", ""]) + rng.choice(QQ_CUES) + rng.choice(SEPARATORS) + value
        else:
            value = url(rng)
            shown = "看这里 " + value + " "
        out.append((rng.choice(FRAMES).format(shown), kind, value))
    return out


def look_alikes(n: int, seed: int = 11) -> list[tuple[str, str]]:
    """(text, category): numbers that are not identifiers and must survive scrubbing."""
    rng = random.Random(seed)
    makers = [
        (
            "date",
            lambda: f"{rng.randint(1990, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}那天我哭了",
        ),
        (
            "date_cn",
            lambda: f"{rng.randint(1990, 2025)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日开始失眠",
        ),
        (
            "date_compact",
            lambda: f"从{rng.randint(1990, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}起",
        ),
        ("age", lambda: f"我今年{rng.randint(12, 80)}岁，孩子{rng.randint(1, 18)}岁"),
        (
            "money",
            lambda: (
                f"每月工资{rng.randint(1000, 99999)}元，房贷{rng.randint(1000, 20000)}.{rng.randint(0, 99):02d}块"
            ),
        ),
        (
            "money_big",
            lambda: f"欠了{rng.randint(10, 999)},{rng.randint(100, 999)},{rng.randint(100, 999)}元",
        ),
        ("score", lambda: f"高考考了{rng.randint(300, 750)}分，排名{rng.randint(1, 200000)}"),
        ("count", lambda: f"已经{rng.randint(2, 365)}天没睡好，吃了{rng.randint(1, 30)}片药"),
        ("order", lambda: f"订单号{rng.randint(10**15, 10**19 - 1)}还没发货"),
        ("order_short", lambda: f"快递单号 {rng.randint(10**10, 10**13)}"),
        ("bad_id", lambda: f"身份证{id_card_bad_check(rng)}"),
        ("non_luhn", lambda: f"编码{non_luhn(rng, rng.choice([16, 17, 19]))}"),
        (
            "time",
            lambda: (
                f"凌晨{rng.randint(0, 5)}:{rng.randint(0, 59):02d}醒来，{rng.randint(10, 23)}:{rng.randint(0, 59):02d}睡"
            ),
        ),
        ("height", lambda: f"身高{rng.randint(150, 190)}cm体重{rng.randint(40, 100)}kg"),
        (
            "percent",
            lambda: f"焦虑量表{rng.randint(40, 80)}分，{rng.randint(1, 99)}.{rng.randint(0, 9)}%的人",
        ),
        ("year_range", lambda: f"{rng.randint(2000, 2015)}-{rng.randint(2016, 2025)}年在外地"),
        ("version", lambda: f"版本{rng.randint(1, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}"),
        ("room", lambda: f"住在{rng.randint(1, 30)}栋{rng.randint(101, 3299)}室"),
        (
            "sequence",
            lambda: (
                f"第{rng.randint(1, 99)}次, 共{rng.randint(100, 999)}次, {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
            ),
        ),
        ("qq_word", lambda: f"QQ音乐听了{rng.randint(2, 99)}首歌，微信运动{rng.randint(1000, 30000)}步"),
        ("timestamp", lambda: f"记录编号{rng.randint(10**9, 10**10 - 1)}"),
    ]
    out = []
    for i in range(n):
        category, make = makers[i % len(makers)]
        out.append((make(), category))
    return out


# ----------------------------------------------------------------------------- raw threads

SENTENCES = [
    "最近总是睡不着觉，躺在床上脑子里全是工作上的事情",
    "我和男朋友在一起三年了，最近总是因为小事吵架",
    "妈妈总是拿我和别人家的孩子比较，让我觉得很压抑",
    "上大学以后一直很难融入宿舍，感觉自己被孤立了",
    "每次要在很多人面前说话就会紧张到手心出汗",
    "工作压力很大，领导经常当着同事的面批评我",
    "我不知道自己到底想要什么，对未来感到很迷茫",
    "爸爸妈妈经常吵架，我夹在中间不知道该怎么办",
    "失恋之后一直走不出来，每天都会想起他",
    "孩子上初中以后不愿意和我们沟通，整天玩手机",
    "总觉得别人在背后议论我，出门都不敢抬头",
    "我很害怕考试，一想到要考试就会胃疼",
]
ANSWER_SENTENCES = [
    "谢谢你愿意把这些说出来，能感受到你现在真的很辛苦",
    "你描述的这种状态，其实很多人在压力之下都会经历",
    "我们可以先试着把担心的事情写下来，看看哪些是可以控制的",
    "也许可以和信任的朋友聊一聊，不必一个人扛着",
    "如果这种情况持续很久，建议寻求专业的心理咨询师帮助",
    "你的感受是真实的，也是值得被认真对待的",
    "在关系里，表达自己的需要并不是自私",
    "试着每天给自己留一点放松的时间，比如散步或者听音乐",
    "改变需要时间，对自己多一点耐心",
    "可以留意一下自己的情绪是在什么情况下变得更糟的",
]


COMMON_CHARS = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过"
    "家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从已现开把两长想实"
    "意力它与理体点样使女明高物但问机间正做最水感知世爱情话候总觉得朋友工作孩子妈妈爸爸害怕担心难过生活压力学校老师"
    "同学希望帮助喜欢时间身体睡觉晚上早上每天关系家庭父母男女恋爱结婚分手焦虑紧张情绪心理咨询改变努力开心快乐痛苦"
)
# every thread gets text no other thread shares, so only planted reposts are duplicates


def varied_text(rng: random.Random, n_chars: int) -> str:
    parts: list[str] = []
    size = 0
    while size < n_chars:
        sentence = "".join(rng.choice(COMMON_CHARS) for _ in range(rng.randint(8, 22)))
        parts.append(sentence + rng.choice("，，，。。！？"))
        size += len(parts[-1])
    return "".join(parts)


def text_from(rng: random.Random, pool: list[str], n: int) -> str:
    return "，".join(rng.sample(pool, n)) + "。"


def raw_thread(i: int, rng: random.Random, n_answers: int = 2, source: str = "sample") -> dict[str, Any]:
    body = rng.choice(SENTENCES) + "。" + varied_text(rng, rng.randint(120, 300))
    answers = []
    for j in range(n_answers):
        answers.append(
            {
                "answer_id": f"a{i}-{j}",
                "body": rng.choice(ANSWER_SENTENCES) + "。" + varied_text(rng, rng.randint(150, 300)),
                "author": {"id": f"user{j + 7}", "name": f"老师{j}"},
                "author_role": "counselor",
                "likes": rng.randint(0, 50),
                "comment_count": 0,
                "answered_at": "2024-01-02T10:00:00+08:00",
            }
        )
    return {
        "source": source,
        "source_id": str(1000 + i),
        "url": f"https://example.test/q/{1000 + i}",
        "title": rng.choice(SENTENCES)[:14] + f"怎么办{i}",
        "body": body,
        "tags": [rng.choice(["情绪", "恋爱", "家庭", "职场", "学业"])],
        "asker": {"id": f"asker{i}", "name": f"网友{i}", "anonymous": False},
        "asked_at": f"2024-01-01T{(i % 24):02d}:00:00+08:00",
        "view_count": 10,
        "answer_count": n_answers,
        "answers": answers,
        "crawled_at": "2024-02-01T00:00:00Z",
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _edit_chars(text: str, rng: random.Random, n: int) -> str:
    chars = list(text)
    for pos in rng.sample(range(len(chars)), n):
        if chars[pos] not in "，。！？":
            chars[pos] = rng.choice(COMMON_CHARS)
    return "".join(chars)


def _sentences(text: str) -> list[str]:
    out, cur = [], ""
    for ch in text:
        cur += ch
        if ch in "。！？":
            out.append(cur)
            cur = ""
    return out + ([cur] if cur else [])


REPOST_KINDS = ("edit", "traditional", "punctuation", "cut", "append", "fullwidth", "edit_cut")


def repost(thread: dict[str, Any], kind: str, rng: random.Random, new_id: str) -> dict[str, Any]:
    """A copy of `thread` reposted under a new id, changed the way reposts change."""
    import opencc

    copy = json.loads(json.dumps(thread, ensure_ascii=False))
    copy["source_id"] = new_id
    copy["url"] = f"https://example.test/q/{new_id}"
    copy["asker"] = {"id": f"asker-{new_id}", "name": "转载", "anonymous": False}
    body = copy["body"]
    if kind == "edit":
        body = _edit_chars(body, rng, 3)
    elif kind == "traditional":
        body = opencc.OpenCC("s2t").convert(body)
        copy["title"] = opencc.OpenCC("s2t").convert(copy["title"])
    elif kind == "punctuation":
        body = body.replace("，", ", ").replace("。", "。 \n").replace("！", "!!")
    elif kind == "edit_cut":
        body = "".join(_sentences(_edit_chars(body, rng, 6))[:-1])
    elif kind == "cut":
        parts = _sentences(body)
        body = "".join(parts[:-1]) if len(parts) > 3 else body[: int(len(body) * 0.85)]
    elif kind == "append":
        body = body + "有没有人能回答一下我，真的很需要帮助。"
    elif kind == "fullwidth":
        body = body.translate(FULL_WIDTH).replace(",", "，")
        copy["title"] = copy["title"].translate(FULL_WIDTH)
    copy["body"] = body
    return copy
