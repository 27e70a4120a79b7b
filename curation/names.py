"""Person names in free text ("我男朋友小王", "他妈妈李秀英"): found with POS tags (jieba-rs), then scrubbed.

The tagger tags person names `nr`, but also literary characters used as figures of speech (祥林嫂, 林黛玉),
therapy schools (萨提亚), brands (华为) and plain words (安全感). A token counts as a name only when it
looks like one: a common surname and a given name, 小/老/阿 and a surname, or any `nr` token right
after a relation word ("我女朋友晓雯"). Public figures, literary characters and the names of therapies
stay (`KEEP`), as does a surname with a title ("李老师": a surname alone names nobody).
`bench/names.py` measures precision and recall on a labelled set.
"""

from __future__ import annotations

import re
from functools import lru_cache

NAME_PLACEHOLDER = "<NAME>"

# the ~130 most common single surnames (over 90% of people) and the compound ones still met
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾萧肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向"
    "汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单"
    "季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "司徒")

# Public figures, literary characters (often figures of speech), therapies and schools of thought.
KEEP = frozenset(
    """弗洛伊德 荣格 阿德勒 马斯洛 罗杰斯 埃里克森 皮亚杰 斯金纳 巴甫洛夫 华生 贝克 埃利斯 温尼科特 克莱因
    拉康 科胡特 鲍尔比 萨提亚 森田 森田正马 武志红 李玫瑾 曾奇峰 张德芬 鲁迅 孔子 老子 庄子 孟子 苏轼 李白
    杜甫 王阳明 毛泽东 周杰伦 林黛玉 贾宝玉 薛宝钗 王熙凤 祥林嫂 阿Q 孔乙己 诸葛亮 曹操 刘备 关羽 张飞 孙悟空
    猪八戒 唐僧 哪吒 白雪公主 灰姑娘 林妹妹 宝玉 黛玉 武松 潘金莲 西门庆 包青天 雷锋 愚公 鲁滨逊 哈姆雷特
    安全感 高兴 万一 常常 于是 方便 成就感 白白 温柔 安静 向往 文静 江湖 龙卷风 金钱 石头 黄金 高考 马上
    华为 苏宁 易经 周末 周岁 周年 钟点 黎明 明明 乔迁 时时 时光 路人 连连 关关 宁愿 甘心 单身 项目 简单 车上""".split()
)
THEORY_AFTER = ("疗法", "模式", "理论", "效应", "定律", "学派", "主义", "心理学", "治疗", "式", "体")
TITLES = (
    "老师",
    "先生",
    "女士",
    "小姐",
    "医生",
    "大夫",
    "教授",
    "同学",
    "经理",
    "总",
    "姐",
    "哥",
    "阿姨",
    "叔叔",
)
RELATIONS = re.compile(
    r"(?:男朋友|女朋友|男友|女友|老公|老婆|丈夫|妻子|前任|前男友|前女友|对象|室友|同事|闺蜜|同学|朋友|领导|上司|老板|"
    r"婆婆|公公|表哥|表姐|表妹|表弟|堂哥|堂姐|哥哥|姐姐|弟弟|妹妹|爸爸|妈妈|儿子|女儿|男生|女生|叫|名叫|叫做)$"
)


@lru_cache(maxsize=1)
def _posseg():
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)
    return jieba.posseg


def _has_surname(word: str) -> bool:
    return word[0] in SURNAMES or word.startswith(COMPOUND_SURNAMES)


@lru_cache(maxsize=1)
def _word_freq() -> dict[str, int]:
    _posseg()
    import jieba

    jieba.initialize()
    return jieba.dt.FREQ


# jieba's own dictionary knows common words and famous people (谢谢 1089, 华为 373, 宋江 2862); the
# names of private people are mostly not in it (张伟, 刘洋: found by its HMM) or rare (王建国 12).
COMMON_WORD_FREQ = 50


def _is_name(word: str, before: str, after: str) -> bool:
    if not 2 <= len(word) <= 4 or word in KEEP or word[:2] in KEEP or after.startswith(THEORY_AFTER):
        return False
    for title in TITLES:
        if word.endswith(title) and len(word) - len(title) <= 1:
            return False  # 李老师, 王总: a surname and a title
    if RELATIONS.search(before):
        return True
    if _word_freq().get(word, 0) >= COMMON_WORD_FREQ:
        return False
    if word[0] in "小老阿" and len(word) == 2:
        return word[1] in SURNAMES
    return _has_surname(word)


# a verb the tagger can glue onto a two-character name ("我和张伟谈了三年")
_VERB_AFTER_NAME = frozenset("谈说讲跟给对让叫问找吵")

# what a given name is not: verbs, prepositions, adverbs, conjunctions, particles, numbers, times, pronouns
_NOT_GIVEN = ("v", "p", "d", "c", "u", "m", "t", "r", "f", "x", "y", "e", "q")


def _split_name(tokens: list[tuple[str, str]], i: int) -> int:
    """Tokens from i that jieba cut out of one name after a relation word ("表姐|周|婷婷"): how many, or 0."""
    for k in (1, 2):  # 小/老/阿 and a surname ("室友|小|曾", "同事|小何"), whatever the tags say
        word = "".join(w for w, _ in tokens[i : i + k])
        if len(tokens) >= i + k and len(word) == 2 and word[0] in "小老阿" and word[1] in SURNAMES:
            return k
    for k in (3, 2):
        group = tokens[i : i + k]
        word = "".join(w for w, _ in group)
        if len(group) < k or not 2 <= len(word) <= 3:
            continue
        if any(
            flag.startswith(_NOT_GIVEN) or not re.fullmatch(r"[\u4e00-\u9fff]+", w) for w, flag in group[1:]
        ):
            continue
        starts = word[0] in SURNAMES or (word[0] in "小老阿" and len(word) == 2 and word[1] in SURNAMES)
        if starts and word not in KEEP and _word_freq().get(word, 0) < COMMON_WORD_FREQ:
            return k
    return 0


@lru_cache(maxsize=1)
def _tagger():
    import rjieba

    return rjieba.Jieba()


@lru_cache(maxsize=1 << 16)
def _block_tokens(block: str, dictionary: tuple[int, ...]) -> tuple[tuple[str, str], ...]:
    # `dictionary` only keys the cache: words added to jieba later must not meet stale cuts
    return tuple(_tagger().tag(block, hmm=True))


_RELATION_IN = re.compile(RELATIONS.pattern.removesuffix("$"))
_SURNAME_CHARS = SURNAMES | {name[0] for name in COMPOUND_SURNAMES}
_THEORY_FIRST = frozenset(word[0] for word in THEORY_AFTER)
_AFTER_RELATION = 4  # blocks after one with a relation word that are always cut (a split name's reach)


def _can_skip(block: str) -> bool:
    """A block no name can start in: no surname, no relation word, not the start of a theory name."""
    return (
        not _SURNAME_CHARS.intersection(block)
        and block[:1] not in _THEORY_FIRST
        and not _RELATION_IN.search(block)
    )


def pos_tokens(text: str, skip: bool = False) -> list[tuple[str, str]]:
    """(word, flag) as jieba-rs tags the whole text, tagged block by block with a cache.

    jieba cuts each run of Chinese characters, letters and digits on its own (`re_han_internal`), so
    the tokens of a text are those of its blocks in turn; counselling posts repeat stock sentences,
    and tagging is most of the time a name search takes. With `skip`, a block that
    cannot hold a name (nor give a name before it its context) stays one token flagged "": the names
    `find_names` finds are the same.
    """
    posseg = _posseg()
    posseg.dt.tokenizer.check_initialized()
    tokenizer = posseg.dt.tokenizer
    dictionary = (id(tokenizer.FREQ), len(tokenizer.FREQ), tokenizer.total, len(posseg.dt.word_tag_tab))
    tokens: list[tuple[str, str]] = []
    since_relation = _AFTER_RELATION + 1
    for block in posseg.re_han_internal.split(text):
        if not block:
            continue
        since_relation += 1
        if skip and since_relation > _AFTER_RELATION and _can_skip(block):
            tokens.append((block, ""))
            continue
        if skip and _RELATION_IN.search(block):
            since_relation = 0
        tokens += _block_tokens(block, dictionary)
    return tokens


def find_names(text: str, tokens: list[tuple[str, str]] | None = None) -> list[tuple[int, int, str]]:
    """(start, end, name) of each person name in `text` (`tokens`: its jieba POS tokens, if cut)."""
    if not text:
        return []
    tokens = pos_tokens(text, skip=True) if tokens is None else tokens
    out, pos, i = [], 0, 0
    while i < len(tokens):
        word, flag = tokens[i]
        before = tokens[i - 1][0] if i else ""
        after = tokens[i + 1][0] if i + 1 < len(tokens) else ""
        if flag == "nr" and _is_name(word, before, after):
            name = word[:2] if len(word) == 3 and word[2] in _VERB_AFTER_NAME else word
            out.append((pos, pos + len(name), name))
        elif RELATIONS.search(before) and (k := _split_name(tokens, i)):
            name = "".join(w for w, _ in tokens[i : i + k])
            out.append((pos, pos + len(name), name))
            pos, i = pos + len(name), i + k
            continue
        pos += len(word)
        i += 1
    return out


def scrub_names(text: str) -> tuple[str, int]:
    """(`text` with person names replaced by NAME_PLACEHOLDER, how many)."""
    hits = find_names(text)
    if not hits:
        return text, 0
    parts, last = [], 0
    for start, end, _ in hits:
        parts += [text[last:start], NAME_PLACEHOLDER]
        last = end
    parts.append(text[last:])
    return "".join(parts), len(hits)
