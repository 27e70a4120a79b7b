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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

LEVELS = ("none", "low", "medium", "high")
RANK = {level: i for i, level in enumerate(LEVELS)}
BUNDLED_LEXICON = Path(__file__).parent / "data" / "risk_lexicon.yaml"
ASKER_FIELDS = ("title", "body")


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
    """The lexicon's trigger words: every entry's match holds one of them."""
    return [str(w) for w in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("triggers") or []]


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
    r"绝对没有?|一点也不|一点都不|有没有|是否|无)[^,，但可却]{0,4}$|(?:不|没|(?<![特分级区])别)$"
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
    r"(?:要是|如果|假如|敢|再逼|再这样|再去|再不|不然|否则|不让)[^。!！?？]{0,16}我(?:就|也)[^,，]{0,3}$"
)
_DESIRE = re.compile(r"想|冲动|念头")
_NOW = re.compile(
    r"今晚|今天晚上|就今天|今天就|明天就|这周就|这个?周末就|周末就|下周就|过几天就|马上就|现在就|等会儿?就|待会儿?就|"
    r"天亮(?:之?前)|决定了|想好了|准备好了"
)


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


def _anchors(nodes, covered) -> frozenset[str] | None:
    """Strings of which every match of a parsed regex holds at least one (None: no such set known).
    Of a sequence's elements (a run of literals counts as one string), a set whose every string holds a
    trigger (`covered`) is preferred, the smallest such."""
    from re import _constants as c

    options: list[frozenset[str]] = []
    run = ""
    for op, arg in [*nodes, (None, None)]:
        if op is c.LITERAL:
            run += chr(arg)
            continue
        if run:
            options.append(frozenset([run]))
            run = ""
        found: frozenset[str] | None = None
        if op is c.IN and arg and arg[0][0] is not c.NEGATE and all(o is c.LITERAL for o, _ in arg):
            found = frozenset(chr(v) for _, v in arg)
        elif op is c.SUBPATTERN:
            found = _anchors(arg[-1], covered)
        elif op is c.BRANCH:
            parts = [_anchors(branch, covered) for branch in arg[1]]
            found = None if any(p is None for p in parts) else frozenset().union(*parts)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[0] >= 1:
            found = _anchors(arg[2], covered)
        if found is not None:
            options.append(found)
    return min(options, key=lambda o: (not all(map(covered, o)), len(o)), default=None)


class RiskScanner:
    def __init__(self, lexicon: list[Entry] | None = None, triggers: list[str] | None = None) -> None:
        self.entries = lexicon if lexicon is not None else load_lexicon()
        # Every match of an entry holds one of its anchor strings, and (checked here) every anchor string
        # holds a trigger word; one alternation of the triggers finds the sentences worth looking at, so
        # text without any (most answers) costs one regex search.
        words = sorted(triggers if triggers is not None else load_triggers(), key=lambda w: (-len(w), w))

        def covered(s: str) -> bool:
            return any(w in s for w in words)

        self.anchors = [_anchors(re._parser.parse(e.regex.pattern), covered) for e in self.entries]
        self.uncovered = [i for i, a in enumerate(self.anchors) if a is None or not all(map(covered, a))]
        # An entry none of whose anchor sets holds a trigger adds its own anchors (slower, never wrong).
        extra = {s for i in self.uncovered for s in self.anchors[i] or ()}
        words = sorted(set(words) | extra, key=lambda w: (-len(w), w))
        scan_all = any(a is None for a in self.anchors)
        self.trigger = re.compile("" if scan_all else "|".join(map(re.escape, words)))
        # Within a sentence, an entry is tried where the rarest character of one of its anchor strings
        # occurs (set intersections in C); entries without anchors are tried on every sentence.
        self.by_char: dict[str, list[int]] = {}
        for i, strings in enumerate(self.anchors):
            for s in strings or {"": None}:
                key = min(s, key=lambda ch: ch in _COMMON) if s else ""
                self.by_char.setdefault(key, []).append(i)
        for i in self.by_char.pop("", []):
            self.by_char.setdefault("", []).append(i)

    def candidates(self, text: str) -> list[int]:
        """Indices of the entries one of whose anchor strings' key characters occurs in `text`."""
        found: set[int] = set(self.by_char.get("", ()))
        for ch in set(text).intersection(self.by_char):
            found.update(self.by_char[ch])
        return sorted(found)

    def _sentences(self, text: str):
        """The sentences of `text` that hold a trigger, each with the sentence before it."""
        previous, last_end = "", -1
        for sm in _SENTENCE.finditer(text):
            if sm.end() > last_end:
                hit = self.trigger.search(text, sm.start())
                if hit is None:
                    return
                last_end = hit.start()
            if sm.start() <= last_end < sm.end():
                yield sm.group(), previous
            previous = sm.group()

    def scan(self, text: str, field: str, answer: bool | None = None) -> list[RiskFlag]:
        """Flags for one field; `answer` (default: the field starts with "answer") applies the
        counsellor rules. One flag per (category, party): the highest level, with its term."""
        if not text:
            return []
        answer = field.startswith("answer") if answer is None else answer
        best: dict[tuple[str, str], RiskFlag] = {}
        for sentence, previous in self._sentences(text):
            entries = self.candidates(sentence)
            carry: str | None | bool = False  # the previous sentence's reported party, when needed
            for i in entries:
                entry = self.entries[i]
                if entry.requires is not None and not entry.requires.search(text):
                    continue
                if entry.near is not None and not entry.near.search(sentence):
                    continue
                for m in entry.regex.finditer(sentence):
                    if carry is False:
                        carry = _reported(previous) if previous else None
                    judged = self._judge(sentence, m, entry, answer, carry)
                    if judged is None:
                        continue
                    term = m.group() + (f" ({judged.note})" if judged.note else "")
                    key = (entry.category, judged.party)
                    if key not in best or RANK[judged.level] > RANK[best[key].level]:
                        best[key] = RiskFlag(entry.category, judged.level, term, field, judged.party)
        return sorted(best.values(), key=lambda f: (-RANK[f.level], f.category, f.party))

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
        party = named or carry or "self"
        if _GENERIC_AFTER.search(post):
            party = "general"
        if party in ("general", "second"):
            return None if answer else _Judged("low", "general", "")
        if party == "third":
            return _Judged("low", "third", "third party")
        times = list(re.finditer(f"(?P<past>{_PAST.pattern})|(?P<now>{_PRESENT.pattern})", pre))
        aspect = re.search("过(?!去)", m.group() + post[:1]) is not None
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
            _DESIRE.search(clause_pre) or re.match(r"的(?:冲动|念头|想法)", post)
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
