"""Topics: site tags and jieba.analyse keywords mapped onto a taxonomy of primary and sub topics."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

BUNDLED_TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"
TAG_WEIGHT, KEYWORD_WEIGHT, TEXT_WEIGHT = 3.0, 2.0, 1.0


@dataclass(frozen=True)
class Subtopic:
    topic: str
    subtopic: str
    tags: frozenset[str]
    keywords: tuple[str, ...]


class Taxonomy:
    def __init__(self, subtopics: list[Subtopic], default: tuple[str, str]) -> None:
        self.subtopics = subtopics
        self.default = default
        # one pass of one regex finds every taxonomy keyword; a dict maps it to its sub-topics
        self.by_word: dict[str, list[int]] = {}
        self.by_tag: dict[str, list[int]] = {}
        for i, sub in enumerate(subtopics):
            for word in sub.keywords:
                self.by_word.setdefault(word, []).append(i)
            for tag in sub.tags:
                self.by_tag.setdefault(tag, []).append(i)
        words = sorted(self.by_word, key=lambda w: (-len(w), w))
        self.pattern = re.compile("|".join(map(re.escape, words))) if words else None

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        path = Path(path) if path else BUNDLED_TAXONOMY
        if not path.exists():
            raise SystemExit(f"taxonomy file not found: {path}")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data.get("topics"), dict):
            raise SystemExit(f"{path}: expected a 'topics' mapping of primary -> sub-topic -> tags/keywords")
        subs = []
        for topic, children in data["topics"].items():
            for sub, spec in (children or {}).items():
                spec = spec or {}
                subs.append(
                    Subtopic(
                        str(topic),
                        str(sub),
                        frozenset(map(str, spec.get("tags", []))),
                        tuple(map(str, spec.get("keywords", []))),
                    )
                )
        default = data.get("default") or {}
        return cls(subs, (str(default.get("topic", "其他")), str(default.get("subtopic", "其他"))))

    def classify(self, tags: list[str], keywords: list[str], text: str) -> tuple[str, str, float]:
        """(topic, subtopic, score); the default pair when nothing matches."""
        scores: dict[int, float] = {}

        def add(indices: list[int], weight: float) -> None:
            for i in indices:
                scores[i] = scores.get(i, 0.0) + weight

        for tag in set(tags):
            add(self.by_tag.get(tag, []), TAG_WEIGHT)
        if self.pattern is not None:
            for keyword in keywords:
                for word in set(self.pattern.findall(keyword)):
                    add(self.by_word[word], KEYWORD_WEIGHT)
            for word in set(self.pattern.findall(text)):
                add(self.by_word[word], TEXT_WEIGHT)
        if not scores:
            return (*self.default, 0.0)
        best = min(scores, key=lambda i: (-scores[i], i))  # ties: the first in the taxonomy
        return self.subtopics[best].topic, self.subtopics[best].subtopic, scores[best]

    def counts(self) -> tuple[int, int]:
        return len({s.topic for s in self.subtopics}), len(self.subtopics)


def load_jieba() -> None:
    """Load jieba's dictionary now (before workers fork), quietly."""
    import jieba
    import jieba.analyse  # noqa: F401 - loads the IDF table

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()


def keywords(text: str, top_k: int) -> list[str]:
    """TF-IDF keywords with jieba.analyse's IDF table; like `jieba.analyse.extract_tags` but with the
    HMM for unknown words off (its Viterbi pass was most of the cost and adds little for topics)."""
    import jieba
    import jieba.analyse

    tfidf = jieba.analyse.default_tfidf
    counts: dict[str, int] = {}
    for word in jieba.cut(text, HMM=False):
        if len(word) < 2 or word.lower() in tfidf.stop_words:
            continue
        counts[word] = counts.get(word, 0) + 1
    score = {w: n * tfidf.idf_freq.get(w, tfidf.median_idf) for w, n in counts.items()}
    return sorted(score, key=lambda w: (-score[w], w))[:top_k]
