"""A small synthetic release (RELEASE_ROW) and tiny models for the training tests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from empathyqa.coe import build_prompt, format_completion
from empathyqa.schema import RELEASE_ROW, conform, pair_id

ROOT = Path(__file__).resolve().parents[2]

TOPICS = [
    (
        "失眠",
        "最近总是睡不着，躺下脑子里全是工作的事",
        "睡眠",
        "睡前一小时放下手机，固定起床时间，把担心的事写在纸上",
    ),
    (
        "焦虑",
        "考试快到了，我心跳很快，总觉得自己会考砸",
        "焦虑",
        "焦虑说明你在乎结果，可以把复习拆成小块，每完成一块就肯定自己",
    ),
    (
        "失恋",
        "分手三个月了还是走不出来，每天都会想起他",
        "失去",
        "思念是对这段关系的告别，允许自己难过，也慢慢把注意力放回生活",
    ),
    (
        "亲子",
        "妈妈总是控制我的生活，我一反驳她就哭",
        "边界",
        "你可以温和而坚定地表达边界，同时理解妈妈的担心来自爱",
    ),
    (
        "职场",
        "领导当众批评我，我觉得自己什么都做不好",
        "自我价值",
        "一次批评不等于你的全部价值，试着区分事实和对自己的评判",
    ),
    (
        "社交",
        "和同事吃饭时我总是不知道说什么，很尴尬",
        "社交",
        "社交焦虑很常见，可以先从倾听和提问开始，不必强迫自己成为焦点",
    ),
    (
        "孤独",
        "来到新城市工作，下班后一个人特别孤独",
        "联结",
        "孤独是需要联结的信号，可以尝试加入兴趣小组，建立新的支持",
    ),
    (
        "婚姻",
        "老公回家只玩手机，我们几乎不交流",
        "沟通",
        "试着用我感到……的方式表达需要，而不是指责，约定固定的交流时间",
    ),
    (
        "自卑",
        "我觉得自己长得不好看，不敢和别人对视",
        "自我接纳",
        "外貌焦虑背后常有对被接纳的渴望，先练习对自己说一句友善的话",
    ),
    (
        "拖延",
        "明明有很多事要做，却一直刷手机拖到半夜",
        "拖延",
        "拖延往往是在回避压力，把任务缩小到五分钟就能开始的一步",
    ),
]
USER_SHORT = ["加油", "想开点", "我也是这样", "抱抱你", "会好的"]


def release_rows(n_questions: int = 20) -> list[dict[str, Any]]:
    """~20 questions, each with a counselor answer (most with a CoE) and 1-2 short user answers."""
    rows: list[dict[str, Any]] = []
    for i in range(n_questions):
        topic, body, theme, advice = TOPICS[i % len(TOPICS)]
        qid = f"q{i:03d}"
        title = f"{topic}的困扰{i}"
        question = f"{body}。我该怎么办？（第{i}个提问）"
        prompt = build_prompt(title, question)
        answer = f"我能感受到你的{theme}带来的辛苦。{advice}。如果持续影响生活，可以寻求专业咨询。"
        has_coe = i % 5 != 4  # every fifth question: a plain QA pair without a rationale
        coe = (
            {
                "l1": f"求助者因{topic}感到痛苦和无助。",
                "l2": f"可能认为{theme}问题只能靠自己硬扛。",
                "l3": "希望被理解，也想要可行的建议。",
                "l4": "先共情接纳，再给出具体可行的小步骤。",
            }
            if has_coe
            else None
        )
        base = {
            "question_id": qid,
            "source": "synthetic",
            "topic": topic,
            "subtopic": None,
            "title": title,
            "question": question,
            "prompt": prompt,
            "risk_flags": ["self_harm"] if i == 7 else [],
            "risk_level": "high" if i == 7 else "none",  # the asker's level gates every row of the question
        }
        rows.append(
            {
                **base,
                "answer_id": "a0",
                "answer": answer,
                "answer_role": "counselor",
                "likes": 20 + i,
                "coe": coe,
                "coe_status": "accepted" if coe else None,
                "completion": format_completion(coe["l1"], coe["l2"], coe["l3"], coe["l4"], answer)
                if coe
                else None,
            }
        )
        for j in range(1 + i % 2):
            rows.append(
                {
                    **base,
                    "answer_id": f"u{j}",
                    "answer": USER_SHORT[(i + j) % len(USER_SHORT)],
                    "answer_role": "user",
                    "likes": 0,
                    "coe": None,
                    "completion": None,
                }
            )
    for row in rows:
        row["id"] = pair_id(row["question_id"], row["answer_id"])
    return rows


def write_release(folder: Path, n_questions: int = 20) -> Path:
    """Split by question: 70% train, 15% validation, 15% test (at least 3 questions each)."""
    rows = release_rows(n_questions)
    qids = sorted({r["question_id"] for r in rows})
    n_eval = max(3, len(qids) * 15 // 100)
    split_of = {q: "validation" for q in qids[:n_eval]}
    split_of.update({q: "test" for q in qids[n_eval : 2 * n_eval]})
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        chosen = [r for r in rows if split_of.get(r["question_id"], "train") == split]
        pq.write_table(conform(chosen, RELEASE_ROW), folder / f"{split}.parquet")
    return folder


def build_tiny(out: Path, vocab: str = "small", corpus: Path | None = None) -> Path:
    """In-process (a subprocess would pay the torch/TRL import again); the CLI has its own test."""
    from training.tiny import TinyArguments
    from training.tiny import build_tiny as build

    return build(TinyArguments(out=str(out), vocab=vocab, corpus=[str(corpus)] if corpus else []))


def run_cli(cmd: list[str], timeout: int = 180, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if ok and proc.returncode != 0:
        raise AssertionError(
            f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc
