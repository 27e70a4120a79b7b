"""Train / validation / test splits by question that stay put across versions; near-duplicates together.

Questions that share a question-level or answer-level `dup_cluster` form one group; a group never
spans two splits. A group's split is a hash of (seed, its key) read against the cumulative shares,
where the key is the release id (`curation.release.ids`) of its earliest member (asked_at, else
crawled_at; ties and undated posts by release id). The same post thus lands in the same split in
every version built with the same seed and shares, whatever else the input holds, and a repost that
a later crawl adds to a group (it is newer than the post it repeats) does not move the group. Only a
later crawl that finds an older member of a group can; `--previous` pins every question a previous
version released to the split it had there.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from curation.minhash import UnionFind
from curation.release.ids import release_question_id
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


def _timestamp(text: str | None) -> float:
    """Seconds since the epoch of an ISO time (naive read as UTC); undated posts sort last."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        moment = None
    if moment is None:
        return math.inf
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def bucket(seed: int, key: str) -> float:
    """A point in [0, 1) fixed by (seed, key)."""
    return int(hashlib.sha256(f"{seed}\0{key}".encode()).hexdigest()[:15], 16) / 16**15


def split_for(point: float, fractions: Sequence[float]) -> str:
    edge = 0.0
    for name, fraction in zip(RELEASE_SPLITS, fractions, strict=True):
        edge += fraction
        if point < edge:
            return name
    return next(n for n, f in zip(reversed(RELEASE_SPLITS), reversed(fractions), strict=True) if f > 0)


# Where a group's previous members disagree (a new repost linked two groups), the held-out split wins:
# a post once evaluated on is never trained on.
PRECEDENCE = ("test", "validation", "train")


def assign_splits(
    threads: Sequence[dict[str, Any]],
    fractions: Sequence[float],
    seed: int,
    released: set[str],
    previous: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str], Counter]:
    """(question_id -> split, question_id -> dup group key, notes) for the released questions.

    Every thread links groups (a thread with no released answer can still chain two that have) and
    counts towards a group's key. `previous` maps release question ids to the split of an earlier
    version; `notes` counts groups pinned by it and groups whose previous members disagreed.
    """
    group_of = dup_groups(threads)
    members: dict[str, list[str]] = defaultdict(list)
    age: dict[str, float] = {}
    for thread in threads:
        members[group_of[thread["question_id"]]].append(thread["question_id"])
        age[thread["question_id"]] = _timestamp(thread.get("asked_at") or thread.get("crawled_at"))
    notes: Counter = Counter()
    split_of: dict[str, str] = {}
    key_of: dict[str, str] = {}
    for qids in members.values():
        key = min((age[q], release_question_id(q)) for q in qids)[1]
        before = {previous[r] for r in map(release_question_id, qids) if previous and r in previous}
        if before:
            split = next(s for s in PRECEDENCE if s in before)
            notes["groups pinned to their previous split"] += 1
            if len(before) > 1:
                notes["groups whose previous members were in different splits"] += 1
        else:
            split = split_for(bucket(seed, key), fractions)
        for qid in qids:
            key_of[qid] = key
            if qid in released:
                split_of[qid] = split
    return split_of, key_of, notes
