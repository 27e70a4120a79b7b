"""Near-duplicate pressure of the synthetic corpus: char-5-gram Jaccard of random pairs of distinct texts.

PYTHONPATH=$PWD .venv/bin/python bench/synthetic_similarity.py --questions 600 --seed 5 --pairs 20000
"""

from __future__ import annotations

import argparse
import random
import time

from empathyqa.synthetic import fragments, generate_corpus


def shingles(text: str, k: int = 5) -> frozenset[str]:
    clean = "".join(c for c in text if c.isalnum())
    return frozenset(clean[i : i + k] for i in range(max(1, len(clean) - k + 1)))


def pair_figures(
    texts: list[str], pairs: int, rng: random.Random, groups: list[str] | None = None
) -> dict[str, float]:
    """Random pairs of distinct texts; with `groups`, only pairs from the same group (same topic)."""
    sets = [shingles(t) for t in texts]
    js = []
    while len(js) < pairs:
        i, j = rng.sample(range(len(sets)), 2)
        if groups and groups[i] != groups[j]:
            continue
        a, b = sets[i], sets[j]
        js.append(len(a & b) / len(a | b) if a | b else 0.0)
    return {
        "J>=0.4": sum(j >= 0.4 for j in js) / len(js),
        "J>=0.2": sum(j >= 0.2 for j in js) / len(js),
        "mean J": sum(js) / len(js),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--questions", type=int, default=600)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--pairs", type=int, default=20_000)
    args = p.parse_args()
    t0 = time.perf_counter()
    c = generate_corpus(
        args.questions, seed=args.seed, repost_rate=0, same_id_rate=0, pii_rate=0, risk_rate=0
    )
    took = time.perf_counter() - t0
    answers = list(
        dict.fromkeys(a["body"] for t in c.threads for a in t["answers"] if a["author_role"] == "counselor")
    )
    bodies = list(dict.fromkeys(t["body"] for t in c.threads))
    topic: dict[str, str] = {}
    for t in c.threads:
        for text in [t["body"]] + [a["body"] for a in t["answers"]]:
            topic.setdefault(text, "/".join(c.truth.topic[t["source_id"]]))
    stock = tuple(fragments()["openings"]), tuple(fragments()["closings"])
    share = sum(a.startswith(stock[0]) or a.endswith(stock[1]) for a in answers) / len(answers)
    sentences = {s for a in answers for s in a.replace("\n", "。").split("。") if s}
    rng = random.Random(0)
    print(f"generated {args.questions} questions in {took:.2f} s (loaded machine)")
    print(f"counselor answers {len(answers)}, distinct sentences {len(sentences)}")
    for name, texts in (("counselor answers", answers), ("question bodies", bodies)):
        for scope, groups in (("any pair", None), ("same topic", [topic[x] for x in texts])):
            figs = pair_figures(texts, args.pairs, rng, groups)
            print(f"{name:18s} {scope:10s} " + ", ".join(f"{k} {v:.4f}" for k, v in figs.items()))
    print(f"counselor answers with a stock opening or closing: {share:.1%}")


if __name__ == "__main__":
    main()
