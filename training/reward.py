"""Train the answer-quality reward model: `python -m training.reward --config RECIPE.yaml`.

Writes a model folder (encoder weights, tokenizer, `reward_head.json`, `metrics.json`) that
`RewardScorer.from_pretrained(folder).score(question, answer)` loads; GRPO uses it for the answer reward.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from training.args import TrainingInputError, check_model_path, load_pretrained, parse_config, run_main
from training.data import DataArguments, contrastive_groups, load_split
from training.reward_model import (
    Encoder,
    RewardHead,
    RewardScorer,
    batches,
    calibrate,
    contrastive_loss,
    retrieval_metrics,
    save_reward_model,
    steps_for,
)

__all__ = ["RewardScorer", "main"]


@dataclass
class RewardTrainingArguments:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "encoder to start from (any AutoModel folder, e.g. the tiny Qwen2)"}
    )
    output_dir: str = field(default="runs/reward", metadata={"help": "where the reward model folder goes"})
    max_steps: int = field(
        default=-1, metadata={"help": "optimizer steps; -1: num_train_epochs over the questions"}
    )
    num_train_epochs: float = 3.0
    per_device_train_batch_size: int = field(default=16, metadata={"help": "questions per batch"})
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    temperature: float = field(default=0.05, metadata={"help": "InfoNCE temperature"})
    max_length: int = field(default=256, metadata={"help": "tokens per question or answer"})
    hard_negatives_per_question: int = 1
    short_answer_chars: int = field(
        default=30, metadata={"help": "non-professional answers shorter than this are hard negatives"}
    )
    low_likes: int = field(
        default=0, metadata={"help": "non-professional answers with at most this many likes too"}
    )
    logging_steps: int = 10
    seed: int = 42
    use_cpu: bool = False


def main(argv: list[str] | None = None) -> int:
    import torch
    from transformers import AutoModel, AutoTokenizer

    data_args, args = parse_config(
        (DataArguments, RewardTrainingArguments), "reward", argv, description=__doc__
    )
    if not args.model_name_or_path:
        raise TrainingInputError("--model_name_or_path is required (the encoder to start from)")
    check_model_path(args.model_name_or_path, "--model_name_or_path")
    if args.per_device_train_batch_size < 2:
        raise TrainingInputError("--per_device_train_batch_size must be at least 2 (in-batch negatives)")
    train_groups, dropped = _groups(load_split(data_args, "train"), args, data_args, "train")
    validation_groups, _ = _groups(load_split(data_args, "validation", required=False), args, data_args, None)
    if len(train_groups) < 2:
        raise TrainingInputError(
            f"need at least 2 questions with a professional answer, found {len(train_groups)}"
        )

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.use_cpu else "cpu")
    head = RewardHead(max_length=args.max_length, base_model=args.model_name_or_path)
    model = load_pretrained(AutoModel, args.model_name_or_path, "encoder", dtype=torch.float32)
    tokenizer = load_pretrained(AutoTokenizer, args.model_name_or_path, "tokenizer")
    encoder = Encoder(model, tokenizer, head, device)

    model.eval()
    before = retrieval_metrics(encoder, validation_groups)
    model.train()
    steps = (
        args.max_steps
        if args.max_steps > 0
        else steps_for(len(train_groups), args.per_device_train_batch_size, args.num_train_epochs)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    stream = batches(train_groups, args.per_device_train_batch_size, rng)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        loss, accuracy = contrastive_loss(
            encoder, next(stream), rng, args.hard_negatives_per_question, args.temperature
        )
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % args.logging_steps == 0 or step == steps:
            print(f"step {step}/{steps}  loss {loss.item():.4f}  in-batch accuracy {accuracy:.2f}")
    model.eval()
    head.scale, head.bias = calibrate(encoder, train_groups)
    after = retrieval_metrics(encoder, validation_groups)
    metrics = {
        "steps": steps,
        "train_questions": len(train_groups),
        "seconds": round(time.perf_counter() - started, 2),
        "validation_before": before,
        "validation": after,
        "train_in_sample": retrieval_metrics(encoder, train_groups),
        "calibration": {"scale": head.scale, "bias": head.bias},
        "dropped": dict(dropped),
    }
    out = Path(args.output_dir)
    save_reward_model(encoder, out, metrics)
    _report(metrics, out)
    scorer = RewardScorer.from_pretrained(out, device=str(device))
    sample = train_groups[0]
    good = scorer.score(sample.query, sample.positives[0])
    line = f"sample score: professional {good:.3f}"
    if sample.hard_negatives:
        line += f", hard negative {scorer.score(sample.query, sample.hard_negatives[0]):.3f}"
    print(line)
    return 0


def _groups(rows, args: RewardTrainingArguments, data_args: DataArguments, split: str | None):
    groups, dropped = contrastive_groups(
        rows, args.short_answer_chars, args.low_likes, data_args.include_risk
    )
    if split:
        from empathyqa.progress import print_summary

        summary = {
            "rows in": len(rows),
            "questions (queries)": len(groups),
            "positives": sum(len(g.positives) for g in groups),
            "hard negatives": sum(len(g.hard_negatives) for g in groups),
        }
        summary.update({f"dropped: {k}": v for k, v in sorted(dropped.items())})
        print_summary(f"reward data ({split})", summary, file=sys.stdout)
    return groups, dropped


def _report(metrics: dict, out: Path) -> None:
    from empathyqa.progress import print_summary

    rows: dict[str, object] = {"steps": metrics["steps"], "seconds": metrics["seconds"]}
    for label, key in (("before training", "validation_before"), ("after training", "validation")):
        for name, value in metrics[key].items():
            rows[f"validation {name} ({label})"] = value
    if metrics["validation"]:
        rows["random accuracy@1 would be about"] = 1 / max(1, metrics["validation"]["candidates"])
    for name in ("accuracy@1", "pairwise_vs_hard_negatives"):
        if name in metrics["train_in_sample"]:
            rows[f"train {name} (in-sample)"] = metrics["train_in_sample"][name]
    print_summary(f"reward model -> {out}", rows, file=sys.stdout)
    questions = metrics["validation"].get("questions", 0)
    if questions < 5:
        print(f"note: the validation split has {questions} question(s); its retrieval accuracy says little")
    if "pairwise_vs_hard_negatives" not in metrics["train_in_sample"]:
        print(
            "note: no hard negatives in this release (no short or low-liked user answers): in-batch negatives only"
        )


if __name__ == "__main__":
    sys.exit(run_main(main))
