"""Synthetic Chinese counseling Q&A threads, in the raw-thread shape, with ground truth.

One generator for curation regression tests, the paper-scale benchmark and training miniatures.
Posts are composed from the fragments in `data/synthetic_fragments.json` (situations per topic,
emotions, beliefs, asks; counselor openings, validation, reframing, ①②③ steps, stock closings) and a
grammar of templates (`[a|b|c]` picks one alternative; braces take the thread's people, places, events,
durations and the asker's own words), with synonym swaps, so that distinct posts share little beyond
the stock openings and closings, as real ones do. Real-world mess: sloppy ASCII punctuation, full-width
Latin, reposts, re-crawls, planted identifiers, person names, look-alike numbers, and risk posts.

    from empathyqa.synthetic import generate_corpus, iter_threads, coe_layers, Truth
    corpus = generate_corpus(500, seed=1)          # Corpus(threads=[raw thread dicts], truth=Truth)
    truth = Truth()
    for thread in iter_threads(41_000, seed=0, truth=truth):   # streaming, bounded memory
        ...
    layers = coe_layers(thread, thread["answers"][0], random.Random(0))   # {"l1", "l2", "l3", "l4"}

    python -m empathyqa.synthetic --questions 41000 --seed 0 --out raw.jsonl --truth truth.json

`n_questions` counts distinct question ids (reposts included); same-id re-crawls are extra records.
Ground truth (`Truth`): `repost_groups` (sets of source_ids by one asker), `same_id_pairs`
(source_id, first crawled_at, second crawled_at), `planted_pii` (source_id, field, kind, value),
`names` (source_id, field, value), `lookalikes` (source_id, field, value: numbers that are not
identifiers), `risk` (source_id -> none/low/medium/high), `topic` (source_id -> (primary, sub)).
A field is `title`, `body`, `tags`, `url`, `asker.name` or `answers[<answer_id>].body|answer_id|
author.name`; `field_text(thread, field)` returns that text. Same seed, same output.
"""

from __future__ import annotations

import argparse
import copy
import heapq
import json
import math
import random
import re
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from empathyqa.schema import LAYERS

FRAGMENTS = Path(__file__).with_name("data") / "synthetic_fragments.json"
CHINA = timezone(timedelta(hours=8))
START = datetime(2018, 1, 1, 9, 0, tzinfo=CHINA)
RISK_LEVELS = ("high", "medium", "low")
PII_KINDS = ("phone", "wechat", "qq", "email", "id_card", "bank_card")
ID_REGIONS = ("110101", "310104", "440305", "330106", "420111", "510107", "320102", "610113")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
BANK_PREFIXES = ("622202", "621700", "622848", "621226", "623058", "622588")
PHONE_PREFIXES = ("138", "139", "136", "135", "150", "151", "158", "186", "187", "188", "177", "199")
ANSWER_MIX = (0.8, 0.0)  # counselor share: yixinli, douban


@lru_cache(maxsize=1)
def fragments() -> dict[str, Any]:
    return json.loads(FRAGMENTS.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _s2t() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


@dataclass
class Truth:
    repost_groups: list[set[str]] = field(default_factory=list)
    same_id_pairs: list[tuple[str, str, str]] = field(default_factory=list)
    planted_pii: list[tuple[str, str, str, str]] = field(default_factory=list)
    names: list[tuple[str, str, str]] = field(default_factory=list)
    lookalikes: list[tuple[str, str, str]] = field(default_factory=list)
    risk: dict[str, str] = field(default_factory=dict)
    topic: dict[str, tuple[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "repost_groups": [sorted(g) for g in self.repost_groups],
            "same_id_pairs": [list(p) for p in self.same_id_pairs],
            "planted_pii": [list(p) for p in self.planted_pii],
            "names": [list(n) for n in self.names],
            "lookalikes": [list(n) for n in self.lookalikes],
            "risk": self.risk,
            "topic": {k: list(v) for k, v in self.topic.items()},
        }


@dataclass
class Corpus:
    threads: list[dict[str, Any]]
    truth: Truth


# --------------------------------------------------------------------------- identifiers
def gb11643_check(first17: str) -> str:
    """The GB 11643 check character of an 18-character resident ID number."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def make_id_card(rng: random.Random) -> str:
    birth = datetime(1970, 1, 1) + timedelta(days=rng.randint(0, 35 * 365))
    first17 = rng.choice(ID_REGIONS) + birth.strftime("%Y%m%d") + _digits(rng, 3)
    return first17 + gb11643_check(first17)


def make_bank_card(rng: random.Random) -> str:
    body = rng.choice(BANK_PREFIXES) + _digits(rng, rng.choice((9, 12)))
    for last in "0123456789":
        if luhn_ok(body + last):
            return body + last
    raise AssertionError("unreachable")


def make_phone(rng: random.Random, style: int | None = None) -> str:
    p = rng.choice(PHONE_PREFIXES) + _digits(rng, 8)
    style = rng.randrange(4) if style is None else style
    return [p, f"+86 {p[:3]}-{p[3:7]}-{p[7:]}", f"{p[:3]} {p[3:7]} {p[7:]}", f"{p[:3]}-{p[3:7]}-{p[7:]}"][
        style
    ]


def make_identifier(rng: random.Random, kind: str) -> tuple[str, str]:
    """(cue + value as it appears in text, value)."""
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    if kind == "phone":
        value = make_phone(rng)
        return rng.choice(("电话", "手机号：", "tel:", "联系方式：", "")) + value, value
    if kind == "wechat":
        tail = "".join(rng.choice(alnum) for _ in range(rng.randint(5, 9)))
        value = rng.choice(("wxid_", "", "Lm_", "x")) + tail
        value = value if value[0].isalpha() else "w" + value
        return rng.choice(("微信：", "vx: ", "VX：", "v信 ", "加微信", "wx:")) + value, value
    if kind == "qq":
        value = str(rng.randint(1, 9)) + _digits(rng, rng.randint(5, 9))
        return rng.choice(("QQ：", "ＱＱ号", "扣扣 ", "qq:", "QQ群")) + value, value
    if kind == "email":
        user = "".join(rng.choice(alnum) for _ in range(rng.randint(4, 9)))
        value = f"{user}@{rng.choice(('qq.com', '163.com', '126.com', 'gmail.com', 'foxmail.com'))}"
        return rng.choice(("邮箱：", "email: ", "发邮件到")) + value, value
    if kind == "id_card":
        value = make_id_card(rng)
        return rng.choice(("身份证号", "身份证：", "证件号码 ")) + value, value
    value = make_bank_card(rng)
    return rng.choice(("卡号", "银行卡：", "转账账号 ")) + value, value


# Hostile text for the identifier patterns: long runs of what an address, url or number is made of,
# which a pattern with unbounded repeats would backtrack over (scrubbing time must stay linear).
PII_ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "letters then @ and b.": lambda n: "a" * (n // 2) + "@" + "b." * (n // 4),
    "letters": lambda n: "a" * n,
    "digits": lambda n: "1" * n,
    "spaced digits": lambda n: "1 " * (n // 2),
    "dashed digits": lambda n: "1-" * (n // 2),
    "dots": lambda n: "." * n,
    "dashes": lambda n: "-" * n,
    "letter.dot": lambda n: "a." * (n // 2),
    "@": lambda n: "@" * n,
    "a@": lambda n: "a@" * (n // 2),
    "://": lambda n: "://" * (n // 3),
    "http://": lambda n: "http://" * (n // 7),
    "cue words": lambda n: "微信号号号号" * (n // 6),
    "qq cues with digits": lambda n: "qq:1 " * (n // 5),
    "many addresses": lambda n: "ab@cd.com " * (n // 10),
}


PII_SENTENCES = (
    "有需要的可以{cue}，私聊。",
    "谁能帮帮我，{cue}。",
    "方便的话联系我，{cue}，谢谢。",
    "我之前在别的地方留过{cue}，一直没人回。",
    "预约咨询{cue}，可以先聊一次。",
)


# --------------------------------------------------------------------------- small helpers
class _Slots(dict):
    """Slot values for one thread, drawn on first use so a post stays self-consistent."""

    def __init__(self, rng: random.Random, emo: str) -> None:
        super().__init__(emo=emo)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        rng, f = self.rng, fragments()
        g = f["grammar"]
        draw = {
            "age": lambda: str(rng.randint(16, 45)),
            "kid": lambda: str(rng.randint(4, 16)),
            "n": lambda: rng.choice("二三四五六七八") if rng.random() < 0.6 else str(rng.randint(2, 9)),
            "dur": lambda: rng.choice(f["durations"]),
            "city": lambda: rng.choice(f["cities"]),
            "year": lambda: str(rng.randint(2016, 2024)),
            "money": lambda: str(rng.choice((2, 3, 5, 8, 12, 20)) * rng.choice((100, 500, 1000))),
            "rel": lambda: rng.choice(("男朋友", "女朋友", "对象")),
            "time": lambda: rng.choice(f["times"]),
            "score": lambda: str(rng.randint(280, 620)),
            "order": lambda: "".join(rng.choice("0123456789") for _ in range(rng.choice((12, 14, 18)))),
            "date": lambda: f"{rng.randint(2016, 2023)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
            "dur2": lambda: rng.choice(("这一周", "这两周", "接下来一个月", "这几天", "之后的日子")),
            "m": lambda: rng.choice(("五", "十", "十五", "二十", "3", "10")),
            "person": lambda: rng.choice(g["people"]),
            "person2": lambda: rng.choice(("他", "她", "对方", self["person"])),
            "place": lambda: rng.choice(g["places"]),
            "pevent": lambda: rng.choice(g["pevents"]),
            "pevent2": lambda: rng.choice(g["pevents"]),
            "pevent_you": lambda: self["pevent"].replace("我", "你"),
            "pevent2_you": lambda: self["pevent2"].replace("我", "你"),
            "act": lambda: rng.choice(g["acts"]),
            "small": lambda: rng.choice(g["smalls"]),
            "routine": lambda: rng.choice(g["routines"]),
            "plea": lambda: rng.choice(g["pleas"]),
            "quote": lambda: "这件事",
            "quote2": lambda: self["quote"],
        }[key]
        self[key] = value = draw()
        return value


def _fill(template: str, slots: _Slots) -> str:
    return template.format_map(slots) if "{" in template else template


_CHOICE = re.compile(r"\[([^\[\]]*)\]")


@lru_cache(maxsize=4096)
def _parse(template: str) -> tuple[str, tuple[tuple[tuple[str, ...], str], ...]]:
    """`a[b|c]d` -> ("a", ((("b", "c"), "d"),)): the fixed head, then each choice with the text after it."""
    pieces = _CHOICE.split(template)
    return pieces[0], tuple((tuple(pieces[i].split("|")), pieces[i + 1]) for i in range(1, len(pieces), 2))


def _expand(template: str, slots: _Slots) -> str:
    """A grammar template: one alternative of each `[a|b|c]`, then the thread's slots."""
    rand = slots.rng.random
    head, rest = _parse(template)
    text = head + "".join(alt[int(rand() * len(alt))] + tail for alt, tail in rest)
    return _fill(text, slots)


@lru_cache(maxsize=1)
def _synonym_pattern() -> re.Pattern[str]:
    words = sorted(fragments()["synonyms"], key=len, reverse=True)
    return re.compile("|".join(map(re.escape, words)))


def _vary(text: str, rng: random.Random) -> str:
    """Swap common words for synonyms, so that stock sentences read differently from post to post."""
    table = fragments()["synonyms"]
    rand = rng.random

    def swap(m: re.Match[str]) -> str:
        words = table[m.group(0)]
        return words[int(rand() * len(words))]

    return _synonym_pattern().sub(swap, text)


def _lognormal_len(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(median * math.exp(rng.gauss(0, sigma)))))


_SENTENCE = re.compile(r"[^。！？!?\n]*[。！？!?\n]|[^。！？!?\n]+")


def _sentences(text: str) -> list[str]:
    return _SENTENCE.findall(text)


def _sloppy(text: str, rng: random.Random) -> str:
    """Mixed ASCII punctuation between Chinese characters, as typed on a phone."""
    table = {"，": ",", "？": "?", "！": "!", "：": ":", "（": "(", "）": ")"}
    return "".join(table[c] if c in table and rng.random() < 0.7 else c for c in text)


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------- the generator
class _Generator:
    def __init__(self, rng: random.Random, truth: Truth, opts: dict[str, Any]) -> None:
        self.rng, self.truth, self.o = rng, truth, opts
        self.f = fragments()
        self.next_qid = 100_000_000 + rng.randint(0, 900_000)
        self.next_aid = 5_000_000 + rng.randint(0, 900_000)
        self.clock = START
        self.counselors = [self._counselor() for _ in range(300)]

    # ----- people
    def _person(self) -> str:
        return self.rng.choice(self.f["surnames"]) + self.rng.choice(self.f["given"])

    def _counselor(self) -> dict[str, str]:
        name = self._person() if self.rng.random() < 0.7 else self.rng.choice(self.f["surnames"]) + "老师"
        return {"id": str(self.rng.randint(1_000_000, 99_999_999)), "name": name}

    def _nick(self) -> str:
        rng = self.rng
        base = rng.choice(self.f["nick_parts"])
        return base + (str(rng.randint(1, 999)) if rng.random() < 0.3 else "")

    # ----- question text
    def _body(self, scene: dict[str, Any], slots: _Slots) -> list[str]:
        rng, f = self.rng, self.f
        target = _lognormal_len(rng, 165, 0.45, 115, 640)
        story = [_expand(t, slots) for t in rng.sample(f["grammar"]["body"], 7)]
        own = rng.sample(scene["situations"], 2) + rng.sample(scene["thoughts"], 1)
        pool = [_vary(_fill(x, slots), rng) for x in own] + story
        rng.shuffle(pool)
        extra = rng.sample(f["details"], 4) + [rng.choice(f["feelings"])]
        parts = [_fill(rng.choice(scene["who"]), slots)]
        ask = rng.choice(f["asks"])
        size = len(parts[0]) + len(ask)
        rest = [lambda t=t: _expand(t, slots) for t in rng.sample(f["grammar"]["body"], 5)]
        rest += [lambda x=x: _vary(_fill(x, slots), rng) for x in extra]
        for draw in [lambda s=s: s for s in pool] + rest:
            sentence = draw()
            if size >= target:
                break
            parts.append(sentence)
            size += len(sentence)
        parts.append(ask)
        return parts

    def _join(self, parts: list[str]) -> str:
        out = []
        for i, p in enumerate(parts):
            out.append(p)
            if i < len(parts) - 1 and self.rng.random() < 0.18:
                out.append("\n")
        return "".join(out)

    def _plant_pii(self, thread: dict[str, Any], kinds: tuple[str, ...] = PII_KINDS) -> None:
        rng, sid = self.rng, thread["source_id"]
        answers = thread["answers"]
        where = rng.choice(
            ["body", "body", "title", "tags", "url", "asker.name"]
            + (["answer.body", "answer.body", "answer_id", "author.name"] if answers else [])
        )
        simple = where in ("tags", "url", "answer_id", "author.name", "asker.name", "title")
        kind = rng.choice(("phone", "wechat", "qq")) if simple else rng.choice(kinds)
        if where in ("url", "answer_id"):
            kind, value = "phone", make_phone(rng, 0)
            text = value
        else:
            text, value = make_identifier(rng, kind)
        if where == "body":
            thread["body"] += rng.choice(PII_SENTENCES).format(cue=text)
        elif where == "title":
            thread["title"] = thread["title"].rstrip("？?") + text
        elif where == "tags":
            thread["tags"].append(rng.choice(("", "加", "咨询")) + text)
        elif where == "url":
            thread["url"] += f"?from=shouye&tel={value}"
        elif where == "asker.name":
            thread["asker"].update(name=self._nick() + text, anonymous=False)
        else:
            a = rng.choice(answers)
            if where == "answer.body":
                a["body"] += rng.choice(PII_SENTENCES).format(cue=text)
            elif where == "answer_id":
                a["answer_id"] = value
            else:
                a["author"]["name"] = (a["author"]["name"] or "") + text
            where = f"answers[{a['answer_id']}].{where.removeprefix('answer.')}"
        self.truth.planted_pii.append((sid, where, kind, value))

    def _plant_name(self, thread: dict[str, Any]) -> None:
        rng, names = self.rng, self.f["names"]
        if rng.random() < 0.65:
            value = self._person() if rng.random() < 0.6 else "小" + rng.choice(self.f["surnames"])
            text = rng.choice(names["templates"]).format(rel=rng.choice(names["relations"]), name=value)
        else:
            value = rng.choice(names["schools"] + names["employers"])
            text = rng.choice(names["school_templates"]).format(org=value, n=rng.randint(2, 6))
        target = "body"
        if thread["answers"] and rng.random() < 0.3:
            a = rng.choice(thread["answers"])
            a["body"] = text + a["body"]
            target = f"answers[{a['answer_id']}].body"
        else:
            thread["body"] = text + thread["body"]
        self.truth.names.append((thread["source_id"], target, value))

    # ----- answers
    def _steps(self, scene: dict[str, Any], slots: _Slots) -> str:
        rng = self.rng
        own = rng.sample(scene["advice"], rng.randint(1, 2))
        items = [_vary(x, rng) for x in own] + [
            _expand(t, slots) for t in rng.sample(self.f["grammar"]["steps"], rng.randint(1, 2))
        ]
        rng.shuffle(items)
        style = rng.random()
        if style < 0.5:
            marks = "①②③④"
            return (
                rng.choice(self.f["step_intros"])
                + "；".join(m + s for m, s in zip(marks, items, strict=False))
                + "。"
            )
        if style < 0.75:
            return "\n".join(f"{i}. {s}。" for i, s in enumerate(items, 1))
        words = ("首先，", "其次，", "再次，", "最后，")[: len(items)]
        return "".join(w + s + "。" for w, s in zip(words[:-1] + ("最后，",), items, strict=False))

    def _quotes(self, body: str) -> list[str]:
        """The asker's own words an answer can quote back."""
        said = [s.strip().rstrip("。？！?!，,") for s in _sentences(body)[1:-1]]
        said = [s if len(s) <= 30 else s[:30] for s in said if len(s) >= 6 and "“" not in s]
        return self.rng.sample(said, min(2, len(said))) if said else ["这件事"]

    def _counselor_answer(self, scene: dict[str, Any], slots: _Slots, body: str) -> str:
        rng, f, o = self.rng, self.f, self.o
        target = _lognormal_len(rng, 640, 0.55, 110, 2000)
        stock = rng.random() < o["stock_sentence_rate"]
        quotes = self._quotes(body)
        slots["quote"], slots["quote2"] = quotes[0], quotes[-1]
        head = (rng.choice(f["openings"]) if stock else "") + _vary(
            _fill(rng.choice(f["validations"]), slots), rng
        )
        thought = next((s for s in _sentences(body) if s in scene["thoughts"]), None)
        # sentences are drawn lazily: most answers stop well before the last one
        middle: list[Callable[[], str]] = [
            lambda t=t: _expand(t, slots) for t in rng.sample(f["grammar"]["answer"], 15)
        ]
        if thought:
            middle.insert(
                0,
                lambda: _expand(
                    "[你提到|你说|你写道]“"
                    + thought.rstrip("。？！")
                    + "”，[这背后|这里面|这句话里]可能有一些"
                    + rng.choice(scene["distortions"])
                    + "的[成分|影子|味道]。",
                    slots,
                ),
            )
        reframe, normal = rng.choice(scene["reframes"]), rng.choice(f["normalise"])
        middle.insert(rng.randint(1, 4), lambda: _vary(reframe, rng))
        middle.insert(rng.randint(1, 6), lambda: _vary(normal, rng))
        for sentence in rng.sample(f["psychoed"], 2 + (target > 900) * 6):
            middle.insert(rng.randint(2, len(middle)), lambda s=sentence: _vary(s, rng))
        if rng.random() < 0.4:
            sit = _vary(rng.choice(scene["situations"]), rng).rstrip("。")
            case = f"我曾经接触过一位来访者，情况和你有些相似，她也说过“{_fill(sit, slots)}”。"
            middle.insert(rng.randint(0, 4), lambda: case)
        if rng.random() < 0.04:
            decoy = rng.choice(f["decoys"])
            middle.insert(0, lambda: decoy)
        closing = rng.choice(f["closings"]) if stock or rng.random() < 0.3 else ""
        steps = self._steps(scene, slots)
        paras = [head]
        size = len(head) + len(steps) + len(closing)
        para: list[str] = []
        at_steps = rng.randint(1, 3)
        for draw in middle:
            sentence = draw()
            if size + len(sentence) > target:
                break
            para.append(sentence)
            size += len(sentence)
            if len(para) >= rng.randint(2, 4):
                paras.append("".join(para))
                para = []
        if para:
            paras.append("".join(para))
        paras.insert(min(at_steps, len(paras)), steps)
        return "\n".join(paras + ([closing] if closing else []))

    def _user_answer(self, scene: dict[str, Any], slots: _Slots) -> str:
        rng, f = self.rng, self.f
        target = _lognormal_len(rng, 120, 0.85, 6, 1200)
        pool = [rng.choice(f["user_answers"])] + rng.sample(scene["user_tips"], len(scene["user_tips"]))
        pool += ["我当时也是这样，" + s for s in rng.sample(scene["situations"], 3)] + rng.sample(
            f["psychoed"], 8
        )
        out, size = [], 0
        for sentence in pool:
            out.append(_fill(sentence, slots))
            size += len(out[-1])
            if size >= target:
                break
        text = _vary("".join(out), rng)
        return text[:target] if target < 20 else text

    def _answers(
        self, scene: dict[str, Any], slots: _Slots, body: str, asked: datetime
    ) -> list[dict[str, Any]]:
        rng, o = self.rng, self.o
        lo, hi = o["answers_per_question"]
        p = (o["mean_answers"] - lo) / max(1, hi - lo)
        n = lo + sum(rng.random() < p for _ in range(hi - lo))
        share = ANSWER_MIX[o["source"] == "douban"]
        answers, moment = [], asked
        for _ in range(n):
            moment += timedelta(minutes=rng.randint(5, 60 * 24 * 3))
            answers.append(self._answer(scene, slots, body, moment, rng.random() < share))
        return answers

    def _answer(
        self, scene: dict[str, Any], slots: _Slots, body: str, when: datetime, counselor: bool
    ) -> dict:
        rng = self.rng
        self.next_aid += rng.randint(1, 30)
        author = (
            rng.choice(self.counselors)
            if counselor
            else {"id": str(rng.randint(10**6, 10**8)), "name": self._nick()}
        )
        text = self._counselor_answer(scene, slots, body) if counselor else self._user_answer(scene, slots)
        if rng.random() < 0.05:
            text = _sloppy(text, rng)
        return {
            "answer_id": str(self.next_aid),
            "body": text,
            "author": dict(author),
            "author_role": "counselor"
            if counselor
            else ("user" if self.o["source"] == "yixinli" else "unknown"),
            "likes": int(rng.expovariate(1 / 12)) if counselor else int(rng.expovariate(1 / 3)),
            "comment_count": int(rng.expovariate(1 / 2)),
            "answered_at": _iso(when),
        }

    # ----- one thread
    def _ids(self) -> tuple[str, str]:
        self.next_qid += self.rng.randint(1, 40)
        sid = str(self.next_qid)
        if self.o["source"] == "douban":
            return sid, f"https://www.douban.com/group/topic/{sid}/"
        return sid, f"https://www.xinli001.com/qa/{sid}"

    def question(self) -> dict[str, Any]:
        rng, f, o = self.rng, self.f, self.o
        scene = rng.choice(f["scenes"])
        primary, sub = rng.choice(scene["tags"])
        slots = _Slots(rng, rng.choice(scene["emotions"]))
        parts = self._body(scene, slots)
        if rng.random() < 0.1:
            parts = [_sloppy(p, rng) for p in parts]
        elif rng.random() < 0.03:
            parts = [_fullwidth(p) for p in parts]
        level = "none"
        if rng.random() < o["risk_rate"]:
            level = rng.choices(RISK_LEVELS, (3, 4, 3))[0]
            parts.insert(rng.randint(1, len(parts) - 1), rng.choice(f["risk"][level]))
        if rng.random() < 0.05:
            parts.insert(rng.randint(1, len(parts) - 1), rng.choice(f["figures"]))
        look = _fill(rng.choice(f["lookalikes"]), slots) if rng.random() < 0.06 else None
        if look:
            parts.insert(rng.randint(1, len(parts) - 1), look)
        body = self._join(parts)
        title = _fill(rng.choice(scene["titles"]), slots)
        if rng.random() < 0.1:
            title = _sloppy(title, rng)
        self.clock += timedelta(minutes=rng.randint(1, 50))
        sid, url = self._ids()
        anonymous = rng.random() < 0.3
        thread = {
            "source": o["source"],
            "source_id": sid,
            "url": url,
            "title": title,
            "body": body,
            "tags": [primary, sub] if o["source"] == "yixinli" else [],
            "asker": {
                "id": str(rng.randint(10**6, 10**8)),
                "name": "匿名" if anonymous else self._nick(),
                "anonymous": anonymous,
            },
            "asked_at": _iso(self.clock),
            "view_count": int(rng.expovariate(1 / 800)) + 20,
            "answer_count": 0,
            "answers": self._answers(scene, slots, body, self.clock),
            "crawled_at": "",
        }
        if look and look in thread["body"]:
            self.truth.lookalikes.append((sid, "body", look))
        self._finish(thread, level, (primary, sub))
        return thread

    def _finish(self, thread: dict[str, Any], level: str, topic: tuple[str, str]) -> None:
        rng, sid = self.rng, thread["source_id"]
        if rng.random() < self.o["pii_rate"]:
            self._plant_pii(thread)
        if rng.random() < self.o["pii_rate"]:
            self._plant_name(thread)
        thread["answer_count"] = len(thread["answers"])
        last = max([datetime.fromisoformat(a["answered_at"]) for a in thread["answers"]] or [self.clock])
        thread["crawled_at"] = _iso((last + timedelta(hours=rng.randint(1, 900))).astimezone(timezone.utc))
        self.truth.risk[sid] = level
        self.truth.topic[sid] = topic

    # ----- reposts and re-crawls
    def repost(self, original: dict[str, Any]) -> dict[str, Any]:
        rng, truth = self.rng, self.truth
        old = original["source_id"]
        thread = copy.deepcopy(original)
        edit = rng.choice(("add", "remove", "punct", "typo", "s2t"))
        convert = _s2t().convert if edit == "s2t" else (lambda s: s)
        keep = [
            (fld, kind, convert(v))
            for s, fld, kind, v in truth.planted_pii
            if s == old and "answers[" not in fld and fld != "url"
        ]
        names = [(fld, convert(v)) for s, fld, v in truth.names if s == old and fld == "body"]
        protected = (
            [v for _, _, v in keep]
            + [v for _, v in names]
            + [x for lvl in RISK_LEVELS for x in self.f["risk"][lvl] if x in thread["body"]]
        )
        thread["body"] = self._edit(thread["body"], edit, protected)
        if edit == "s2t":
            thread["title"] = convert(thread["title"])
        elif rng.random() < 0.3:
            thread["title"] = rng.choice(("求助！", "（重发）", "再问一次：")) + thread["title"]
        sid, url = self._ids()
        thread["source_id"], thread["url"] = sid, url
        asked = datetime.fromisoformat(original["asked_at"]) + timedelta(
            days=rng.randint(1, 60), minutes=rng.randint(0, 600)
        )
        thread["asked_at"] = _iso(asked)
        scene = scene_of(original)
        slots = _Slots(rng, rng.choice(scene["emotions"]))
        thread["answers"] = self._answers(scene, slots, thread["body"], asked)
        thread["view_count"] = int(rng.expovariate(1 / 300)) + 5
        self.clock = max(self.clock, asked)
        for fld, kind, v in keep:
            if v in field_text(thread, fld):
                truth.planted_pii.append((sid, fld, kind, v))
        for fld, v in names:
            if v in thread["body"]:
                truth.names.append((sid, fld, v))
        thread["answer_count"] = len(thread["answers"])
        last = max([datetime.fromisoformat(a["answered_at"]) for a in thread["answers"]] or [asked])
        thread["crawled_at"] = _iso((last + timedelta(hours=rng.randint(1, 900))).astimezone(timezone.utc))
        truth.risk[sid], truth.topic[sid] = truth.risk[old], truth.topic[old]
        return thread

    def _edit(self, body: str, edit: str, protected: list[str]) -> str:
        rng = self.rng
        if edit == "s2t":
            return _s2t().convert(body)
        if edit == "punct":
            new = body.replace("，", ",", rng.randint(1, 3)).replace("。", "！", 1)
        elif edit == "typo":
            pairs = [p for p in self.f["typos"] if p[0] in body]
            new = body.replace(*rng.choice(pairs), 1) if pairs else body + "。"
        elif edit == "remove":
            parts = _sentences(body)
            free = [i for i, s in enumerate(parts[1:-1], 1) if not any(p in s for p in protected)]
            drop = rng.choice(free) if free else len(parts) - 1
            new = "".join(s for i, s in enumerate(parts) if i != drop)
        else:
            new = (
                body
                + rng.choice(("\n补充一下：", "\n更新：", "\n"))
                + _fill(rng.choice(self.f["details"]), _Slots(rng, ""))
            )
        return new if all(p in new for p in protected) else body + "\n（重新发一遍，之前的没人回）"

    def recrawl(self, thread: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        again = copy.deepcopy(thread)
        taken = {fld for s, fld, *_ in self.truth.planted_pii + self.truth.names if s == thread["source_id"]}
        last = again["answers"][-1] if again["answers"] else None
        if last and rng.random() < 0.5 and not any(f"[{last['answer_id']}]" in t for t in taken):
            again["answers"].pop()
        else:
            scene = scene_of(thread)
            when = datetime.fromisoformat(thread["crawled_at"]).astimezone(CHINA) - timedelta(hours=1)
            again["answers"].append(
                self._answer(scene, _Slots(rng, rng.choice(scene["emotions"])), thread["body"], when, True)
            )
        again["answer_count"] = len(again["answers"])
        crawled = datetime.fromisoformat(thread["crawled_at"]) + timedelta(days=rng.randint(1, 90))
        again["crawled_at"] = _iso(crawled)
        self.truth.same_id_pairs.append((thread["source_id"], thread["crawled_at"], again["crawled_at"]))
        return again


# --------------------------------------------------------------------------- public API
def field_text(thread: dict[str, Any], name: str) -> str:
    """The text of a ground-truth field (`body`, `tags`, `asker.name`, `answers[<id>].body`, ...)."""
    if name == "tags":
        return "\n".join(thread["tags"])
    if name == "asker.name":
        return thread["asker"]["name"] or ""
    if name.startswith("answers["):
        aid, rest = name[len("answers[") :].split("].", 1)
        answer = next(a for a in thread["answers"] if a["answer_id"] == aid)
        return answer["author"]["name"] if rest == "author.name" else answer[rest]
    return thread[name]


def scene_of(thread: dict[str, Any]) -> dict[str, Any]:
    """The fragment scene a thread most likely came from (its tags first, then keywords)."""
    scenes = fragments()["scenes"]
    tagged = [s for s in scenes if thread.get("tags") and list(thread["tags"][:2]) in s["tags"]]
    text = thread.get("title", "") + thread.get("body", "")
    return max(tagged or scenes, key=lambda s: sum(text.count(k) for k in s["keywords"]))


def iter_threads(
    n_questions: int,
    *,
    seed: int = 0,
    truth: Truth | None = None,
    answers_per_question: tuple[int, int] = (0, 8),
    mean_answers: float = 4.1,
    repost_rate: float = 0.05,
    same_id_rate: float = 0.01,
    pii_rate: float = 0.05,
    risk_rate: float = 0.03,
    stock_sentence_rate: float = 0.6,
    source: str = "yixinli",
) -> Iterator[dict[str, Any]]:
    """Yield raw-thread dicts one by one; ground truth goes into `truth` when given."""
    if source not in ("yixinli", "douban"):
        raise ValueError(f"source must be yixinli or douban, not {source!r}")
    rng = random.Random(seed)
    truth = truth if truth is not None else Truth()
    opts = dict(answers_per_question=answers_per_question, mean_answers=mean_answers, pii_rate=pii_rate)
    opts |= dict(risk_rate=risk_rate, stock_sentence_rate=stock_sentence_rate, source=source)
    gen = _Generator(rng, truth, opts)
    pending: list[tuple[int, int, str, dict[str, Any], set[str] | None]] = []
    step = emitted = reserved = 0
    while emitted < n_questions or pending:
        step += 1
        if pending and (pending[0][0] <= step or emitted + reserved >= n_questions):
            _, _, kind, base, group = heapq.heappop(pending)
            if kind == "repost":
                reserved -= 1
                thread = gen.repost(base)
                group.add(thread["source_id"])
                emitted += 1
            else:
                thread = gen.recrawl(base)
            yield thread
            continue
        thread = gen.question()
        emitted += 1
        k = (1 + (rng.random() < 0.15)) if rng.random() < repost_rate else 0
        if k and emitted + reserved + k <= n_questions:
            group = {thread["source_id"]}
            truth.repost_groups.append(group)
            for _ in range(k):
                heapq.heappush(
                    pending, (step + rng.randint(1, 60), rng.random(), "repost", copy.deepcopy(thread), group)
                )
            reserved += k
        if rng.random() < same_id_rate:
            heapq.heappush(
                pending, (step + rng.randint(1, 60), rng.random(), "recrawl", copy.deepcopy(thread), None)
            )
        yield thread


def generate_corpus(n_questions: int, *, seed: int = 0, **options: Any) -> Corpus:
    """All threads in a list plus their ground truth (options as for `iter_threads`)."""
    truth = Truth()
    return Corpus(list(iter_threads(n_questions, seed=seed, truth=truth, **options)), truth)


# --------------------------------------------------------------------------- Chain-of-Empathy drafts
def _clip(text: str, lo: int = 30, hi: int = 150, pad: str = "") -> str:
    if len(text) < lo:
        text += pad
    return text if len(text) <= hi else text[: hi - 1] + "。"


def _snippet(text: str, n: int) -> str:
    text = text.strip().rstrip("。？！?!，,")
    return text if len(text) <= n else text[:n] + "……"


def _strategy(answer: dict[str, Any]) -> list[str]:
    body = answer["body"]
    moves = []
    if any(k in body for k in ("抱抱", "感受到", "理解", "辛苦")):
        moves.append("先共情和接纳情绪")
    if any(k in body for k in ("想法", "证据", "CBT", "看法", "标签")):
        moves.append("帮助识别并松动不合理信念")
    if any(k in body for k in ("①", "1.", "首先", "建议")):
        moves.append("给出具体可执行的步骤")
    if any(k in body for k in ("热线", "医院", "专业")):
        moves.append("提示可以寻求专业帮助")
    if answer.get("author_role") != "counselor":
        moves.append("以同路人的经验陪伴")
    return moves or ["耐心倾听并回应感受"]


def coe_layers(thread: dict[str, Any], answer: dict[str, Any], rng: random.Random) -> dict[str, str]:
    """Four Chinese CoE layers derived from this thread's situation and this answer's strategy."""
    scene = scene_of(thread)
    text = thread["title"] + thread["body"]
    found = dict.fromkeys(e for s in fragments()["scenes"] for e in s["emotions"] if e in text)
    emos = list(found)[:3] or rng.sample(scene["emotions"], 2)
    sentences = [s for s in _sentences(thread["body"]) if len(s) > 6]
    situation = next(
        (s for s in sentences if any(k in s for k in scene["keywords"])), sentences[0] if sentences else ""
    )
    belief = next((s for s in sentences if any(k in s for k in ("觉得", "是不是", "如果", "为什么"))), "")
    ask = next((s for s in reversed(sentences) if s.rstrip().endswith(("？", "?"))), "")
    title = _snippet(thread["title"], 22)
    l1 = rng.choice(("提问者在“{t}”的处境中，", "求助者讲述了“{t}”，", "这位提问者正经历“{t}”，")).format(
        t=title
    )
    l1 += f"具体是“{_snippet(situation, 24)}”，核心情绪是{'、'.join(emos)}。"
    belief_text = (
        f"“{_snippet(belief, 22)}”" if belief else f"“{_snippet(rng.choice(scene['thoughts']), 22)}”"
    )
    l2 = rng.choice(("情绪背后是{b}这样的想法，", "其深层信念是{b}，", "困扰的根源在于{b}的认知，")).format(
        b=belief_text
    )
    l2 += f"带有{rng.choice(scene['distortions'])}的倾向，也与{rng.choice(('长期压力', '缺少支持', '过往经历', '对自我的高要求'))}有关。"
    want = rng.choice(scene["wants"])
    l3 = (
        f"因为“{_snippet(sentences[-2] if len(sentences) > 1 else title, 14)}”，提问者希望{want}"
        + (f"，她/他问道“{_snippet(ask, 20)}”" if ask else "")
        + "，也需要先被理解和接纳。"
    )
    moves = _strategy(answer)
    first = _snippet(_sentences(answer["body"])[0] if answer["body"] else "", 20)
    l4 = f"面对提问者的{emos[-1]}，回答应{'，再'.join(moves[:3])}；这条回答以“{first}”开头，" + rng.choice(
        ("语气温和、不评判。", "回应了提问者的具体处境。", "兼顾情绪和行动。")
    )
    pad = f"情境涉及{scene['tags'][0][1]}。"
    return {name: _clip(value, pad=pad) for name, value in zip(LAYERS, (l1, l2, l3, l4), strict=True)}


# --------------------------------------------------------------------------- command line
def _summary(threads: int, questions: set[str], answer_lengths: list[int], body_lengths: list[int]) -> str:
    med_a = statistics.median(answer_lengths) if answer_lengths else 0
    med_b = statistics.median(body_lengths) if body_lengths else 0
    return (
        f"records {threads}, questions {len(questions)}, answers {len(answer_lengths)}, "
        f"median question body {med_b:.0f} chars, median answer {med_a:.0f} chars"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m empathyqa.synthetic", description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, required=True, help="distinct question ids to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="raw threads, JSON Lines")
    parser.add_argument("--truth", type=Path, help="ground truth as JSON")
    parser.add_argument("--source", choices=("yixinli", "douban"), default="yixinli")
    for name, default in (
        ("repost-rate", 0.05),
        ("same-id-rate", 0.01),
        ("pii-rate", 0.05),
        ("risk-rate", 0.03),
    ):
        parser.add_argument(f"--{name}", type=float, default=default)
    args = parser.parse_args(argv)
    truth = Truth()
    options = dict(repost_rate=args.repost_rate, same_id_rate=args.same_id_rate, pii_rate=args.pii_rate)
    options |= dict(risk_rate=args.risk_rate, source=args.source)
    records, ids, answers, bodies = 0, set(), [], []
    with args.out.open("w", encoding="utf-8") as out:
        for thread in iter_threads(args.questions, seed=args.seed, truth=truth, **options):
            out.write(json.dumps(thread, ensure_ascii=False) + "\n")
            records += 1
            ids.add(thread["source_id"])
            bodies.append(len(thread["body"]))
            answers.extend(len(a["body"]) for a in thread["answers"])
    if args.truth:
        args.truth.write_text(json.dumps(truth.to_json(), ensure_ascii=False), encoding="utf-8")
    print(_summary(records, ids, answers, bodies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
