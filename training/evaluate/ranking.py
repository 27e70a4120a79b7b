"""From rankings to the Win@K table: shared by the LLM judge and the human round.

A *judgement* ranks every system's answer to one post on one dimension, best first. It comes
from one judge call in one presentation order, or from one annotator. Per post and dimension the
ranks a system got are averaged over judgements; the overall rank averages the four dimensions.
The averaged ranks are then placed 1..n. Systems that tie share the places they cover: a
system in a tie of g over places lo..hi counts as Win@K with probability (K - lo + 1) / g,
clipped to [0, 1], so Win@1 sums to 1 over systems on every post.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DIMENSIONS = ("fluency", "recognition", "comfort", "suggestions")
OVERALL = "overall"


@dataclass(frozen=True)
class Judgement:
    post: str
    dimension: str
    ranking: tuple[str, ...]  # systems, best first
    source: str  # judge order ("order-1") or annotator id


def average_ranks(
    judgements: Sequence[Judgement], systems: Sequence[str]
) -> dict[str, dict[str, np.ndarray]]:
    """{dimension or "overall": {post: array of mean ranks in `systems` order}}."""
    collected: dict[tuple[str, str], list[list[int]]] = defaultdict(list)
    index = {s: i for i, s in enumerate(systems)}
    for j in judgements:
        ranks = [0] * len(systems)
        for place, system in enumerate(j.ranking, 1):
            ranks[index[system]] = place
        collected[(j.dimension, j.post)].append(ranks)
    table: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    for (dimension, post), rows in collected.items():
        table[dimension][post] = np.mean(np.array(rows, dtype=float), axis=0)
    posts = sorted({post for _, post in collected})
    for post in posts:
        per_dim = [table[d][post] for d in table if d != OVERALL and post in table[d]]
        table[OVERALL][post] = np.mean(per_dim, axis=0)
    return dict(table)


def win_probabilities(mean_ranks: np.ndarray, ks: Sequence[int]) -> np.ndarray:
    """Shape (len(ks), systems): chance each system places within the top K, ties shared."""
    rounded = np.round(mean_ranks, 9)
    out = np.zeros((len(ks), len(rounded)))
    for value in np.unique(rounded):
        members = np.flatnonzero(rounded == value)
        lo = int(np.sum(rounded < value)) + 1
        for row, k in enumerate(ks):
            out[row, members] = min(max((k - lo + 1) / len(members), 0.0), 1.0)
    return out


def win_table(
    judgements: Sequence[Judgement],
    systems: Sequence[str],
    ks: Sequence[int],
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, dict]:
    """{dimension: {"posts": n, "systems": {system: {"win@K": {value, ci}, "mean_rank": {value, ci}}}}}."""
    rng = np.random.default_rng(seed)
    result: dict[str, dict] = {}
    for dimension, by_post in average_ranks(judgements, systems).items():
        posts = sorted(by_post)
        ranks = np.stack([by_post[p] for p in posts])  # (posts, systems)
        wins = np.stack([win_probabilities(by_post[p], ks) for p in posts])  # (posts, ks, systems)
        samples = rng.integers(0, len(posts), size=(n_bootstrap, len(posts))) if n_bootstrap else None
        per_system: dict[str, dict] = {}
        for s, system in enumerate(systems):
            row: dict[str, dict] = {}
            for i, k in enumerate(ks):
                row[f"win@{k}"] = _with_ci(wins[:, i, s], samples)
            row["mean_rank"] = _with_ci(ranks[:, s], samples)
            per_system[system] = row
        result[dimension] = {"posts": len(posts), "systems": per_system}
    return result


def _with_ci(values: np.ndarray, samples: np.ndarray | None) -> dict:
    """Mean with a 95% percentile bootstrap interval over posts."""
    if samples is None:
        return {"value": float(values.mean()), "ci": None}
    means = values[samples].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"value": float(values.mean()), "ci": [float(low), float(high)]}


def kendalls_w(rankings: Sequence[Sequence[float]]) -> float | None:
    """Kendall's coefficient of concordance for m raters ranking the same n items (tie-corrected)."""
    data = np.asarray(rankings, dtype=float)
    m, n = data.shape if data.ndim == 2 else (0, 0)
    if m < 2 or n < 2:
        return None
    sums = data.sum(axis=0)
    s = float(np.sum((sums - sums.mean()) ** 2))
    ties = 0.0
    for row in data:
        _, counts = np.unique(row, return_counts=True)
        ties += float(np.sum(counts**3 - counts))
    denominator = m**2 * (n**3 - n) - m * ties
    return s * 12 / denominator if denominator else None


def agreement(judgements: Sequence[Judgement], systems: Sequence[str]) -> dict:
    """Agreement between sources (annotators, or judge orders) that ranked the same post.

    Kendall's W per (post, dimension) with at least two sources, averaged; Krippendorff's
    alpha (ordinal) with sources as coders and (post, dimension, system) as units.
    """
    import krippendorff

    index = {s: i for i, s in enumerate(systems)}
    by_item: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(dict)
    for j in judgements:
        ranks = [0] * len(systems)
        for place, system in enumerate(j.ranking, 1):
            ranks[index[system]] = place
        by_item[(j.post, j.dimension)][j.source] = ranks
    w_by_dim: dict[str, list[float]] = defaultdict(list)
    for (_, dimension), by_source in by_item.items():
        w = kendalls_w(list(by_source.values()))
        if w is not None:
            w_by_dim[dimension].append(w)
    sources = sorted({j.source for j in judgements})
    units = sorted(by_item)
    matrix = np.full((len(sources), len(units) * len(systems)), np.nan)
    for u, item in enumerate(units):
        for source, ranks in by_item[item].items():
            matrix[sources.index(source), u * len(systems) : (u + 1) * len(systems)] = ranks
    paired = np.sum(~np.isnan(matrix), axis=0) >= 2
    alpha = None
    if paired.sum() and len(np.unique(matrix[:, paired][~np.isnan(matrix[:, paired])])) > 1:
        alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal"))
    all_w = [w for ws in w_by_dim.values() for w in ws]
    return {
        "sources": len(sources),
        "items_with_overlap": len(all_w),
        "kendalls_w": float(np.mean(all_w)) if all_w else None,
        "kendalls_w_by_dimension": {d: float(np.mean(ws)) for d, ws in sorted(w_by_dim.items())},
        "krippendorff_alpha_ordinal": alpha,
    }
