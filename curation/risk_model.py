"""A learned second opinion for the risk lexicon: TF-IDF over character 1-4-grams and a multinomial logistic
regression over the four levels, trained with scikit-learn on the labelled sets of tests/data/risk_eval/,
saved as JSON weights (curation/data/risk_model.json) and applied in plain Python with numpy.

    python -m curation.risk_model train [--out PATH]     # retrain from the committed sets

The model reads a window (a sentence and the one before it), as the labelled items are 1 to 6 sentences;
its at-risk probability is P(medium) + P(high). Curation runs it on every sentence of the asker's title
and body (never on answers), all windows of a field in one batch; see curation/risk.py for how its call
combines with the lexicon's.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from empathyqa.io import read_model_json

BUNDLED_MODEL = Path(__file__).parent / "data" / "risk_model.json"
FORMAT = "empathyqa-risk-model/1"
LEVELS = ("none", "low", "medium", "high")
EVAL_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "risk_eval"
# The writers of the training sets (each wrote blind, without the lexicon or the others' sets); holdout2
# joined them once it had been scored. The frozen evaluation set (holdout3.jsonl) is never read here.
WRITERS = {
    "old": ("dev", "tuning", "holdout"),
    "train_a": ("train_a",),
    "train_b": ("train_b",),
    "holdout2": ("holdout2",),
}
THRESHOLD = 0.5
# Level-none training texts that belong to no writer's fold: generated background and everyday sentences.
EXTRA_NONE = ("background", "everyday")
MAX_N = 4  # the longest n-gram
_SPACE = re.compile(r"\s+")


_PRIME, _SIZE = 1_000_003, 0x9E3779B97F4A7C15
# An n-gram's hash: sum of c_k * PRIME^(n-1-k) plus n * SIZE, mod 2^64; column n-1 of the product of the
# (positions x MAX_N) code-point windows with _POWERS is that of the n-gram starting there.
_POWERS = np.array(
    [[pow(_PRIME, n - 1 - k, 2**64) if k < n else 0 for n in range(1, MAX_N + 1)] for k in range(MAX_N)],
    dtype=np.uint64,
)
_SIZES = np.array([n * _SIZE % 2**64 for n in range(1, MAX_N + 1)], dtype=np.uint64)


def _windows(codes: np.ndarray, positions: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(codes, MAX_N)[:positions]


def _hash_one(feature: str) -> int:
    n = len(feature)
    return (sum(ord(ch) * pow(_PRIME, n - 1 - k, 2**64) for k, ch in enumerate(feature)) + n * _SIZE) % 2**64


def features(text: str) -> list[str]:
    """Character 1- to 4-grams of the text, white space removed."""
    text = _SPACE.sub("", text)
    return [text[i : i + n] for n in range(1, MAX_N + 1) for i in range(len(text) - n + 1)]


def load_rows(names: Sequence[str], folder: Path = EVAL_DIR) -> list[dict]:
    rows = []
    for name in names:
        path = folder / f"{name}.jsonl"
        if path.exists():
            rows += [
                json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            ]
    return rows


def training_rows(writers: Sequence[str] = tuple(WRITERS), folder: Path = EVAL_DIR) -> list[dict]:
    return load_rows([name for w in writers for name in WRITERS[w]], folder)


class RiskModel:
    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a risk model (format {data.get('format')!r}, expected {FORMAT})")
        if list(data["labels"]) != list(LEVELS):
            raise ValueError(f"labels {data['labels']!r}, expected {list(LEVELS)}")
        self.data = data
        self.threshold: float = float(data.get("threshold", THRESHOLD))
        self.index = {f: i for i, f in enumerate(data["idf"])}
        self.idf = np.array(list(data["idf"].values()), dtype=np.float64)
        self.matrix = np.array(data["weights"], dtype=np.float64).reshape(len(self.index), len(LEVELS))
        self.bias = np.array(data["intercept"], dtype=np.float64)
        hashes = np.array([_hash_one(f) for f in self.index], dtype=np.uint64)
        order = np.argsort(hashes, kind="stable")
        self.keys, self.key_ids = hashes[order], order
        if len(np.unique(self.keys)) != len(self.keys):
            raise ValueError("two features share a hash")

    @classmethod
    def load(cls, path: str | Path | None = None) -> RiskModel | None:
        return read_model_json(path or BUNDLED_MODEL, cls, "risk model")

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 4) probabilities of none, low, medium, high, for all texts in one batch of array
        operations: the n-grams at every position are hashed from their code points in one product and
        looked up in the sorted hashes of the features kept (no Python loop over characters)."""
        n = len(texts)
        logits = np.tile(self.bias, (n, 1))
        texts = [_SPACE.sub("", t) for t in texts]
        # texts joined by NUL (in no feature, so no n-gram across two texts matches)
        joined = "\0".join(texts) + "\0" * MAX_N
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        positions = len(codes) - MAX_N
        if positions > 0:
            with np.errstate(over="ignore"):
                keys = (_windows(codes, positions) @ _POWERS + _SIZES).ravel()
            at = np.searchsorted(self.keys, keys)
            at[at == len(self.keys)] = 0
            hit = self.keys[at] == keys
            lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n) + 1
            owner = np.repeat(np.repeat(np.arange(n), lengths)[:positions], MAX_N)[hit]
            logits += self._logits(owner, self.key_ids[at[hit]], n)
        logits = np.exp(logits - logits.max(axis=1, keepdims=True))
        return logits / logits.sum(axis=1, keepdims=True)

    def window_probabilities(self, sentences: Sequence[str]) -> np.ndarray:
        """(len(sentences), 4): for each sentence, the probabilities of the window of it and the one
        before, as probabilities() of the joined pair would give, with each n-gram hashed and looked up
        once (an n-gram inside a sentence counts for its two windows, one across the border for one)."""
        n = len(sentences)
        logits = np.tile(self.bias, (n, 1))
        parts = [_SPACE.sub("", t) for t in sentences]
        codes = np.frombuffer(("".join(parts) + "\0" * MAX_N).encode("utf-32-le"), dtype=np.uint32)
        positions = len(codes) - MAX_N
        if positions > 0:
            codes = codes.astype(np.uint64)
            with np.errstate(over="ignore"):
                keys = (_windows(codes, positions) @ _POWERS + _SIZES).ravel()
            at = np.searchsorted(self.keys, keys)
            at[at == len(self.keys)] = 0
            hit = np.flatnonzero(self.keys[at] == keys)
            sentence = np.repeat(np.arange(n), np.fromiter(map(len, parts), dtype=np.int64, count=n))
            start = sentence[hit // MAX_N]
            end = sentence[np.minimum(hit // MAX_N + hit % MAX_N, positions - 1)]
            ids = self.key_ids[at[hit]]
            inner = (start == end) & (start + 1 < n)
            owner = np.concatenate([end, start[inner] + 1])
            ids = np.concatenate([ids, ids[inner]])
            keep = end - start <= 1
            keep = np.concatenate([keep, keep[inner]])
            logits += self._logits(owner[keep], ids[keep], n)
        logits = np.exp(logits - logits.max(axis=1, keepdims=True))
        return logits / logits.sum(axis=1, keepdims=True)

    def _logits(self, owner: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
        pairs, tf = np.unique(owner * len(self.idf) + ids, return_counts=True)
        window, rows = np.divmod(pairs, len(self.idf))
        # sublinear tf times idf, l2-normalised per text, as TfidfVectorizer(sublinear_tf=True)
        values = (1.0 + np.log(tf)) * self.idf[rows]
        values /= np.sqrt(np.bincount(window, values * values, minlength=n))[window]
        products = values[:, None] * self.matrix[rows]
        cells = window[:, None] * len(LEVELS) + np.arange(len(LEVELS))
        return np.bincount(cells.ravel(), products.ravel(), minlength=n * len(LEVELS)).reshape(n, -1)

    def call(self, probs: np.ndarray, threshold: float | None = None) -> str:
        """The model's level for one row of probabilities: at risk when P(medium) + P(high) reaches the
        threshold (then the likelier of the two), else the likelier of none and low."""
        t = self.threshold if threshold is None else threshold
        if probs[2] + probs[3] >= t:
            return "high" if probs[3] > probs[2] else "medium"
        return "low" if probs[1] > probs[0] else "none"


def train(texts: Sequence[str], labels: Sequence[str], *, c: float = 10.0) -> dict[str, Any]:
    """Fit TF-IDF + multinomial logistic regression on normalised texts; return the JSON-able model."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    missing = set(LEVELS) - set(labels)
    if missing:
        raise ValueError(f"no training text of level {sorted(missing)}")
    vectorizer = TfidfVectorizer(analyzer=features, sublinear_tf=True, min_df=2, dtype=np.float64)
    x = vectorizer.fit_transform(texts)
    lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(x, labels)
    order = [list(lr.classes_).index(level) for level in LEVELS]
    coef = lr.coef_[order].T  # features x levels
    names = vectorizer.get_feature_names_out()
    return {
        "format": FORMAT,
        "labels": list(LEVELS),
        "threshold": THRESHOLD,
        "idf": {str(n): round(float(v), 5) for n, v in zip(names, vectorizer.idf_, strict=True)},
        "weights": [round(float(w), 5) for w in coef.ravel()],
        "intercept": [round(float(b), 5) for b in lr.intercept_[order]],
        "trained_on": {"texts": len(texts), "per_level": dict(sorted(Counter(labels).items()))},
    }


def train_on_rows(rows: Sequence[dict], **kwargs: Any) -> dict[str, Any]:
    from curation.text import normalise

    return train([normalise(r["text"]) for r in rows], [r["level"] for r in rows], **kwargs)


CONFIGS = ("lexicon", "model", "max", "fill")


def _model_level(model: RiskModel, window: tuple[np.ndarray, str] | None, threshold: float) -> str:
    return "none" if window is None else model.call(window[0], threshold)


def cross_validate(
    groups: dict[str, list[dict]],
    thresholds: Sequence[float] = (THRESHOLD,),
    background_rows: Sequence[dict] = (),
    anchors: bool = True,
    weak_threshold: float | None = None,
    **train_kwargs: Any,
) -> dict[tuple[str, float], list[tuple[str, str, str]]]:
    """Leave one group (writer) out: train on the others, predict the one left out. Returns
    {(config, threshold): [(group, gold level, predicted level), ...]} for the configs "lexicon" (alone),
    Every fold also trains on `background_rows`. Configs: "model" (alone), "max" (the higher of the two, the model counting at medium or
    high) and "fill" (the model only on sentences where no lexicon entry matched). Answers
    (`where=answer`) go to the model only in windows of the replier's own words (no counselor advice)."""
    from curation.risk import RANK, RiskScanner, overall_level
    from curation.text import normalise

    scanner = RiskScanner(model=False)
    if not anchors:
        scanner.anchors_re = None
    if weak_threshold is not None:
        scanner.weak_threshold = weak_threshold
    out: dict[tuple[str, float], list[tuple[str, str, str]]] = {
        (c, t): [] for c in CONFIGS for t in thresholds
    }
    for left, test in groups.items():
        rest = [r for g, rows in groups.items() if g != left for r in rows]
        if not test or not rest:
            continue
        rest += background_rows
        model = scanner.model = RiskModel(train_on_rows(rest, **train_kwargs))
        for row in test:
            text, answer = normalise(row["text"]), row["where"] == "answer"
            best, matched = scanner.scan_lexicon(text, "answer:eval" if answer else "body", answer)
            lexicon = overall_level(list(best.values()))
            every = scanner.model_window(text, set(), answer)
            unmatched = every if not matched else scanner.model_window(text, matched, answer)
            for t in thresholds:
                alone = _model_level(model, every, t)
                calls = {
                    "lexicon": lexicon,
                    "model": alone,
                    "max": max(lexicon, _at_risk(_model_level(model, every, t)), key=RANK.__getitem__),
                    "fill": max(lexicon, _at_risk(_model_level(model, unmatched, t)), key=RANK.__getitem__),
                }
                for config, level in calls.items():
                    out[(config, t)].append((left, row["level"], level))
    scanner.model = None
    return out


def _at_risk(level: str) -> str:
    return level if level in ("medium", "high") else "none"


def background(n_threads: int = 2000, seed: int = 11, limit: int = 3000, salads: int = 1000) -> list[dict]:
    """Ordinary counselling text as level-none sentences and windows (a sentence and the one before it)
    from the title and body of generated threads without planted risk (empathyqa.synthetic, a seed other than the
    bench's): the labelled sets are short texts nearly all about death, so without these the model takes
    everyday distress ("越来越压抑", "不想出门") for risk."""
    import random

    from curation.risk import _SENTENCE
    from curation.text import normalise
    from empathyqa.synthetic import generate_corpus

    corpus = generate_corpus(n_threads, seed=seed, same_id_rate=0.0, risk_rate=0.0, repost_rate=0.0)
    seen: dict[str, None] = {}
    for thread in corpus.threads:
        for text in (normalise(thread["title"]), normalise(thread["body"])):
            spans = [m.span() for m in _SENTENCE.finditer(text)]
            for i, (a, b) in enumerate(spans):
                for start in (a, spans[i - 1][0] if i else a):
                    window = text[start:b].strip()
                    if len(window) >= 6:
                        seen.setdefault(window)
    windows = list(seen)
    rng = random.Random(seed)
    rng.shuffle(windows)
    # character salad (garbled or spam text): common characters in random order, so that single
    # characters with no word around them are not read as risk
    from curation.risk import _FREQUENT

    salad = [
        "".join(rng.choices(_FREQUENT, k=rng.randint(12, 40))) + rng.choice("。！？，") for _ in range(salads)
    ]
    return [
        {
            "id": f"bg{i:04d}",
            "text": w,
            "level": "none",
            "party": "none",
            "kind": "background",
            "where": "question",
        }
        for i, w in enumerate(windows[:limit] + salad)
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the risk model on tests/data/risk_eval/.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="retrain from the committed labelled sets and save the JSON weights")
    p.add_argument("--out", type=Path, default=BUNDLED_MODEL)
    p = sub.add_parser("background", help="write the level-none background windows (background.jsonl)")
    p.add_argument("--out", type=Path, default=EVAL_DIR / "background.jsonl")
    args = parser.parse_args(argv)
    if args.command == "background":
        rows = background()
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{len(rows)} background windows -> {args.out}")
        return
    rows = training_rows() + load_rows(EXTRA_NONE)
    model = train_on_rows(rows)
    args.out.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(
        f"risk model: {len(rows)} texts {model['trained_on']['per_level']}, {len(model['idf']):,} features, "
        f"-> {args.out}"
    )


if __name__ == "__main__":
    main()
