"""Loading, saving and sampling the policy model (the chat model SFT and GRPO train)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.args import TrainingInputError, check_model_path, load_pretrained


def load_policy(model_args, training_args):
    """Model + tokenizer from `model_name_or_path`; the tokenizer gets a pad token and left padding."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not model_args.model_name_or_path:
        raise TrainingInputError(
            "--model_name_or_path is required (e.g. the folder `python -m training.tiny` wrote)"
        )
    check_model_path(model_args.model_name_or_path, "--model_name_or_path")
    tokenizer = load_pretrained(AutoTokenizer, model_args.model_name_or_path, "tokenizer")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        raise TrainingInputError(f"{model_args.model_name_or_path}: the tokenizer has no chat template")
    dtype = model_args.dtype if model_args.dtype in (None, "auto") else getattr(torch, model_args.dtype)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if model_args.attn_implementation:
        kwargs["attn_implementation"] = model_args.attn_implementation
    model = load_pretrained(AutoModelForCausalLM, model_args.model_name_or_path, "model", **kwargs)
    if training_args.activation_checkpointing:
        model.config.use_cache = False
    return model, tokenizer


def save_policy(trainer, tokenizer, output_dir: str, merged_lora: bool) -> Path:
    """Save a plain model folder; with LoRA the adapter goes to `adapter/` and the merged model beside it."""
    out = Path(output_dir)
    if merged_lora:
        trainer.save_model(str(out / "adapter"))
        model = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
        model.save_pretrained(out)
    else:
        trainer.save_model(str(out))
    tokenizer.save_pretrained(out)
    return out


def sample_generation(model_dir: str | Path, messages: list[dict[str, str]], max_new_tokens: int = 48) -> str:
    """Reload the saved model from disk and generate one reply: proves the folder is usable."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").to(device)
    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    ).to(device)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
