"""Benchmark: `evaluate score`'s automatic metrics on answer-length Chinese texts.

    .venv/bin/python bench/evaluate.py --posts 200

Character ROUGE-L needs a longest common subsequence per (answer, reference) pair. The metrics
use a bit-parallel LCS (Python integers as bit vectors); the baseline in the same run is the
classic O(n*m) dynamic programme on the same pairs, with the results checked equal. Then the
whole metric set (ROUGE-L, BLEU-4, Distinct-1/2, length) for one system, in posts/s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.evaluate.metrics import chars, lcs_length, lcs_length_table, system_metrics  # noqa: E402

POOL = (
    "我你他她的了是在有不这就也都要会很能说想好心情绪感到难过焦虑压力生活工作家人朋友自己理解支持试着可以慢慢"
)


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
    parser.add_argument("--baseline-pairs", type=int, default=40, help="pairs timed with the O(n*m) table")
    args = parser.parse_args()
    rng = random.Random(0)
    references = [
        [text(rng, args.reference_chars) for _ in range(args.references)] for _ in range(args.posts)
    ]
    answers = [text(rng, args.answer_chars, refs[0]) for refs in references]
    pairs = [(chars(a), chars(r)) for a, refs in zip(answers, references, strict=True) for r in refs]

    sample = pairs[: args.baseline_pairs]
    started = time.perf_counter()
    table = [lcs_length_table(a, b) for a, b in sample]
    table_s = (time.perf_counter() - started) / len(sample)
    started = time.perf_counter()
    fast = [lcs_length(a, b) for a, b in pairs]
    fast_s = (time.perf_counter() - started) / len(pairs)
    assert fast[: len(sample)] == table, "bit-parallel LCS disagrees with the table"

    started = time.perf_counter()
    metrics = system_metrics(answers, references, [True] * len(answers))
    total_s = time.perf_counter() - started

    print(
        f"pairs: {len(pairs)} ({args.answer_chars} x {args.reference_chars} characters), mean LCS {sum(fast) / len(fast):.0f}"
    )
    print(f"LCS baseline (O(n*m) table):   {table_s * 1e3:8.2f} ms/pair  ({len(sample)} pairs)")
    print(f"LCS bit-parallel (used):       {fast_s * 1e3:8.2f} ms/pair  ({len(pairs)} pairs, results equal)")
    print(f"speed-up: {table_s / fast_s:.0f}x")
    print(
        f"all metrics, one system: {args.posts} posts in {total_s:.2f} s = {args.posts / total_s:.0f} posts/s "
        f"(ROUGE-L {metrics['rouge_l']:.3f}, BLEU-4 {metrics['bleu_4']:.3f}, Distinct-2 {metrics['distinct_2']:.3f})"
    )
    print(f"baseline estimate for the same ROUGE-L pairs with the table: {table_s * len(pairs):.1f} s")


if __name__ == "__main__":
    main()
