"""Topics: a site tag maps onto the taxonomy (curation/data/taxonomy.yaml); a post without a mappable tag
is classified from its text, by the linear classifier (curation/topic_model.py) when one is saved and
sure enough, else by keyword scoring; else the default node. Each answer says where it came from:
`tag`, `classifier`, `keywords` or `default`.

    python -m curation.topics train RAW.jsonl|curated.parquet... [--out curation/data/topic_model.json]
    python -m curation.topics check       # the taxonomy's counts and every site tag pair's node
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

BUNDLED_TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"
KEYWORD_WEIGHT, TEXT_WEIGHT = 2.0, 1.0
# below it the classifier is unsure and keywords decide; at -0.5 they cost 5-9 points of primary accuracy
# on a left-out writer's posts
MIN_SCORE = -1.0


@dataclass(frozen=True)
class Subtopic:
    topic: str
    subtopic: str
    tags: frozenset[str]
    keywords: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.topic}/{self.subtopic}"


class Taxonomy:
    def __init__(self, subtopics: list[Subtopic], default: tuple[str, str]) -> None:
        self.subtopics = subtopics
        self.default = default
        self.by_label = {s.label: i for i, s in enumerate(subtopics)}
        self.by_word: dict[str, list[int]] = {}
        self.by_tag: dict[str, int] = {}
        for i, sub in enumerate(subtopics):
            for word in sub.keywords:
                self.by_word.setdefault(word, []).append(i)
            for tag in sub.tags:
                if tag in self.by_tag and self.by_tag[tag] != i:
                    other = subtopics[self.by_tag[tag]].label
                    raise SystemExit(f"taxonomy: tag {tag!r} maps to both {other} and {sub.label}")
                self.by_tag[tag] = i
        # one pass of one regex finds every taxonomy keyword; a dict maps it to its sub-topics
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

    def counts(self) -> tuple[int, int]:
        return len({s.topic for s in self.subtopics}), len(self.subtopics)

    def from_tags(self, tags: list[str]) -> Subtopic | None:
        """The node of a site tag pair ("情绪/焦虑情绪", or the tags [情绪, 焦虑情绪]), else of a bare tag
        (the most specific, last, first)."""
        tags = [t.strip() for t in tags or [] if t and t.strip()]
        pairs = [t for t in tags if "/" in t] + [f"{a}/{b}" for a, b in zip(tags, tags[1:], strict=False)]
        for key in pairs + tags[::-1]:
            if key in self.by_tag:
                return self.subtopics[self.by_tag[key]]
        return None

    def keyword_scores(self, keywords: list[str], text: str) -> dict[int, float]:
        scores: dict[int, float] = {}
        if self.pattern is None:
            return scores
        for weight, words in [(KEYWORD_WEIGHT, w) for k in keywords for w in set(self.pattern.findall(k))] + [
            (TEXT_WEIGHT, w) for w in set(self.pattern.findall(text))
        ]:
            for i in self.by_word[words]:
                scores[i] = scores.get(i, 0.0) + weight
        return scores

    def classify(self, tags: list[str], keywords: list[str], text: str) -> tuple[str, str, float]:
        """(topic, subtopic, score) from a tag, else keywords; the default pair when nothing matches."""
        node = self.from_tags(tags)
        if node is not None:
            return node.topic, node.subtopic, float("inf")
        scores = self.keyword_scores(keywords, text)
        if not scores:
            return (*self.default, 0.0)
        best = min(scores, key=lambda i: (-scores[i], i))  # ties: the first in the taxonomy
        return self.subtopics[best].topic, self.subtopics[best].subtopic, scores[best]


def from_classifier(taxonomy: Taxonomy, model, text: str) -> Subtopic | None:
    """The classifier's node when it is sure enough and on this taxonomy."""
    if model is None:
        return None
    label, score = model.predict(text)
    if score < MIN_SCORE or label not in taxonomy.by_label:
        return None
    return taxonomy.subtopics[taxonomy.by_label[label]]


def assign(
    taxonomy: Taxonomy, tags: list[str], text: str, model=None, keyword_list: list[str] | None = None
) -> tuple[str, str, str]:
    """(topic, subtopic, source): tag, else the classifier when sure, else keywords, else default."""
    node = taxonomy.from_tags(tags)
    if node is not None:
        return node.topic, node.subtopic, "tag"
    node = from_classifier(taxonomy, model, text)
    if node is not None:
        return node.topic, node.subtopic, "classifier"
    topic, subtopic, score = taxonomy.classify([], keyword_list or [], text)
    return topic, subtopic, "keywords" if score > 0 else "default"


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


# --------------------------------------------------------------------------- training
def read_threads(paths: list[str]) -> list[dict]:
    """Raw threads (JSONL, one thread a line) or curated sets (Parquet, or a folder holding one)."""
    threads = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            path = path / "curated.parquet"
        if not path.exists():
            raise SystemExit(f"input not found: {path}")
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            threads += pq.read_table(path, columns=["title", "body", "tags"]).to_pylist()
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    threads.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SystemExit(f"{path}:{n}: not a JSON line: {exc}") from None
    return threads


def split_weight(name: str) -> tuple[str, float]:
    """`FILE@WEIGHT` -> (FILE, WEIGHT); a plain FILE weighs 1."""
    path, sep, weight = name.rpartition("@")
    if not sep:
        return name, 1.0
    try:
        value = float(weight)
    except ValueError:
        raise SystemExit(f"{name}: expected FILE@WEIGHT with a number after @") from None
    if value <= 0:
        raise SystemExit(f"{name}: a weight must be above 0")
    return path, value


def labelled(threads: list[dict], taxonomy: Taxonomy) -> tuple[list[str], list[str]]:
    """(texts, labels) of the threads whose tags map onto the taxonomy."""
    texts, labels = [], []
    for thread in threads:
        node = taxonomy.from_tags(thread.get("tags") or [])
        if node is not None:
            texts.append(f"{thread.get('title') or ''}\n{thread.get('body') or ''}")
            labels.append(node.label)
    return texts, labels


def _train(args: argparse.Namespace) -> int:
    from curation.topic_model import train

    taxonomy = Taxonomy.load(args.taxonomy)
    texts, labels, weights, read = [], [], [], 0
    for name in args.inputs:
        path, weight = split_weight(name)
        threads = read_threads([path])
        these, tags = labelled(threads, taxonomy)
        read += len(threads)
        texts += these
        labels += tags
        weights += [weight] * len(these)
    print(f"{read} threads read, {len(texts)} with a tag on the taxonomy", file=sys.stderr)
    if len(set(labels)) < 2:
        raise SystemExit("need tagged threads of at least two topics to train a classifier")
    load_jieba()
    model = train(texts, labels, chars=args.chars, sample_weight=weights)
    model["trained_on"]["inputs"] = [Path(name).name for name in args.inputs]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    tmp.replace(out)  # a reader never sees half a model
    print(
        f"wrote {out}: {len(model['labels'])} topics, {len(model['weights'])} features, "
        f"{out.stat().st_size / 1e6:.1f} MB",
        file=sys.stderr,
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    taxonomy = Taxonomy.load(args.taxonomy)
    primary, sub = taxonomy.counts()
    print(f"{primary} primary topics, {sub} sub-topics, {len(taxonomy.by_tag)} tags")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation.topics", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train the topic classifier on tagged threads")
    train.add_argument(
        "inputs",
        nargs="+",
        help="raw threads (.jsonl) or curated sets (.parquet or folder); FILE@W weighs each of its threads W "
        "(the bundled model: `make topic-model`)",
    )
    train.add_argument("--out", default=str(Path(__file__).parent / "data" / "topic_model.json"))
    train.add_argument("--taxonomy", default=None)
    train.add_argument("--chars", type=int, default=200, help="opening characters of title+body used")
    check = commands.add_parser("check", help="print the taxonomy's counts")
    check.add_argument("--taxonomy", default=None)
    args = parser.parse_args(argv)
    return _train(args) if args.command == "train" else _check(args)


if __name__ == "__main__":
    sys.exit(main())
