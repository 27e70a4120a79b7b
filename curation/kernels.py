"""Compiled loops (numba) for dedup's hot paths. Each gives exactly what a numpy definition gives, and
that definition runs where numba is missing:

- `sign_texts`: per text, its character n-gram hashes (`curation.text.char_shingle_batch`), their
  MinHash signature (`curation.minhash.numpy_signature`) and how many distinct hashes it has
  (`curation.text.unique_counts`), in one pass: no array of every shingle hash of the corpus, no sort
  per text. numpy needs a dozen full passes over the shingles for the same; rensa's kernel is as fast
  but hands its signatures back as Python lists, and building those ints took 4x its kernel's time.
- `sign_flat`: the signatures of rows of ready shingle hashes (word shingles, a single set).
- `equal_counts`: equal signature values per candidate pair, without gathering two rows per pair.
- `bag_overlap`: per pair of texts, the characters they share counted in hashed buckets (the sum
  over buckets of the smaller count), without a bag matrix gathered twice per pair.

Loading the compiled loops costs a process about 0.6 s here (numba's import and its cache), so they
load once a process has that much work (`COMPILE_FROM`); below it, and without numba, numpy runs.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from curation.text import _BASE
from curation.text import _mix as _mix_hashes

COMPILE_FROM = 1_000_000  # characters signed, or candidate pairs counted, in this process
_EMPTY = np.uint32(0xFFFFFFFF)
_work = {"chars": 0, "pairs": 0}


def _update(best, h, a, b):
    # h_i(x) = xorshift16(a_i x + b_i mod 2^32) of the 64-bit hash folded to 32 bits
    x = np.uint32((h >> np.uint64(32)) ^ (h & np.uint64(0xFFFFFFFF)))
    for p in range(a.shape[0]):
        v = np.uint32(a[p] * x + b[p])
        v ^= v >> np.uint32(16)
        best[p] = min(best[p], v)


_mix_jit, _update_jit = _mix_hashes, _update  # their compiled versions once `load()` has run


def _sign_texts(codes, starts, lengths, n, a, b, sigs, sizes):
    longest = 1
    for m in lengths:
        longest = max(longest, m)
    slots_max = 2
    while slots_max < 2 * longest:
        slots_max *= 2
    table = np.empty(slots_max, dtype=np.uint64)
    owner = np.full(slots_max, -1, dtype=np.int64)  # which text a slot was last filled for
    best = np.empty(a.shape[0], dtype=np.uint32)
    for r in range(starts.shape[0]):
        s, m = starts[r], lengths[r]
        count = m - n + 1 if m >= n else 1
        width = n if m >= n else m  # a text shorter than n is one hash of all of it
        slots = 2
        while slots < 2 * count:
            slots *= 2
        best[:] = _EMPTY
        distinct = 0
        for j in range(count):
            h = np.uint64(0)
            for k in range(width):
                h = h * _BASE + np.uint64(codes[s + j + k])
            h = _mix_jit(h)
            _update_jit(best, h, a, b)
            i = np.int64(h >> np.uint64(40)) & (slots - 1)
            while owner[i] == r and table[i] != h:
                i = (i + 1) & (slots - 1)
            if owner[i] != r:
                owner[i] = r
                table[i] = h
                distinct += 1
        sigs[r, :] = best
        sizes[r] = distinct


def _sign_flat(flat, offsets, a, b, sigs):
    best = np.empty(a.shape[0], dtype=np.uint32)
    for r in range(offsets.shape[0] - 1):
        best[:] = _EMPTY
        for k in range(offsets[r], offsets[r + 1]):
            _update_jit(best, flat[k], a, b)
        sigs[r, :] = best


def _equal_counts(sigs, pairs, out):
    for i in range(pairs.shape[0]):
        x, y = sigs[pairs[i, 0]], sigs[pairs[i, 1]]
        same = 0
        for p in range(x.shape[0]):
            same += x[p] == y[p]
        out[i] = same


_FIBONACCI = np.uint32(0x9E3779B1)


def _bag_overlap(codes, lengths, pairs, shift, buckets, out):
    bags = np.zeros((lengths.shape[0], buckets), dtype=np.int32)
    at = 0
    for r in range(lengths.shape[0]):
        for j in range(at, at + lengths[r]):
            bags[r, np.uint32(codes[j] * _FIBONACCI) >> shift] += 1
        at += lengths[r]
    for i in range(pairs.shape[0]):
        x, y = bags[pairs[i, 0]], bags[pairs[i, 1]]
        shared = 0
        for k in range(buckets):
            shared += min(x[k], y[k])
        out[i] = shared


_loops: SimpleNamespace | None = None
_tried = False


def load() -> SimpleNamespace | None:
    """The compiled loops (None without numba). The first call loads them and runs each once on a
    tiny input of the real types, so that the whole cost of loading falls here."""
    global _loops, _tried, _mix_jit, _update_jit
    if _tried:
        return _loops
    _tried = True
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; numpy gives the same values
        return None
    jit = numba.njit(cache=True, nogil=True)
    _mix_jit, _update_jit = jit(_mix_hashes), jit(_update)  # the loops below call these
    _loops = SimpleNamespace(
        sign_texts=jit(_sign_texts),
        sign_flat=jit(_sign_flat),
        equal_counts=jit(_equal_counts),
        bag_overlap=jit(_bag_overlap),
    )
    sigs, _ = sign_texts(["预热", "预热一下编译好的循环"], 5)
    sign_flat(np.arange(3, dtype=np.uint64), np.array([0, 3]))
    equal_counts(sigs, np.array([[0, 1]]))
    bag_overlap(["预热", "预热一下"], np.array([[0, 1]]), 32)
    return _loops


def compiled_for(kind: str, amount: int) -> SimpleNamespace | None:
    """The compiled loops when loaded already or when this process's work of `kind` reaches
    `COMPILE_FROM`; None: use numpy."""
    _work[kind] += amount
    if _loops is not None or (not _tried and _work[kind] >= COMPILE_FROM):
        return load()
    return None


def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    from curation.minhash import permutations

    a, b = permutations(num_perm)
    return np.ascontiguousarray(a.ravel()), np.ascontiguousarray(b.ravel())


def sign_texts(texts: list[str], n: int, num_perm: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(uint32[texts, num_perm] signatures, int64[texts] distinct shingles) of character n-grams."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    loops = compiled_for("chars", int(lengths.sum()))
    if loops is None:
        from curation.text import char_shingle_batch, unique_counts

        flat, offsets = char_shingle_batch(texts, n)
        return _numpy_sign_flat(flat, offsets, num_perm), unique_counts(flat, offsets)
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    starts = np.cumsum(lengths) - lengths
    sigs = np.empty((len(texts), num_perm), dtype=np.uint32)
    sizes = np.empty(len(texts), dtype=np.int64)
    loops.sign_texts(codes, starts, lengths, n, *_permutations(num_perm), sigs, sizes)
    return sigs, sizes


def sign_flat(flat: np.ndarray, offsets: np.ndarray, num_perm: int = 128) -> np.ndarray:
    """uint32[rows, num_perm]: the signature of each row of a flat array of 64-bit shingle hashes."""
    loops = compiled_for("chars", len(flat))
    if loops is None:
        return _numpy_sign_flat(flat, offsets, num_perm)
    sigs = np.empty((len(offsets) - 1, num_perm), dtype=np.uint32)
    flat = np.ascontiguousarray(flat, dtype=np.uint64)
    loops.sign_flat(flat, np.asarray(offsets, dtype=np.int64), *_permutations(num_perm), sigs)
    return sigs


def _numpy_sign_flat(flat: np.ndarray, offsets: np.ndarray, num_perm: int) -> np.ndarray:
    from curation.minhash import numpy_signature

    sigs = np.empty((len(offsets) - 1, num_perm), dtype=np.uint32)
    for i in range(len(sigs)):
        sigs[i] = numpy_signature(flat[offsets[i] : offsets[i + 1]], num_perm)
    return sigs


def equal_counts(signatures: np.ndarray, pairs: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Equal values of the two signatures of each pair (rows of ids into `signatures`)."""
    out = np.empty(len(pairs), dtype=np.int32)
    loops = compiled_for("pairs", len(pairs))
    if loops is not None:
        loops.equal_counts(signatures, np.ascontiguousarray(pairs, dtype=np.int64), out)
        return out
    for start in range(0, len(pairs), chunk):
        part = pairs[start : start + chunk]
        out[start : start + chunk] = np.count_nonzero(
            signatures[part[:, 0]] == signatures[part[:, 1]], axis=1
        )
    return out


def bag_overlap(texts: list[str], pairs: np.ndarray, buckets: int) -> np.ndarray:
    """int64 per pair (rows of indices into `texts`): the characters the two texts share when each
    character is counted in one of `buckets` (a power of two) hashed buckets."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    shift = np.uint32(32 - (buckets - 1).bit_length())  # Fibonacci hashing to log2(buckets) bits
    out = np.empty(len(pairs), dtype=np.int64)
    loops = compiled_for("pairs", len(pairs))
    if loops is not None:
        loops.bag_overlap(codes, lengths, np.ascontiguousarray(pairs, dtype=np.int64), shift, buckets, out)
        return out
    with np.errstate(over="ignore"):
        which = (codes * _FIBONACCI) >> shift
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    bags = np.bincount(rows * buckets + which, minlength=len(texts) * buckets).reshape(len(texts), buckets)
    bags = bags.astype(np.int16 if len(texts) and lengths.max() < 2**15 else np.int32)
    for at in range(0, len(pairs), 8192):
        part = pairs[at : at + 8192]
        out[at : at + 8192] = np.minimum(bags[part[:, 0]], bags[part[:, 1]]).sum(axis=1, dtype=np.int64)
    return out
