"""A linear topic classifier: TF-IDF over jieba words and character 2-3-grams, trained with scikit-learn
on the tagged threads of a crawl, saved as JSON weights and applied in plain Python (no scikit-learn
needed to curate).

A saved model holds the labels ("primary/sub"), the idf of every feature kept, and per feature the
weights of the classes where it matters most (the smallest weights are pruned, which keeps the file to
a few MB and the argmax nearly unchanged).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from empathyqa.io import read_model_json

BUNDLED_MODEL = Path(__file__).parent / "data" / "topic_model.json"
FORMAT = "empathyqa-topic-model/1"
_NON_TEXT = re.compile(r"[\s\d\W_]+")


def features(text: str, chars: int = 300) -> list[str]:
    """jieba words (two characters or more) and character 2- and 3-grams of the opening text."""
    import jieba

    text = text[:chars]
    out = [f"w:{w}" for w in jieba.cut(text, HMM=False) if len(w) >= 2 and not _NON_TEXT.fullmatch(w)]
    for run in _NON_TEXT.split(text):
        for n in (2, 3):
            out += [f"c:{run[i : i + n]}" for i in range(len(run) - n + 1)]
    return out


class TopicModel:
    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a topic model (format {data.get('format')!r}, expected {FORMAT})")
        self.labels: list[str] = data["labels"]
        self.chars: int = data["chars"]
        self.idf: dict[str, float] = data["idf"]
        self.weights: dict[str, list[list[float]]] = data["weights"]
        self.intercept: list[float] = data["intercept"]
        self.trained_on: dict[str, Any] = data.get("trained_on", {})
        # a dense (features x classes) matrix: one row gather and one product per document
        self.index = {f: i for i, f in enumerate(self.idf)}
        self.idf_vector = np.array(list(self.idf.values()), dtype=np.float32)
        self.matrix = np.zeros((len(self.idf), len(self.labels)), dtype=np.float32)
        for f, pairs in self.weights.items():
            for label, w in pairs:
                self.matrix[self.index[f], int(label)] = w
        self.bias = np.array(self.intercept, dtype=np.float32)

    @classmethod
    def load(cls, path: str | Path | None = None) -> TopicModel | None:
        return read_model_json(path or BUNDLED_MODEL, cls, "topic model")

    def scores(self, text: str) -> np.ndarray | None:
        """Per-class scores, or None when the text holds no feature the model knows."""
        counts = Counter(self.index[f] for f in features(text, self.chars) if f in self.index)
        if not counts:
            return None
        rows = np.fromiter(counts, dtype=np.int64, count=len(counts))
        # sublinear tf times idf, l2-normalised, as scikit-learn's TfidfVectorizer(sublinear_tf=True)
        values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32))) * self.idf_vector[rows]
        values /= np.linalg.norm(values) or 1.0
        return self.bias + values @ self.matrix[rows]

    def predict(self, text: str) -> tuple[str, float]:
        """("primary/sub", the best class's score: above 0 the linear SVM says "this class"); a text
        without one known feature scores -inf (the intercepts alone say nothing about it)."""
        scores = self.scores(text)
        if scores is None:
            return self.labels[int(np.argmax(self.bias))], float("-inf")
        best = int(np.argmax(scores))
        return self.labels[best], float(scores[best])


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    chars: int = 200,
    max_features: int = 40_000,
    keep_per_class: int = 1_500,
    c: float = 0.5,
    sample_weight: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Fit TF-IDF + a linear SVM; return the JSON-able model."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"need at least two topics to train on, got {classes}")
    vectorizer = TfidfVectorizer(
        analyzer=lambda t: features(t, chars), sublinear_tf=True, min_df=2, max_features=max_features
    )
    x = vectorizer.fit_transform(texts)
    svm = LinearSVC(C=c).fit(x, labels, sample_weight=sample_weight)
    coef = svm.coef_ if len(classes) > 2 else [-svm.coef_[0], svm.coef_[0]]
    intercept = list(svm.intercept_) if len(classes) > 2 else [-svm.intercept_[0], svm.intercept_[0]]
    names = vectorizer.get_feature_names_out()
    kept: dict[int, list[list[float]]] = {}
    for k, row in enumerate(coef):
        for j in sorted(range(len(row)), key=lambda j: -abs(row[j]))[:keep_per_class]:
            if row[j]:
                kept.setdefault(j, []).append([k, round(float(row[j]), 4)])
    return {
        "format": FORMAT,
        "labels": list(svm.classes_),
        "chars": chars,
        "idf": {names[j]: round(float(vectorizer.idf_[j]), 4) for j in kept},
        "weights": {names[j]: w for j, w in kept.items()},
        "intercept": [round(float(b), 4) for b in intercept],
        "trained_on": {"threads": len(texts), "classes": len(classes)},
    }
