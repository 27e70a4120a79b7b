"""MinHash signatures, LSH as group-by-band-hash, screened verification and union-find.

The LSH is written the way text-dedup does it on Spark: every document emits (band, band hash, id) rows,
rows are grouped by (band, band hash), and each group yields candidate pairs. `band_rows` is a per-record
map and `candidate_pair_array` a group-by, so a distributed engine can run them unchanged. Candidates are
verified in `curation.verify`: screened by their estimated Jaccard, then checked exactly on all cores.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from curation.kernels import sign_flat
from curation.verify import (  # noqa: F401  (re-exported: Verify and the exact check live there)
    LocalChecker,
    PairChecker,
    Verify,
    check_pairs,
    estimated_matches,
    jaccard_and_containment,
)

_PRIME_SEED = 0x5EED
_SIGN_CHUNK = 8192  # shingles per block: the signature step holds num_perm x this many uint32 at once


@lru_cache(maxsize=4)
def permutations(num_perm: int, seed: int = _PRIME_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Random bijections of 32-bit values, h_i(x) = xorshift(a_i * x + b_i mod 2^32) with odd a_i.

    32-bit arithmetic because numpy's 64-bit multiply has no SIMD path: 7x faster here, and the
    inputs are already well-mixed 64-bit shingle hashes folded to 32 bits.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**31, size=num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint32)
    return a[:, None], b[:, None]


def signature(shingles: np.ndarray, num_perm: int = 128) -> np.ndarray:
    """MinHash signature (uint32[num_perm]) of a set of 64-bit shingle hashes (`numpy_signature`'s values)."""
    return sign_flat(shingles, np.array([0, len(shingles)]), num_perm)[0]


def numpy_signature(shingles: np.ndarray, num_perm: int = 128) -> np.ndarray:
    """The numpy kernel: h_i(x) = xorshift(a_i x + b_i mod 2^32) per permutation, minimum over shingles."""
    a, b = permutations(num_perm)
    out = np.full(num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
    folded = ((shingles >> np.uint64(32)) ^ shingles).astype(np.uint32)
    # in blocks: a 2 MB post has 2M shingles, and num_perm x 2M uint32 at once would be 1 GB
    for start in range(0, len(folded), _SIGN_CHUNK):
        with np.errstate(over="ignore"):
            values = a * folded[None, start : start + _SIGN_CHUNK] + b
            values ^= values >> np.uint32(16)
        np.minimum(out, values.min(axis=1), out=out)
    return out


def detection_probability(jaccard: float, bands: int, rows: int) -> float:
    return 1.0 - (1.0 - jaccard**rows) ** bands


def choose_bands(threshold: float, num_perm: int, target: float = 0.9) -> tuple[int, int]:
    """(bands, rows): the most rows per band (fewest false candidates) that still finds a pair at the
    threshold with probability >= target. Verification removes the false candidates afterwards; a
    datasketch-style "optimal" split finds only ~40% of pairs at the threshold."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if bands and detection_probability(threshold, bands, rows) >= target:
            best = (bands, rows)
    return best


_BAND_MIX = np.random.default_rng(_PRIME_SEED + 1).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64[docs, bands]: one hash per band of each signature."""
    sig = signatures[:, : bands * rows].astype(np.uint64).reshape(len(signatures), bands, rows)
    with np.errstate(over="ignore"):
        mixed = (sig * _BAND_MIX[:rows]).sum(axis=2, dtype=np.uint64)
        mixed ^= mixed >> np.uint64(29)
    return mixed


def band_rows(ids: np.ndarray, signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """The map side: a structured array of (band, hash, id) rows, one per document and band."""
    hashes = band_hashes(signatures, bands, rows)
    out = np.empty(hashes.size, dtype=[("band", np.int32), ("hash", np.uint64), ("id", np.int64)])
    out["band"] = np.tile(np.arange(bands, dtype=np.int32), len(ids))
    out["hash"] = hashes.reshape(-1)
    out["id"] = np.repeat(ids, bands)
    return out


def bucket_pairs(members: Iterable[int], max_bucket_pairs: int = 64) -> Iterator[tuple[int, int]]:
    """Candidate pairs of one (band, hash) bucket.

    Small buckets are compared all-pairs; in a bucket larger than `max_bucket_pairs` each member is
    paired with the first `max_bucket_pairs` members (as text-dedup pairs with the bucket minimum), so a
    bucket of m members costs at most m x max_bucket_pairs pairs.
    """
    ordered = sorted(set(members))
    for i, first in enumerate(ordered[:max_bucket_pairs]):
        for second in ordered[i + 1 :]:
            yield first, second


@lru_cache(maxsize=256)
def _bucket_index_pairs(size: int, cap: int) -> np.ndarray:
    """Index pairs (i < j) of a bucket of `size` sorted members, as `bucket_pairs` forms them."""
    i, j = np.triu_indices(size, k=1)
    keep = i < cap
    return np.stack([i[keep], j[keep]], axis=1)


def unique_pairs(pairs: np.ndarray) -> np.ndarray:
    """Sorted unique rows of an (m, 2) array of ids with a < b."""
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = pairs.astype(np.int64, copy=False)
    width = int(pairs.max()) + 1
    codes = pairs[:, 0] * width + pairs[:, 1]
    if (codes[1:] > codes[:-1]).all():  # sorted and unique already (what the pair finders return)
        return pairs
    codes = np.unique(codes)
    return np.stack([codes // width, codes % width], axis=1)


def candidate_pair_array(rows: np.ndarray, max_bucket_pairs: int = 64) -> np.ndarray:
    """The group-by side: documents sharing a (band, hash) bucket become candidate pairs ((m, 2) ids)."""
    order = np.lexsort((rows["id"], rows["hash"], rows["band"]))
    ordered = rows[order]
    key_change = (np.diff(ordered["band"]) != 0) | (np.diff(ordered["hash"]) != 0)
    bounds = np.flatnonzero(np.concatenate(([True], key_change, [True])))
    starts, sizes = bounds[:-1], np.diff(bounds)
    ids = ordered["id"].astype(np.int64)
    twos = starts[sizes == 2]  # most shared buckets hold two documents: no Python loop for them
    found = [np.stack([ids[twos], ids[twos + 1]], axis=1)]
    for start, size in zip(starts[sizes > 2].tolist(), sizes[sizes > 2].tolist(), strict=True):
        members = ids[start : start + size]
        found.append(members[_bucket_index_pairs(size, max_bucket_pairs)])
    return unique_pairs(np.concatenate(found))


def candidate_pairs(rows: np.ndarray, max_bucket_pairs: int = 64) -> set[tuple[int, int]]:
    return {(a, b) for a, b in candidate_pair_array(rows, max_bucket_pairs).tolist()}


PairFinder = Callable[[np.ndarray, int, int, int], "np.ndarray | set[tuple[int, int]]"]


MAX_PARTNERS = 16  # candidate partners kept per document, most similar first


def nearest_partners(
    pairs: np.ndarray, signatures: np.ndarray, k: int = MAX_PARTNERS, matches: np.ndarray | None = None
) -> np.ndarray:
    """The pairs that are among the `k` highest estimated Jaccards of either of their documents.

    Posts built from shared stock sentences put every post in many buckets with every other one: the
    candidates grow with the square of the corpus. A repost is its original's nearest neighbour by a
    wide margin (J 0.5-1 against 0.1-0.4 for posts that share stock lines), so keeping each document's
    k nearest bounds the work at n x k pairs and loses a true pair only when a document has k closer
    distinct neighbours. Pruning a subset first and the whole later keeps the same pairs: a pair in a
    document's k nearest overall is among its k nearest in any subset holding it.
    """
    return pairs[nearest_index(pairs, signatures, k, matches)]


def nearest_index(
    pairs: np.ndarray, signatures: np.ndarray, k: int = MAX_PARTNERS, matches: np.ndarray | None = None
) -> np.ndarray:
    """Sorted row numbers of the pairs `nearest_partners` keeps (`matches`: their equal values)."""
    if len(pairs) <= k:
        return np.arange(len(pairs))
    matches = estimated_matches(signatures, pairs) if matches is None else matches
    m = len(pairs)
    ends = np.concatenate([pairs[:, 0], pairs[:, 1]]).astype(np.int64)
    score = np.concatenate([matches, matches]).astype(np.int64)
    index = np.concatenate([np.arange(m)] * 2)
    top = int(score.max()) + 1
    if (int(ends.max()) + 1) * top * m < 2**62:
        # by document, most similar first, ties by pair order: one int64 key, one sort
        key = np.sort((ends * top + (top - 1 - score)) * m + index)
        ends, index = key // (top * m), key % m
    else:
        order = np.lexsort((index, -score, ends))
        ends, index = ends[order], index[order]
    first = np.flatnonzero(np.concatenate(([True], ends[1:] != ends[:-1])))
    rank = np.arange(len(ends)) - np.repeat(first, np.diff(np.append(first, len(ends))))
    return np.unique(index[rank < k])


_ROWS_PER_PASS = 1 << 22  # band rows sorted at once (32 MiB of keys)


def bucket_pairs_sorted(keys: np.ndarray, id_bits: int, max_bucket_pairs: int) -> np.ndarray:
    """Candidate pairs from rows of sorted keys (band hash high bits, doc id low bits): runs of equal
    high bits are buckets, their ids come sorted; pairs formed as `bucket_pairs` forms them."""
    flat = keys.reshape(-1)
    if not len(flat):
        return np.zeros((0, 2), dtype=np.int64)
    bucket = flat >> np.uint64(id_bits)
    ids = (flat & np.uint64((1 << id_bits) - 1)).astype(np.int64)
    change = bucket[1:] != bucket[:-1]
    change[keys.shape[1] - 1 :: keys.shape[1]] = True  # a new band row starts a new bucket
    bounds = np.flatnonzero(np.concatenate(([True], change, [True])))
    starts, sizes = bounds[:-1], np.diff(bounds)
    found = [np.zeros((0, 2), dtype=np.int64)]
    for size in np.unique(sizes[sizes > 1]).tolist():
        at = starts[sizes == size]
        members = ids[at[:, None] + np.arange(size)]
        found.append(members[:, _bucket_index_pairs(size, max_bucket_pairs)].reshape(-1, 2))
    return np.concatenate(found)


def local_pairs(signatures: np.ndarray, bands: int, rows: int, max_bucket_pairs: int) -> np.ndarray:
    """Candidate pairs on this machine: per band, keys of (band hash, id) sorted in C, runs of one hash
    paired; as many bands at a time as `_ROWS_PER_PASS` allows, pruned to each document's nearest
    partners whenever the pairs outgrow a few times n x MAX_PARTNERS.

    The low bits of a band hash make room for the id: two hashes equal above them share a bucket by
    chance one time in 2^(64 - id bits) per pair (a spurious candidate, which verification rejects).
    """
    n = len(signatures)
    id_bits = max(1, (n - 1).bit_length())
    ids = np.arange(n, dtype=np.uint64)
    found = np.zeros((0, 2), dtype=np.int64)
    step = max(1, min(bands, _ROWS_PER_PASS // max(1, n)))
    for start in range(0, bands, step):
        count = min(step, bands - start)
        hashes = band_hashes(signatures[:, start * rows : (start + count) * rows], count, rows)
        keys = ((hashes.T >> np.uint64(id_bits)) << np.uint64(id_bits)) | ids
        keys.sort(axis=1)
        found = unique_pairs(np.concatenate([found, bucket_pairs_sorted(keys, id_bits, max_bucket_pairs)]))
        if len(found) > 4 * MAX_PARTNERS * n:
            found = nearest_partners(found, signatures)
    return found


def as_pair_array(pairs: np.ndarray | Iterable[tuple[int, int]]) -> np.ndarray:
    if isinstance(pairs, np.ndarray):
        return unique_pairs(pairs.reshape(-1, 2))
    return unique_pairs(np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2))


class LazyKeys(Sequence[str]):
    """keys[i] = fn(items[i]), computed when read: dedup keys are as large as the texts."""

    def __init__(self, items: Sequence[Any], fn: Callable[[Any], str]) -> None:
        self.items, self.fn = items, fn

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):  # type: ignore[override]
        return self.fn(self.items[i])


class UnionFind:
    """Disjoint sets whose root is the smallest member, so clusters do not depend on edge order.

    `UnionFind(n)` holds 0..n-1; `UnionFind()` grows as `find` meets new items (strings, for example).
    """

    def __init__(self, size: int = 0) -> None:
        self.parent: dict[Hashable, Hashable] = {i: i for i in range(size)}

    def find(self, x: Any) -> Any:
        parent = self.parent
        root = parent.setdefault(x, x)
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, x: Any, y: Any) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            low, high = (rx, ry) if rx < ry else (ry, rx)
            self.parent[high] = low

    def roots(self, items: Iterable[Any]) -> np.ndarray:
        return np.array([self.find(i) for i in items])

    def clusters(self) -> dict[Any, list[Any]]:
        groups: dict[Any, list[Any]] = {}
        for i in list(self.parent):
            groups.setdefault(self.find(i), []).append(i)
        return groups


def _joined(uf: UnionFind, pairs: np.ndarray, touched: set[int]) -> np.ndarray:
    """Whether each pair's ends are in one set already; ids outside `touched` (every id a union has
    met) are their own roots, so only those are looked up."""
    if not len(pairs):
        return np.zeros(0, dtype=bool)
    moved = np.fromiter(touched, dtype=np.int64, count=len(touched))
    roots = np.arange(max(int(pairs.max()), int(moved.max(initial=0))) + 1)
    roots[moved] = uf.roots(moved.tolist())
    ends = roots[pairs]
    return ends[:, 0] == ends[:, 1]


def cluster(
    keys: Sequence[str],
    signatures: np.ndarray,
    shingle_fn,
    verify: Verify,
    lsh_threshold: float,
    num_perm: int,
    max_bucket_pairs: int = 64,
    exact_groups: Iterable[Sequence[int]] = (),
    find_pairs: PairFinder = local_pairs,
    key_hashes: Sequence[int] | None = None,
    sizes: Sequence[int] | np.ndarray | None = None,
    check: PairChecker = check_pairs,
) -> tuple[UnionFind, dict[str, int]]:
    """Union-find over exact-key duplicates plus LSH candidates that pass verification.

    `keys` may be lazy (computed on access): with `key_hashes` given, only pairs left after the
    screening read it. `sizes` (shingle-set sizes) let the MinHash estimate decide most pairs; without
    them every candidate is checked exactly. `check` runs the exact checks (`LocalChecker(workers)` for
    a process pool).
    """
    n = len(keys)
    uf = UnionFind(n)
    stats = {"exact_pairs": 0, "candidates": 0, "verified": 0}
    by_key: dict[object, int] = {}
    touched: set[int] = set()
    for i, key in enumerate(key_hashes if key_hashes is not None else keys):
        if key in by_key:
            uf.union(by_key[key], i)
            touched.update((by_key[key], i))
            stats["exact_pairs"] += 1
        else:
            by_key[key] = i
    for group in exact_groups:
        for other in group[1:]:
            uf.union(group[0], other)
            touched.update((group[0], other))
    if n < 2:
        return uf, stats
    bands, rows = choose_bands(lsh_threshold, num_perm)
    pairs = as_pair_array(find_pairs(signatures, bands, rows, max_bucket_pairs))
    stats["candidates"] = len(pairs)
    matches = estimated_matches(signatures, pairs)
    kept = nearest_index(pairs, signatures, matches=matches)  # bounds what any finder found
    pairs, matches = pairs[kept], matches[kept]
    stats["candidates_kept"] = len(pairs)
    fresh = ~_joined(uf, pairs, touched)
    pairs, matches = pairs[fresh], matches[fresh]
    accepted = np.zeros(len(pairs), dtype=bool)
    rejected = np.zeros(len(pairs), dtype=bool)
    lo, need_sets = np.zeros(len(pairs)), np.ones(len(pairs), dtype=bool)
    if sizes is not None and len(pairs):
        size = np.asarray(sizes)
        screen = verify.screen(matches, num_perm, size[pairs[:, 0]], size[pairs[:, 1]])
        accepted, rejected, lo, need_sets = screen.accept, screen.reject, screen.lo, screen.need_sets
    for i, j in pairs[accepted].tolist():
        uf.union(i, j)
        touched.update((i, j))
    open_ = ~accepted & ~rejected
    rest, lo, need_sets = pairs[open_], lo[open_], need_sets[open_]
    joined = _joined(uf, rest, touched)
    rest, lo, need_sets = rest[~joined], lo[~joined], need_sets[~joined]
    verdicts, exact = (
        check(keys, rest, shingle_fn, verify, lo, need_sets) if len(rest) else (rest[:, 0] > 0, 0)
    )
    for i, j in rest[verdicts].tolist():
        uf.union(i, j)
    stats["screened_duplicate"] = int(accepted.sum())
    stats["screened_distinct"] = int(rejected.sum())
    stats["checked"] = len(rest)
    stats["exact_checks"] = int(exact)
    stats["verified"] = int(accepted.sum() + verdicts.sum())
    stats["bands"], stats["rows"] = bands, rows
    stats["p_detect_at_lsh_threshold"] = round(detection_probability(lsh_threshold, bands, rows), 4)
    return uf, stats
