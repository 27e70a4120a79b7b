"""Verification of LSH candidate pairs: screened by the MinHash estimate, then checked exactly on all cores.

A candidate pair pays for a check only when the cheaper one before it cannot decide:

1. The estimate. The share of equal values in the two signatures (already in memory) estimates the
   Jaccard; a Wilson interval at z = 4 around it bounds the true value. With the two shingle-set sizes
   it also bounds the containment. A pair whose lower bounds pass a rule is a duplicate; a pair whose
   upper bounds fail every rule (Jaccard below the edit floor, containment below its threshold) is
   not. One in about 30,000 pairs falls outside a z = 4 interval, and only those near a boundary change
   their verdict. This runs vectorised over all candidates at once.
2. The edit similarity of the keys (rapidfuzz Indel: 2 x LCS / total length, bit-parallel C++), over all
   open pairs in one vectorised call. Posts that share stock sentences land here (Jaccard 0.2-0.5);
   difflib cost quadratic Python time per pair on them. Before it, a bound: a common subsequence uses
   each character at most as often as the rarer side has it, so 1 - L1(char counts) / total length
   bounds the similarity from above. Posts sharing stock sentences but not a repost sit near 0.5
   by it: only reposts reach rapidfuzz (one sparse matrix operation for all pairs).
3. The exact Jaccard and containment of the shingle sets (`searchsorted` of sorted hashes), only where
   a set rule could still pass or an edit match needs the exact Jaccard to clear `edit_floor`.

Steps 2 and 3 run on all cores (`LocalChecker`): the edit similarity over all open pairs at once on
rapidfuzz's C++ threads, the exact set checks on a forked process pool (only pair ids travel).
`curation.ray_engine.RayChecker` does both on Ray tasks.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Indel

from curation.kernels import bag_overlap, equal_counts

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

    def screen(self, matches: np.ndarray, num_perm: int, size_a: np.ndarray, size_b: np.ndarray) -> Screen:
        """What the estimate settles, and what each unsettled pair still needs."""
        lo, hi = wilson(matches, num_perm)
        small, big = np.minimum(size_a, size_b).astype(np.float64), np.maximum(size_a, size_b)
        nonempty = small > 0
        c_lo, c_hi = _containment_from_jaccard(lo, small, big), _containment_from_jaccard(hi, small, big)
        accept = nonempty & ((lo >= self.threshold) | (c_lo >= self.containment))
        floor = self.edit_floor if self.edit_similarity <= 1 else self.threshold
        reject = ~nonempty | ((hi < min(floor, self.threshold)) & (c_hi < self.containment))
        accept &= ~reject
        need_sets = ~accept & ~reject & ((hi >= self.threshold) | (c_hi >= self.containment))
        return Screen(accept, reject, lo, need_sets)


@dataclass(frozen=True)
class Screen:
    accept: np.ndarray  # duplicates by the estimate's lower bounds
    reject: np.ndarray  # distinct by its upper bounds
    lo: np.ndarray  # lower bound of each pair's Jaccard
    need_sets: np.ndarray  # the set rules (Jaccard, containment) could still pass: exact check


def estimated_matches(signatures: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Equal MinHash values per candidate pair (its estimated Jaccard times num_perm)."""
    return equal_counts(signatures, pairs)


def exact_sets(
    keys: Sequence[str], pairs: np.ndarray, shingle_fn: ShingleFn, chunk: int = 2048
) -> np.ndarray:
    """(m, 2) exact Jaccard and containment per pair (rows of ids into `keys`), `chunk` pairs at a time
    so that only their shingle sets are held; a shingler with `many(keys)` makes them in one pass."""
    many = getattr(shingle_fn, "many", None) or (lambda texts: [shingle_fn(t) for t in texts])
    out = np.zeros((len(pairs), 2))
    for start in range(0, len(pairs), chunk):
        part = pairs[start : start + chunk]
        ids = np.unique(part).tolist()
        sets = dict(zip(ids, many([keys[i] for i in ids]), strict=True))
        for n, (i, j) in enumerate(part.tolist(), start):
            out[n] = jaccard_and_containment(sets[i], sets[j])
    return out


def char_bag_bound(own: dict[int, str], pairs: np.ndarray, buckets: int = 256) -> np.ndarray:
    """Upper bound of each pair's Indel similarity: 2 x shared character counts / total length.

    A common subsequence uses each character at most as often as the rarer side has it; counting
    characters in hashed buckets can only add to the shared counts, so the bound stays a bound.
    `own` maps ids (sorted) to texts; pairs are rows of those ids.
    """
    ids = np.fromiter(own, dtype=np.int64, count=len(own))
    texts = list(own.values())
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    local = np.searchsorted(ids, pairs)
    total = lengths[local[:, 0]] + lengths[local[:, 1]]
    shared = bag_overlap(texts, local, buckets)
    return np.where(total > 0, 2 * shared / np.maximum(total, 1), 1.0)


def edit_scores(keys: Sequence[str], pairs: np.ndarray, cutoff: float, workers: int = 1) -> np.ndarray:
    """Indel similarity per pair (0 below `cutoff`), computed in C++ over the pairs that the character
    counts let reach `cutoff`, all at once."""
    from rapidfuzz.process import cpdist

    scores = np.zeros(len(pairs), dtype=np.float64)
    if not len(pairs):
        return scores
    own = {i: keys[i] for i in np.unique(pairs).tolist()}
    lengths = np.array([len(own[i]) for i in own], dtype=np.int64)
    local = np.searchsorted(np.fromiter(own, dtype=np.int64, count=len(own)), pairs)
    la, lb = lengths[local[:, 0]], lengths[local[:, 1]]
    # a float margin: the bounds are exact in integers, the cutoff compare must not lose a pair to rounding
    reach = np.flatnonzero(2 * np.minimum(la, lb) >= (cutoff - 1e-9) * (la + lb))
    for buckets in (32, 256):  # coarse counts settle most pairs with little memory traffic
        if len(reach):
            near = {i: own[i] for i in np.unique(pairs[reach]).tolist()}
            reach = reach[char_bag_bound(near, pairs[reach], buckets) >= cutoff - 1e-9]
    first = [own[i] for i in pairs[reach, 0].tolist()]
    second = [own[i] for i in pairs[reach, 1].tolist()]
    found = cpdist(first, second, scorer=Indel.normalized_similarity, score_cutoff=cutoff, workers=workers)
    scores[reach] = np.asarray(found, dtype=np.float64)
    return scores


def check_pairs(
    keys: Sequence[str],
    pairs: np.ndarray,
    shingle_fn: ShingleFn,
    verify: Verify,
    lo: np.ndarray | None = None,
    need_sets: np.ndarray | None = None,
    workers: int = 1,
    sets: Callable[[Sequence[str], np.ndarray, ShingleFn], np.ndarray] = exact_sets,
) -> tuple[np.ndarray, int]:
    """Verdicts for pairs the estimate left open (rows of ids into `keys`, which may be lazy or a dict
    of just these ids), and how many exact set checks ran.

    Edit similarity runs on every pair (vectorised); the shingle sets are read only where the set rules
    could pass (`need_sets`) or an edit match needs the exact Jaccard to clear `edit_floor`. Without
    `lo` and `need_sets` (the screen's output) every pair gets every check.
    """
    if lo is None or need_sets is None:
        lo, need_sets = np.zeros(len(pairs)), np.ones(len(pairs), dtype=bool)
    floor = verify.edit_floor
    if verify.edit_similarity <= 1 and len(pairs):
        edit_ok = edit_scores(keys, pairs, verify.edit_similarity, workers) >= verify.edit_similarity
    else:
        edit_ok = np.zeros(len(pairs), dtype=bool)
    verdict = edit_ok & (lo >= floor)
    exact = np.flatnonzero(need_sets | (edit_ok & (lo < floor)))
    if len(exact):
        jc = sets(keys, pairs[exact], shingle_fn)
        jac, cont = jc[:, 0], jc[:, 1]
        by_sets = (jac >= verify.threshold) | (cont >= verify.containment)
        verdict[exact] = by_sets | (edit_ok[exact] & (jac >= floor))
    return verdict, len(exact)


PairChecker = Callable[..., tuple[np.ndarray, int]]

_JOB: tuple[Sequence[str], ShingleFn] | None = None  # set before forking; the workers read it


def _sets_in_worker(pairs: np.ndarray) -> np.ndarray:
    assert _JOB is not None
    return exact_sets(_JOB[0], pairs, _JOB[1])


class LocalChecker:
    """Checks on all cores: edit similarity on `workers` C++ threads, exact set checks on `workers`
    forked processes (serial below `min_parallel` pairs or where fork is missing)."""

    def __init__(self, workers: int = 1, min_parallel: int = 2000, chunks_per_worker: int = 4) -> None:
        self.workers = max(1, workers)
        self.min_parallel = min_parallel
        self.chunks_per_worker = chunks_per_worker

    def _sets(self, keys: Sequence[str], pairs: np.ndarray, shingle_fn: ShingleFn) -> np.ndarray:
        serial = self.workers == 1 or len(pairs) < self.min_parallel
        if serial or "fork" not in mp.get_all_start_methods():
            return exact_sets(keys, pairs, shingle_fn)
        global _JOB
        _JOB = (keys, shingle_fn)
        try:
            chunks = np.array_split(pairs, self.workers * self.chunks_per_worker)
            with mp.get_context("fork").Pool(self.workers) as pool:
                return np.concatenate(pool.map(_sets_in_worker, chunks, chunksize=1))
        finally:
            _JOB = None

    def __call__(self, keys, pairs, shingle_fn, verify, lo=None, need_sets=None) -> tuple[np.ndarray, int]:
        return check_pairs(keys, pairs, shingle_fn, verify, lo, need_sets, self.workers, self._sets)


def pair_checker(config) -> PairChecker:
    """The checker for a CurationConfig: Ray tasks with --engine ray, else a local process pool."""
    if config.engine == "ray":
        from curation.ray_engine import RayChecker

        return RayChecker(config)
    return LocalChecker(config.resolved_workers())
