"""Curated inputs and CLI runners shared by the drafting tests and bench/draft.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from empathyqa.io import write_parquet_atomic
from empathyqa.schema import CURATED_THREAD, conform

REPO = Path(__file__).resolve().parents[2]


def thread(n: int, answers: list[dict] | None = None, risk: str = "none") -> dict:
    qid = f"sample:{n:05d}"
    if answers is None:
        answers = [
            {
                "answer_id": f"a{n}",
                "body": f"问题{n}的回答：先照顾好自己的情绪，再一步一步来。",
                "author_role": "counselor",
                "likes": 3,
            }
        ]
    return {
        "question_id": qid,
        "source": "sample",
        "source_id": f"{n:05d}",
        "url": f"http://127.0.0.1/q/{n}",
        "title": f"问题{n}：最近总是焦虑失眠",
        "body": f"这是第{n}个求助帖。我最近工作压力很大，晚上睡不着，不知道该怎么办。",
        "answers": answers,
        "risk_level": risk,
        "crawled_at": "2026-11-26T00:00:00+00:00",
    }


def write_curated(folder: Path, threads: list[dict]) -> Path:
    return write_parquet_atomic(conform(threads, CURATED_THREAD), Path(folder) / "curated.parquet")


def run_cli(args: list[str], timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    full_env.pop("OPENAI_BASE_URL", None) if "OPENAI_BASE_URL" not in (env or {}) else None
    return subprocess.run(
        [sys.executable, "-m", "annotation", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
