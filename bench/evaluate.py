"""Benchmark: `evaluate score`'s automatic metrics on answer-length Chinese texts.

    .venv/bin/python bench/evaluate.py --posts 200

Character ROUGE-L needs a longest common subsequence per (answer, reference) pair, and review
agreement an edit distance per (draft, edited) layer. Both now come from rapidfuzz; the baselines
in the same run are the pure-Python versions it replaced (a bit-parallel LCS with Python integers as
bit vectors, the O(n*m) table, and a prefix/suffix-stripping quadratic Levenshtein), results
checked equal. Then the whole metric set (ROUGE-L, BLEU-4, Distinct-1/2, length) for one system.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotation.review.agreement import levenshtein  # noqa: E402
from training.evaluate.metrics import chars, lcs_length, lcs_length_table, system_metrics  # noqa: E402

POOL = (
    "我你他她的了是在有不这就也都要会很能说想好心情绪感到难过焦虑压力生活工作家人朋友自己理解支持试着可以慢慢"
)


def lcs_bit_parallel_python(a: list[str], b: list[str]) -> int:
    """The LCS the metrics used before rapidfuzz (Allison-Dix / Hyyro row updates on Python ints)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    row = full
    for token in b:
        matches = row & masks.get(token, 0)
        row = ((row + matches) | (row - matches)) & full
    return len(a) - row.bit_count()


def levenshtein_python(a: str, b: str) -> int:
    """The edit distance review agreement used before rapidfuzz."""
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end = 0
    while end < len(a) - start and end < len(b) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start : len(a) - end], b[start : len(b) - end]
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def edited(rng: random.Random, layer: str, edits: int) -> str:
    """A reviewer's edit: a few scattered substitutions, deletions and insertions."""
    out = list(layer)
    for _ in range(edits):
        i = rng.randrange(len(out))
        kind = rng.random()
        if kind < 0.4:
            out[i] = rng.choice(POOL)
        elif kind < 0.7:
            del out[i]
        else:
            out.insert(i, rng.choice(POOL))
    return "".join(out)


def timed(fn, pairs) -> tuple[list[int], float]:
    started = time.perf_counter()
    results = [fn(a, b) for a, b in pairs]
    return results, (time.perf_counter() - started) / len(pairs)


def text(rng: random.Random, length: int, shared: str = "") -> str:
    """Random characters, with chunks of `shared` copied in so the LCS is realistic (not tiny)."""
    out: list[str] = []
    while len(out) < length:
        if shared and rng.random() < 0.3:
            start = rng.randrange(max(1, len(shared) - 20))
            out.extend(shared[start : start + rng.randint(5, 20)])
        else:
            out.append(rng.choice(POOL))
    return "".join(out[:length])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--answer-chars", type=int, default=400)
    parser.add_argument("--reference-chars", type=int, default=600)
    parser.add_argument("--references", type=int, default=2, help="professional answers per post")
    parser.add_argument(
        "--baseline-pairs", type=int, default=40, help="pairs timed with the quadratic baselines"
    )
    parser.add_argument(
        "--layers", type=int, default=400, help="(draft, edited) layer pairs for the edit distance"
    )
    parser.add_argument("--layer-chars", type=int, default=120)
    parser.add_argument("--edits", type=int, default=12, help="reviewer edits per layer")
    args = parser.parse_args()
    rng = random.Random(0)
    references = [
        [text(rng, args.reference_chars) for _ in range(args.references)] for _ in range(args.posts)
    ]
    answers = [text(rng, args.answer_chars, refs[0]) for refs in references]
    pairs = [(chars(a), chars(r)) for a, refs in zip(answers, references, strict=True) for r in refs]

    sample = pairs[: args.baseline_pairs]
    table, table_s = timed(lcs_length_table, sample)
    python_bits, python_s = timed(lcs_bit_parallel_python, pairs)
    fast, fast_s = timed(lcs_length, [("".join(a), "".join(b)) for a, b in pairs])
    assert fast == python_bits and fast[: len(sample)] == table, "the LCS implementations disagree"

    layers = [text(rng, args.layer_chars) for _ in range(args.layers)]
    edit_pairs = [(layer, edited(rng, layer, args.edits)) for layer in layers]
    slow_edits, lev_python_s = timed(levenshtein_python, edit_pairs[: args.baseline_pairs])
    fast_edits, lev_s = timed(levenshtein, edit_pairs)
    assert fast_edits[: len(slow_edits)] == slow_edits, "the edit distances disagree"

    started = time.perf_counter()
    metrics = system_metrics(answers, references, [True] * len(answers))
    total_s = time.perf_counter() - started

    print(
        f"pairs: {len(pairs)} ({args.answer_chars} x {args.reference_chars} characters), mean LCS {sum(fast) / len(fast):.0f}"
    )
    print(f"LCS baseline (O(n*m) table):          {table_s * 1e3:8.3f} ms/pair  ({len(sample)} pairs)")
    print(f"LCS bit-parallel, pure Python (was):  {python_s * 1e3:8.3f} ms/pair  ({len(pairs)} pairs)")
    print(
        f"LCS rapidfuzz LCSseq (used):          {fast_s * 1e3:8.3f} ms/pair  ({len(pairs)} pairs, results equal)"
    )
    print(
        f"  rapidfuzz vs pure-Python bit-parallel: {python_s / fast_s:.1f}x; vs table: {table_s / fast_s:.0f}x"
    )
    print(
        f"edit distance: {len(edit_pairs)} layers of {args.layer_chars} characters, {args.edits} edits each, "
        f"mean distance {sum(fast_edits) / len(fast_edits):.1f}"
    )
    print(
        f"Levenshtein, pure Python (was):       {lev_python_s * 1e3:8.3f} ms/pair  ({len(slow_edits)} pairs)"
    )
    print(
        f"Levenshtein rapidfuzz (used):         {lev_s * 1e3:8.3f} ms/pair  ({len(edit_pairs)} pairs, results equal)"
    )
    print(f"  rapidfuzz vs pure Python: {lev_python_s / lev_s:.0f}x")
    print(
        f"all metrics, one system: {args.posts} posts in {total_s:.2f} s = {args.posts / total_s:.0f} posts/s "
        f"(ROUGE-L {metrics['rouge_l']:.3f}, BLEU-4 {metrics['bleu_4']:.3f}, Distinct-2 {metrics['distinct_2']:.3f})"
    )


if __name__ == "__main__":
    main()
