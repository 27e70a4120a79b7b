"""The Chain-of-Empathy training format: one place that writes it and one that parses it.

<empathy_think>
<L1>…</L1>
<L2>…</L2>
<L3>…</L3>
<L4>…</L4>
</empathy_think>
<answer>…</answer>
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SYSTEM_PROMPT = (
    "你是一位温暖、专业的心理咨询师。回答前先在 <empathy_think> 中依次写出四层共情链："
    "<L1> 情绪与情境，<L2> 原因与信念（可能的认知扭曲），<L3> 求助者的意图，<L4> 回应策略；"
    "然后在 <answer> 中给出回答。"
)

_COMPLETION = re.compile(
    r"\A\s*<empathy_think>\s*"
    r"<L1>(?P<l1>.*?)</L1>\s*"
    r"<L2>(?P<l2>.*?)</L2>\s*"
    r"<L3>(?P<l3>.*?)</L3>\s*"
    r"<L4>(?P<l4>.*?)</L4>\s*"
    r"</empathy_think>\s*"
    r"<answer>(?P<answer>.*?)</answer>\s*\Z",
    re.S,
)
_TAG = re.compile(r"</?(?:empathy_think|answer|L[1-4])>")


@dataclass(frozen=True)
class ParsedCompletion:
    l1: str
    l2: str
    l3: str
    l4: str
    answer: str


def format_completion(l1: str, l2: str, l3: str, l4: str, answer: str) -> str:
    parts = [l1, l2, l3, l4, answer]
    for text in parts:
        if _TAG.search(text or ""):
            raise ValueError(f"text holds a CoE tag and would not parse back: {text[:60]!r}")
    return (
        "<empathy_think>\n"
        f"<L1>{l1.strip()}</L1>\n<L2>{l2.strip()}</L2>\n<L3>{l3.strip()}</L3>\n<L4>{l4.strip()}</L4>\n"
        "</empathy_think>\n"
        f"<answer>{answer.strip()}</answer>"
    )


def parse_completion(text: str) -> ParsedCompletion | None:
    """Strict parse: four non-empty layers in order, then a non-empty answer, each tag once."""
    if text is None:
        return None
    match = _COMPLETION.match(text)
    if not match:
        return None
    parts = {k: v.strip() for k, v in match.groupdict().items()}
    if any(not v or _TAG.search(v) for v in parts.values()):
        return None
    return ParsedCompletion(**parts)


def chat_messages(prompt: str) -> list[dict[str, str]]:
    """The conversation before the model's turn, the same in training (SFT, GRPO) and evaluation."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]


def build_prompt(title: str, question: str) -> str:
    """The user turn as training and evaluation see it."""
    title = (title or "").strip()
    question = (question or "").strip()
    return f"标题：{title}\n\n{question}" if title else question
