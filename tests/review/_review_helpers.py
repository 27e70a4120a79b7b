"""Test inputs for the review stage: draft CoE records and the curated threads they came from."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from empathyqa.schema import COE_RECORD, CURATED_THREAD, conform

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL, PROMPT_VERSION = "sample-llm", "coe-v1"

POSTS = {
    "q1": ("总是失眠怎么办", "工作压力很大，每天晚上躺下就开始想明天的事，已经连续一个月睡不好了。"),
    "q2": ("和妈妈吵架后很内疚", "我冲妈妈发了脾气，她哭了。我知道她是为我好，可我就是控制不住自己。"),
}


def curated_rows() -> list[dict]:
    rows = []
    for qid, (title, body) in POSTS.items():
        rows.append(
            {
                "question_id": f"sample:{qid}",
                "source": "sample",
                "source_id": qid,
                "url": f"http://127.0.0.1/{qid}",
                "title": title,
                "body": body,
                "answers": [
                    {
                        "answer_id": f"{qid}a{i}",
                        "body": f"（{qid} 的第 {i} 个专业回答）先照顾好自己的感受……",
                        "author_role": "counselor",
                    }
                    for i in (1, 2)
                ],
                "risk_level": "none",
            }
        )
    return rows


def draft_rows() -> list[dict]:
    rows = []
    for qid in POSTS:
        for i in (1, 2):
            rows.append(
                {
                    "question_id": f"sample:{qid}",
                    "answer_id": f"{qid}a{i}",
                    "l1": f"{qid}-{i}：焦虑、疲惫，处在持续的工作压力中。",
                    "l2": f"{qid}-{i}：把一切都担在自己身上，可能有灾难化的想法。",
                    "l3": f"{qid}-{i}：希望被理解，也想要能用上的办法。",
                    "l4": f"{qid}-{i}：先共情，再给出具体可行的小步骤。",
                    "model": MODEL,
                    "prompt_version": PROMPT_VERSION,
                    "status": "draft",
                    "usage": {"prompt_tokens": 100, "completion_tokens": 80},
                    "latency_s": 1.5,
                    "cache_key": f"key-{qid}-{i}",
                    "created_at": "2026-11-26T08:00:00Z",
                }
            )
    return rows


def write_inputs(folder: Path, drafts: list[dict] | None = None) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(conform(draft_rows() if drafts is None else drafts, COE_RECORD), folder / "coe.parquet")
    pq.write_table(conform(curated_rows(), CURATED_THREAD), folder / "curated.parquet")
    return folder / "coe.parquet", folder / "curated.parquet"


def ui_result(
    layers: dict[str, str], verdict: str, rating: int, reasons=(), flags=(), comment: str = ""
) -> list[dict]:
    """An annotation result shaped as the labeling interface submits it."""
    result = [
        {
            "id": f"r-{name}",
            "from_name": name,
            "to_name": "post",
            "type": "textarea",
            "origin": "prediction",
            "value": {"text": [text]},
        }
        for name, text in layers.items()
    ]
    result.append(
        {
            "id": "r-v",
            "from_name": "verdict",
            "to_name": "post",
            "type": "choices",
            "value": {"choices": [verdict]},
        }
    )
    result.append(
        {"id": "r-r", "from_name": "rating", "to_name": "post", "type": "rating", "value": {"rating": rating}}
    )
    if reasons:
        result.append(
            {
                "id": "r-x",
                "from_name": "reject_reason",
                "to_name": "post",
                "type": "choices",
                "value": {"choices": list(reasons)},
            }
        )
    if flags:
        result.append(
            {
                "id": "r-f",
                "from_name": "flags",
                "to_name": "post",
                "type": "choices",
                "value": {"choices": list(flags)},
            }
        )
    if comment:
        result.append(
            {
                "id": "r-c",
                "from_name": "comment",
                "to_name": "post",
                "type": "textarea",
                "value": {"text": [comment]},
            }
        )
    return result
