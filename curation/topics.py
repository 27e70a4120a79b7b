"""Topics: site tags and jieba.analyse keywords mapped onto a taxonomy of primary and sub topics."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

BUNDLED_TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"
TAG_WEIGHT, KEYWORD_WEIGHT, TITLE_WEIGHT = 3.0, 2.0, 1.0


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

    def classify(self, tags: list[str], keywords: list[str], title: str) -> tuple[str, str, float]:
        """(topic, subtopic, score); the default pair when nothing matches."""
        tag_set = set(tags)
        best: tuple[float, Subtopic | None] = (0.0, None)
        for sub in self.subtopics:
            score = TAG_WEIGHT * len(tag_set & sub.tags)
            score += KEYWORD_WEIGHT * sum(1 for kw in keywords if any(word in kw for word in sub.keywords))
            score += TITLE_WEIGHT * sum(1 for word in sub.keywords if word in title)
            if score > best[0]:
                best = (score, sub)
        if best[1] is None:
            return (*self.default, 0.0)
        return best[1].topic, best[1].subtopic, best[0]

    def counts(self) -> tuple[int, int]:
        return len({s.topic for s in self.subtopics}), len(self.subtopics)


def load_jieba() -> None:
    """Load jieba's dictionary now (before workers fork), quietly."""
    import jieba
    import jieba.analyse  # noqa: F401 - loads the IDF table

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()


def keywords(text: str, top_k: int) -> list[str]:
    import jieba.analyse

    return jieba.analyse.extract_tags(text, topK=top_k)
