"""Chinese PII: find identifiers and replace them by typed placeholders.

Public API (the release stage's `verify` uses it): `scrub(text)` -> `ScrubResult(.text, .found)` and
`find(text)` -> list of `PiiHit`. Every number is checked by what it must be (a mobile prefix, an area
code, the GB 11643 check digit, Luhn), and QQ/WeChat ids only count after a cue word, so dates, ages,
money, scores and order numbers stay as they are.
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from curation.text import CodeMap

PLACEHOLDERS = {
    "EMAIL": "<EMAIL>",
    "URL": "<URL>",
    "ID_CARD": "<ID_CARD>",
    "BANK_CARD": "<BANK_CARD>",
    "QQ": "<QQ>",
    "WECHAT": "<WECHAT>",
    "PHONE": "<PHONE>",
    "LANDLINE": "<LANDLINE>",
}
KINDS = tuple(PLACEHOLDERS)
PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))


@dataclass(frozen=True)
class PiiHit:
    kind: str
    start: int
    end: int
    value: str


@dataclass
class ScrubResult:
    text: str
    found: list[PiiHit] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for hit in self.found:
            out[hit.kind] = out.get(hit.kind, 0) + 1
        return out


# Same-length folding keeps spans valid in the original text: full-width ASCII, ideographic space,
# and the many dash characters people type between digit groups.
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD.update({0x3000: 0x20, 0x00A0: 0x20, 0x2010: 0x2D, 0x2011: 0x2D, 0x2012: 0x2D, 0x2013: 0x2D})
_FOLD.update({0x2014: 0x2D, 0x2015: 0x2D, 0x2212: 0x2D, 0x30FC: 0x2D, 0xFE63: 0x2D, 0x3002: 0x3002})


_FOLD_MAP = CodeMap(_FOLD)


def fold(text: str) -> str:
    return _FOLD_MAP(text)


S = r"[ \-.]{0,3}"  # what may sit between digits of a spaced or dashed spelling ("010 - 1234")
_NOT_ID = re.compile(
    r"(订单|单号|编号|运单|快递|流水|工号|学号|序号|批号|型号|版本|条码|货号|准考证|发票|邮编)"
)
_BANK_CUE = re.compile(r"(卡号|银行卡|账号|帐号|储蓄卡|信用卡|借记卡|转账|打款|收款)")

# Every repeat that can meet a long run of its own characters is bounded (by what an address allows:
# 64-char local part, 63-char labels), so a match attempt costs at most a constant however long the
# run: scanning stays linear in the text (an unbounded local part rescans a run of letters from each
# of its starts up to the `@`: quadratic). tests/curation/test_pii.py checks the growth.
EMAIL_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}"
)
_TLDS = (
    "com|cn|net|org|edu|gov|info|biz|io|co|me|cc|tv|top|xyz|site|vip|club|app|online|shop|store|"
    "wang|ink|link|hk|tw|us|uk|jp|de|fm|ly|so|la|tech|pro|mobi|asia|name|work|live|fun|icu|life"
)
URL_RE = re.compile(
    r"(?:(?:https?|ftp)://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+"
    r"|(?<![A-Za-z0-9@.\-_])(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+(?:" + _TLDS + r")"
    r"(?![A-Za-z0-9\-])(?::\d{2,5})?(?:/[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*)?",
    re.IGNORECASE,
)
ID_RE = re.compile(r"(?<![\dA-Za-z])[1-9](?:" + S + r"\d){16}" + S + r"[\dXx](?![\dA-Za-z])")
BANK_RE = re.compile(r"(?<![\dA-Za-z])[1-9](?:" + S + r"\d){15,18}(?![\dA-Za-z])")
PHONE_RE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)?86" + S + r"|\(\s?(?:\+|00)?86\s?\)" + S + r"|【\+?86】)?"
    r"1" + S + r"[3-9](?:" + S + r"\d){9}(?!\d)"
)
LANDLINE_RE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)86"
    + S
    + r"\(?0?[1-9]\d{1,2}\)?|\(\s?0\d{2,3}\s?\)|0\d{2,3})"
    + S
    + r"[1-9](?:"
    + S
    + r"\d){6,7}(?:\s?(?:转|分机|ext\.?|-)\s?\d{1,5})?(?!\d)",
    re.IGNORECASE,
)
_CUE_FILL = r"(?:\s|[:：是为=]|号码|号|账号|帐号|id|搜索|搜|加|->){0,6}"
QQ_RE = re.compile(
    r"(?<![A-Za-z])(?:q\s?q|扣扣|企鹅|q号|q(?=\s?[:：]))(?:群号?)?"
    + _CUE_FILL
    + r"([1-9](?:"
    + S
    + r"\d){4,11})(?!\d)",
    re.IGNORECASE,
)
WECHAT_RE = re.compile(
    r"(?<![A-Za-z])(?:微\s?信|薇信|威信|维信|徽信|卫星|v\s?信|微\s?x|wei\s?xin|we\s?chat|v\s?x|wx|加v|加微|"
    r"[+＋➕]\s?v|vx号|v号|v(?=\s?[:：]))"
    + _CUE_FILL
    # a letter-led id (WeChat's rule; 4-5 chars only with a digit, so 微信 hello stays), or the phone
    # or QQ number many people use as their WeChat id
    + r"(wxid_[A-Za-z0-9_]{4,30}|[A-Za-z][A-Za-z0-9_\-]{5,19}|[A-Za-z](?=[A-Za-z_\-]{0,3}\d)[A-Za-z0-9_\-]{3,4}"
    r"|1" + S + r"[3-9](?:" + S + r"\d){9}|[1-9]\d{5,10})(?![A-Za-z0-9_\-])",
    re.IGNORECASE,
)


def _digits(value: str) -> str:
    return re.sub(r"[^0-9Xx]", "", value).upper()


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _valid_birth(digits: str) -> bool:
    try:
        born = date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2100


def valid_id_card(value: str) -> bool:
    digits = _digits(value)
    if len(digits) != 18 or not digits[:17].isdigit() or digits[0] not in "12345678":
        return False
    return _valid_birth(digits) and id_check_digit(digits[:17]) == digits[17]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _before(text: str, start: int, width: int = 10) -> str:
    return text[max(0, start - width) : start]


def _accept_bank(folded: str, m: re.Match[str]) -> bool:
    digits = _digits(m.group())
    if not 16 <= len(digits) <= 19 or not luhn_ok(digits):
        return False
    if _followed_by_unit(folded, m) or (len(digits) == 18 and _valid_birth(digits)):
        return False  # shaped like an ID number whose check digit failed: a typo'd ID, not a card
    context = _before(folded, m.start())
    return not (_NOT_ID.search(context) and not _BANK_CUE.search(context))


def _accept_landline(folded: str, m: re.Match[str]) -> bool:
    value = re.split(r"转|分机|ext|EXT|Ext", m.group())[0]
    digits = _digits(value)
    if value.startswith(("+86", "0086")):
        digits = digits[4:] if value.startswith("0086") else digits[2:]
        digits = digits if digits.startswith("0") else "0" + digits
    area3, area4 = digits[:3], digits[:4]
    ok = (area3 == "010" or area3.startswith("02")) and len(digits) == 11
    ok = ok or (digits[1:2] in "3456789" and len(area4) == 4 and len(digits) in (11, 12))
    return ok and not _NOT_ID.search(_before(folded, m.start()))


_UNIT_AFTER = frozenset("元块万亿人次个岁年月日分秒米件位台张%")
_COUNT_UNITS = _UNIT_AFTER | frozenset("步条斤天遍")


def _followed_by_unit(folded: str, m: re.Match[str]) -> bool:
    return folded[m.end() : m.end() + 1] in _UNIT_AFTER if m.end() < len(folded) else False


def _count_after_cue(folded: str, m: re.Match[str]) -> bool:
    """A number after a WeChat cue but before a unit is a count: 微信运动 12000 步, 微信转我 300 块."""
    rest = folded[m.end(1) : m.end(1) + 3].lstrip(" ")
    return bool(rest) and rest[0] in _COUNT_UNITS


def _accept_phone(folded: str, m: re.Match[str]) -> bool:
    return not _NOT_ID.search(_before(folded, m.start(), 6)) and not _followed_by_unit(folded, m)


def _always(folded: str, m: re.Match[str]) -> bool:
    return True


Detector = tuple[str, re.Pattern[str], Callable[[str, re.Match[str]], bool], int]
# Order matters: the most specific shapes claim their span first (an ID number holds a phone-shaped run).
DETECTORS: tuple[Detector, ...] = (
    ("EMAIL", EMAIL_RE, _always, 0),
    ("URL", URL_RE, _always, 0),
    ("ID_CARD", ID_RE, lambda f, m: valid_id_card(m.group()), 0),
    ("BANK_CARD", BANK_RE, _accept_bank, 0),
    ("QQ", QQ_RE, _always, 1),
    ("WECHAT", WECHAT_RE, lambda f, m: not _count_after_cue(f, m), 1),
    ("PHONE", PHONE_RE, _accept_phone, 0),
    ("LANDLINE", LANDLINE_RE, _accept_landline, 0),
)


_NEEDS_FOLD = re.compile(r"[\uff01-\uff5e\u3000\u00a0\u2010-\u2015\u2212\u30fc\ufe63]")
_FIVE_DIGITS = re.compile(r"\d(?:[ \-.()]{0,3}\d){4}")
_WECHAT_HINT = re.compile(r"[A-Za-z]|[微薇威维徽]\s?信|卫星|加微")
_URL_HINT = re.compile(r"[A-Za-z0-9]\.[A-Za-z]|://")


def _worth_scanning(kind: str, folded: str, has_digits: bool) -> bool:
    """Cheap gates that skip a detector when its pattern cannot match (most text has no identifiers)."""
    if kind == "EMAIL":
        return "@" in folded
    if kind == "URL":
        return _URL_HINT.search(folded) is not None
    if kind == "WECHAT":
        return _WECHAT_HINT.search(folded) is not None  # a Latin cue or id, or a Chinese cue
    return has_digits


def find(text: str) -> list[PiiHit]:
    """Every identifier in `text`, sorted by position, spans never overlapping."""
    if not text:
        return []
    folded = fold(text) if _NEEDS_FOLD.search(text) else text
    has_digits = _FIVE_DIGITS.search(folded) is not None
    taken: list[tuple[int, int]] = []  # sorted, never overlapping: a lookup is a bisection
    hits: list[PiiHit] = []
    for kind, pattern, accept, group in DETECTORS:
        if not _worth_scanning(kind, folded, has_digits):
            continue
        claimed: list[tuple[int, int]] = []  # this detector's spans, in order (finditer never overlaps)
        for m in pattern.finditer(folded):
            start, end = m.span(group)
            if _overlaps(taken, start, end) or (claimed and start < claimed[-1][1]):
                continue
            if not accept(folded, m):
                continue
            if kind == "URL":
                end = start + len(folded[start:end].rstrip(".,;:!?)'"))
            claimed.append((start, end))
            hits.append(PiiHit(kind, start, end, text[start:end]))
        taken = list(heapq.merge(taken, claimed))
    hits.sort(key=lambda h: h.start)
    return hits


def _overlaps(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    i = bisect.bisect_left(taken, (start, -1))
    return (i > 0 and taken[i - 1][1] > start) or (i < len(taken) and taken[i][0] < end)


def scrub(text: str) -> ScrubResult:
    """`text` with each identifier replaced by its placeholder, and what was found."""
    hits = find(text)
    if not hits:
        return ScrubResult(text, [])
    parts: list[str] = []
    cursor = 0
    for hit in hits:
        parts.append(text[cursor : hit.start])
        parts.append(PLACEHOLDERS[hit.kind])
        cursor = hit.end
    parts.append(text[cursor:])
    return ScrubResult("".join(parts), hits)
