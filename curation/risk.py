"""Self-harm and suicide risk flags: a lexicon of patterns with levels (curation/data/risk_lexicon.yaml)
plus context rules, checked per sentence.

The level is that of the person writing. Context rules, in order:
- Negation ("从来没想过自杀", "我不会去死的", "一点轻生的想法都没有"): no flag. Cessation
  ("我已经不想自杀了"): low, past ideation stays visible.
- A term in quotes ("为什么说“想死”和…") is a mention: low.
- Media ("看新闻说某大学生跳楼了", "小说的主角最后跳海"): no flag, unless the writer speaks of themself.
- In answers: a conditional, advice or the reader as subject ("如果你有想伤害自己的念头，请拨打热线") is a
  counsellor's wording: no flag; a general mention: no flag.
- Party: the subject of the clause (the last person named before the term who is not an object, or the
  previous sentence's): a third party ("我朋友跳楼了", "我姐说她想一了百了") or people in general ("有自杀
  念头的人") is low, party third / general.
- Past: a past time before the term ("以前", "那年", "大学时") or "…过" with a past time: low; "…过" alone
  takes high down to medium. Recent times ("昨晚", "上周", "刚才") are not past.
- Threat ("你要是敢分手，我就从楼上跳下来"): caps at medium. A desire before a self-harm act ("想划自己")
  makes it an urge: medium. A time now ("今晚") raises ideation to high.
Figures of speech (累死了, 笑死, 想死你了) and idioms are not in the lexicon, or excluded by it.

The learned model (curation/risk_model.py, curation/data/risk_model.json) is a second opinion (in answers,
only on the replier's own words: a window with 我 and no counselor advice): on each sentence where no lexicon entry matched ("fill"; the lexicon's
context judgement stands where it has one), read with the sentence before it, and only in windows holding
one of the lexicon file's model anchors (or only weak anchors, when the model is sure). At P(medium) +
P(high) >= its threshold it adds one flag (category suicide_or_self_harm, party self) at medium or high;
the field's level is the highest flag. Chosen by leave-one-writer-out cross-validation (bench/risk.py
--cv writers).

Speed: the lexicon's trigger words are found by their rarest character (or pair) in one regex pass; only
sentences holding a trigger run the entries, each entry only where one of its required strings' key
characters occurs.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from curation.risk_model import RiskModel

LEVELS = ("none", "low", "medium", "high")
RANK = {level: i for i, level in enumerate(LEVELS)}
BUNDLED_LEXICON = Path(__file__).parent / "data" / "risk_lexicon.yaml"
ASKER_FIELDS = ("title", "body")
MODEL_CATEGORY = "suicide_or_self_harm"  # the model's flags: it does not tell the two apart
COMBINE = "fill"


@dataclass(frozen=True)
class Entry:
    regex: re.Pattern
    category: str
    level: str
    kind: str
    requires: re.Pattern | None = None  # must also match somewhere in the text
    near: re.Pattern | None = None  # must also match in the same sentence


@dataclass(frozen=True)
class RiskFlag:
    category: str
    level: str
    term: str
    field: str
    party: str = "self"  # self | third | general

    def to_dict(self) -> dict[str, str]:
        return {
            "category": self.category,
            "level": self.level,
            "term": self.term,
            "field": self.field,
            "party": self.party,
        }


def _expand(pattern: str, sets: dict[str, str]) -> str:
    return re.sub(r"\{([A-Z]+)\}", lambda m: sets[m.group(1)], pattern)


def _entries(data: object, path: Path) -> list[Entry]:
    if isinstance(data, list):  # a plain list of {term, category, level}: literal words
        data = {"entries": [{**e, "pattern": re.escape(str(e["term"]))} for e in data]}
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise SystemExit(f"{path}: expected a mapping with an 'entries' list (or a list of terms)")
    sets = {name: "(?:" + "|".join(map(str, words)) + ")" for name, words in (data.get("sets") or {}).items()}
    entries = []
    for i, spec in enumerate(data["entries"]):
        level = str(spec.get("level", "medium"))
        if level not in RANK or level == "none":
            raise SystemExit(f"{path}: entry {i} has level {level!r} (low, medium or high)")
        try:
            regex = re.compile(_expand(str(spec["pattern"]), sets))
            requires = re.compile(_expand(spec["requires"], sets)) if spec.get("requires") else None
            near = re.compile(_expand(spec["near"], sets)) if spec.get("near") else None
        except (re.error, KeyError) as exc:
            raise SystemExit(
                f"{path}: entry {i} ({spec.get('pattern')!r}) is not a valid pattern: {exc}"
            ) from None
        category, kind = str(spec.get("category", "suicide")), str(spec.get("kind", ""))
        entries.append(Entry(regex, category, level, kind, requires, near))
    return entries


def load_triggers(path: Path = BUNDLED_LEXICON) -> list[str]:
    """The lexicon's trigger words (each a literal or a small finite pattern such as "(?:烫|掐)了?自己",
    expanded here): every entry's match holds one of them."""
    words: set[str] = set()
    for spec in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("triggers") or []:
        strings = _exact(re._parser.parse(str(spec)), limit=512)
        if not strings or "" in strings:
            raise SystemExit(f"{path}: trigger {spec!r} is not a small finite pattern")
        words |= strings
    return sorted(words)


def load_model_anchors(path: Path = BUNDLED_LEXICON) -> tuple[list[str], list[str], float]:
    """The words a window must hold before the learned model's call counts (the lexicon file's
    `model_anchors`), the weak ones that count only when the model is sure, and that threshold."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    strong = [str(w) for w in data.get("model_anchors") or []]
    weak = [str(w) for w in data.get("model_weak_anchors") or []]
    return strong, weak, float(data.get("model_weak_threshold", 1.0))


def load_lexicon(extra: str | Path | None = None) -> list[Entry]:
    """The bundled lexicon, plus the entries of an extra YAML file."""
    entries = []
    for path in [BUNDLED_LEXICON, *([Path(extra)] if extra else [])]:
        if not path.exists():
            raise SystemExit(f"risk lexicon not found: {path}")
        entries += _entries(yaml.safe_load(path.read_text(encoding="utf-8")), path)
    return entries


_SENTENCE = re.compile(r"[^。!！?？;；\n…]+(?:\.{3,}|…+|[。!！?？;；\n]+)?")
_CLAUSE_END = re.compile(r"[,，:：、]")
_NEG_BEFORE = re.compile(
    r"(?:没有|(?<!会)不会|不可能|绝不|决不|从来没有?|从没有?|从未|从来不|并没有?|并不|(?<!是)不是|(?<!要)不要|不敢|(?<!想)不想|根本不|根本没|"
    r"绝对没有?|一点也不|一点都不|有没有|是否|无)[^,，但可却]{0,4}$|(?:(?<!要)不|没|(?<![特分级区])别)$"
)
_NEG_AFTER = re.compile(r"^[^,，]{0,6}(?:都没有|也没有|都没|是没有的|没有过)")
_CESSATION = re.compile(r"(?:不再|再也不|已经不|不想再?|没再|不会再)[^,，]{0,3}$")
_MEDIA = re.compile(
    r"新闻|报道|小说|电影|电视剧|纪录片|综艺|历史|课上|课本|书里|书中|《|主角|明星|热搜|某(?:个)?(?:大学生|明星|男|女|人|网红)"
)
_ANSWER_COND = re.compile(r"如果|假如|万一|一旦|若是|当你|要是你")
_ANSWER_COUNSEL = re.compile(r"请|建议|一定要|拨打|热线|急诊|求助|寻求|专业帮助|咨询师|医生|危机干预")
_PERSON = re.compile(
    r"(?P<third>朋友(?!圈)|闺蜜|好友|同学|室友|舍友|同事|领导|老板|男朋友|女朋友|男友|女友|对象|前任|前男友|前女友|"
    r"老公|老婆|丈夫|妻子|爱人|爸爸|爸妈|父母|爸|父亲|妈妈|妈|母亲|爷爷|奶奶|外公|外婆|姥姥|姥爷|表姐|表哥|表妹|表弟|"
    r"堂姐|堂哥|堂妹|堂弟|哥哥|哥|姐姐|姐|弟弟|弟|妹妹|妹|儿子|女儿|孩子|婆婆|公公|岳母|岳父|丈母娘|邻居|阿姨|叔叔|"
    r"网友|群友|亲戚|家人|学生|患者|病人|来访者|他|她)(?!们)"
    r"|(?P<general>有人|别人|有的人|很多人|人们|一个人|老年人|年轻人|大学生|中学生|青少年|个人|某人|主角|男的|女的)"
    r"|(?P<second>你)(?!们)|(?P<self>我)(?!们)"
)
_OBJECT_BEFORE = re.compile(
    r"(?:给|跟|和|对|让|被|帮|陪|问|向|为|替|带|找|叫|像|比|伤害|欺负|打|骂|害|怪|恨|爱|喜欢|想|嫁|娶|离开|拖累|麻烦)"
    r"(?:所有|那个|那些|这个|每个)?(?:我|你|他|她)?的?$"
)
_GENERIC_AFTER = re.compile(r"^的?(?:人|孩子|学生|患者|者)")
_PAST = re.compile(
    r"以前|曾经|曾|那时候?|那段(?:时间|日子)?|那年|当年|当时|小时候|年前|十几岁|年轻的时候|(?<![睡晕昏死])过去|之前|去年|前几年|"
    r"有一段时间|一度|(?:初中|高中|小学|大学|读研|读书|上学|中学|年轻)[^,，]{0,6}的?(?:时候|时)|最[^,，]{1,4}的时候"
)
_PRESENT = re.compile(r"现在|最近|这几天|这两天|今天|今晚|昨晚|昨天|刚才|刚刚|这个月|这周|这次|又|正在")
_THREAT = re.compile(
    r"(?:要是|如果|假如|敢|再逼|再这样|再去|再不|不然|否则|不让)[^。!！?？]{0,16}我(?:就|也)[^,，]{0,5}$"
)
# "…过" as the experiential aspect ("想过自杀"), not 过年, 难过, 不过, 度过, 过日子.
_ASPECT = re.compile(r"(?<![难不经度通超错路放])过(?!去|年|节|日子|完|得|来|不|了|活)")
_URGE_CLAUSE = re.compile(r"[,，:：]")  # "想掐自己、拔头发": a desire carries over a list
_DESIRE = re.compile(r"想|冲动|念头")
_NOW = re.compile(
    r"今晚|今天晚上|就今天|今天就|明天就|这周就|这个?周末就|周末就|下周就|过几天就|马上就|现在就|等会儿?就|待会儿?就|"
    r"天亮(?:之?前)|决定了|想好了|准备好了"
)


@dataclass
class _ModelPlan:
    """The windows of one field the model will score, and how to read its scores."""

    windows: list[str]
    sentences: list[str]
    strong: np.ndarray  # holds a model anchor; the others hold only weak ones
    weak_threshold: float

    def pick(self, probs: np.ndarray) -> tuple[np.ndarray, str] | None:
        """The likeliest at-risk window's probabilities and sentence; a weak window counts only when
        the model is sure."""
        at_risk = probs[:, 2] + probs[:, 3]
        at_risk = np.where(self.strong | (at_risk >= self.weak_threshold), at_risk, -1.0)
        best = int(at_risk.argmax())
        return None if at_risk[best] < 0 else (probs[best], self.sentences[best])


@dataclass
class _Judged:
    level: str
    party: str
    note: str


_SPEECH = re.compile(r"说|讲|写|发了|告诉|提到|表示|嚷|喊|威胁|闹")


def _party(pre: str) -> str | None:
    """Whose risk: the subject of the term's own clause; else an earlier clause's subject when it is the
    writer, or someone reported as saying or writing it ("我老公总说活着太累，想去死"). A clause with no
    subject after an unrelated event ("女朋友也走了，不如死了算了") is the writer's."""
    clauses = _CLAUSE_END.split(pre)
    own = _subject(clauses[-1])
    if own is not None:
        return own
    before = pre[: len(pre) - len(clauses[-1])]
    last = None
    for m in _PERSON.finditer(before):
        if not _OBJECT_BEFORE.search(before[max(0, m.start() - 6) : m.start()]):
            last = m
    if last is None:
        return None
    if last.lastgroup in ("self", "second") or _SPEECH.search(pre[last.end() :]):
        return last.lastgroup
    return "self"


def _reported(sentence: str) -> str | None:
    """A third party reported as saying or writing something carries to the next sentence's subjectless
    clauses; anything else does not (the writer's own feelings are the default)."""
    party = _party(sentence)
    return party if party in ("third", "general") and _SPEECH.search(sentence) else None


def _subject(pre: str) -> str | None:
    """The party of the last person named in `pre` who is not an object ("让我", "跟她")."""
    party = None
    for m in _PERSON.finditer(pre):
        if _OBJECT_BEFORE.search(pre[max(0, m.start() - 6) : m.start()]):
            continue
        party = m.lastgroup
    return party


_COMMON = set("了的我是不在就都也一有人这个你他她们说想要会到着过好没下上去来得还再又能把让给被自")


def _exact(nodes, limit: int = 64) -> set[str] | None:
    """The strings a parsed regex can match, when they are few and finite (lookarounds match "")."""
    from re import _constants as c

    out = {""}
    for op, arg in nodes:
        if op is c.LITERAL:
            found = {chr(arg)}
        elif op is c.IN and arg and arg[0][0] is not c.NEGATE and all(o is c.LITERAL for o, _ in arg):
            found = {chr(v) for _, v in arg}
        elif op is c.SUBPATTERN:
            found = _exact(arg[-1], limit)
        elif op is c.BRANCH:
            parts = [_exact(branch, limit) for branch in arg[1]]
            found = None if any(p is None for p in parts) else set().union(*parts)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[1] <= 1:
            inner = _exact(arg[2], limit)
            found = None if inner is None else inner | ({""} if arg[0] == 0 else set())
        elif op in (c.ASSERT, c.ASSERT_NOT, c.AT):
            found = {""}
        else:
            return None
        if found is None or len(out) * len(found) > limit:
            return None
        out = {a + b for a in out for b in found}
    return out


def _anchors(nodes, covered) -> frozenset[str] | None:
    """Strings of which every match of a parsed regex holds at least one (None: no such set known).
    A sequence is cut into runs of few finite strings ("(?:不想|不愿)再?活" gives 不想活, 不愿再活, ...)
    and other elements; of these options a set whose every string holds a trigger (`covered`) is
    preferred, the smallest such."""
    from re import _constants as c

    options: list[frozenset[str]] = []
    run: set[str] = {""}

    def flush() -> None:
        nonlocal run
        if "" not in run:
            options.append(frozenset(run))
        run = {""}

    for op, arg in nodes:
        exact = _exact([(op, arg)], limit=256)
        if exact is not None and len(run) * len(exact) <= 256:
            run = {a + b for a in run for b in exact}
            continue
        flush()
        if exact is not None:
            run = exact
            continue
        found: frozenset[str] | None = None
        if op is c.SUBPATTERN:
            found = _anchors(arg[-1], covered)
        elif op is c.BRANCH:
            parts = [_anchors(branch, covered) for branch in arg[1]]
            found = None if any(p is None for p in parts) else frozenset().union(*parts)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[0] >= 1:
            found = _anchors(arg[2], covered)
        if found is not None:
            options.append(found)
    flush()
    return min(options, key=lambda o: (not all(map(covered, o)), len(o)), default=None)


# The commonest characters of counselling threads (the first 400 measured on generated threads, then those of
# general modern Chinese), commonest first: a trigger word is looked for by its least common character.
_FREQUENT = (
    "的我是不一自你们情己有对来会人能么可事和绪这很在到时什也应它分常下以要而说了想问看个里候感些别样让过"
    "去好力为上该被就他法都当动着比关先试如本反身多需把往部开生没步后每习经天练心助实定做帮虑只见大面系子"
    "提成怕焦觉得认小苦聊并决写回发哪间行更信重名理现果点记者意刻用估证据命痛出疗方同背给再友最接但历变放"
    "学于两单从真化任家正题朋式年种担作明持解找边走之知无因界度气注低性未慢全特又夜保屈太体像委立诉允许息"
    "次续象听非日失温脑规抗高近她转量录怀叫护新亲松继简较懂必减节奏书却涨运遇区改律还怎坏晒孩手访似苛海倾"
    "降既浪退号私阳轻念马敌其宽容塑造强拉扯迫伯恩斯睡支适波眠醒始完结起待错几愿越那钟安话前直老况求师婚工"
    "位难三考相机医咨询抱业段处孤复地十白期曾压触公首长婆件累建独慌望跟具已早吃清活状类希照二态查住妈议然"
    "胸闷少值制道爱顾害专晚答扛表内主读通受代满足谢带离等院才境西五句灾确义沟刷描述东术观察评消标敢美月床"
    "中国文所头民将外与进此声儿向女打便电四第门政口使教平世北加由军产入山水万市眼总场至司吗吧呢啊"
)
_RANK = {ch: i for i, ch in enumerate(_FREQUENT)}


def _commonness(ch: str) -> int:
    return -_RANK.get(ch, len(_FREQUENT) + 1)


def _key(word: str) -> str:
    """What a trigger word is looked for by: its least common character, or where all its characters
    are common ("不在了"), its least common pair of adjacent characters."""
    char = min(word, key=_commonness)
    if _RANK.get(char, len(_FREQUENT)) >= 150 or len(word) == 1:
        return char
    return min((word[i : i + 2] for i in range(len(word) - 1)), key=lambda pair: max(map(_commonness, pair)))


def _trie(words) -> str:
    """One alternation of `words` as a prefix tree: the regex engine tries few branches per position."""
    heads: dict[str, list[str]] = {}
    for word in words:
        heads.setdefault(word[0], []).append(word[1:])
    parts = []
    for head, tails in sorted(heads.items()):
        if "" in tails:  # the head alone suffices: its longer words add nothing to a search
            parts.append(re.escape(head))
        elif len(tails) == 1:
            parts.append(re.escape(head + tails[0]))
        else:
            parts.append(re.escape(head) + "(?:" + _trie(tails) + ")")
    return "|".join(parts)


class RiskScanner:
    def __init__(
        self,
        lexicon: list[Entry] | None = None,
        triggers: list[str] | None = None,
        model: RiskModel | None | bool = True,
        combine: str = COMBINE,
        threshold: float | None = None,
    ) -> None:
        """`model`: True for the bundled one (when the file exists), False or None for the lexicon alone.
        `combine`: "max" (the model's call on any asker sentence) or "fill" (only on the sentences where
        no lexicon entry matched, so the lexicon's context judgement stands where it has one)."""
        if combine not in ("max", "fill"):
            raise ValueError(f"combine must be 'max' or 'fill', not {combine!r}")
        self.model = RiskModel.load() if model is True else (model or None)
        strong, weak, self.weak_threshold = load_model_anchors()
        self.anchors_re: re.Pattern | None = re.compile("|".join(sorted(strong, key=lambda w: (-len(w), w))))
        self.weak_re = re.compile("|".join(sorted(weak, key=lambda w: (-len(w), w)))) if weak else None
        self.combine = combine
        self.threshold = threshold if threshold is not None else (self.model.threshold if self.model else 0.5)
        self.entries = lexicon if lexicon is not None else load_lexicon()
        # Every match of an entry holds one of its anchor strings, and (checked here) every anchor string
        # holds a trigger word; one alternation of the triggers finds the sentences worth looking at, so
        # text without any (most answers) costs one regex search.
        words = sorted(triggers if triggers is not None else load_triggers(), key=lambda w: (-len(w), w))

        def covered(s: str) -> bool:
            return any(w in s for w in words)

        self.anchors = [self._entry_anchors(e, covered) for e in self.entries]
        self.uncovered = [i for i, a in enumerate(self.anchors) if a is None or not all(map(covered, a))]
        # An entry none of whose anchor sets holds a trigger adds its own anchors (slower, never wrong).
        extra = {s for i in self.uncovered for s in self.anchors[i] or ()}
        words = sorted(set(words) | extra, key=lambda w: (-len(w), w))
        scan_all = any(a is None for a in self.anchors)
        self.trigger = re.compile("" if scan_all else _trie(words))
        keys = {_key(w) for w in words}
        self.by_key: dict[str, list[tuple[str, int]]] = {}
        for word in words:
            key = _key(word)
            if key[0] in keys and len(key) == 2:  # the trie stops at the single character
                key = key[0]
            self.by_key.setdefault(key, []).append((word, word.index(key)))
        if scan_all:
            self.by_key = {"": [("", 0)]}
        self.keys = re.compile(_trie(keys) if not scan_all else "")
        # Within a sentence, an entry is tried where the rarest character of one of its anchor strings
        # occurs (set intersections in C); entries without anchors are tried on every sentence.
        self.by_char: dict[str, list[int]] = {}
        for i, strings in enumerate(self.anchors):
            for s in strings or {"": None}:
                key = min(s, key=lambda ch: ch in _COMMON) if s else ""
                self.by_char.setdefault(key, []).append(i)
        for i in self.by_char.pop("", []):
            self.by_char.setdefault("", []).append(i)

    @staticmethod
    def _entry_anchors(entry: Entry, covered) -> frozenset[str] | None:
        """The entry's anchors; those of its `near` pattern (which the same sentence must match) when
        only those hold triggers."""
        own = _anchors(re._parser.parse(entry.regex.pattern), covered)
        if entry.near is not None and not (own and all(map(covered, own))):
            near = _anchors(re._parser.parse(entry.near.pattern), covered)
            if near and all(map(covered, near)):
                return near
        return own

    def candidates(self, text: str) -> list[int]:
        """Indices of the entries one of whose anchor strings' key characters occurs in `text`."""
        found: set[int] = set(self.by_char.get("", ()))
        for ch in set(text).intersection(self.by_char):
            found.update(self.by_char[ch])
        return sorted(found)

    def _sentences(self, text: str):
        """The sentences of `text` holding a trigger word, each with its start and the sentence before it. The trigger
        words' keys (one rare character, or a pair) are found in one pass in C; at each, only the words
        of that key are compared."""
        found = []
        search, by_key = self.keys.search, self.by_key
        m = search(text)
        while m is not None:
            at = m.start()
            for word, offset in by_key[m.group()]:
                if text.startswith(word, at - offset):
                    found.append(at)
                    break
            m = search(text, at + 1)  # keys may overlap ("想不" and "不在")
        if not found:
            return
        spans = [(m.start(), m.end()) for m in _SENTENCE.finditer(text)]
        starts = [a for a, _ in spans]
        done = -1
        for at in found:
            i = bisect.bisect_right(starts, at) - 1
            if i > done:
                done = i
                yield spans[i][0], text[slice(*spans[i])], text[slice(*spans[i - 1])] if i else ""

    def scan(self, text: str, field: str, answer: bool | None = None) -> list[RiskFlag]:
        """Flags for one field; `answer` (default: the field starts with "answer") applies the
        counsellor rules. One flag per (category, party): the highest level, with its term."""
        answer = field.startswith("answer") if answer is None else answer
        return self.scan_many([(text, field, answer)])[0]

    def scan_many(self, fields: Sequence[tuple[str, str, bool]]) -> list[list[RiskFlag]]:
        """scan() of each (text, field, answer), with the model's windows of all fields scored in one
        batch (its per-call cost is most of its time on short fields)."""
        found = [
            self.scan_lexicon(text, field, answer) if text else ({}, set()) for text, field, answer in fields
        ]
        if self.model is not None:
            plans = [
                self._model_plan(text, matched if self.combine == "fill" else set(), answer) if text else None
                for (text, _, answer), (_, matched) in zip(fields, found, strict=True)
            ]
            windows = [w for plan in plans if plan is not None for w in plan.windows]
            probs = self.model.probabilities(windows) if windows else np.zeros((0, len(RANK)))
            at = 0
            for (text, field, _), (best, _), plan in zip(fields, found, plans, strict=True):
                if plan is None:
                    continue
                flag = self._model_flag(text, field, plan.pick(probs[at : at + len(plan.windows)]))
                at += len(plan.windows)
                own = max((RANK[f.level] for f in best.values() if f.party == "self"), default=-1)
                if flag is not None and RANK[flag.level] > own:  # else it adds nothing but a second term
                    best[(MODEL_CATEGORY, "self")] = flag
        return [
            sorted(best.values(), key=lambda f: (-RANK[f.level], f.category, f.party)) for best, _ in found
        ]

    def scan_lexicon(
        self, text: str, field: str, answer: bool
    ) -> tuple[dict[tuple[str, str], RiskFlag], set[int]]:
        """The lexicon's flags by (category, party), and the starts of the sentences where an entry
        matched, whatever its context judgement."""
        best: dict[tuple[str, str], RiskFlag] = {}
        matched: set[int] = set()  # starts of the sentences where an entry matched, whatever its judgement
        for start, sentence, previous in self._sentences(text):
            entries = self.candidates(sentence)
            carry: str | None | bool = False  # the previous sentence's reported party, when needed
            for i in entries:
                entry = self.entries[i]
                if entry.requires is not None and not entry.requires.search(text):
                    continue
                if entry.near is not None and not entry.near.search(sentence):
                    continue
                for m in entry.regex.finditer(sentence):
                    matched.add(start)
                    if carry is False:
                        carry = _reported(previous) if previous else None
                    judged = self._judge(sentence, m, entry, answer, carry)
                    if judged is None:
                        continue
                    term = m.group() + (f" ({judged.note})" if judged.note else "")
                    key = (entry.category, judged.party)
                    if key not in best or RANK[judged.level] > RANK[best[key].level]:
                        best[key] = RiskFlag(entry.category, judged.level, term, field, judged.party)
        return best, matched

    def model_window(self, text: str, skip: set[int], answer: bool = False) -> tuple[np.ndarray, str] | None:
        """The model's probabilities for the likeliest at-risk window of `text` (a sentence read with the
        one before it) and its sentence, over the sentences that do not start in `skip` and whose window
        holds one of the lexicon's model anchors (or only weak ones, and the model is sure); None when
        there is none such."""
        plan = self._model_plan(text, skip, answer)
        return None if plan is None else plan.pick(self.model.probabilities(plan.windows))

    def _model_plan(self, text: str, skip: set[int], answer: bool) -> _ModelPlan | None:
        """The windows of `text` the model may read (see model_window), not yet scored."""
        spans = [(m.start(), m.end()) for m in _SENTENCE.finditer(text)]
        strong, chosen = [], []
        for i, (a, b) in enumerate(spans):
            start = spans[i - 1][0] if i else a
            # a window that reads a sentence the lexicon judged is the lexicon's: its context rules
            # (third party, negation, past) must not be overruled through the next sentence
            if a in skip or start in skip:
                continue
            if answer and ("我" not in text[start:b] or _ANSWER_COUNSEL.search(text, start, b)):
                continue  # a replier's own words ("我也…"), never a counselor's advice to the reader
            sure = self.anchors_re is None or bool(self.anchors_re.search(text, start, b))
            if sure or (self.weak_re and self.weak_re.search(text, start, b)):
                chosen.append(i)
                strong.append(sure)
        if not chosen:
            return None
        # only the windows that can count are scored (most sentences hold no anchor)
        windows = [(text[slice(*spans[i - 1])] if i else "") + text[slice(*spans[i])] for i in chosen]
        sentences = [text[slice(*spans[i])].strip() for i in chosen]
        return _ModelPlan(windows, sentences, np.array(strong), self.weak_threshold)

    def _model_flag(self, text: str, field: str, found: tuple[np.ndarray, str] | None) -> RiskFlag | None:
        if found is None or found[0][2] + found[0][3] < self.threshold:
            return None
        probs, sentence = found
        level = self.model.call(probs, self.threshold)
        term = f"{sentence[:40]}{'…' if len(sentence) > 40 else ''} (model {probs[2] + probs[3]:.2f})"
        return RiskFlag(MODEL_CATEGORY, level, term, field, "self")

    def _judge(
        self, sentence: str, m: re.Match, entry: Entry, answer: bool, carry: str | None
    ) -> _Judged | None:
        pre, post = sentence[: m.start()], sentence[m.end() :]
        clause_pre = _CLAUSE_END.split(pre)[-1]
        post_clause = _CLAUSE_END.split(post)[0]
        level = entry.level
        negation = _NEG_BEFORE.search(clause_pre) or _NEG_AFTER.search(post_clause)
        if negation:
            if _CESSATION.search(clause_pre) and post.startswith("了"):
                return _Judged("low", "self", "no longer")
            if negation.group().startswith(("有没有", "是否")) and _subject(pre) in ("general", "third"):
                return None if answer else _Judged("low", "general", "asked")
            return None
        if pre.count("“") > pre.count("”") or pre.count('"') % 2 == 1 or pre.endswith(("「", "『", "'")):
            return None if answer else _Judged("low", "general", "quoted")
        media = None
        for media in _MEDIA.finditer(pre):  # noqa: B007 - the last one
            pass
        if media is not None and _subject(pre[media.end() :]) != "self":
            return None
        named = _party(pre + (m.group()[:1] if m.group().startswith("我") else ""))
        if answer and (
            entry.kind == "mention"
            or _ANSWER_COND.search(pre)
            or (named != "self" and _ANSWER_COUNSEL.search(sentence))
        ):
            return None
        if (
            entry.kind == "act"
            and named == "self"
            and _subject(clause_pre) is None
            and _subject(pre) == "third"
        ):
            named = "third"  # an act in a subjectless clause is that of the person just named
        if answer and named is None and carry is None:
            return None  # an answer's subjectless sentence is the counsellor's general wording
        party = named or carry or "self"
        if _GENERIC_AFTER.search(post):
            party = "general"
        if party in ("general", "second"):
            return None if answer else _Judged("low", "general", "")
        if party == "third":
            return _Judged("low", "third", "third party")
        times = list(re.finditer(f"(?P<past>{_PAST.pattern})|(?P<now>{_PRESENT.pattern})", pre))
        aspect = _ASPECT.search(m.group() + post[:1]) is not None
        if times and times[-1].lastgroup == "past":
            return _Judged("low", "self", "past")
        if aspect and (not times or _PAST.search(pre)):
            if _PAST.search(sentence):
                return _Judged("low", "self", "past")
            if level == "high":
                level = "medium"
        if entry.kind == "mention":
            return _Judged("low", "self", "")
        if level == "high" and _THREAT.search(pre + m.group()[:1]):
            return _Judged("medium", "self", "threat")
        if entry.kind == "self_harm_act" and (
            _DESIRE.search(_URGE_CLAUSE.split(pre)[-1]) or re.match(r"的(?:冲动|念头|想法)", post)
        ):
            return _Judged("medium", "self", "urge")
        if level == "medium" and entry.category == "suicide" and _NOW.search(sentence):
            return _Judged("high", "self", "now")
        return _Judged(level, "self", "")


def overall_level(flags: list[RiskFlag]) -> str:
    return max((f.level for f in flags), key=RANK.__getitem__, default="none")


def asker_level(flags: list[dict] | list[RiskFlag]) -> str:
    """The asker's level: flags of the title and body only (answers' flags gate nothing)."""
    levels = [
        (f.get("level") or "none", f.get("field")) if isinstance(f, dict) else (f.level, f.field)
        for f in flags or []
    ]
    return max((lv for lv, where in levels if where in ASKER_FIELDS), key=RANK.__getitem__, default="none")
