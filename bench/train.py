"""Throughput (tokens/s) and peak memory of SFT and GRPO steps at Qwen2.5 sizes, random weights.

    python bench/train.py                      # CPU: tiny size (Qwen vocab), checkpointing off vs on
    python bench/train.py --sizes 0.5b,1.5b    # on a GPU: the real Qwen2.5-0.5B / 1.5B configs
    python bench/train.py --sizes 0.5b --layers 2 --seq-len 128   # real width, 2 of 24 layers (CPU)
    python bench/train.py --modes sft,grpo,gen --vllm --checkpointing off --json out.json   # bench/gpu_check.sh

Modes: `sft` and `grpo` (training steps; GRPO generates with vLLM colocated under `--vllm` when vLLM
imports, else with transformers), `gen` (generation alone: new tokens/s of transformers `generate`,
and of vLLM when it imports).

Each case runs in a fresh process (so peak memory is its own) with TRL's real SFTTrainer /
GRPOTrainer; the first step is warm-up and not timed. Baseline: the same size and mode with
activation checkpointing off; the `vs base` column is the ratio to it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QWEN25 = {
    # hidden, intermediate, layers, heads, kv heads: from the published Qwen2.5 config.json files
    "tiny": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
    "0.5b": dict(
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
    ),
    "1.5b": dict(
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
    ),
}
TEXT = "我最近总是睡不着，躺下脑子里全是工作的事，白天也提不起精神。"


def run_case(case: dict) -> dict:
    import resource

    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer, SFTConfig, SFTTrainer

    from datasets import Dataset
    from empathyqa.coe import SYSTEM_PROMPT

    cuda = torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(case["tokenizer"])
    dims = dict(QWEN25[case["size"]])
    if case["layers"]:
        dims["num_hidden_layers"] = case["layers"]
    config = Qwen2Config(vocab_size=151936, tie_word_embeddings=True, **dims)
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16 if cuda else torch.float32)
    params = sum(p.numel() for p in model.parameters())

    timings: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if cuda:
                torch.cuda.synchronize()
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if cuda:
                torch.cuda.synchronize()
            timings.append(time.perf_counter() - self.started)

    seq, batch, steps = case["seq_len"], case["batch"], case["steps"] + 1
    common = dict(
        output_dir=case["output_dir"],
        max_steps=steps,
        per_device_train_batch_size=batch,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        bf16=cuda,
        use_cpu=not cuda,
        activation_checkpointing=case["checkpointing"],
        learning_rate=1e-5,
        disable_tqdm=True,
    )
    user = {"role": "user", "content": TEXT * 2}
    system = {"role": "system", "content": SYSTEM_PROMPT}
    if case["mode"] == "gen":
        return {**_generation_case(case, model, tokenizer, [system, user], cuda), "params_m": params / 1e6}
    if case["mode"] == "sft":
        answer = TEXT * (seq // 10 + 1)  # longer than seq: every example is truncated to exactly seq tokens
        # a short prompt, so truncation to seq tokens leaves most of them to the (trained) assistant turn
        short_user = {"role": "user", "content": TEXT}
        rows = [{"messages": [short_user, {"role": "assistant", "content": answer}]}] * (batch * steps)
        args = SFTConfig(max_length=seq, assistant_only_loss=True, **common)
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer
        )
    else:

        def length_reward(completions, **kwargs):
            return [len(c[0]["content"]) / 100 for c in completions]

        rows = [{"prompt": [system, user]}] * (batch * steps)
        vllm = case.get("vllm") and _has_vllm()
        extra = dict(use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=0.3) if vllm else {}
        case["generator"] = "vllm colocate" if vllm else "transformers"
        args = GRPOConfig(
            num_generations=batch,
            max_completion_length=seq // 2,
            temperature=1.0,
            beta=0.0,
            **common,
            **extra,
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=length_reward,
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
        )
    trainer.add_callback(StepTimer())
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    history = trainer.state.log_history
    completion_tokens = [
        e["completions/mean_length"] * batch for e in history if "completions/mean_length" in e
    ]
    tokens = [e["num_tokens"] for e in trainer.state.log_history if "num_tokens" in e]
    per_step = [b - a for a, b in zip([0.0, *tokens[:-1]], tokens, strict=True)]
    measured = timings[1:] or timings
    step_tokens = sum(per_step[1:] or per_step) / len(measured)
    step_s = sum(measured) / len(measured)
    return {
        **{k: case[k] for k in ("size", "mode", "checkpointing", "seq_len", "batch")},
        "params_m": params / 1e6,
        "layers": dims["num_hidden_layers"],
        "step_s": step_s,
        "tokens_per_step": step_tokens,
        "tokens_per_s": step_tokens / step_s,
        # GRPO: completion tokens per second of whole steps (generation + update), a lower bound
        "completion_tokens_per_s": (
            sum(completion_tokens[1:] or completion_tokens) / len(measured) / step_s
            if completion_tokens
            else None
        ),
        "generator": case.get("generator", ""),
        "peak_mem_gb": (
            torch.cuda.max_memory_allocated()
            if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        / 2**30,
        "memory_kind": "GPU max allocated" if cuda else "process peak RSS",
        "device": torch.cuda.get_device_name(0) if cuda else "CPU",
    }


def _has_vllm() -> bool:
    try:
        import vllm  # noqa: F401
    except Exception:  # an installed vLLM built for another torch fails at import, not only when absent
        return False
    return True


def _generation_case(case: dict, model, tokenizer, messages: list[dict], cuda: bool) -> dict:
    """New tokens per second of a batch of sampled replies: transformers, and vLLM when it imports."""
    import resource

    import torch

    device = "cuda" if cuda else "cpu"
    model = model.to(device).eval()
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    batch = tokenizer([prompt] * case["batch"], return_tensors="pt").to(device)
    new = case["seq_len"] // 2
    rates = []
    for _ in range(2):  # the first run is warm-up
        if cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.no_grad():
            model.generate(**batch, max_new_tokens=new, min_new_tokens=new, do_sample=True)
        if cuda:
            torch.cuda.synchronize()
        rates.append(case["batch"] * new / (time.perf_counter() - started))
    row = {
        **{k: case[k] for k in ("size", "mode", "checkpointing", "seq_len", "batch")},
        "layers": model.config.num_hidden_layers,
        "generation_tokens_per_s": rates[-1],
        "generator": "transformers",
        "peak_mem_gb": (
            torch.cuda.max_memory_allocated()
            if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        / 2**30,
        "memory_kind": "GPU max allocated" if cuda else "process peak RSS",
        "device": torch.cuda.get_device_name(0) if cuda else "CPU",
    }
    if case.get("vllm") and cuda and _has_vllm():
        row["vllm_generation_tokens_per_s"] = _vllm_rate(case, model, tokenizer, prompt, new)
    return row


def _vllm_rate(case: dict, model, tokenizer, prompt: str, new: int) -> float | None:
    import tempfile

    from vllm import LLM, SamplingParams

    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        llm = LLM(folder, gpu_memory_utilization=0.3, enforce_eager=False)
        params = SamplingParams(max_tokens=new, min_tokens=new, temperature=1.0)
        llm.generate([prompt] * case["batch"], params)  # warm-up
        started = time.perf_counter()
        llm.generate([prompt] * case["batch"], params)
        return case["batch"] * new / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", help="comma list of tiny,0.5b,1.5b (default: 0.5b,1.5b on a GPU, tiny on CPU)"
    )
    parser.add_argument("--modes", default="sft,grpo")
    parser.add_argument(
        "--layers", type=int, default=0, help="cut the depth to this many layers (0: as published)"
    )
    parser.add_argument(
        "--seq-len", type=int, default=0, help="SFT sequence / 2x GRPO completion (default 1024 GPU, 128 CPU)"
    )
    parser.add_argument("--batch", type=int, default=4, help="SFT batch; GRPO prompts x generations")
    parser.add_argument("--steps", type=int, default=2, help="timed steps after one warm-up step")
    parser.add_argument("--vllm", action="store_true", help="GRPO and gen: use vLLM (colocate) if it imports")
    parser.add_argument(
        "--checkpointing", choices=("off", "on", "both"), default="both", help="activation checkpointing"
    )
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print("RESULT " + json.dumps(run_case(json.loads(args.case))))
        return 0

    import torch

    cuda = torch.cuda.is_available()
    sizes = (args.sizes or ("0.5b,1.5b" if cuda else "tiny")).split(",")
    unknown = [s for s in sizes if s not in QWEN25]
    if unknown:
        print(f"error: unknown size {unknown[0]!r}; choose from {', '.join(QWEN25)}", file=sys.stderr)
        return 2
    seq_len = args.seq_len or (1024 if cuda else 128)
    device = torch.cuda.get_device_name(0) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(
        f"device: {device}; torch {torch.__version__}; seq_len {seq_len}, batch {args.batch}, {args.steps} timed steps"
    )
    with tempfile.TemporaryDirectory() as tmp:
        from training.tiny import qwen_tokenizer

        qwen_tokenizer().save_pretrained(Path(tmp) / "tokenizer")
        results = []
        for size in sizes:
            for mode in args.modes.split(","):
                modes_ckpt = {"off": (False,), "on": (True,), "both": (False, True)}[args.checkpointing]
                for checkpointing in modes_ckpt if mode != "gen" else (False,):
                    case = dict(
                        size=size,
                        mode=mode,
                        checkpointing=checkpointing,
                        seq_len=seq_len,
                        batch=args.batch,
                        steps=args.steps,
                        layers=args.layers,
                        vllm=args.vllm,
                        tokenizer=str(Path(tmp) / "tokenizer"),
                        output_dir=str(Path(tmp) / "out"),
                    )
                    results.append(_subprocess(case))
                    _print_row(results[-1], results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"device": device, "rows": results}, indent=2), encoding="utf-8")
    return 0 if all("error" not in r for r in results) else 1


def _subprocess(case: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True, cwd=ROOT
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return {**case, "error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}


def _print_row(row: dict, results: list[dict]) -> None:
    if len(results) == 1:
        print(
            f"{'size':>6} {'layers':>6} {'params':>8} {'mode':>5} {'ckpt':>5} {'tok/step':>9} {'step s':>7} "
            f"{'tok/s':>9} {'vs base':>8} {'peak GB':>8}  memory"
        )
    label = "on" if row["checkpointing"] else "off"
    if "error" in row:
        print(f"{row['size']:>6} {row['mode']:>5} ckpt {label}: failed: {row['error']}")
        return
    if row["mode"] == "gen":
        vllm = row.get("vllm_generation_tokens_per_s")
        print(
            f"{row['size']:>6} {row['layers']:>6} {row['params_m']:>7.1f}M   gen  generation tokens/s: "
            f"transformers {row['generation_tokens_per_s']:.0f}"
            + (f", vLLM {vllm:.0f}" if vllm else ", vLLM not available")
            + f"  peak {row['peak_mem_gb']:.2f} GB ({row['memory_kind']})"
        )
        return
    base = next(
        (
            r
            for r in results
            if r["size"] == row["size"]
            and r["mode"] == row["mode"]
            and not r["checkpointing"]
            and "error" not in r
        ),
        row,
    )
    print(
        f"{row['size']:>6} {row['layers']:>6} {row['params_m']:>7.1f}M {row['mode']:>5} {label:>5} "
        f"{row['tokens_per_step']:>9.0f} {row['step_s']:>7.2f} {row['tokens_per_s']:>9.0f} "
        f"{row['tokens_per_s'] / base['tokens_per_s']:>7.2f}x {row['peak_mem_gb']:>8.2f}  {row['memory_kind']}"
        + (
            f"; completion tokens/s {row['completion_tokens_per_s']:.0f} ({row['generator']})"
            if row.get("completion_tokens_per_s")
            else ""
        )
    )


if __name__ == "__main__":
    sys.exit(main())
