"""The answer-quality reward model: a bi-encoder trained contrastively, as in Empathy-R1.

Any `AutoModel` checkpoint works as the encoder (a Chinese BERT on a GPU; here the tiny Qwen2 from
`training.tiny`); embeddings are the mean of the last hidden states over real tokens, L2-normalised.
Training: InfoNCE over (question, professional answer) pairs, where each question's candidates are
every positive in the batch (in-batch negatives) plus short or low-liked user answers to the same
questions (hard negatives). `score(question, answer)` maps the cosine to [0, 1] with a logistic
calibrated on the training pairs (midpoint between positive and negative cosines).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from training.data import QuestionGroup

HEAD_FILE = "reward_head.json"


@dataclass
class RewardHead:
    query_prefix: str = "问题："
    answer_prefix: str = "回答："
    max_length: int = 256
    scale: float = 20.0
    bias: float = 0.0
    base_model: str = ""


class Encoder:
    """Mean-pooled, normalised sentence embeddings from a transformers model."""

    def __init__(self, model, tokenizer, head: RewardHead, device: torch.device):
        self.model = model.to(device)
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "right"  # positions start at 0 for every text
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.head = head
        self.device = device

    def embed(self, texts: list[str], prefix: str) -> torch.Tensor:
        batch = self.tokenizer(
            [prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=self.head.max_length,
            return_tensors="pt",
        ).to(self.device)
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return F.normalize(pooled.float(), dim=-1)

    def queries(self, texts: list[str]) -> torch.Tensor:
        return self.embed(texts, self.head.query_prefix)

    def answers(self, texts: list[str]) -> torch.Tensor:
        return self.embed(texts, self.head.answer_prefix)


def contrastive_loss(
    encoder: Encoder, batch: list[QuestionGroup], rng: random.Random, hard_negatives: int, temperature: float
) -> tuple[torch.Tensor, float]:
    """InfoNCE: question i must pick its own positive among all positives and hard negatives."""
    queries = [g.query for g in batch]
    positives = [rng.choice(g.positives) for g in batch]
    negatives = [
        n for g in batch for n in rng.sample(g.hard_negatives, min(hard_negatives, len(g.hard_negatives)))
    ]
    q = encoder.queries(queries)
    candidates = encoder.answers(positives + negatives)
    logits = q @ candidates.T / temperature
    labels = torch.arange(len(batch), device=logits.device)
    accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
    return F.cross_entropy(logits, labels), accuracy


def batches(groups: list[QuestionGroup], batch_size: int, rng: random.Random):
    """Endless stream of batches of distinct questions (no false in-batch negatives)."""
    order = list(range(len(groups)))
    while True:
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            if len(chosen) >= 2 or len(order) < 2:
                yield [groups[i] for i in chosen]


@torch.no_grad()
def retrieval_metrics(encoder: Encoder, groups: list[QuestionGroup]) -> dict[str, float]:
    """Rank every answer of the split (positives and hard negatives) for each question.

    accuracy@1: the top answer is one of the question's professional answers; pairwise: the
    question's professional answer beats its own hard negatives.
    """
    if not groups:
        return {}
    answers: list[str] = []
    owner: list[int] = []
    is_positive: list[bool] = []
    for index, group in enumerate(groups):
        for text in group.positives + group.hard_negatives:
            answers.append(text)
            owner.append(index)
        is_positive += [True] * len(group.positives) + [False] * len(group.hard_negatives)
    sims = encoder.queries([g.query for g in groups]) @ encoder.answers(answers).T
    hits, reciprocal, pair_wins, pair_total = 0, 0.0, 0, 0
    for index in range(len(groups)):
        ranking = sims[index].argsort(descending=True).tolist()
        first = next(r for r, a in enumerate(ranking) if owner[a] == index and is_positive[a])
        hits += first == 0
        reciprocal += 1.0 / (first + 1)
        mine = [a for a in range(len(answers)) if owner[a] == index]
        for p in (a for a in mine if is_positive[a]):
            for n in (a for a in mine if not is_positive[a]):
                pair_wins += bool(sims[index, p] > sims[index, n])
                pair_total += 1
    metrics = {
        "questions": len(groups),
        "candidates": len(answers),
        "accuracy@1": hits / len(groups),
        "mrr": reciprocal / len(groups),
    }
    if pair_total:
        metrics["pairwise_vs_hard_negatives"] = pair_wins / pair_total
    return metrics


@torch.no_grad()
def calibrate(encoder: Encoder, groups: list[QuestionGroup]) -> tuple[float, float]:
    """Logistic (scale, bias) so that the positive/negative cosine midpoint scores 0.5."""
    if len(groups) < 2:
        return 20.0, 0.0
    q = encoder.queries([g.query for g in groups])
    p = encoder.answers([g.positives[0] for g in groups])
    sims = q @ p.T
    positive = sims.diag().mean().item()
    off = sims[~torch.eye(len(groups), dtype=torch.bool, device=sims.device)]
    hard = [(i, n) for i, g in enumerate(groups) for n in g.hard_negatives[:1]]
    if hard:
        h = encoder.answers([n for _, n in hard])
        off = torch.cat([off, (q[[i for i, _ in hard]] * h).sum(-1)])
    negative = off.mean().item()
    gap = positive - negative
    scale = min(50.0, max(1.0, 4.0 / gap)) if gap > 1e-6 else 20.0
    return scale, (positive + negative) / 2


class RewardScorer:
    """`RewardScorer.from_pretrained(folder).score(question, answer)` -> float in [0, 1]."""

    def __init__(self, encoder: Encoder):
        self.encoder = encoder

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | None = None) -> RewardScorer:
        from transformers import AutoModel, AutoTokenizer

        path = Path(path)
        head_file = path / HEAD_FILE
        if not head_file.is_file():
            raise FileNotFoundError(
                f"{path} is not a reward model folder (no {HEAD_FILE}); run training.reward"
            )
        head = RewardHead(**json.loads(head_file.read_text(encoding="utf-8")))
        model = AutoModel.from_pretrained(path).eval()
        target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return cls(Encoder(model, AutoTokenizer.from_pretrained(path), head, target))

    @torch.no_grad()
    def score_batch(self, questions: list[str], answers: list[str], batch_size: int = 32) -> list[float]:
        if len(questions) != len(answers):
            raise ValueError(f"{len(questions)} questions but {len(answers)} answers")
        head = self.encoder.head
        scores: list[float] = []
        for start in range(0, len(questions), batch_size):
            q = self.encoder.queries(questions[start : start + batch_size])
            a = self.encoder.answers([a or "" for a in answers[start : start + batch_size]])
            cosine = (q * a).sum(-1)
            scores += torch.sigmoid(head.scale * (cosine - head.bias)).tolist()
        return scores

    def score(self, question: str, answer: str) -> float:
        return self.score_batch([question], [answer])[0]


def save_reward_model(encoder: Encoder, out: Path, metrics: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    encoder.model.save_pretrained(out)
    encoder.tokenizer.save_pretrained(out)
    (out / HEAD_FILE).write_text(
        json.dumps(asdict(encoder.head), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")


def steps_for(n_groups: int, batch_size: int, epochs: float) -> int:
    return max(1, math.ceil(n_groups / batch_size * epochs))
