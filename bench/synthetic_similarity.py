"""Near-duplicate pressure of the synthetic corpus: char-5-gram Jaccard of random pairs of distinct texts.

PYTHONPATH=$PWD .venv/bin/python bench/synthetic_similarity.py --questions 600 --seed 5 --pairs 20000
"""

from __future__ import annotations

import argparse
import random
import time

from empathyqa.synthetic import generate_corpus


def shingles(text: str, k: int = 5) -> frozenset[str]:
    clean = "".join(c for c in text if c.isalnum())
    return frozenset(clean[i : i + k] for i in range(max(1, len(clean) - k + 1)))


def pair_figures(texts: list[str], pairs: int, rng: random.Random) -> dict[str, float]:
    sets = [shingles(t) for t in texts]
    js = []
    for _ in range(pairs):
        i, j = rng.sample(range(len(sets)), 2)
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
    sentences = {s for a in answers for s in a.replace("\n", "。").split("。") if s}
    rng = random.Random(0)
    print(f"generated {args.questions} questions in {took:.2f} s (loaded machine)")
    print(f"counselor answers {len(answers)}, distinct sentences {len(sentences)}")
    for name, texts in (("counselor answers", answers), ("question bodies", bodies)):
        figs = pair_figures(texts, args.pairs, rng)
        print(f"{name:18s} " + ", ".join(f"{k} {v:.4f}" for k, v in figs.items()))


if __name__ == "__main__":
    main()
