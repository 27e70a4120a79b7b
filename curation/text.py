"""Text helpers: normalisation, the dedup key, Chinese share and Gopher-style repetition ratios."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

import numpy as np
import opencc

_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|/h\d|p|div|li)\b[^>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff]"
)
_SPACES = re.compile(r"[ \t\f\v\u00a0\u3000]+")
_CJK_SPACE = re.compile(r"(?<=[\u4e00-\u9fff，。！？、；：]) (?=[\u4e00-\u9fff，。！？、；：])")


class CodeMap:
    """`str.translate` of a one-to-one map of code points, through a lookup table: translate with a
    dict costs a dict lookup per character, 5x the time on Chinese text."""

    def __init__(self, mapping: dict[int, int]) -> None:
        self.lut = np.arange(0x110000, dtype=np.uint32)
        self.lut[list(mapping)] = list(mapping.values())

    def __call__(self, text: str) -> str:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        return self.lut[codes].tobytes().decode("utf-32-le")


# Chinese punctuation stays full-width: what NFKC would turn into ASCII (，？！：；（）～) and what it
# would spell out (…… -> ......, ① -> 1, ︰ -> :). Full-width letters, digits and symbols become ASCII.
KEEP_FULL_WIDTH = "，？！：；（）～"
_TO_ASCII = CodeMap(
    {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F) if chr(code) not in KEEP_FULL_WIDTH}
    | {0x3000: 0x20}
)
_PROTECTED = (
    "[" + KEEP_FULL_WIDTH + "\u2025\u2026\u2460-\u24ff\u2776-\u2793\u3000-\u303f\u3251-\u32bf"
    "\u3280-\u3289\ufe10-\ufe19\ufe30-\ufe4f]+"
)
_PROTECTED_RUN = re.compile(_PROTECTED)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_CJK_BEFORE = f"[{_CJK}”’）》」』】〉…]"
_CJK_AFTER = f"[{_CJK}“‘（《「『【〈]"
_ASCII_TO_FULL = str.maketrans(",?!:;()", "，？！：；（）")
# `,?!:;` after a Chinese character and before one (or at the end of a line): "难受,不知道怎么办?"
_ASCII_PUNCT = re.compile(f"(?<={_CJK_BEFORE}) ?([,?!:;]+) ?(?={_CJK_AFTER}|$)", re.MULTILINE)
# a pair of parentheses with Chinese inside, or between Chinese characters: "(重发)", "我(女)今年"
_ASCII_PARENS = re.compile(
    f"\\(([^()\\n]*[{_CJK}][^()\\n]*)\\)|(?<={_CJK_BEFORE})\\(([^()\\n]*)\\)(?={_CJK_AFTER})"
)


def _nfkc_outside_punctuation(text: str) -> str:
    if unicodedata.is_normalized("NFKC", text):
        return text
    out, last = [], 0
    for m in _PROTECTED_RUN.finditer(text):
        out.append(unicodedata.normalize("NFKC", text[last : m.start()]))
        out.append(m.group())
        last = m.end()
    out.append(unicodedata.normalize("NFKC", text[last:]))
    return "".join(out)


def fold_widths(text: str) -> str:
    """Full-width Latin letters, digits and symbols to ASCII, NFKC elsewhere; Chinese punctuation kept."""
    return _nfkc_outside_punctuation(_TO_ASCII(text))


def _full_parens(m: re.Match[str]) -> str:
    inner = m.group(1) if m.group(1) is not None else m.group(2)
    return f"（{inner}）"


def cjk_punctuation(text: str) -> str:
    """ASCII `, ? ! : ; ( )` typed between Chinese characters become their full-width forms."""
    if not any(c in text for c in ",?!:;("):
        return text
    text = _ASCII_PARENS.sub(_full_parens, text)
    return _ASCII_PUNCT.sub(lambda m: m.group(1).translate(_ASCII_TO_FULL), text)


@lru_cache(maxsize=8)
def converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def normalise(text: str | None, opencc_config: str = "t2s") -> str:
    """HTML leftovers out, widths folded (Chinese punctuation kept), traditional to simplified, control
    chars out, whitespace collapsed, ASCII punctuation between Chinese characters made full-width.

    Paragraph breaks stay as single newlines (the raw contract joins paragraphs with `\\n`).
    """
    if not text:
        return ""
    if "<" in text or "&" in text:
        text = _BLOCK_TAG.sub("\n", text)
        text = _ANY_TAG.sub("", text)
        text = html.unescape(text)
    text = fold_widths(text)
    text = converter(opencc_config).convert(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = (_CJK_SPACE.sub("", _SPACES.sub(" ", line)).strip() for line in text.split("\n"))
    return cjk_punctuation("\n".join(line for line in lines if line))


_KEY_DROP = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"[1-9]")


@lru_cache(maxsize=1 << 13)  # the answer filter and the signatures step key the same answers in turn
def dedup_key(text: str) -> str:
    """Widths folded (① -> 1), lowercase, digits to 0, punctuation and whitespace out: what reposts share.

    Keys are made of normalised text, which is already in simplified script. Punctuation goes first:
    what is left is most often NFKC-normal already (Chinese punctuation and ellipses are most of what
    NFKC would change), and what NFKC spells out is dropped after it ("⑴" -> "(1)" -> "1").
    """
    key = _KEY_DROP.sub("", text)
    if not unicodedata.is_normalized("NFKC", key):
        key = _KEY_DROP.sub("", unicodedata.normalize("NFKC", key))
    return _DIGITS.sub("0", key.lower())


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


_PLACEHOLDER = re.compile(r"<[A-Z_]+>")


# letters of other scripts: Latin, Greek, Cyrillic, kana, Hangul
_OTHER_LETTER_RANGES = (
    (0x41, 0x5A),
    (0x61, 0x7A),
    (0xC0, 0x24F),
    (0x370, 0x4FF),
    (0x3040, 0x30FF),
    (0xAC00, 0xD7AF),
)


_CJK_CHARS = re.compile("[\u4e00-\u9fff\u3400-\u4dbf]+")
_OTHER_LETTERS = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _OTHER_LETTER_RANGES) + "]+")


def zh_share(text: str) -> float:
    """Chinese characters among letters (str.isalpha counts CJK as letters, so split them out)."""
    if "<" in text:
        text = _PLACEHOLDER.sub("", text)
    cjk = len(text) - len(_CJK_CHARS.sub("", text))
    other = len(text) - len(_OTHER_LETTERS.sub("", text))
    return cjk / (cjk + other) if cjk + other else 0.0


# ----------------------------------------------------------------------------- n-gram hashing
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_BASE = np.uint64(0x100000001B3)


def codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _mix(h: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser: spreads polynomial n-gram hashes over all 64 bits
    h = (h ^ (h >> np.uint64(30))) * _MIX1
    h = (h ^ (h >> np.uint64(27))) * _MIX2
    return h ^ (h >> np.uint64(31))


def ngram_hashes(codes: np.ndarray, n: int) -> np.ndarray:
    """One 64-bit hash per position of each n-gram of `codes` (all of it when shorter than n)."""
    with np.errstate(over="ignore"):
        if len(codes) < n:
            h = np.zeros(1, dtype=np.uint64)
            for c in codes:
                h = h * _BASE + c
            return _mix(h)
        count = len(codes) - n + 1
        h = codes[:count].copy()
        for k in range(1, n):
            h = h * _BASE + codes[k : k + count]
        return _mix(h)


def char_shingles(key: str, n: int) -> np.ndarray:
    """Sorted unique hashes of the character n-grams of a dedup key."""
    return np.unique(ngram_hashes(codepoints(key), n))


def word_shingles(key: str, n: int) -> np.ndarray:
    import jieba

    words = [w for w in jieba.lcut(key) if w.strip()]
    ids = np.array([hash_token(w) for w in words], dtype=np.uint64)
    return np.unique(ngram_hashes(ids, n))


def hash_token(token: str) -> int:
    import xxhash

    return xxhash.xxh3_64_intdigest(token.encode("utf-8"))


# ----------------------------------------------------------------------------- repetition
def _dup_fraction(codes: np.ndarray, n: int) -> float:
    """Share of characters covered by n-grams that occur more than once."""
    if len(codes) < 2 * n:
        return 0.0
    hashes = ngram_hashes(codes, n)
    order = np.argsort(hashes, kind="stable")
    same = hashes[order][1:] == hashes[order][:-1]
    repeated = np.zeros(len(hashes), dtype=bool)
    repeated[1:] |= same
    repeated[:-1] |= same
    starts = np.empty_like(repeated)
    starts[order] = repeated
    if not starts.any():
        return 0.0
    covered = np.convolve(starts.astype(np.int32), np.ones(n, dtype=np.int32))[: len(codes)] > 0
    return float(covered.sum()) / len(codes)


def _top_fraction(codes: np.ndarray, n: int) -> float:
    if len(codes) < 2 * n:
        return 0.0
    _, counts = np.unique(ngram_hashes(codes, n), return_counts=True)
    return float(counts.max() * n) / len(codes)


def repetition(text: str) -> dict[str, float]:
    """Gopher-style ratios over characters (Chinese has no spaces to split words on)."""
    lines = [line for line in text.split("\n") if line.strip()]
    seen: dict[str, int] = {}
    for line in lines:
        seen[line] = seen.get(line, 0) + 1
    total = sum(len(line) for line in lines) or 1
    dup_lines = sum(len(line) * c for line, c in seen.items() if c > 1) / total
    codes = codepoints(dedup_key(text))
    return {
        "dup_line_frac": round(dup_lines, 4),
        "top_2gram_frac": round(_top_fraction(codes, 2), 4),
        "dup_10gram_frac": round(_dup_fraction(codes, 10), 4),
    }


# ----------------------------------------------------------------------------- batches of keys
def char_shingle_batch(keys: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n-gram hashes of many keys at once: flat (repeats kept) and row offsets (len(keys) + 1).

    Row i holds what `ngram_hashes(codepoints(keys[i]), n)` gives, so its unique values are
    `char_shingles(keys[i], n)`; one pass over the joined text replaces a dozen numpy calls per key.
    """
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    codes = codepoints("".join(keys))
    ends = np.cumsum(lengths)
    starts = ends - lengths
    width = max(0, len(codes) - n + 1)
    with np.errstate(over="ignore"):
        rolled = codes[:width].copy()
        for k in range(1, n):
            rolled = rolled * _BASE + codes[k : k + width]
    # a window starting in a key's last n - 1 characters runs into the next key
    valid = np.ones(width, dtype=bool)
    crossing = ends[:, None] - np.arange(1, n)[None, :]
    valid[crossing[(crossing >= starts[:, None]) & (crossing < width)]] = False
    counts = np.maximum(lengths - n + 1, 1)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    flat = np.empty(int(offsets[-1]), dtype=np.uint64)
    flat[np.repeat(lengths >= n, counts)] = _mix(rolled[valid])
    for i in np.flatnonzero(lengths < n).tolist():  # shorter than n: one hash of the whole key
        flat[offsets[i]] = ngram_hashes(codes[starts[i] : ends[i]], n)[0]
    return flat, offsets


def unique_counts(flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Distinct values per row of a flat array: rows padded to a power of two, sorted in C together."""
    sizes = np.diff(offsets)
    out = np.zeros(len(sizes), dtype=np.int64)
    pad = np.iinfo(np.uint64).max
    widths = np.where(sizes > 0, 1 << np.ceil(np.log2(np.maximum(sizes, 1))).astype(np.int64), 0)
    for width in np.unique(widths[widths > 0]).tolist():
        group = widths == width
        rows = np.flatnonzero(group)
        block = np.full((len(rows), width), pad, dtype=np.uint64)
        block[np.arange(width)[None, :] < sizes[rows][:, None]] = flat[np.repeat(group, sizes)]
        block.sort(axis=1)
        out[rows] = 1 + np.count_nonzero(block[:, 1:] != block[:, :-1], axis=1) - (sizes[rows] < width)
    for i in np.unique(np.searchsorted(offsets, np.flatnonzero(flat == pad), side="right") - 1).tolist():
        out[i] = len(np.unique(flat[offsets[i] : offsets[i + 1]]))  # a real value equal to the padding
    return out
