"""GRPO on the release's questions: `python -m training.grpo --config RECIPE.yaml`.

Rewards: format (strict CoE parse, 0/1), answer quality (the reward model on the `<answer>` part)
and an optional length penalty, combined with the recipe's weights; TRL logs each component as
`rewards/<name>/mean`. Checkpoints every `save_steps`; `--resume_from_checkpoint PATH|last`.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

from trl import GRPOConfig, GRPOTrainer, ModelConfig, get_peft_config

from training.args import TrainingInputError, parse_config, resolve_resume, run_main, summarize_log
from training.data import DataArguments, grpo_examples, load_split, query_text
from training.grpo_rewards import AnswerQualityReward, LengthPenalty, format_reward
from training.policy import load_policy, sample_generation, save_policy

GRPO_DEFAULTS = {"output_dir": "runs/grpo", "report_to": "none", "num_generations": 4}


@dataclass
class RewardArguments:
    reward_model_path: str | None = field(
        default=None, metadata={"help": "folder written by training.reward (answer-quality reward)"}
    )
    format_weight: float = 1.0
    answer_weight: float = 1.0
    length_weight: float = field(default=0.0, metadata={"help": "0 turns the length penalty off"})
    length_min_chars: int = 20
    length_max_chars: int = 400


def reward_functions(args: RewardArguments) -> tuple[list, list[float]]:
    funcs: list = [format_reward]
    weights = [args.format_weight]
    if args.answer_weight:
        if not args.reward_model_path:
            raise TrainingInputError("--reward_model_path is required (or set --answer_weight 0)")
        from training.reward import RewardScorer

        if not Path(args.reward_model_path).is_dir():
            raise TrainingInputError(
                f"--reward_model_path {args.reward_model_path}: no such folder (run training.reward)"
            )
        try:
            scorer = RewardScorer.from_pretrained(args.reward_model_path)
        except FileNotFoundError as exc:
            raise TrainingInputError(str(exc)) from exc
        funcs.append(AnswerQualityReward(scorer))
        weights.append(args.answer_weight)
    if args.length_weight:
        funcs.append(LengthPenalty(args.length_min_chars, args.length_max_chars))
        weights.append(args.length_weight)
    return funcs, weights


def main(argv: list[str] | None = None) -> int:
    from datasets import Dataset

    data_args, reward_args, training_args, model_args = parse_config(
        (DataArguments, RewardArguments, GRPOConfig, ModelConfig),
        "grpo",
        argv,
        GRPO_DEFAULTS,
        description=__doc__,
    )
    if training_args.use_vllm and importlib.util.find_spec("vllm") is None:
        print("vLLM is not installed: generating with transformers instead (use_vllm off)")
        training_args.use_vllm = False
    resume = resolve_resume(training_args.resume_from_checkpoint, training_args.output_dir)
    funcs, weights = reward_functions(reward_args)
    training_args.reward_weights = weights
    model, tokenizer = load_policy(model_args, training_args)
    rows = load_split(data_args, "train")
    train = grpo_examples(rows, data_args, tokenizer)
    train.print("GRPO prompts (train)")
    _check_rewards_on_reference(funcs, rows)
    for func in funcs:
        if isinstance(func, AnswerQualityReward):
            func.records.clear()  # the reference check above is no GRPO step

    trainer = GRPOTrainer(
        model=model,
        reward_funcs=funcs,
        args=training_args,
        train_dataset=Dataset.from_list(train.examples),
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )
    names = ", ".join(f"{n} x{w:g}" for n, w in zip(trainer.reward_func_names, weights, strict=True))
    print(f"reward functions: {names}")
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_state()  # trainer_state.json: the logged curves, read by training.learn
    _save_answer_records(funcs, Path(training_args.output_dir))
    out = save_policy(trainer, tokenizer, training_args.output_dir, merged_lora=model_args.use_peft)
    _report(trainer.state.log_history, result, out)
    sample = sample_generation(out, train.examples[0]["prompt"], max_new_tokens=64)
    print(f"sample generation from {out}: {sample[:200]!r}")
    return 0


def _save_answer_records(funcs: list, out: Path) -> None:
    """answer_quality.jsonl: step, answer characters and score of every parsed completion."""
    import json

    for func in funcs:
        if isinstance(func, AnswerQualityReward):
            out.mkdir(parents=True, exist_ok=True)
            lines = (json.dumps(r) for r in func.records)
            (out / "answer_quality.jsonl").write_text(
                "".join(line + "\n" for line in lines), encoding="utf-8"
            )


def _check_rewards_on_reference(funcs: list, rows: list[dict]) -> None:
    """Score one release completion: the reward stack must rate a reference answer well."""
    from trl.trainer.utils import get_callable_name

    row = next((r for r in rows if r.get("completion")), None)
    if row is None:
        return
    completion = [{"role": "assistant", "content": row["completion"]}]
    values = [f(prompts=[None], completions=[completion], query=[query_text(row)])[0] for f in funcs]
    shown = ", ".join(f"{get_callable_name(f)} {v:.2f}" for f, v in zip(funcs, values, strict=True))
    print(f"rewards of a release completion ({row['question_id']}): {shown}")


def _report(log_history: list[dict], result, out: Path) -> None:
    from empathyqa.progress import print_summary

    rows: dict[str, object] = {"steps": result.global_step, "train loss": result.training_loss}
    means = summarize_log(log_history, "rewards/")
    rows.update({f"{k} (mean over run)": v for k, v in sorted(means.items()) if k.endswith("/mean")})
    total = summarize_log(log_history, "reward")
    if "reward" in total:
        rows["reward, weighted total (mean over run)"] = total["reward"]
    print_summary(f"GRPO -> {out}", rows, file=sys.stdout)


if __name__ == "__main__":
    sys.exit(run_main(main))
