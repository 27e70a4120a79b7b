"""The compiled dedup loops give exactly what their numpy definitions give."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from curation import kernels
from curation.minhash import numpy_signature, signature
from curation.text import char_shingle_batch, dedup_key, unique_counts
from empathyqa.synthetic import field_text, iter_threads

EDGES = ["", "好", "四个字儿", "五个字正好", "😀😀😀😀😀😀x", "同" * 40, "ab\x00cd\x00ef"]


@pytest.fixture(scope="module")
def keys() -> list[str]:
    threads = list(iter_threads(300, seed=11))
    texts = [field_text(t, "body") for t in threads] + [a["body"] for t in threads for a in t["answers"]]
    return [dedup_key(t) for t in texts] + EDGES


def numpy_reference(keys: list[str], n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    flat, offsets = char_shingle_batch(keys, n)
    sigs = np.stack([numpy_signature(flat[offsets[i] : offsets[i + 1]]) for i in range(len(keys))])
    return sigs, unique_counts(flat, offsets)


@pytest.fixture(scope="module", autouse=True)
def compiled():
    loops = kernels.load()  # small inputs would run on numpy, which is what they are compared to
    assert loops is not None, "numba is a dependency: the numpy path is several times slower"
    return loops


def test_small_work_stays_on_numpy_until_compile_from(monkeypatch, compiled):
    monkeypatch.setattr(kernels, "_work", {"chars": 0, "pairs": 0})
    monkeypatch.setattr(kernels, "_loops", None)
    monkeypatch.setattr(kernels, "_tried", False)
    assert kernels.compiled_for("chars", 10) is None
    assert kernels.compiled_for("pairs", kernels.COMPILE_FROM - 1) is None
    assert kernels.compiled_for("chars", kernels.COMPILE_FROM) is not None
    assert kernels.compiled_for("pairs", 1) is not None  # loaded once: for any work after


@pytest.mark.parametrize("n", [3, 5])
def test_sign_texts_equals_the_numpy_definition(keys, n):
    sigs, sizes = kernels.sign_texts(keys, n)
    want_sigs, want_sizes = numpy_reference(keys, n)
    assert sigs.dtype == np.uint32 and sigs.shape == (len(keys), 128)
    assert np.array_equal(sigs, want_sigs)
    assert np.array_equal(sizes, want_sizes)
    if n == 5:  # shorter than n: one hash of it all; repeated windows count once
        assert sizes[-len(EDGES) :].tolist() == [1, 1, 1, 1, 2, 1, 4]
    assert len(keys) > 900 and 150 < float(np.mean(sizes)) < 2000  # real-length posts and answers


def test_sign_flat_and_single_signature_equal_numpy(keys):
    flat, offsets = char_shingle_batch(keys[:50], 5)
    want = np.stack([numpy_signature(flat[offsets[i] : offsets[i + 1]]) for i in range(50)])
    assert np.array_equal(kernels.sign_flat(flat, offsets), want)
    assert np.array_equal(signature(flat[offsets[7] : offsets[8]]), want[7])
    assert (signature(np.zeros(0, dtype=np.uint64)) == np.iinfo(np.uint32).max).all()


def test_equal_counts_equals_numpy(keys):
    sigs, _ = kernels.sign_texts(keys, 5)
    rng = np.random.default_rng(3)
    pairs = np.sort(rng.integers(0, len(keys), size=(5000, 2)), axis=1)
    want = np.count_nonzero(sigs[pairs[:, 0]] == sigs[pairs[:, 1]], axis=1)
    got = kernels.equal_counts(sigs, pairs)
    assert got.dtype == np.int32 and np.array_equal(got, want)
    assert got[pairs[:, 0] == pairs[:, 1]].tolist() == [128] * int((pairs[:, 0] == pairs[:, 1]).sum())
    assert kernels.equal_counts(sigs, np.zeros((0, 2), dtype=np.int64)).shape == (0,)


def test_bag_overlap_equals_counting_in_python(keys, monkeypatch):
    rng = np.random.default_rng(5)
    texts = keys[:200]
    pairs = rng.integers(0, len(texts), size=(3000, 2))
    compiled = kernels.bag_overlap(texts, pairs, 32)
    monkeypatch.setattr(kernels, "compiled_for", lambda kind, amount: None)
    assert np.array_equal(kernels.bag_overlap(texts, pairs, 32), compiled)

    def bag(text: str) -> Counter:
        return Counter((ord(c) * 0x9E3779B1 % 2**32) >> 27 for c in text)

    want = [sum((bag(texts[a]) & bag(texts[b])).values()) for a, b in pairs[:300].tolist()]
    assert compiled[:300].tolist() == want
    same = [sum(Counter(texts[a]).values()) for a in range(5)]  # a text shares all of itself
    assert kernels.bag_overlap(texts, np.array([[a, a] for a in range(5)]), 256).tolist() == same


def test_unique_pairs_sorts_and_dedups_and_keeps_sorted_input():
    from curation.minhash import unique_pairs

    messy = np.array([[3, 9], [0, 4], [3, 9], [0, 2]])
    assert unique_pairs(messy).tolist() == [[0, 2], [0, 4], [3, 9]]
    tidy = np.array([[0, 2], [0, 4], [3, 9]], dtype=np.int64)
    assert unique_pairs(tidy) is tidy
