"""Agreement between annotators and the rule that resolves a task's annotations into one record.

Everything here is pure (no server): edit distance, text similarity, pairwise verdict agreement,
Krippendorff's alpha, and majority resolution with ties left for adjudication.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import krippendorff
import numpy as np
from rapidfuzz.distance import Levenshtein

from empathyqa.schema import LAYERS

VOTE_STATUSES = ("accepted", "edited", "rejected")  # a "skipped" annotation casts no vote


def levenshtein(a: str, b: str) -> int:
    """Character edit distance (insertions, deletions, substitutions), by rapidfuzz: thousands of
    times faster than the quadratic Python version on layer-length texts (bench/evaluate.py)."""
    return Levenshtein.distance(a, b)


def layers_edit_distance(draft: Mapping[str, str | None], verified: Mapping[str, str | None]) -> int:
    return sum(levenshtein(draft.get(n) or "", verified.get(n) or "") for n in LAYERS)


def layers_similarity(a: Mapping[str, str | None], b: Mapping[str, str | None]) -> float:
    """1 - edit distance / longer length, layer by layer (an edit never spans two layers)."""
    longest = max(sum(len(a.get(n) or "") for n in LAYERS), sum(len(b.get(n) or "") for n in LAYERS))
    return 1.0 if longest == 0 else 1.0 - layers_edit_distance(a, b) / longest


def pairwise_agreement(labels: Sequence[Any]) -> float | None:
    """Share of annotator pairs that gave the same label; None with fewer than two labels."""
    pairs = list(combinations(labels, 2))
    if not pairs:
        return None
    return sum(x == y for x, y in pairs) / len(pairs)


def mean_pairwise_similarity(texts: Sequence[Mapping[str, str | None]]) -> float | None:
    pairs = list(combinations(texts, 2))
    if not pairs:
        return None
    return sum(layers_similarity(x, y) for x, y in pairs) / len(pairs)


def alpha(units: Mapping[Any, Mapping[str, Any]], level: str) -> float | None:
    """Krippendorff's alpha over {unit: {annotator: value}}; None when it is undefined.

    Undefined: no unit holds two values, or every value is the same (no variation to agree on).
    """
    annotators = sorted({a for votes in units.values() for a in votes})
    pairable = [votes for votes in units.values() if len(votes) >= 2]
    if len(annotators) < 2 or not pairable:
        return None
    codes: dict[Any, float] = {}
    if level == "nominal":
        codes = {
            v: float(i) for i, v in enumerate(sorted({str(v) for votes in pairable for v in votes.values()}))
        }
    matrix = np.full((len(annotators), len(pairable)), np.nan)
    for col, votes in enumerate(pairable):
        for row, annotator in enumerate(annotators):
            if annotator in votes and votes[annotator] is not None:
                value = votes[annotator]
                matrix[row, col] = codes[str(value)] if level == "nominal" else float(value)
    if len(set(matrix[~np.isnan(matrix)].tolist())) < 2:
        return None
    try:
        value = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))
    except (ValueError, ZeroDivisionError):
        return None
    return None if math.isnan(value) else round(value, 6)


@dataclass(frozen=True)
class Vote:
    annotation_id: int
    status: str  # accepted | edited | rejected | skipped
    layers: Mapping[str, str]
    ground_truth: bool = False


@dataclass(frozen=True)
class Resolution:
    status: str  # accepted | edited | rejected | draft (no vote yet, or a tie)
    layers: Mapping[str, str]
    rule: str  # none | single | majority | unanimous | ground_truth | tie
    needs_adjudication: bool
    agreement: float | None  # pairwise verdict agreement among the votes
    text_similarity: float | None  # mean pairwise similarity of the texts the voters kept


def _medoid(votes: Sequence[Vote]) -> Vote:
    """The edited text closest to the other edits; lowest annotation id breaks ties."""

    def closeness(i: int) -> float:
        return sum(layers_similarity(votes[i].layers, votes[j].layers) for j in range(len(votes)) if j != i)

    best = max(range(len(votes)), key=lambda i: (closeness(i), -votes[i].annotation_id))
    return votes[best]


def resolve(draft: Mapping[str, str], votes: Sequence[Vote]) -> Resolution:
    """Majority of the verdicts; a tie is not guessed at but left as `draft` for adjudication.

    An annotation marked ground truth in Label Studio (how a lead adjudicates) overrides the vote.
    """
    cast = sorted((v for v in votes if v.status in VOTE_STATUSES), key=lambda v: v.annotation_id)
    agreement = pairwise_agreement([v.status for v in cast])
    kept = [v.layers if v.status == "edited" else draft for v in cast if v.status != "rejected"]
    text_similarity = mean_pairwise_similarity(kept)
    if not cast:
        return Resolution("draft", dict(draft), "none", False, None, None)
    truth = [v for v in cast if v.ground_truth]
    if truth:
        chosen = truth[-1]
        layers = chosen.layers if chosen.status == "edited" else draft
        return Resolution(chosen.status, dict(layers), "ground_truth", False, agreement, text_similarity)
    counts = Counter(v.status for v in cast).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return Resolution("draft", dict(draft), "tie", True, agreement, text_similarity)
    status = counts[0][0]
    rule = "single" if len(cast) == 1 else ("unanimous" if len(counts) == 1 else "majority")
    layers = _medoid([v for v in cast if v.status == "edited"]).layers if status == "edited" else draft
    return Resolution(status, dict(layers), rule, False, agreement, text_similarity)
