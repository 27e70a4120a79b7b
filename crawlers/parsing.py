"""Page-independent parsing: times (absolute and relative) to ISO 8601, counts to int, HTML to text."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))

_RELATIVE = [
    (re.compile(r"(\d+)\s*秒(?:钟)?前"), "seconds"),
    (re.compile(r"(\d+)\s*分(?:钟)?前"), "minutes"),
    (re.compile(r"(\d+)\s*(?:个)?小时前"), "hours"),
    (re.compile(r"(\d+)\s*天前"), "days"),
    (re.compile(r"(\d+)\s*(?:周|星期)前"), "weeks"),
]
# Coarse forms some pages use for old posts: a month as 30 days, a year as 365.
_RELATIVE_COARSE = [(re.compile(r"(\d+)\s*个?月前"), 30), (re.compile(r"(\d+)\s*年前"), 365)]
_DAY_WORDS = {"今天": 0, "昨天": 1, "前天": 2}
_DAY_WORD_TIME = re.compile(r"(今天|昨天|前天)\s*(?:(\d{1,2})[:：](\d{2}))?")
_FULL_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]*(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?"
)
_MONTH_DAY = re.compile(r"(\d{1,2})\s*[-/月]\s*(\d{1,2})\s*日?(?:\s*(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?")
_TIME_ONLY = re.compile(r"^(\d{1,2})[:：](\d{2})$")


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def parse_time(text: str | None, crawled_at: datetime) -> str | None:
    """A page's time text as ISO 8601 with +08:00; relative forms are resolved against `crawled_at`."""
    if not text:
        return None
    text = " ".join(text.split())
    now = crawled_at.astimezone(CHINA).replace(microsecond=0)
    moment = _parse(text, now)
    return moment.isoformat() if moment else None


def _parse(text: str, now: datetime) -> datetime | None:
    if "刚刚" in text:
        return now
    if "半小时前" in text:
        return now - timedelta(minutes=30)
    for pattern, unit in _RELATIVE:
        m = pattern.search(text)
        if m:
            return now - timedelta(**{unit: int(m.group(1))})
    for pattern, days in _RELATIVE_COARSE:
        m = pattern.search(text)
        if m:
            return now - timedelta(days=days * int(m.group(1)))
    m = _DAY_WORD_TIME.search(text)
    if m:
        day = (now - timedelta(days=_DAY_WORDS[m.group(1)])).date()
        hour, minute = (int(m.group(2)), int(m.group(3))) if m.group(2) else (0, 0)
        return _build(day.year, day.month, day.day, hour, minute, 0)
    m = _FULL_DATE.search(text)
    if m:
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        return _build(y, mo, d, h, mi, s)
    m = _MONTH_DAY.search(text)
    if m:
        mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        moment = _build(now.year, mo, d, h, mi, s)
        # "03-18 21:40" is this year's, unless that lies ahead of the crawl: then last year's.
        if moment and moment > now + timedelta(days=1):
            moment = _build(now.year - 1, mo, d, h, mi, s)
        return moment
    m = _TIME_ONLY.match(text)
    if m:
        return _build(now.year, now.month, now.day, int(m.group(1)), int(m.group(2)), 0)
    return None


def _build(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime | None:
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=CHINA)
    except ValueError:
        return None


_COUNT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*([万wWkK千]?)")
_MULTIPLIER = {"万": 10_000, "w": 10_000, "W": 10_000, "k": 1_000, "K": 1_000, "千": 1_000, "": 1}


def parse_count(text: str | None) -> int | None:
    """'2381', '1.2万', '1,024次浏览', '13个回答', '赞 (3)' -> int; no number -> None."""
    if not text:
        return None
    m = _COUNT.search(text)
    if not m:
        return None
    return int(round(float(m.group(1).replace(",", "")) * _MULTIPLIER[m.group(2)]))


_BREAK = re.compile(r"<\s*br\s*/?\s*>|<\s*/?\s*(?:p|div|li|h[1-6]|blockquote|tr)(?:\s[^>]*)?>", re.I)
_DROP = re.compile(r"<\s*(script|style)[^>]*>.*?<\s*/\s*\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")


def html_to_text(fragment: str | None) -> str:
    """Paragraphs and `<br>` become `\\n`, tags go, entities are decoded, blank lines dropped."""
    if not fragment:
        return ""
    text = _DROP.sub("", fragment)
    text = text.replace("\n", " ")  # source newlines are layout, not content
    text = _BREAK.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def clean_line(text: str | None) -> str | None:
    """One-line text (titles, names): entities decoded, whitespace collapsed; empty -> None."""
    if text is None:
        return None
    text = _SPACE.sub(" ", " ".join(html.unescape(text).split())).strip()
    return text or None
