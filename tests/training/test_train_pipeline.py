"""SFT, reward model and GRPO each run a few real TRL steps on CPU with a tiny model and a sample release."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from _train_helpers import build_tiny, run_cli, write_release

RECIPE = "training/recipes/tiny-cpu.yaml"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("train")
    release = write_release(folder / "release")
    build_tiny(folder / "tiny", vocab="small", corpus=release)
    return folder


@pytest.fixture(scope="module")
def reward_model(workdir) -> Path:
    from training.reward import main

    out = workdir / "reward_fixture"
    argv = ["--config", RECIPE, "--release", str(workdir / "release")]
    argv += ["--model_name_or_path", str(workdir / "tiny"), "--output_dir", str(out), "--max_steps", "30"]
    assert main(argv) == 0
    return out


def _generate(model_dir: Path) -> str:
    from training.policy import sample_generation

    return sample_generation(model_dir, [{"role": "user", "content": "我最近睡不着"}], max_new_tokens=8)


def _common(workdir: Path, out: Path, steps: int) -> list[str]:
    return [
        "--config",
        RECIPE,
        "--release",
        str(workdir / "release"),
        "--model_name_or_path",
        str(workdir / "tiny"),
        "--output_dir",
        str(out),
        "--max_steps",
        str(steps),
    ]


def test_sft_cli_trains_on_assistant_turns_and_saves_a_model_that_generates(workdir):
    out = workdir / "sft"
    cmd = [
        sys.executable,
        "-m",
        "training.sft",
        *_common(workdir, out, 3),
        "--per_device_train_batch_size",
        "2",
    ]
    proc = run_cli(cmd, timeout=240)
    assert "dropped: no CoE (plain QA pair)" in proc.stdout
    assert "dropped: risk-flagged" in proc.stdout
    assert "SFT done: 3 steps" in proc.stdout
    assert isinstance(_generate(out), str)
    from transformers import AutoTokenizer

    # the saved tokenizer still renders the assistant turn inside generation markers
    assert "{% generation %}" in AutoTokenizer.from_pretrained(out).chat_template.replace("-", "")


def test_sft_with_lora_saves_the_adapter_and_a_merged_model(workdir, capsys):
    from training.sft import main

    out = workdir / "sft_lora"
    argv = [*_common(workdir, out, 2), "--use_peft", "true", "--lora_r", "4", "--lora_alpha", "8"]
    argv += ["--per_device_train_batch_size", "2", "--lora_target_modules", "q_proj", "v_proj"]
    assert main(argv) == 0
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "config.json").is_file() and not (out / "adapter_config.json").exists()
    assert isinstance(_generate(out), str)


def test_reward_cli_trains_reports_retrieval_and_scores(workdir):
    out = workdir / "reward"
    proc = run_cli([sys.executable, "-m", "training.reward", *_common(workdir, out, 30)], timeout=240)
    assert "validation accuracy@1 (after training)" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["steps"] == 30 and 0.0 <= metrics["validation"]["accuracy@1"] <= 1.0
    assert metrics["validation"]["questions"] == 3

    from training.reward import RewardScorer

    scorer = RewardScorer.from_pretrained(out)
    counselor = "我能感受到你的睡眠带来的辛苦。睡前一小时放下手机，固定起床时间，把担心的事写在纸上。"
    question = "失眠的困扰10\n\n最近总是睡不着，躺下脑子里全是工作的事。我该怎么办？"
    good, weak = scorer.score(question, counselor), scorer.score(question, "加油")
    assert 0.0 <= weak < good <= 1.0
    assert scorer.score_batch([question, question], [counselor, ""]) == pytest.approx(
        [good, scorer.score(question, "")]
    )


def test_grpo_logs_each_reward_component_checkpoints_and_resumes(workdir, reward_model, capsys):
    from training.grpo import main

    out = workdir / "grpo"
    argv = [*_common(workdir, out, 2), "--reward_model_path", str(reward_model), "--save_steps", "1"]
    argv += ["--max_completion_length", "16", "--length_weight", "0.5"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for name in ("format_reward", "answer_quality_reward", "length_penalty"):
        assert f"rewards/{name}/mean" in printed
    assert "reward functions: format_reward x1, answer_quality_reward x1, length_penalty x0.5" in printed
    assert re.search(
        r"rewards of a release completion \(q\d+\): format_reward 1.00, answer_quality_reward 0\.\d+", printed
    )
    assert (out / "checkpoint-2").is_dir()

    resumed = [a if a != "2" else "3" for a in argv] + ["--resume_from_checkpoint", "last"]
    assert main(resumed) == 0
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text(encoding="utf-8"))
    logged = [e for e in state["log_history"] if "rewards/format_reward/mean" in e]
    assert [e["step"] for e in logged] == [1, 2, 3]  # steps 1-2 carried over from the checkpoint
    assert all(
        "rewards/answer_quality_reward/mean" in e and "rewards/length_penalty/mean" in e for e in logged
    )
    assert isinstance(_generate(out), str)


def test_tiny_cli_uses_the_real_qwen_vocabulary_and_trains(tmp_path, workdir, capsys):
    out = tmp_path / "tiny_qwen"
    proc = run_cli([sys.executable, "-m", "training.tiny", "--out", str(out)], timeout=240)
    assert "vocab=qwen (151646 tokens)" in proc.stdout
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    # ids as in every Qwen2/Qwen2.5 checkpoint
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [
        151643,
        151644,
        151645,
    ]
    assert tokenizer("你好")["input_ids"] == [108386]
    assert tokenizer.eos_token == "<|im_end|>" and AutoConfig.from_pretrained(out).vocab_size == 151936

    from training.sft import main

    sft_out = tmp_path / "sft_qwen"
    argv = ["--config", RECIPE, "--release", str(workdir / "release"), "--model_name_or_path", str(out)]
    argv += ["--output_dir", str(sft_out), "--max_steps", "1", "--per_device_train_batch_size", "1"]
    assert main(argv) == 0
    assert "SFT done: 1 steps" in capsys.readouterr().out
