"""Verification of LSH candidate pairs: screened by the MinHash estimate, then checked exactly on all cores.

A candidate pair pays for a check only when the cheaper one before it cannot decide:

1. The estimate. The share of equal values in the two signatures (already in memory) estimates the
   Jaccard; a Wilson interval at z = 4 around it bounds the true value. With the two shingle-set sizes
   it also bounds the containment. A pair whose lower bounds pass a rule is a duplicate; a pair whose
   upper bounds fail every rule (Jaccard below the edit floor, containment below its threshold) is
   not. One in about 30,000 pairs falls outside a z = 4 interval, and only those near a boundary change
   their verdict. This runs vectorised over all candidates at once.
2. The exact Jaccard and containment of the shingle sets (`searchsorted` of sorted hashes).
3. The edit similarity of the keys (rapidfuzz Indel: 2 x LCS / total length, C++ and bit-parallel),
   only where the exact Jaccard is at least `edit_floor` and the set rules said no. Posts that share stock
   sentences land here; difflib on them cost quadratic time per pair.

Steps 2 and 3 run on a process pool (`LocalChecker`): the pool is forked after the keys are in place,
so only pair ids travel to the workers and verdicts come back. `curation.ray_engine.RayChecker` does the
same on Ray tasks.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Indel

Z = 4.0
ShingleFn = Callable[[str], np.ndarray]


def wilson(matches: np.ndarray, n: int, z: float = Z) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of a proportion from `matches` successes in `n` trials."""
    p = np.asarray(matches, dtype=np.float64) / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def jaccard_and_containment(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Exact Jaccard and containment (share of the smaller set inside the larger) of sorted sets."""
    if len(a) == 0 or len(b) == 0:
        return 0.0, 0.0
    if len(a) > len(b):
        a, b = b, a
    where = np.searchsorted(b, a)
    where[where == len(b)] = 0
    inter = int(np.count_nonzero(b[where] == a))
    return inter / (len(a) + len(b) - inter), inter / len(a)


def _containment_from_jaccard(jac: np.ndarray, small: np.ndarray, big: np.ndarray) -> np.ndarray:
    # |A n B| = J (|A| + |B|) / (1 + J), divided by the smaller set
    with np.errstate(divide="ignore", invalid="ignore"):
        value = jac * (small + big) / ((1 + jac) * small)
    return np.where(small > 0, np.minimum(value, 1.0), 0.0)


@dataclass(frozen=True)
class Verify:
    """When a candidate pair is a duplicate: exact Jaccard, containment, or edit similarity.

    Edit similarity catches reworded reposts: a few scattered one-character edits in a 120-character
    post break a third of its 5-grams, but leave 90% of the text aligned. It is only computed when the
    Jaccard is already >= `edit_floor` (unrelated posts sit near 0.02, posts sharing stock sentences
    near 0.1-0.4). `edit_similarity` above 1 turns it off.
    """

    threshold: float = 0.7
    containment: float = 0.8
    edit_similarity: float = 0.8
    edit_floor: float = 0.2

    def decide(self, key_a: str, key_b: str, a: np.ndarray, b: np.ndarray) -> tuple[bool, bool]:
        """(duplicate, whether the edit similarity had to be computed)."""
        jac, cont = jaccard_and_containment(a, b)
        if jac >= self.threshold or cont >= self.containment:
            return True, False
        if jac < self.edit_floor or self.edit_similarity > 1:
            return False, False
        similar = Indel.normalized_similarity(key_a, key_b, score_cutoff=self.edit_similarity)
        return similar >= self.edit_similarity, True

    def __call__(self, key_a: str, key_b: str, a: np.ndarray, b: np.ndarray) -> bool:
        return self.decide(key_a, key_b, a, b)[0]

    def screen(
        self, matches: np.ndarray, num_perm: int, size_a: np.ndarray, size_b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(accept, reject) masks from the estimate alone; pairs in neither need the exact check."""
        lo, hi = wilson(matches, num_perm)
        small, big = np.minimum(size_a, size_b).astype(np.float64), np.maximum(size_a, size_b)
        nonempty = small > 0
        accept = nonempty & (
            (lo >= self.threshold) | (_containment_from_jaccard(lo, small, big) >= self.containment)
        )
        floor = self.edit_floor if self.edit_similarity <= 1 else self.threshold
        reject = ~nonempty | (
            (hi < min(floor, self.threshold)) & (_containment_from_jaccard(hi, small, big) < self.containment)
        )
        return accept & ~reject, reject


def estimated_matches(signatures: np.ndarray, pairs: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Equal MinHash values per candidate pair (its estimated Jaccard times num_perm)."""
    out = np.empty(len(pairs), dtype=np.int32)
    for start in range(0, len(pairs), chunk):
        part = pairs[start : start + chunk]
        out[start : start + chunk] = (signatures[part[:, 0]] == signatures[part[:, 1]]).sum(axis=1)
    return out


def check_pairs(
    keys: Sequence[str], pairs: np.ndarray, shingle_fn: ShingleFn, verify: Verify, cache_limit: int = 4096
) -> tuple[np.ndarray, int]:
    """Exact verdicts for candidate pairs (rows of ids into `keys`) and how many needed the edit check.

    `keys` may be lazy or a dict holding just the ids in `pairs`. Pairs come sorted by their first id,
    so a small cache of shingle sets serves most reads; it is emptied when full to bound memory.
    """
    cache: dict[int, tuple[str, np.ndarray]] = {}

    def key_and_shingles(i: int) -> tuple[str, np.ndarray]:
        if i not in cache:
            if len(cache) >= cache_limit:
                cache.clear()
            key = keys[i]
            cache[i] = (key, shingle_fn(key))
        return cache[i]

    out = np.zeros(len(pairs), dtype=bool)
    edits = 0
    for n, (i, j) in enumerate(pairs.tolist()):
        (key_i, sh_i), (key_j, sh_j) = key_and_shingles(i), key_and_shingles(j)
        out[n], edited = verify.decide(key_i, key_j, sh_i, sh_j)
        edits += edited
    return out, edits


PairChecker = Callable[[Sequence[str], np.ndarray, ShingleFn, Verify], tuple[np.ndarray, int]]

_JOB: tuple[Sequence[str], ShingleFn, Verify] | None = None  # set before forking; the workers read it


def _check_in_worker(pairs: np.ndarray) -> tuple[np.ndarray, int]:
    assert _JOB is not None
    keys, shingle_fn, verify = _JOB
    return check_pairs(keys, pairs, shingle_fn, verify)


class LocalChecker:
    """Exact checks on `workers` forked processes (serial below `min_parallel` pairs or without fork)."""

    def __init__(self, workers: int = 1, min_parallel: int = 2000, chunks_per_worker: int = 4) -> None:
        self.workers = max(1, workers)
        self.min_parallel = min_parallel
        self.chunks_per_worker = chunks_per_worker

    def __call__(
        self, keys: Sequence[str], pairs: np.ndarray, shingle_fn: ShingleFn, verify: Verify
    ) -> tuple[np.ndarray, int]:
        serial = self.workers == 1 or len(pairs) < self.min_parallel
        if serial or "fork" not in mp.get_all_start_methods():
            return check_pairs(keys, pairs, shingle_fn, verify)
        global _JOB
        _JOB = (keys, shingle_fn, verify)
        try:
            chunks = np.array_split(pairs, self.workers * self.chunks_per_worker)
            with mp.get_context("fork").Pool(self.workers) as pool:
                results = pool.map(_check_in_worker, chunks, chunksize=1)
        finally:
            _JOB = None
        return np.concatenate([r[0] for r in results]), sum(r[1] for r in results)


def pair_checker(config) -> PairChecker:
    """The checker for a CurationConfig: Ray tasks with --engine ray, else a local process pool."""
    if config.engine == "ray":
        from curation.ray_engine import RayChecker

        return RayChecker(config)
    return LocalChecker(config.resolved_workers())
