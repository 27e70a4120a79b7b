"""Setup for the review tests: written inputs. Rows and annotation results are built by
_review_helpers.py; the real server is the `label_studio` fixture of tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from _review_helpers import write_inputs


@pytest.fixture
def review_inputs(tmp_path) -> tuple[Path, Path]:
    """(coe.parquet, curated.parquet) for the two sample posts, in a folder of their own."""
    return write_inputs(tmp_path / "in")
