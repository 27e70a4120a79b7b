"""The miniature that visibly learns: `python -m training.learn --out DIR` (and `make learn`).

On a generated sample release of its own (training.sample_release), a tiny model with a small
vocabulary trained on that release (the CoE tags single tokens) goes through the same
`training.sft`, `training.reward` and `training.grpo` code and recipe (`recipes/tiny-learn.yaml`)
as real runs. Validation prompts, never trained on, are decoded greedily before SFT, after SFT and
after GRPO and parsed by the strict CoE parser. Writes DIR/learning.json (format rates, GRPO reward
per quarter with standard errors, copy rate, distinct and post-quoting answers, seconds and tokens/s
per stage) and DIR/learning.png (loss and reward curves).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from training.args import TrainingInputError, run_main

RECIPE = Path(__file__).with_name("recipes") / "tiny-learn.yaml"
COMPONENTS = {
    "format": "rewards/format_reward/mean",
    "answer_quality": "rewards/answer_quality_reward/mean",
    "length_penalty": "rewards/length_penalty/mean",
    "total": "reward",
}
COPY_NGRAM = 12  # characters: longer than any stock phrase the tags and layer openings share


def read_recipe(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise TrainingInputError(f"recipe not found: {path}")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


# --------------------------------------------------------------------------- scoring
def generate(model_dir: Path, prompts: list[str], max_new_tokens: int, batch_size: int = 16) -> list[str]:
    """Greedy replies to the chat-formatted prompts (left-padded batches)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from empathyqa.coe import chat_messages

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir).to(device).eval()
    texts = [
        tokenizer.apply_chat_template(chat_messages(p), tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    out: list[str] = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
        with torch.no_grad():
            ids = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
        out += tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    return out


def _ngrams(text: str, n: int = COPY_NGRAM) -> set[str]:
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def _plain(text: str) -> str:
    import re

    return re.sub(r"</?(?:empathy_think|answer|L[1-4])>|\s", "", text)


def copy_share(texts: list[str], training: list[str], threshold: float = 0.5) -> dict[str, float]:
    """A text copies a training completion when most of its long n-grams occur in that one completion."""
    index: dict[str, set[int]] = {}
    for i, text in enumerate(training):
        for gram in _ngrams(_plain(text)):
            index.setdefault(gram, set()).add(i)
    best: list[float] = []
    for text in texts:
        grams = _ngrams(_plain(text))
        if not grams:
            best.append(0.0)
            continue
        hits: dict[int, int] = {}
        for gram in grams:
            for i in index.get(gram, ()):
                hits[i] = hits.get(i, 0) + 1
        best.append(max(hits.values(), default=0) / len(grams))
    return {
        "copy_rate": sum(b >= threshold for b in best) / max(1, len(best)),
        "mean_max_overlap": sum(best) / max(1, len(best)),
    }


def score_generations(
    generations: list[str], queries: list[str], scorer, training: list[str] | None = None
) -> dict[str, Any]:
    from training.grpo_rewards import answer_of
    from training.sample_release import quotes_of

    answers = [answer_of(g) for g in generations]
    parsed = [i for i, a in enumerate(answers) if a is not None]
    result: dict[str, Any] = {
        "format_rate": len(parsed) / max(1, len(generations)),
        # one answer for every question is a memorised string, whatever the copy rate says
        "distinct_answer_share": len({answers[i] for i in parsed}) / max(1, len(parsed)),
        # every reference answer quotes its asker's words back (“…”): one that does reads the post
        "quotes_the_post_share": sum(bool(quotes_of(answers[i], queries[i])) for i in parsed)
        / max(1, len(parsed)),
    }
    if scorer is not None:
        scores = (
            scorer.score_batch([queries[i] for i in parsed], [answers[i] for i in parsed]) if parsed else []
        )
        result["answer_quality_of_parsed"] = sum(scores) / len(scores) if scores else 0.0
        result["answer_chars_of_parsed"] = (
            sum(len(answers[i]) for i in parsed) / len(parsed) if parsed else 0.0
        )
    if training is not None:
        result.update(copy_share(generations, training))
    return result


def paired_quality(before: list[str], after: list[str], queries: list[str], scorer) -> dict[str, Any]:
    """Reward-model quality of the greedy answers after vs before GRPO on the same validation prompts
    (those that parse both times): the per-prompt difference cancels how the reward model rates each
    question as such, which dominates the spread of GRPO's per-step means."""
    from training.grpo_rewards import answer_of

    pairs = [(q, answer_of(b), answer_of(a)) for q, b, a in zip(queries, before, after, strict=True)]
    pairs = [p for p in pairs if p[1] is not None and p[2] is not None]
    if len(pairs) < 2:
        return {"prompts": len(pairs)}
    first = scorer.score_batch([p[0] for p in pairs], [p[1] for p in pairs])
    second = scorer.score_batch([p[0] for p in pairs], [p[2] for p in pairs])
    diffs = [b - a for a, b in zip(first, second, strict=True)]
    mean, se = mean_se(diffs)
    return {
        "prompts": len(pairs),
        "before": sum(first) / len(first),
        "after": sum(second) / len(second),
        "rise": mean,
        "rise_se": se,
        "rise_over_2se": mean > 2 * se,
        "better_share": sum(d > 0 for d in diffs) / len(diffs),
    }


# --------------------------------------------------------------------------- curves
def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and its standard error (0 for a single value)."""
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    return mean, math.sqrt(var / len(values))


def quarters(values: list[float]) -> dict[str, float]:
    """Mean and standard error of the per-step means over the first and last quarter of steps."""
    n = max(1, len(values) // 4)
    out: dict[str, float] = {}
    for name, part in (("first_quarter", values[:n]), ("last_quarter", values[-n:])):
        out[name], out[f"{name}_se"] = mean_se(part)
    out["rise"] = out["last_quarter"] - out["first_quarter"]
    out["rise_se"] = math.hypot(out["first_quarter_se"], out["last_quarter_se"])
    out["rise_over_2se"] = out["rise"] > 2 * out["rise_se"]
    return out


def length_controlled(records: list[dict[str, float]]) -> dict[str, Any]:
    """Answer length and length-controlled quality per GRPO step, by quarter.

    Quality is regressed on answer characters over every parsed completion of the run (least
    squares); the per-step mean of the residual, plus the run's mean, is the quality a step would
    have had at the run's average length. Its rise is the part of the quality rise length does not
    explain."""
    if len(records) < 2:
        return {}
    n = len(records)
    mx = sum(r["chars"] for r in records) / n
    my = sum(r["score"] for r in records) / n
    sxx = sum((r["chars"] - mx) ** 2 for r in records)
    slope = sum((r["chars"] - mx) * (r["score"] - my) for r in records) / sxx if sxx else 0.0
    steps: dict[int, list[dict[str, float]]] = {}
    for r in records:
        steps.setdefault(int(r["step"]), []).append(r)
    ordered = [steps[k] for k in sorted(steps)]
    chars = [sum(r["chars"] for r in rs) / len(rs) for rs in ordered]
    adjusted = [my + sum(r["score"] - my - slope * (r["chars"] - mx) for r in rs) / len(rs) for rs in ordered]
    return {
        "answer_chars": quarters(chars),
        "answer_quality_length_controlled": quarters(adjusted),
        "quality_per_char": slope,
        "quality_chars_correlation": _correlation(
            [r["chars"] for r in records], [r["score"] for r in records]
        ),
    }


def _correlation(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    return sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / (sx * sy) if sx and sy else 0.0


def reward_length_check(scorer, validation_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Does the reward model pay for length? Score against characters over the validation candidates
    (counselor answers and the short user answers the reward model was trained to rank below them),
    within the counselor answers alone, and two length-matched probes: the same answer under its own
    vs another question, and a counselor answer vs its own first half."""
    from training.data import contrastive_groups

    groups, _ = contrastive_groups(validation_rows, 30, 0, False)
    if len(groups) < 2:
        return {}
    pairs = [(g.query, a, True) for g in groups for a in g.positives]
    pairs += [(g.query, a, False) for g in groups for a in g.hard_negatives]
    scores = scorer.score_batch([p[0] for p in pairs], [p[1] for p in pairs])
    lengths = [len(p[1]) for p in pairs]
    positive = [i for i, p in enumerate(pairs) if p[2]]
    answers = [g.positives[0] for g in groups]
    own = scorer.score_batch([g.query for g in groups], answers)
    other = scorer.score_batch([groups[(i + 1) % len(groups)].query for i in range(len(groups))], answers)
    half = scorer.score_batch([g.query for g in groups], [a[: len(a) // 2] for a in answers])
    return {
        "candidates": len(pairs),
        "score_chars_correlation": _correlation(scores, lengths),
        "score_chars_correlation_counselor_answers": _correlation(
            [scores[i] for i in positive], [lengths[i] for i in positive]
        ),
        "own_beats_other_question": sum(a > b for a, b in zip(own, other, strict=True)) / len(groups),
        "whole_beats_first_half": sum(a > b for a, b in zip(own, half, strict=True)) / len(groups),
    }


def log_history(output_dir: Path) -> list[dict[str, Any]]:
    state = output_dir / "trainer_state.json"
    return json.loads(state.read_text(encoding="utf-8"))["log_history"]


def stage_speed(history: list[dict[str, Any]], seconds: float) -> dict[str, float]:
    tokens = max((e["num_tokens"] for e in history if "num_tokens" in e), default=0)
    runtime = next((e["train_runtime"] for e in history if "train_runtime" in e), seconds)
    return {"train_seconds": round(runtime, 1), "tokens": tokens, "tokens_per_s": round(tokens / runtime, 1)}


def plot(path: Path, sft_history: list[dict], grpo_history: list[dict], summary: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))
    steps = [e["step"] for e in sft_history if "loss" in e]
    axes[0].plot(steps, [e["loss"] for e in sft_history if "loss" in e], color="tab:blue")
    axes[0].set_yscale("log")
    sft = summary["sft"]
    axes[0].set_title(
        f"SFT loss (assistant turn)\nformat rate on validation {sft['format_rate_before']:.2f} -> "
        f"{sft['format_rate_after']:.2f}"
    )
    axes[0].set_xlabel("step")
    rows = [e for e in grpo_history if "reward" in e]
    x = [e["step"] for e in rows]
    grpo = summary["grpo"]

    def smooth(values: list[float], k: int = 5) -> list[float]:
        return [
            sum(values[max(0, i - k + 1) : i + 1]) / len(values[max(0, i - k + 1) : i + 1])
            for i in range(len(values))
        ]

    total = [e["reward"] for e in rows]
    axes[1].plot(x, total, color="tab:gray", alpha=0.4, label="per step")
    axes[1].plot(x, smooth(total), color="black", label="5-step mean")
    axes[1].set_title(
        f"GRPO total reward\nfirst quarter {grpo['reward_first_quarter']:.3f} -> "
        f"last quarter {grpo['reward_last_quarter']:.3f}"
    )
    axes[1].set_xlabel("step")
    axes[1].legend(loc="lower right")
    colors = {"format": "tab:green", "answer_quality": "tab:red", "length_penalty": "tab:purple"}
    for name, key in COMPONENTS.items():
        if name == "total" or not rows or key not in rows[0]:
            continue
        values = [e[key] for e in rows]
        axes[2].plot(x, values, color=colors[name], alpha=0.25)
        q = grpo["components"][name]
        axes[2].plot(
            x,
            smooth(values),
            color=colors[name],
            label=f"{name} {q['first_quarter']:.3f}->{q['last_quarter']:.3f}",
        )
    axes[2].set_title("GRPO reward components (per-step mean, 5-step mean)")
    axes[2].set_xlabel("step")
    axes[2].legend(loc="lower right", fontsize=8)
    charted = [(e["step"], e["answer_chars"]) for e in rows if "answer_chars" in e]
    if charted and grpo.get("answer_chars_first_quarter") is not None:
        chars = [c for _, c in charted]
        axes[3].plot([s for s, _ in charted], chars, color="tab:orange", alpha=0.3)
        axes[3].plot(
            [s for s, _ in charted], smooth(chars), color="tab:orange", label="answer chars (5-step mean)"
        )
        axes[3].set_ylabel("characters of <answer>")
        axes[3].legend(loc="upper left", fontsize=8)
        controlled = grpo.get("answer_quality_length_controlled", {})
        axes[3].set_title(
            f"answer length {grpo['answer_chars_first_quarter']:.0f} -> {grpo['answer_chars_last_quarter']:.0f}"
            f" chars\nlength-controlled quality {controlled.get('first_quarter', 0):.3f} -> "
            f"{controlled.get('last_quarter', 0):.3f}"
        )
        axes[3].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --------------------------------------------------------------------------- the run
def _flags(values: dict[str, Any]) -> list[str]:
    return [x for k, v in values.items() if v is not None for x in (f"--{k}", str(v))]


def learn(out: Path, recipe: Path, overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from training import grpo as grpo_cli
    from training import reward as reward_cli
    from training import sft as sft_cli
    from training.reward import RewardScorer
    from training.sample_release import build_sample_release
    from training.tiny import TinyArguments, build_tiny

    raw = read_recipe(recipe)
    settings = {**(raw.get("learn") or {}), **overrides.get("learn", {})}
    seed = int(overrides.get("learn", {}).get("seed", raw.get("seed", 0)))
    for stage in ("sft", "reward", "grpo"):
        overrides.setdefault(stage, {}).setdefault("seed", seed)
    started = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    release = out / "release"
    counts = build_sample_release(
        release, settings["questions"], seed=seed, eval_questions=settings["eval_questions"]
    )
    print(f"sample release -> {release}: {counts}")
    tiny = {**(raw.get("tiny") or {}), **overrides.get("tiny", {})}
    model_dir = build_tiny(
        TinyArguments(out=str(out / "model"), corpus=[str(release / "train.parquet")], **tiny)
    )

    train_rows = pq.read_table(release / "train.parquet").to_pylist()
    training_completions = [r["completion"] for r in train_rows if r["completion"]]
    seen: set[str] = set()
    validation = []
    for row in pq.read_table(release / "validation.parquet").to_pylist():
        if row["completion"] and row["question_id"] not in seen:
            seen.add(row["question_id"])
            validation.append(row)
    prompts = [r["prompt"] for r in validation]
    references = [r["completion"] for r in validation]
    max_new = settings["max_new_tokens"]
    common = ["--config", str(recipe), "--release", str(release)]

    def timed(fn, *args):
        t = time.perf_counter()
        value = fn(*args)
        return value, time.perf_counter() - t

    before, t_before = timed(generate, model_dir, prompts, max_new)
    sft_dir = out / "sft"
    argv = [*common, "--model_name_or_path", str(model_dir), "--output_dir", str(sft_dir)]
    if sft_cli.main(argv + _flags(overrides.get("sft", {}))) != 0:
        raise TrainingInputError("SFT failed")
    sft_seconds = time.perf_counter() - started - t_before
    mark = time.perf_counter()
    after_sft, t_sft_eval = timed(generate, sft_dir, prompts, max_new)

    reward_dir = out / "reward"
    argv = [*common, "--model_name_or_path", str(sft_dir), "--output_dir", str(reward_dir)]
    mark = time.perf_counter()
    if reward_cli.main(argv + _flags(overrides.get("reward", {}))) != 0:
        raise TrainingInputError("reward model training failed")
    reward_seconds = time.perf_counter() - mark
    scorer = RewardScorer.from_pretrained(reward_dir)
    reward_length = reward_length_check(scorer, pq.read_table(release / "validation.parquet").to_pylist())

    grpo_dir = out / "grpo"
    argv = [*common, "--model_name_or_path", str(sft_dir), "--reward_model_path", str(reward_dir)]
    argv += ["--output_dir", str(grpo_dir)]
    mark = time.perf_counter()
    if grpo_cli.main(argv + _flags(overrides.get("grpo", {}))) != 0:
        raise TrainingInputError("GRPO failed")
    grpo_seconds = time.perf_counter() - mark
    after_grpo, t_grpo_eval = timed(generate, grpo_dir, prompts, max_new)

    queries = prompts
    scored = {
        "before_sft": score_generations(before, queries, scorer),
        "after_sft": score_generations(after_sft, queries, scorer, training_completions),
        "after_grpo": score_generations(after_grpo, queries, scorer, training_completions),
        "references": score_generations(references, queries, scorer, training_completions),
    }
    sft_history = log_history(sft_dir)
    grpo_history = log_history(grpo_dir)
    rows = [e for e in grpo_history if "reward" in e]
    components = {
        name: quarters([e[key] for e in rows]) for name, key in COMPONENTS.items() if rows and key in rows[0]
    }
    records_file = grpo_dir / "answer_quality.jsonl"
    lines = records_file.read_text(encoding="utf-8").splitlines() if records_file.is_file() else []
    records = [json.loads(line) for line in lines]
    by_length = length_controlled(records)
    losses = [e["loss"] for e in sft_history if "loss" in e]
    grpo_speed = stage_speed(grpo_history, grpo_seconds)
    completion_tokens = sum(e.get("completions/mean_length", 0) for e in rows) * int(
        _recipe_value(raw, "grpo", "per_device_train_batch_size", overrides)
    )
    grpo_speed["generation_tokens_per_s"] = round(completion_tokens / grpo_speed["train_seconds"], 1)
    summary = {
        "validation_prompts": len(prompts),
        "release": counts,
        "vocab": {"kind": tiny.get("vocab"), "size": _vocab_size(model_dir)},
        "sft": {
            "format_rate_before": scored["before_sft"]["format_rate"],
            "format_rate_after": scored["after_sft"]["format_rate"],
            "steps": max((e.get("step", 0) for e in sft_history), default=0),
            "loss_first": losses[0] if losses else None,
            "loss_last": losses[-1] if losses else None,
            "seconds": round(sft_seconds, 1),
            **stage_speed(sft_history, sft_seconds),
        },
        "reward_model": {
            "seconds": round(reward_seconds, 1),
            **json.loads((reward_dir / "metrics.json").read_text(encoding="utf-8"))["validation"],
            "length_check": reward_length,
        },
        "grpo": {
            "reward_first_quarter": components["total"]["first_quarter"],
            "reward_last_quarter": components["total"]["last_quarter"],
            "components": components,
            "answer_chars_first_quarter": by_length.get("answer_chars", {}).get("first_quarter"),
            "answer_chars_last_quarter": by_length.get("answer_chars", {}).get("last_quarter"),
            "answer_quality_of_parsed": quarters(
                [
                    sum(r["score"] for r in records if r["step"] == step)
                    / max(1, sum(1 for r in records if r["step"] == step))
                    for step in sorted({r["step"] for r in records})
                ]
                or [0.0]
            ),
            **by_length,
            "steps": len(rows),
            "seconds": round(grpo_seconds, 1),
            "format_rate_after": scored["after_grpo"]["format_rate"],
            "validation_quality_paired": paired_quality(after_sft, after_grpo, queries, scorer),
            **grpo_speed,
        },
        "validation_greedy": scored,
        "copy_rate": {
            "after_sft": scored["after_sft"]["copy_rate"],
            "after_grpo": scored["after_grpo"]["copy_rate"],
            "references": scored["references"]["copy_rate"],
            "definition": f"share of generations whose {COPY_NGRAM}-character n-grams (tags and spaces removed) "
            "lie at least half in one single training completion; `references` is the same for the "
            "validation references (the generator's stock sentences alone)",
        },
        "eval_seconds": round(t_before + t_sft_eval + t_grpo_eval, 1),
        "samples": {"after_sft": after_sft[:2], "after_grpo": after_grpo[:2]},
    }
    summary["seconds"] = round(time.perf_counter() - started, 1)
    (out / "learning.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    plot(out / "learning.png", sft_history, grpo_history, summary)
    _print(summary, out)
    return summary


def _recipe_value(raw: dict, section: str, key: str, overrides: dict) -> Any:
    return overrides.get(section, {}).get(key, (raw.get(section) or {}).get(key, raw.get(key)))


def _vocab_size(model_dir: Path) -> int:
    return json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["vocab_size"]


def _print(summary: dict, out: Path) -> None:
    from empathyqa.progress import print_summary

    sft, grpo = summary["sft"], summary["grpo"]
    rows: dict[str, object] = {
        "validation prompts (never trained on)": summary["validation_prompts"],
        "format rate before SFT": sft["format_rate_before"],
        "format rate after SFT": sft["format_rate_after"],
        "format rate after GRPO": grpo["format_rate_after"],
    }
    shown = {**grpo["components"]}
    for name in ("answer_quality_of_parsed", "answer_quality_length_controlled", "answer_chars"):
        if name in grpo:
            shown[name] = grpo[name]
    for name, q in shown.items():
        rows[f"GRPO {name}: first -> last quarter (rise ± se)"] = (
            f"{q['first_quarter']:.3f} -> {q['last_quarter']:.3f} ({q['rise']:+.3f} ± {q['rise_se']:.3f})"
        )
    paired = grpo.get("validation_quality_paired") or {}
    if "rise" in paired:
        rows["validation quality (greedy, same prompts) after SFT -> GRPO (rise ± se)"] = (
            f"{paired['before']:.3f} -> {paired['after']:.3f} "
            f"({paired['rise']:+.3f} ± {paired['rise_se']:.3f}, {paired['prompts']} prompts)"
        )
    check = summary["reward_model"].get("length_check") or {}
    if check:
        rows["reward model: score~chars correlation (all / counselor answers)"] = (
            f"{check['score_chars_correlation']:.2f} / {check['score_chars_correlation_counselor_answers']:.2f}"
        )
    rows["copy rate after SFT / GRPO (references)"] = (
        f"{summary['copy_rate']['after_sft']:.2f} / {summary['copy_rate']['after_grpo']:.2f} "
        f"({summary['copy_rate']['references']:.2f})"
    )
    greedy = summary["validation_greedy"]
    for name, key in (("distinct", "distinct_answer_share"), ("post-quoting", "quotes_the_post_share")):
        rows[f"{name} greedy answers after SFT / GRPO (references)"] = (
            " / ".join(f"{greedy[k][key]:.2f}" for k in ("after_sft", "after_grpo"))
            + f" ({greedy['references'][key]:.2f})"
        )
    rows["SFT / reward / GRPO seconds"] = (
        f"{sft['seconds']} / {summary['reward_model']['seconds']} / {grpo['seconds']}"
    )
    rows["SFT tokens/s, GRPO tokens/s, GRPO generation tokens/s"] = (
        f"{sft['tokens_per_s']}, {grpo['tokens_per_s']}, {grpo['generation_tokens_per_s']}"
    )
    rows["total seconds"] = summary["seconds"]
    print_summary(f"miniature -> {out / 'learning.json'}, {out / 'learning.png'}", rows, file=sys.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.learn",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the run (replaced)")
    parser.add_argument(
        "--config", type=Path, default=RECIPE, help="recipe (default recipes/tiny-learn.yaml)"
    )
    parser.add_argument("--questions", type=int, help="generated questions (recipe learn.questions)")
    parser.add_argument(
        "--eval_questions", type=int, help="validation prompts scored (recipe learn.eval_questions)"
    )
    parser.add_argument("--seed", type=int, help="release, SFT, reward model and GRPO seed (recipe seed)")
    parser.add_argument("--sft_steps", type=int)
    parser.add_argument("--reward_steps", type=int)
    parser.add_argument("--grpo_steps", type=int)
    parser.add_argument("--vocab", choices=("char", "small"), help="tiny vocabulary (recipe tiny.vocab)")
    args = parser.parse_args(argv)
    overrides: dict[str, dict[str, Any]] = {
        "learn": {
            k: v
            for k, v in (
                ("questions", args.questions),
                ("eval_questions", args.eval_questions),
                ("seed", args.seed),
            )
            if v is not None
        },
        "tiny": {"vocab": args.vocab} if args.vocab else {},
        "sft": {"max_steps": args.sft_steps},
        "reward": {"max_steps": args.reward_steps},
        "grpo": {"max_steps": args.grpo_steps},
    }
    learn(args.out, args.config, overrides)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
