"""Can GRPO learn from this reward? Spread of each reward component within the groups GRPO compares.

    PYTHONPATH=$PWD .venv/bin/python bench/grpo_reward_spread.py RUN [--policy DIR] [--reward DIR]

RUN is a `training.learn` output folder (release/, sft/, reward/). From the policy (default RUN/sft)
it samples `--generations` completions at `--temperature` for `--prompts` training questions, as
GRPO does, and prints per component the mean, the mean within-group std (what the advantages see)
and the between-group std. Then the reward model's check on the policy's own answers: the score of
each answer for its own question against the same answer put to another question (the baseline: a
reward that ignores the question scores both alike, own > other about half the time).
"""

from __future__ import annotations

import argparse
import random
import statistics as st
from pathlib import Path

import pyarrow.parquet as pq
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from empathyqa.coe import chat_messages
from training.data import query_text
from training.grpo_rewards import AnswerQualityReward, LengthPenalty, answer_of, format_reward
from training.reward import RewardScorer


def questions(release: Path, n: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for row in pq.read_table(release / "train.parquet").to_pylist():
        if row["completion"] and row["question_id"] not in seen:
            seen.add(row["question_id"])
            out.append(query_text(row))
    return out[:n]


def sample(policy: Path, qs: list[str], generations: int, temperature: float, max_new: int) -> list[str]:
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(policy)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(policy).eval()
    texts = [
        tokenizer.apply_chat_template(chat_messages(q), tokenize=False, add_generation_prompt=True)
        for q in qs
    ]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        ids = model.generate(
            **batch,
            max_new_tokens=max_new,
            do_sample=True,
            temperature=temperature,
            top_k=0,
            top_p=1.0,
            num_return_sequences=generations,
        )
    return tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)


def spread(values: list[float], g: int) -> str:
    groups = [values[i : i + g] for i in range(0, len(values), g)]
    within = st.mean(st.pstdev(x) for x in groups)
    between = st.pstdev([st.mean(x) for x in groups])
    return f"mean {st.mean(values):+.3f}  within-group std {within:.3f}  between-group std {between:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("--policy", type=Path)
    parser.add_argument("--reward", type=Path)
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--max_new_tokens", type=int, default=128)
    parser.add_argument("--length_weight", type=float, default=0.5)
    args = parser.parse_args()
    g = args.generations
    qs = questions(args.run / "release", args.prompts)
    completions = sample(args.policy or args.run / "sft", qs, g, args.temperature, args.max_new_tokens)
    query = [q for q in qs for _ in range(g)]
    scorer = RewardScorer.from_pretrained(args.reward or args.run / "reward")
    fmt = format_reward(completions)
    quality = AnswerQualityReward(scorer)(completions, query=query)
    length = LengthPenalty(40, 120)(completions)
    total = [f + q + args.length_weight * x for f, q, x in zip(fmt, quality, length, strict=True)]
    for name, values in (
        ("format", fmt),
        ("answer_quality", quality),
        ("length_penalty", length),
        ("total", total),
    ):
        print(f"{name:15s} {spread(values, g)}")
    parsed_groups = [[quality[i + k] for k in range(g) if fmt[i + k]] for i in range(0, len(fmt), g)]
    within = st.mean(st.pstdev(x) for x in parsed_groups if len(x) > 1)
    print(f"answer_quality within-group std over parsed completions only: {within:.3f}")
    answers = [answer_of(c) for c in completions]
    ok = [i for i, a in enumerate(answers) if a]
    other = ok[:]
    random.Random(0).shuffle(other)
    own_scores = scorer.score_batch([query[i] for i in ok], [answers[i] for i in ok])
    other_scores = scorer.score_batch([query[i] for i in ok], [answers[j] for j in other])
    wins = sum(a > b for a, b in zip(own_scores, other_scores, strict=True)) / max(1, len(ok))
    print(
        f"parsed {len(ok)}/{len(completions)}, answer {st.mean(len(answers[i]) for i in ok):.1f} chars; "
        f"reward model: own question {st.mean(own_scores):.3f} vs another question {st.mean(other_scores):.3f}"
        f" (baseline: equal), own > other {wins:.2f} (baseline 0.50)"
    )


if __name__ == "__main__":
    main()
