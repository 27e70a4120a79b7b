"""Benchmark: topic accuracy from the text alone, per method, on tagged threads with their tags hidden,
and the topic step's speed before and after.

    .venv/bin/python bench/topics.py [--questions 3000] [--folds 5] [--seed 11]

Threads: `empathyqa.synthetic` (Yixinli-shaped, tagged with a pair of the site tree) plus the bundled
sample site's tagged questions. The truth of a thread is the taxonomy node of its own tag. Methods:
`tag` (the tag itself: 1.0 by construction wherever a tag maps; its coverage is what counts), `keywords`
(jieba keywords + taxonomy keyword scoring, the step as it was), `classifier` (TF-IDF + linear SVM,
cross-validated: trained on the other folds) and `step` (classifier when sure, else keywords). Synthetic
text is composed from a few hundred fragments, so it is easier than real posts; a synthetic scene carries
up to three site tags, which caps the reachable accuracy (printed as "scene" accuracy: the prediction's
primary is the primary of one of the scene's tags).
Speed: docs/s of the topic step per path, one core, on the same documents.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.topic_model import TopicModel, train  # noqa: E402
from curation.topics import MIN_SCORE, Taxonomy, keywords, load_jieba  # noqa: E402
from empathyqa.synthetic import generate_corpus, scene_of  # noqa: E402

KEYWORD_CHARS, TOP_K, SCAN_CHARS = 60, 8, 300


def text_of(thread: dict) -> str:
    return f"{thread.get('title') or ''}\n{thread.get('body') or ''}"


def sample_threads() -> list[dict]:
    data = json.loads((ROOT / "crawlers" / "sample_site" / "data" / "questions.json").read_text("utf-8"))
    return [{"title": q["title"], "body": q["body"], "tags": q["tags"]} for q in data["yixinli"]["questions"]]


def by_keywords(taxonomy: Taxonomy, text: str) -> str:
    topic, sub, _ = taxonomy.classify([], keywords(text[:KEYWORD_CHARS], TOP_K), text[:SCAN_CHARS])
    return f"{topic}/{sub}"


def accuracy(predicted: list[str], truth: list[str]) -> tuple[float, float]:
    primary = sum(p.split("/")[0] == t.split("/")[0] for p, t in zip(predicted, truth, strict=True))
    sub = sum(p == t for p, t in zip(predicted, truth, strict=True))
    return primary / len(truth), sub / len(truth)


def external(taxonomy: Taxonomy, texts: list[str], truth: list[str], path: Path) -> None:
    """Posts written blind by a writer whose posts train nothing: keywords, a model trained on generated
    threads alone, and the bundled model (generated threads plus two other blind writers' posts)."""
    posts = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    nodes = [taxonomy.from_tags(p["tags"]) for p in posts]
    gold = [n.label for n in nodes if n is not None]
    own = [text_of(p) for p, n in zip(posts, nodes, strict=True) if n is not None]
    print(f"\nposts written blind ({path.name}, never trained on): {len(own)} tagged, tags hidden")
    print(f"  {'method':<44} {'primary':>8} {'sub':>7}")
    generated_only = TopicModel(train(texts, truth))
    rows = {
        "keywords": [by_keywords(taxonomy, t) for t in own],
        "classifier on generated threads alone": [generated_only.predict(t[:SCAN_CHARS])[0] for t in own],
    }
    bundled = TopicModel.load()
    if bundled is not None:
        inputs = ", ".join(bundled.trained_on.get("inputs", [])) or "?"
        rows[f"bundled classifier ({inputs})"[:44]] = [bundled.predict(t[:SCAN_CHARS])[0] for t in own]
        rows["bundled, keywords when unsure (the step)"] = [
            label if score >= MIN_SCORE else by_keywords(taxonomy, t)
            for t in own
            for label, score in [bundled.predict(t[:SCAN_CHARS])]
        ]
    for method, labels in rows.items():
        primary, sub = accuracy(labels, gold)
        print(f"  {method:<44} {primary:>8.3f} {sub:>7.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=3000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--external",
        default=str(ROOT / "tests" / "data" / "topic_eval" / "posts.jsonl"),
        help="tagged posts written apart from the generator (title, body, tags); '' to skip",
    )
    args = parser.parse_args(argv)
    load_jieba()
    taxonomy = Taxonomy.load()
    synthetic = generate_corpus(args.questions, seed=args.seed, same_id_rate=0.0).threads
    threads = [t for t in synthetic if t.get("tags")] + sample_threads()
    n_synthetic = sum(1 for t in synthetic if t.get("tags"))
    nodes = [taxonomy.from_tags(t["tags"]) for t in threads]
    print(
        f"{len(threads)} tagged threads ({n_synthetic} synthetic, {len(threads) - n_synthetic} sample site)"
    )
    print(f"tag coverage: {sum(n is not None for n in nodes) / len(nodes):.3f} map onto the taxonomy")
    keep = [i for i, n in enumerate(nodes) if n is not None]
    texts = [text_of(threads[i]) for i in keep]
    truth = [nodes[i].label for i in keep]
    scene_primaries = [
        {taxonomy.from_tags(list(pair)).topic for pair in scene_of(threads[i])["tags"]}
        if i < n_synthetic
        else {nodes[i].topic}
        for i in keep
    ]

    order = list(range(len(texts)))
    random.Random(args.seed).shuffle(order)
    folds = [order[k :: args.folds] for k in range(args.folds)]
    predicted = {"keywords": [""] * len(texts), "classifier": [""] * len(texts), "step": [""] * len(texts)}
    scores: list[float] = []
    for fold in folds:
        held = set(fold)
        model = TopicModel(
            train([texts[i] for i in order if i not in held], [truth[i] for i in order if i not in held])
        )
        for i in fold:
            label, score = model.predict(texts[i][:SCAN_CHARS])
            scores.append(score)
            kw = by_keywords(taxonomy, texts[i])
            predicted["keywords"][i] = kw
            predicted["classifier"][i] = label
            predicted["step"][i] = label if score >= MIN_SCORE else kw
    unsure = sum(s < MIN_SCORE for s in scores)
    print(
        f"\nclassifier unsure (best score < {MIN_SCORE}) on {unsure} of {len(scores)}: keywords decide those"
    )
    print(f"\naccuracy with the tag hidden ({args.folds}-fold cross-validated), {len(texts)} threads")
    print(f"  {'method':<11} {'primary':>8} {'sub':>7} {'scene':>7}")
    print(f"  {'tag':<11} {1.0:>8.3f} {1.0:>7.3f} {'':>7}  (tags shown: the tag decides)")
    for method, labels in predicted.items():
        primary = sum(p.split("/")[0] == t.split("/")[0] for p, t in zip(labels, truth, strict=True))
        sub = sum(p == t for p, t in zip(labels, truth, strict=True))
        scene = sum(p.split("/")[0] in s for p, s in zip(labels, scene_primaries, strict=True))
        n = len(labels)
        print(f"  {method:<11} {primary / n:>8.3f} {sub / n:>7.3f} {scene / n:>7.3f}")

    if args.external and Path(args.external).is_file():
        external(taxonomy, texts, truth, Path(args.external))

    model = TopicModel.load()
    docs = [{"tags": threads[i]["tags"], "text": texts[j]} for j, i in enumerate(keep)][:1000]
    print(f"\ntopic step speed, one core, loaded machine ({len(docs)} docs)")

    def timed(label: str, fn) -> None:
        start = time.perf_counter()
        for d in docs:
            fn(d)
        print(f"  {label:<44} {len(docs) / (time.perf_counter() - start):>9,.0f} docs/s")

    timed(
        "before: jieba keywords + scoring, every doc",
        lambda d: taxonomy.classify(
            d["tags"], keywords(d["text"][:KEYWORD_CHARS], TOP_K), d["text"][:SCAN_CHARS]
        ),
    )
    timed("after, tagged docs: tag lookup", lambda d: taxonomy.from_tags(d["tags"]))
    if model is not None:
        timed("after, untagged docs: bundled classifier", lambda d: model.predict(d["text"][:SCAN_CHARS]))
    timed("after, untagged docs: keywords (classifier unsure)", lambda d: by_keywords(taxonomy, d["text"]))


if __name__ == "__main__":
    main()
