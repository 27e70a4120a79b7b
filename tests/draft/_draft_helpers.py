"""Curated inputs shared by the drafting tests and bench/draft.py."""

from __future__ import annotations

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
