"""Dedup verification: the MinHash screen, nearest partners, signature kernels, one UnionFind."""

from __future__ import annotations

import random

import numpy as np
from _curation_helpers import varied_text

from curation.minhash import UnionFind, cluster, nearest_partners, numpy_signature, signature
from curation.release.splits import dup_groups
from curation.text import char_shingles, dedup_key
from curation.verify import Verify, check_pairs, wilson

STOCK = [
    "你好，看到你的留言，能感受到你现在很不容易。",
    "你愿意把这些说出来，本身就是很勇敢的一步。",
    "很多来访者都有过类似的经历，你并不孤单。",
    "如果情况持续加重，建议尽快到正规医院的心理科就诊。",
    "希望我的回答对你有所帮助，祝你早日走出困境，加油！",
]


def sh(key: str) -> np.ndarray:
    return char_shingles(key, 5)


def answers_with_stock_lines(n: int, rng: random.Random) -> list[str]:
    """Counselor answers that open and close with the same stock lines, each with its own middle."""
    return [dedup_key(STOCK[0] + STOCK[1] + varied_text(rng, 500) + STOCK[3] + STOCK[4]) for _ in range(n)]


def test_wilson_bounds_hold_the_true_share():
    lo, hi = wilson(np.array([0, 64, 128]), 128)
    assert hi[0] < 0.12 and lo[2] > 0.88  # even no or all matches leave room either side
    assert lo[1] < 0.5 < hi[1] and hi[1] - lo[1] < 0.36


def test_screen_agrees_with_the_exact_rules_on_reposts_and_stock_sharing_answers():
    rng = random.Random(21)
    answers = answers_with_stock_lines(30, rng)
    original = answers[0]
    reposts = [
        original[: int(len(original) * 0.8)],  # cut: containment 1.0
        "".join(rng.choice("的一是不了人我在有") if i % 12 == 5 else c for i, c in enumerate(original)),
        original + "谢谢大家的回复，我会试着去做。",
    ]
    keys = answers + reposts
    sets = [sh(k) for k in keys]
    sigs = np.stack([signature(s) for s in sets])
    sizes = np.array([len(s) for s in sets])
    verify = Verify()
    pairs = np.array([(i, j) for i in range(len(keys)) for j in range(i + 1, len(keys))])
    matches = (sigs[pairs[:, 0]] == sigs[pairs[:, 1]]).sum(axis=1)
    screen = verify.screen(matches, 128, sizes[pairs[:, 0]], sizes[pairs[:, 1]])
    exact = np.array([verify(keys[i], keys[j], sets[i], sets[j]) for i, j in pairs.tolist()])
    assert not (screen.accept & ~exact).any() and not (screen.reject & exact).any()
    # stock-sharing pairs (J about 0.09) need at most the vectorised edit check, not the shingle sets
    assert screen.need_sets.sum() <= 6 and screen.reject.sum() > 0
    open_ = ~screen.accept & ~screen.reject
    verdict, _ = check_pairs(keys, pairs[open_], sh, verify, screen.lo[open_], screen.need_sets[open_])
    assert (verdict == exact[open_]).all()
    uf, stats = cluster(keys, sigs, sh, verify, 0.4, 128, sizes=sizes)
    assert uf.clusters()[0] == [0, 30, 31, 32] and stats["verified"] >= 3
    assert [m for m in uf.clusters().values() if len(m) > 1] == [[0, 30, 31, 32]]


def test_each_document_keeps_its_nearest_partners():
    rng = random.Random(4)
    keys = answers_with_stock_lines(40, rng)
    keys.append(keys[7][:-6] + "真的谢谢你")
    sigs = np.stack([signature(sh(k)) for k in keys])
    everyone = np.array([(i, j) for i in range(len(keys)) for j in range(i + 1, len(keys))])
    kept = nearest_partners(everyone, sigs, k=3)
    assert [7, 40] in kept.tolist()
    ends = np.bincount(kept.ravel(), minlength=len(keys))
    assert len(kept) <= 3 * len(keys) and ends.min() >= 3


def test_signature_kernels_estimate_alike_and_numpy_works_in_blocks():
    rng = random.Random(8)
    text = dedup_key(varied_text(rng, 30_000))
    edited = text[:24_000] + dedup_key(varied_text(rng, 6_000))
    a, b = sh(text), sh(edited)
    inter = len(np.intersect1d(a, b))
    exact = inter / (len(a) + len(b) - inter)
    assert len(a) > 8192  # more than one block
    for kernel in (signature, numpy_signature):
        assert abs(float((kernel(a) == kernel(b)).mean()) - exact) < 0.12
    folded = ((a >> np.uint64(32)) ^ a).astype(np.uint32)
    from curation.minhash import permutations

    pa, pb = permutations(128)
    with np.errstate(over="ignore"):
        whole = pa * folded[None, :] + pb
        whole ^= whole >> np.uint32(16)
    assert (numpy_signature(a) == whole.min(axis=1)).all()


def test_one_union_find_for_ids_and_question_ids():
    uf = UnionFind()
    uf.union("yixinli:9", "yixinli:10")
    uf.union("yixinli:10", "douban:3")
    assert uf.find("yixinli:9") == "douban:3" and len(uf.clusters()) == 1
    threads = [
        {"question_id": "q2", "dup_cluster": "q:q1", "answers": []},
        {"question_id": "q1", "dup_cluster": "q:q1", "answers": [{"dup_cluster": "a:x"}]},
        {"question_id": "q3", "dup_cluster": None, "answers": [{"dup_cluster": "a:x"}]},
        {"question_id": "q4", "dup_cluster": None, "answers": []},
    ]
    assert dup_groups(threads) == {"q2": "q1", "q1": "q1", "q3": "q1", "q4": "q4"}
