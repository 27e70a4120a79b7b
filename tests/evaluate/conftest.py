"""Setup for the evaluation tests; data builders (release splits, generation files) are in
_evaluate_helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from _evaluate_helpers import write_split


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, cli) -> Path:
    """The training helper's tiny Qwen2 (random weights, the real Qwen2 vocabulary and template)."""
    out = tmp_path_factory.mktemp("tiny") / "tiny-qwen"
    proc = cli("training.tiny", ["--out", str(out)], timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def release_dir(tmp_path) -> Path:
    """A release version folder holding the four-post test split of _evaluate_helpers."""
    return write_split(tmp_path / "release").parent
