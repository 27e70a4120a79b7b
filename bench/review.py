"""Benchmark: the pull side of review on generated tasks (no server): per-annotation edit distance,
majority resolution with text similarity, and Krippendorff's alpha.

    .venv/bin/python bench/review.py --tasks 300 --annotators 3

Compares `annotation.review.agreement.levenshtein` (shared prefix/suffix trimmed first) with plain
dynamic programming as the baseline, on ~90-character layers where reviewers edit a phrase or two.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotation.review import agreement  # noqa: E402
from annotation.review.agreement import Vote, alpha, layers_edit_distance, resolve  # noqa: E402

CHARS = "的一是不了人我在有他这为大来以个中上们到说和也时要就下得可你生自会那后能对着事里去过家用发天心想情感焦虑压力睡觉妈"


def plain_levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, char_b in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (char_a != char_b))
    return row[-1]


def make_tasks(count: int, annotators: int, seed: int = 0):
    rng = random.Random(seed)
    text = lambda n: "".join(rng.choice(CHARS) for _ in range(n))  # noqa: E731
    tasks = []
    for task_id in range(count):
        draft = {f"l{i}": text(rng.randint(70, 110)) for i in range(1, 5)}
        votes = []
        for k in range(annotators):
            roll = rng.random()
            if roll < 0.55:
                votes.append(Vote(task_id * 10 + k, "accepted", draft))
            elif roll < 0.9:
                layer = f"l{rng.randint(1, 4)}"
                at = rng.randint(0, len(draft[layer]))
                edited = dict(
                    draft, **{layer: draft[layer][:at] + text(rng.randint(3, 15)) + draft[layer][at + 5 :]}
                )
                votes.append(Vote(task_id * 10 + k, "edited", edited))
            else:
                votes.append(Vote(task_id * 10 + k, "rejected", draft))
        tasks.append((task_id, draft, votes, [rng.randint(1, 5) for _ in range(annotators)]))
    return tasks


def pull_side(tasks) -> tuple[float, dict]:
    started = time.perf_counter()
    ratings: dict[int, dict[str, int]] = defaultdict(dict)
    statuses: dict[str, int] = defaultdict(int)
    distance = 0
    for task_id, draft, votes, scores in tasks:
        for vote, score in zip(votes, scores, strict=True):
            distance += layers_edit_distance(draft, vote.layers)
            ratings[task_id][f"a{vote.annotation_id % 10}"] = score
        statuses[resolve(draft, votes).status] += 1
    figure = alpha(ratings, "ordinal")
    return time.perf_counter() - started, {"statuses": dict(statuses), "distance": distance, "alpha": figure}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--annotators", type=int, default=3)
    args = parser.parse_args()
    tasks = make_tasks(args.tasks, args.annotators)
    fast_s, fast = pull_side(tasks)
    with mock.patch.object(agreement, "levenshtein", plain_levenshtein):
        plain_s, plain = pull_side(tasks)
    assert fast == plain, "both edit distances must agree"
    n = args.tasks * args.annotators
    print(f"review pull side: {args.tasks} tasks x {args.annotators} annotators ({n} annotations)")
    print(f"  statuses          {fast['statuses']}  rating alpha {fast['alpha']}")
    print(f"  trimmed DP        {fast_s:7.2f} s  {n / fast_s:9.0f} annotations/s")
    print(f"  plain DP (base)   {plain_s:7.2f} s  {n / plain_s:9.0f} annotations/s")
    print(f"  speed-up          {plain_s / fast_s:7.1f}x  (same distances: {fast['distance']} chars in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
