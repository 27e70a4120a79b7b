"""Data builders for the evaluation tests: a small release split, generation files, judge prompts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from empathyqa.coe import build_prompt, format_completion
from empathyqa.schema import RELEASE_ROW, conform, pair_id

ROOT = Path(__file__).resolve().parents[2]

POSTS = [
    ("失眠", "最近总是睡不着，脑子里全是工作的事。", "我能理解你的焦虑，睡前放下手机，固定起床时间。"),
    ("失恋", "分手三个月了还是走不出来。", "思念是告别的一部分，允许自己难过，慢慢把注意力放回生活。"),
    ("职场", "领导当众批评我，我觉得自己什么都做不好。", "一次批评不等于你的全部价值，试着区分事实和评判。"),
    ("孤独", "来到新城市，下班后特别孤独。", "孤独是需要联结的信号，可以尝试加入兴趣小组。"),
]


def release_rows() -> list[dict[str, Any]]:
    """Four posts: two counselor answers on post 0, one on the others, a user answer on post 1."""
    rows = []
    for i, (title, question, answer) in enumerate(POSTS):
        base = {
            "question_id": f"q{i}",
            "source": "test",
            "title": title,
            "question": question,
            "prompt": build_prompt(title, question),
        }
        coe = {"l1": "难过", "l2": "自责", "l3": "被理解", "l4": "先共情"}
        rows.append(
            base
            | {
                "answer_id": "a0",
                "answer": answer,
                "answer_role": "counselor",
                "likes": 5,
                "coe": coe,
                "completion": format_completion(coe["l1"], coe["l2"], coe["l3"], coe["l4"], answer),
            }
        )
        if i == 0:
            rows.append(
                base
                | {
                    "answer_id": "a1",
                    "answer": "抱抱你，失眠真的很辛苦，可以试着睡前冥想。",
                    "answer_role": "counselor",
                    "likes": 9,
                }
            )
        if i == 1:
            rows.append(base | {"answer_id": "u0", "answer": "加油", "answer_role": "user", "likes": 0})
    for row in rows:
        row["id"] = pair_id(row["question_id"], row["answer_id"])
    return rows


def write_split(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "test.parquet"
    pq.write_table(conform(release_rows(), RELEASE_ROW), path)
    return path


def write_generation(
    folder: Path, system: str, answers: dict[str, str], format_ok: bool | None = True
) -> Path:
    """A generation file as `generate` writes it, with answers given per question id."""
    from training.evaluate.generate import GENERATION

    rows = [
        {
            "system": system,
            "model": system,
            "question_id": qid,
            "prompt": f"帖子{qid}",
            "references": ["参考回答"],
            "output": text,
            "answer": text,
            "format_ok": format_ok,
        }
        for qid, text in answers.items()
    ]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{system}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=GENERATION), path)
    return path


ANSWER_BLOCK = re.compile(r"【回答([A-Z])】\n(.*?)(?=\n\n【回答[A-Z]】|\n\n只输出 JSON|\Z)", re.S)


def shown_answers(body: dict[str, Any]) -> dict[str, str]:
    """label -> answer text as the judge prompt showed them."""
    prompt = body["messages"][-1]["content"]
    return {label: text.strip() for label, text in ANSWER_BLOCK.findall(prompt)}


def ranking_reply(by_dimension: dict[str, list[str]]) -> str:
    return json.dumps(by_dimension)
