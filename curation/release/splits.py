"""Deterministic train / validation / test splits by question, near-duplicates kept together.

Questions that share a question-level or answer-level `dup_cluster` form one group; a group never
spans two splits. Groups are ordered by (topic, hash(seed, group)) and dealt out one by one to the
split furthest below its share, so every topic is cut in the requested proportions (to within one
group) and the same input and seed always give the same assignment.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from curation.minhash import UnionFind
from empathyqa.schema import RELEASE_SPLITS


def parse_fractions(text: str) -> tuple[float, float, float]:
    """'0.9,0.05,0.05' -> fractions for train, validation, test; ValueError with the reason."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != len(RELEASE_SPLITS):
        raise ValueError(f"--split needs three fractions (train,validation,test), got {text!r}")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError as exc:
        raise ValueError(f"--split fractions must be numbers, got {text!r}") from exc
    if any(v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-6 or values[0] <= 0:
        raise ValueError(f"--split fractions must be >= 0, sum to 1 and give train a share, got {text!r}")
    return values  # type: ignore[return-value]


def dup_groups(threads: Sequence[dict[str, Any]]) -> dict[str, str]:
    """question_id -> group id (the smallest question_id of the questions linked through dup_cluster)."""
    groups = UnionFind()  # grows with each question_id; the smallest id is a group's name
    first_with: dict[tuple[str, str], str] = {}
    for thread in threads:
        qid = thread["question_id"]
        groups.find(qid)
        # Question and answer clusters are numbered independently by curation: keep them apart.
        keys = [("question", thread.get("dup_cluster"))]
        keys += [("answer", a.get("dup_cluster")) for a in thread.get("answers") or []]
        for kind, cluster in keys:
            if not cluster:
                continue
            other = first_with.setdefault((kind, cluster), qid)
            groups.union(qid, other)
    return {qid: groups.find(qid) for qid in groups.parent}


def _rank(seed: int, group: str) -> str:
    return hashlib.sha256(f"{seed}\0{group}".encode()).hexdigest()


def assign_splits(
    threads: Sequence[dict[str, Any]], fractions: Sequence[float], seed: int, released: set[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(question_id -> split name, question_id -> dup group) for the released questions.

    Every thread links groups (a thread with no released answer can still chain two that have),
    but only released questions count towards the shares.
    """
    group_of = dup_groups(threads)
    members: dict[str, list[str]] = defaultdict(list)
    topics: dict[str, Counter] = defaultdict(Counter)
    for thread in threads:
        if thread["question_id"] not in released:
            continue
        group = group_of[thread["question_id"]]
        members[group].append(thread["question_id"])
        topics[group][thread.get("topic") or ""] += 1

    def group_topic(group: str) -> str:
        # The most common topic of the group; ties go to the alphabetically first.
        return min(topics[group].items(), key=lambda item: (-item[1], item[0]))[0]

    order = sorted(members, key=lambda g: (group_topic(g), _rank(seed, g)))
    assigned = [0] * len(RELEASE_SPLITS)
    dealt = 0
    split_of: dict[str, str] = {}
    for group in order:
        size = len(members[group])
        deficits = [
            fraction * (dealt + size) - got for fraction, got in zip(fractions, assigned, strict=True)
        ]
        index = max(range(len(deficits)), key=lambda i: (deficits[i], -i))
        assigned[index] += size
        dealt += size
        for qid in members[group]:
            split_of[qid] = RELEASE_SPLITS[index]
    return split_of, group_of
