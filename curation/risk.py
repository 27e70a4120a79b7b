"""Self-harm and suicide risk flags: a lexicon with levels plus context rules.

Context rules, decided deliberately:
- Denial ("从来没想过自杀", "不会自杀"): no flag; the writer says it is not there.
- Cessation ("不想自杀了", "不再想死了"): a *low* flag, not none: it tells of past ideation, which a
  counsellor would still want to know about.
- Third person or abstract ("朋友自杀", "如何预防自杀", "自杀新闻"): low.
- Past, with a time marker in the same clause ("以前想过自杀", "那时候确实想过自杀"): low.
- Text in answers is capped at low: counsellors name risks to address them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

LEVELS = ("none", "low", "medium", "high")
RANK = {level: i for i, level in enumerate(LEVELS)}

# (term, category, level): the lexicon; an extra YAML file can add entries.
LEXICON: list[tuple[str, str, str]] = [
    ("自杀", "suicide", "medium"),
    ("轻生", "suicide", "medium"),
    ("寻死", "suicide", "medium"),
    ("想死", "suicide", "medium"),
    ("去死", "suicide", "medium"),
    ("不想活", "suicide", "high"),
    ("活不下去", "suicide", "high"),
    ("活着没意思", "suicide", "medium"),
    ("活着没有意义", "suicide", "medium"),
    ("结束自己的生命", "suicide", "high"),
    ("结束生命", "suicide", "high"),
    ("了结自己", "suicide", "high"),
    ("一了百了", "suicide", "high"),
    ("离开这个世界", "suicide", "medium"),
    ("跳楼", "suicide", "high"),
    ("跳河", "suicide", "high"),
    ("上吊", "suicide", "high"),
    ("烧炭", "suicide", "high"),
    ("安眠药", "suicide", "medium"),
    ("吞药", "suicide", "high"),
    ("遗书", "suicide", "high"),
    ("自残", "self_harm", "medium"),
    ("自伤", "self_harm", "medium"),
    ("割腕", "self_harm", "high"),
    ("划手", "self_harm", "medium"),
    ("伤害自己", "self_harm", "medium"),
    ("杀了他", "harm_others", "medium"),
    ("同归于尽", "harm_others", "high"),
]
# Words that make a mention about a plan concrete: raise medium to high.
_PLAN = re.compile(r"(计划|准备|打算|已经买|买好|写好|今晚|明天就|决定)")
_DENIAL = re.compile(r"(从来没有?想过|从没想过|没有想过|没想过|不会|绝不会|并不想|从不想|没有|不|没)\s*$")
_CESSATION_BEFORE = re.compile(r"(不想|不再|再也不|已经不|不|没)\s*$")
_PAST = re.compile(r"(以前|曾经|过去|那时|当时|年前|小时候|之前)")
_THIRD_PERSON = re.compile(
    r"(朋友|同学|同事|室友|他|她|别人|家人|新闻|电影|小说|如何预防|预防|防止|怎样看待|关于)[^。！？\n]{0,6}$"
)


@dataclass(frozen=True)
class RiskFlag:
    category: str
    level: str
    term: str
    field: str

    def to_dict(self) -> dict[str, str]:
        return {"category": self.category, "level": self.level, "term": self.term, "field": self.field}


def load_lexicon(extra: str | Path | None) -> list[tuple[str, str, str]]:
    lexicon = list(LEXICON)
    if extra:
        data = yaml.safe_load(Path(extra).read_text(encoding="utf-8")) or []
        for entry in data:
            lexicon.append(
                (str(entry["term"]), str(entry.get("category", "suicide")), str(entry.get("level", "medium")))
            )
    # longest terms first, so "不想活" wins over a shorter overlapping term
    return sorted(lexicon, key=lambda e: -len(e[0]))


class RiskScanner:
    def __init__(self, lexicon: list[tuple[str, str, str]] | None = None) -> None:
        self.lexicon = lexicon or load_lexicon(None)
        self.by_term = {term: (category, level) for term, category, level in self.lexicon}
        self.pattern = re.compile("|".join(re.escape(term) for term, _, _ in self.lexicon))

    def scan(self, text: str, field: str, cap: str | None = None) -> list[RiskFlag]:
        flags: dict[tuple[str, str], RiskFlag] = {}
        for m in self.pattern.finditer(text):
            term = m.group()
            category, level = self.by_term[term]
            before = text[max(0, m.start() - 12) : m.start()]
            after = text[m.end() : m.end() + 3]
            clause_start = max(before.rfind(p) for p in "，。！？,.!?;；\n") + 1
            clause = before[clause_start:]
            if _CESSATION_BEFORE.search(clause) and "了" in after:
                level, term = "low", f"{term} (no longer)"
            elif _DENIAL.search(clause):
                continue
            elif _THIRD_PERSON.search(clause) or _PAST.search(clause):
                level = "low"
            elif level == "medium" and _PLAN.search(clause + text[m.end() : m.end() + 12]):
                level = "high"
            if cap and RANK[level] > RANK[cap]:
                level = cap
            key = (category, field)
            if key not in flags or RANK[level] > RANK[flags[key].level]:
                flags[key] = RiskFlag(category, level, term, field)
        return list(flags.values())


def overall_level(flags: list[RiskFlag]) -> str:
    return max((f.level for f in flags), key=RANK.__getitem__, default="none")
