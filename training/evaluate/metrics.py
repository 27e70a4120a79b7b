"""Automatic metrics against the professional answers, all on characters (Chinese has no spaces).

- ROUGE-L: F1 of the longest common subsequence, best over the references of a post.
- BLEU-4: sentence level, multi-reference (clipped counts, closest reference length for the
  brevity penalty), add-one smoothing of the 2-4-gram precisions (Lin & Och 2004), averaged;
  the same figures as NLTK's `sentence_bleu(..., smoothing_function=SmoothingFunction().method2)`.
- Distinct-n: distinct character n-grams / all n-grams over a system's answers (Li et al. 2016).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

from rapidfuzz.distance import LCSseq


def chars(text: str | None) -> list[str]:
    """The tokens every metric counts: characters, whitespace dropped."""
    return [c for c in (text or "") if not c.isspace()]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence: rapidfuzz's bit-parallel C++, ~10x our pure-Python bit-parallel
    version on answer-length texts (bench/evaluate.py). Strings are fastest; token lists work too."""
    return LCSseq.similarity(a, b)


def lcs_length_table(a: Sequence[str], b: Sequence[str]) -> int:
    """The classic dynamic programme; kept as the check and the benchmark baseline."""
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, references: Sequence[str]) -> float:
    """Character ROUGE-L F1, the best over the references (0 when either side is empty)."""
    cand = "".join(chars(candidate))
    best = 0.0
    for reference in references:
        ref = "".join(chars(reference))
        common = lcs_length(cand, ref)
        if common == 0:
            continue
        precision, recall = common / len(cand), common / len(ref)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def bleu4(candidate: str, references: Sequence[str], max_n: int = 4) -> float:
    """Smoothed sentence BLEU-4 over characters against several references."""
    cand = chars(candidate)
    refs = [chars(r) for r in references if chars(r)]
    if not cand or not refs:
        return 0.0
    log_precision = 0.0
    for n in range(1, max_n + 1):
        counts = Counter(ngrams(cand, n))
        best_ref: Counter = Counter()
        for ref in refs:
            best_ref |= Counter(ngrams(ref, n))  # | keeps the max count per n-gram
        clipped = sum(min(count, best_ref[gram]) for gram, count in counts.items())
        total = sum(counts.values())
        if n == 1:
            if clipped == 0:
                return 0.0
            precision = clipped / total
        else:
            precision = (clipped + 1) / (max(total, 1) + 1)
        log_precision += math.log(precision) / max_n
    ref_len = min((len(r) for r in refs), key=lambda length: (abs(length - len(cand)), length))
    brevity = 1.0 if len(cand) > ref_len else math.exp(1 - ref_len / len(cand))
    return brevity * math.exp(log_precision)


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct n-grams over all texts divided by all n-grams (0 when there are none)."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        grams = ngrams(chars(text), n)
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else 0.0


def system_metrics(
    answers: Sequence[str], references: Sequence[Sequence[str]], format_ok: Sequence[bool | None]
) -> dict[str, float | int | None]:
    """Every automatic metric for one system; references[i] are the professional answers to post i.

    Posts without a reference (a reference system whose post had a single answer) are left out
    of ROUGE-L and BLEU-4 only; format adherence counts only outputs where the format applies.
    """
    with_refs = [(a, r) for a, r in zip(answers, references, strict=True) if any(chars(x) for x in r)]
    lengths = [len(chars(a)) for a in answers]
    applicable = [ok for ok in format_ok if ok is not None]
    return {
        "posts": len(answers),
        "posts_with_reference": len(with_refs),
        "rouge_l": statistics.fmean(rouge_l(a, r) for a, r in with_refs) if with_refs else None,
        "bleu_4": statistics.fmean(bleu4(a, r) for a, r in with_refs) if with_refs else None,
        "distinct_1": distinct_n(answers, 1),
        "distinct_2": distinct_n(answers, 2),
        "length_mean": statistics.fmean(lengths) if lengths else 0.0,
        "length_median": statistics.median(lengths) if lengths else 0.0,
        "format_adherence": sum(applicable) / len(applicable) if applicable else None,
    }
