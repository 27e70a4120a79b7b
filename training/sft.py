"""Supervised fine-tuning on the CoE completions: `python -m training.sft --config RECIPE.yaml`.

Each example is a conversation (system prompt, the user turn, the CoE completion as the assistant
turn); the loss covers the assistant turn only. LoRA with `--use_peft true`.
"""

from __future__ import annotations

import sys

from trl import ModelConfig, SFTConfig, SFTTrainer, get_peft_config

from training.args import parse_config, resolve_resume, run_main
from training.data import DataArguments, load_split, sft_examples
from training.policy import load_policy, sample_generation, save_policy

SFT_DEFAULTS = {"assistant_only_loss": True, "output_dir": "runs/sft", "report_to": "none"}


def main(argv: list[str] | None = None) -> int:
    from datasets import Dataset

    data_args, training_args, model_args = parse_config(
        (DataArguments, SFTConfig, ModelConfig), "sft", argv, SFT_DEFAULTS, description=__doc__
    )
    resume = resolve_resume(training_args.resume_from_checkpoint, training_args.output_dir)
    model, tokenizer = load_policy(model_args, training_args)
    train = sft_examples(load_split(data_args, "train"), data_args, tokenizer, training_args.max_length)
    train.print("SFT data (train)")
    eval_dataset = None
    validation_rows = load_split(data_args, "validation", required=False)
    if training_args.eval_strategy != "no" and validation_rows:
        validation = sft_examples(validation_rows, data_args, tokenizer, training_args.max_length)
        eval_dataset = Dataset.from_list(validation.examples)

    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=Dataset.from_list(train.examples),
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_state()  # trainer_state.json: the logged curves, read by training.learn
    out = save_policy(trainer, tokenizer, training_args.output_dir, merged_lora=model_args.use_peft)
    print(f"SFT done: {result.global_step} steps, train loss {result.training_loss:.4f} -> {out}")
    if eval_dataset is not None:
        print(f"validation loss: {trainer.evaluate()['eval_loss']:.4f}")
    sample = sample_generation(out, train.examples[0]["messages"][:2])
    print(f"sample generation from {out}: {sample[:200]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
