"""A cut-down miniature learns: the regression test for the chat template, the assistant-only loss mask,
the reward wiring and the checkpoint hand-over between SFT and GRPO (the full run is `make learn`)."""

from __future__ import annotations

import json

import pytest

from training.learn import RECIPE, learn

pytestmark = pytest.mark.slow


def test_cut_down_miniature_learns_the_format_and_raises_answer_quality(tmp_path):
    overrides = {
        "learn": {"questions": 500, "eval_questions": 24},
        "sft": {"max_steps": 160},
        "reward": {"max_steps": 40},
        "grpo": {"max_steps": 16},
    }
    summary = learn(tmp_path / "learn", RECIPE, overrides)
    assert json.loads((tmp_path / "learn" / "learning.json").read_text(encoding="utf-8")) == summary
    assert (tmp_path / "learn" / "learning.png").stat().st_size > 10_000
    sft, grpo = summary["sft"], summary["grpo"]
    assert sft["format_rate_before"] == 0.0
    assert sft["format_rate_after"] >= 0.6
    quality = grpo["components"]["answer_quality"]
    assert quality["last_quarter"] > quality["first_quarter"]
    assert grpo["components"]["format"]["last_quarter"] >= 0.6
    assert grpo["steps"] == 16 and sft["steps"] == 160
