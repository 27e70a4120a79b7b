"""A cut-down miniature learns: the regression test for the chat template, the assistant-only loss mask,
the reward wiring and the checkpoint hand-over between SFT and GRPO (the full run is `make learn`)."""

from __future__ import annotations

import json

import pytest

from training.learn import RECIPE, learn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("miniature") / "learn"
    overrides = {
        "learn": {"questions": 500, "eval_questions": 24},
        "sft": {"max_steps": 160},
        "reward": {"max_steps": 40},
        # the recipe's step shape (4 prompts x 8 generations) over 16 steps
        "grpo": {"max_steps": 16},
    }
    return out, learn(out, RECIPE, overrides)


def test_sft_teaches_the_format_on_unseen_prompts_and_grpo_keeps_it(run):
    out, summary = run
    assert json.loads((out / "learning.json").read_text(encoding="utf-8")) == summary
    assert (out / "learning.png").stat().st_size > 10_000
    sft, grpo = summary["sft"], summary["grpo"]
    assert sft["steps"] == 160 and grpo["steps"] == 16
    assert sft["format_rate_before"] == 0.0
    # 500 varied generated posts and 160 steps: well above 0, not the full run's rate
    assert sft["format_rate_after"] >= 0.25
    assert grpo["format_rate_after"] >= 0.25
    assert grpo["components"]["format"]["last_quarter"] >= 0.25
    # no training completion copied whole; 160 SFT steps come before the model reads the post (600-900
    # steps in the full run), so its answers may barely vary: the share is reported, not bounded
    assert summary["copy_rate"]["after_sft"] < 0.5
    assert 0 < summary["validation_greedy"]["after_sft"]["distinct_answer_share"] <= 1
    # the length check: answer characters per quarter and the reward model's score~length correlation
    assert 5 < grpo["answer_chars_first_quarter"] < 200 and 5 < grpo["answer_chars_last_quarter"] < 200
    check = summary["reward_model"]["length_check"]
    assert -1 <= check["score_chars_correlation_counselor_answers"] <= 1
    assert 0 <= check["own_beats_other_question"] <= 1


@pytest.mark.xfail(
    reason="16 GRPO steps of which 5 warm up: even the full miniature's answer-quality rise is within "
    "2 standard errors of the per-step means (training/README.md: at this size GRPO raises it on "
    "questions it revisits, not on fresh ones)",
    strict=False,
)
def test_grpo_raises_answer_quality(run):
    _, summary = run
    quality = summary["grpo"]["components"]["answer_quality"]
    assert quality["rise_over_2se"]
