"""Reward functions, data views and CLI input checks of the trainer (fast, no training)."""

from __future__ import annotations

import sys

import pytest
from _train_helpers import build_tiny, release_rows, run_cli, write_release

from empathyqa.coe import SYSTEM_PROMPT, format_completion
from training.args import TrainingInputError, parse_config, recipe_defaults, run_main
from training.data import DataArguments, contrastive_groups, grpo_examples, load_split, sft_examples
from training.grpo_rewards import AnswerQualityReward, LengthPenalty, answer_of, format_reward

GOOD = format_completion(
    "焦虑而疲惫。", "担心考砸。", "想被理解。", "先共情再建议。", "我能理解你的紧张，试着把复习拆小。"
)
L = "<L1>情绪</L1>\n<L2>原因</L2>\n<L3>意图</L3>\n<L4>策略</L4>"
MALFORMED = {
    "empty": "",
    "plain text": "我能理解你的紧张，试着把复习拆小。",
    "missing L3": "<empathy_think>\n<L1>a</L1>\n<L2>b</L2>\n<L4>d</L4>\n</empathy_think>\n<answer>好</answer>",
    "layers out of order": "<empathy_think>\n<L2>b</L2>\n<L1>a</L1>\n<L3>c</L3>\n<L4>d</L4>\n</empathy_think>\n<answer>好</answer>",
    "empty layer": "<empathy_think>\n<L1>a</L1>\n<L2>  </L2>\n<L3>c</L3>\n<L4>d</L4>\n</empathy_think>\n<answer>好</answer>",
    "empty answer": f"<empathy_think>\n{L}\n</empathy_think>\n<answer>  </answer>",
    "no answer tag": f"<empathy_think>\n{L}\n</empathy_think>\n我能理解你。",
    "answer outside <answer>": f"<empathy_think>\n{L}\n</empathy_think>\n<answer></answer>我能理解你。",
    "text after </answer>": GOOD + "\n另外再说一句。",
    "text before the think block": "好的。\n" + GOOD,
    "tags repeated": GOOD + "\n<answer>第二个回答</answer>",
    "layer repeated": f"<empathy_think>\n{L}\n<L4>又一层</L4>\n</empathy_think>\n<answer>好</answer>",
    "tag inside a layer": "<empathy_think>\n<L1>a<answer>x</answer></L1>\n<L2>b</L2>\n<L3>c</L3>\n<L4>d</L4>\n</empathy_think>\n<answer>好</answer>",
    "unclosed think": f"<empathy_think>\n{L}\n<answer>好</answer>",
}


class RecordingScorer:
    """Stands in for the reward model to see exactly what reaches it (the real one runs in the pipeline tests)."""

    def __init__(self):
        self.calls: list[tuple[list[str], list[str]]] = []

    def score_batch(self, questions, answers):
        self.calls.append((list(questions), list(answers)))
        return [0.75] * len(answers)


def test_format_reward_accepts_a_well_formed_completion():
    assert format_reward([GOOD]) == [1.0]
    assert answer_of(GOOD) == "我能理解你的紧张，试着把复习拆小。"


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_format_reward_gives_zero_to_malformed_and_adversarial(name):
    assert format_reward([MALFORMED[name]]) == [0.0], name
    assert answer_of(MALFORMED[name]) is None


def test_rewards_read_conversational_completions():
    completions = [[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": "随便说说"}]]
    assert format_reward(completions) == [1.0, 0.0]


def test_answer_quality_scores_only_the_answer_part_and_zeroes_malformed():
    scorer = RecordingScorer()
    reward = AnswerQualityReward(scorer)
    completions = [GOOD, MALFORMED["answer outside <answer>"], MALFORMED["tags repeated"]]
    rewards = reward(completions=completions, query=["问题一", "问题二", "问题三"], prompts=[None] * 3)
    assert rewards == [0.75, 0.0, 0.0]
    assert scorer.calls == [(["问题一"], ["我能理解你的紧张，试着把复习拆小。"])]
    assert reward.__name__ == "answer_quality_reward"


def test_answer_quality_records_length_and_score_per_step_and_logs_mean_chars():
    class State:
        global_step = 6

    logged: list[tuple[str, float]] = []
    reward = AnswerQualityReward(RecordingScorer())
    short = format_completion("焦虑。", "考试。", "想被理解。", "先共情。", "我在听。")
    reward(
        completions=[GOOD, MALFORMED["plain text"], short],
        query=["问题一", "问题二", "问题三"],
        trainer_state=State(),
        log_metric=lambda name, value: logged.append((name, value)),
    )
    assert reward.records == [
        {"step": 7, "chars": 17, "score": 0.75},
        {"step": 7, "chars": 4, "score": 0.75},
    ]
    assert logged == [("answer_chars", 10.5)]


def test_answer_quality_needs_the_query_column():
    with pytest.raises(ValueError, match="query"):
        AnswerQualityReward(RecordingScorer())(completions=[GOOD])


def test_length_penalty():
    penalty = LengthPenalty(min_chars=10, max_chars=20)
    body = lambda n: format_completion("a", "b", "c", "d", "字" * n)  # noqa: E731
    assert penalty([body(15), body(10), body(20)]) == [0.0, 0.0, 0.0]
    assert penalty([body(5)]) == [pytest.approx(-0.5)]
    assert penalty([body(30)]) == [pytest.approx(-0.5)]
    assert penalty([body(100)]) == [-1.0]
    assert penalty([MALFORMED["plain text"]]) == [0.0]
    with pytest.raises(ValueError):
        LengthPenalty(min_chars=20, max_chars=10)


# --------------------------------------------------------------------------- data views
@pytest.fixture(scope="module")
def small_tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("tok")
    release = write_release(folder / "release")
    model = build_tiny(folder / "tiny", vocab="small", corpus=release)
    return AutoTokenizer.from_pretrained(model)


def test_sft_view_keeps_rows_with_a_coe_and_counts_the_rest(small_tokenizer):
    rows = release_rows(20)
    selection = sft_examples(
        rows, DataArguments(max_prompt_tokens=10_000), small_tokenizer, max_length=10_000
    )
    with_coe = [r for r in rows if r["coe"] is not None]
    assert len(selection.examples) == len(with_coe) - 1  # one question is risk-flagged
    assert selection.dropped["no CoE (plain QA pair)"] == len(rows) - len(with_coe)
    assert selection.dropped["risk-flagged"] == 1
    messages = selection.examples[0]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    assert answer_of(messages[2]["content"]) is not None


def test_sft_view_filters_long_prompts_and_keeps_risk_when_asked(small_tokenizer):
    rows = release_rows(20)
    rows[0]["prompt"] = "很长的问题" * 400
    args = DataArguments(max_prompt_tokens=200, include_risk=True)
    selection = sft_examples(rows, args, small_tokenizer, max_length=10_000)
    assert selection.dropped["prompt over 200 tokens"] == 1
    assert "risk-flagged" not in selection.dropped
    assert selection.report()["dropped: prompt over 200 tokens"] == 1


def test_sft_view_can_keep_reviewed_coe_only(small_tokenizer):
    rows = release_rows(20)
    rows[0]["coe_status"] = "draft"
    args = DataArguments(max_prompt_tokens=10_000, coe_status=["accepted", "edited"])
    selection = sft_examples(rows, args, small_tokenizer, max_length=10_000)
    assert selection.dropped["coe_status draft not in --coe_status"] == 1
    assert "q000" not in {e["question_id"] for e in selection.examples}


def test_sft_view_refuses_when_nothing_is_left(small_tokenizer):
    rows = [r for r in release_rows(20) if r["coe"] is None]
    with pytest.raises(TrainingInputError, match="no training examples"):
        sft_examples(rows, DataArguments(), small_tokenizer, max_length=512)


def test_grpo_view_has_one_prompt_per_question_without_risky_ones(small_tokenizer):
    rows = release_rows(20)
    selection = grpo_examples(rows, DataArguments(max_prompt_tokens=10_000), small_tokenizer)
    qids = [e["question_id"] for e in selection.examples]
    assert len(qids) == len(set(qids)) == 19
    assert "q007" not in qids
    example = selection.examples[0]
    assert example["prompt"][0]["role"] == "system" and example["query"] == example["prompt"][1]["content"]
    risky = grpo_examples(rows, DataArguments(max_prompt_tokens=10_000, include_risk=True), small_tokenizer)
    assert len(risky.examples) == 20


def test_contrastive_groups_use_counselors_as_positives_and_weak_user_answers_as_hard_negatives():
    rows = release_rows(20)
    rows.append(
        {
            **rows[0],
            "answer_id": "u9",
            "answer": "这是一个很长很用心的用户回答" * 5,
            "answer_role": "user",
            "likes": 9,
        }
    )
    groups, dropped = contrastive_groups(rows, short_answer_chars=30, low_likes=0, include_risk=False)
    assert len(groups) == 19
    first = next(g for g in groups if g.question_id == "q000")
    assert len(first.positives) == 1 and first.hard_negatives == ["加油"]
    assert dropped["non-professional answer, neither short nor low-liked (unused)"] == 1
    assert dropped["risk-flagged row"] == 3


def test_load_split_rejects_missing_and_foreign_files(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pytest.raises(TrainingInputError, match="not found"):
        load_split(DataArguments(release=str(tmp_path)), "train")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "train.parquet")
    with pytest.raises(TrainingInputError, match="missing column"):
        load_split(DataArguments(release=str(tmp_path)), "train")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(TrainingInputError, match="not a readable Parquet"):
        load_split(DataArguments(train_file=str(tmp_path / "bad.parquet")), "train")
    with pytest.raises(TrainingInputError, match="no data"):
        load_split(DataArguments(), "train")


# --------------------------------------------------------------------------- recipes and CLIs
def _parsers():
    from trl import GRPOConfig, ModelConfig, SFTConfig

    from training.grpo import RewardArguments
    from training.reward import RewardTrainingArguments

    return {
        "sft": (DataArguments, SFTConfig, ModelConfig),
        "reward": (DataArguments, RewardTrainingArguments),
        "grpo": (DataArguments, RewardArguments, GRPOConfig, ModelConfig),
    }


@pytest.mark.parametrize("recipe", ["tiny-cpu", "qwen2.5-1.5b-full", "qwen2.5-7b-lora"])
def test_every_recipe_parses_for_every_script(recipe):
    for section, types in _parsers().items():
        cpu = [] if section == "reward" else ["--bf16", "false", "--use_cpu", "true"]
        argv = [
            "--config",
            f"training/recipes/{recipe}.yaml",
            "--max_steps",
            "7",
            "--output_dir",
            "/tmp/x",
            *cpu,
        ]
        parsed = parse_config(types, section, argv)
        training = parsed[-2] if section != "reward" else parsed[1]
        assert training.max_steps == 7 and training.output_dir == "/tmp/x"


def test_recipe_block_overrides_shared_keys_and_ignores_other_blocks(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("seed: 1\nsft:\n  seed: 2\ngrpo:\n  num_generations: 2\n", encoding="utf-8")
    assert recipe_defaults(str(recipe), "sft") == {"seed": 2}
    assert recipe_defaults(str(recipe), "reward") == {"seed": 1}


def test_grpo_recipe_weights_come_through():
    data, rewards, grpo, model = parse_config(
        _parsers()["grpo"], "grpo", ["--config", "training/recipes/tiny-cpu.yaml", "--length_weight", "0.7"]
    )
    assert (rewards.format_weight, rewards.answer_weight, rewards.length_weight) == (1.0, 1.0, 0.7)
    assert grpo.num_generations == 4 and grpo.bf16 is False


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        ("sft", ["--config", "nowhere.yaml"], "recipe not found"),
        (
            "sft",
            ["--config", "training/recipes/tiny-cpu.yaml", "--model_name_or_path", "/nope"],
            "not a model folder",
        ),
        ("reward", ["--model_name_or_path", "/nope", "--release", "/nope"], "not a model folder"),
        (
            "reward",
            ["--model_name_or_path", "/nope", "--per_device_train_batch_size", "1"],
            "not a model folder",
        ),
        ("grpo", ["--answer_weight", "1"], "--reward_model_path is required"),
        ("grpo", ["--answer_weight", "0", "--resume_from_checkpoint", "/nope"], "not a checkpoint folder"),
        ("grpo", ["--reward_model_path", "/nope"], "no such folder"),
        ("sft", ["--resume_from_checkpoint", "last", "--output_dir", "/nope"], "no checkpoint in /nope"),
        ("tiny", ["--out", "/tmp/never", "--vocab", "klingon"], "--vocab must be"),
    ],
)
def test_bad_input_is_one_clear_line(module, args, message, capsys):
    import importlib

    main = importlib.import_module(f"training.{module}").main
    assert run_main(lambda: main(args)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_exits_2_without_traceback(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("sft:\n  max_seq_length: 512\n", encoding="utf-8")
    proc = run_cli([sys.executable, "-m", "training.sft", "--config", str(recipe)], timeout=120, ok=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "unknown keys for sft: max_seq_length" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("module", ["sft", "reward", "grpo", "tiny"])
def test_help_lists_the_common_flags(module, capsys):
    import importlib

    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(f"training.{module}").main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    flags = ["--out"] if module == "tiny" else ["--max_steps", "--output_dir", "--release", "--config"]
    assert all(flag in text for flag in flags), module


def test_chat_template_masks_only_the_assistant_turn_including_its_stop_token(small_tokenizer):
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "我最近睡不着"},
        {"role": "assistant", "content": GOOD},
    ]
    out = small_tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    kept = [i for i, keep in zip(out["input_ids"], out["assistant_masks"], strict=True) if keep]
    masked = [i for i, keep in zip(out["input_ids"], out["assistant_masks"], strict=True) if not keep]
    assert small_tokenizer.decode(kept).strip() == GOOD + "<|im_end|>"
    assert "我最近睡不着" in small_tokenizer.decode(masked) and GOOD not in small_tokenizer.decode(masked)
