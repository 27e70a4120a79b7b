"""The LLM judge: rank the anonymised answers to each post on four dimensions, position-swapped.

Each post is shown in several orders (a seeded shuffle, its reverse, then rotations of the
shuffle); answers are labelled by position (A is whatever comes first), so a judge that prefers
a position gives each system that position's rank equally often and the bias averages out.
Every call is logged (order, label -> system, reply) so a ranking can be traced back.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from empathyqa.endpoint import FEW_RETRIES, Endpoint, EndpointError, map_requests
from training.evaluate.ranking import DIMENSIONS, Judgement

DIMENSION_GUIDE = {
    "fluency": "流畅度：语言是否通顺自然、条理清楚",
    "recognition": "情绪识别：是否准确识别并回应了求助者的感受",
    "comfort": "安慰：是否给予温暖、真诚的情感支持",
    "suggestions": "建议：是否给出具体、可行、恰当的建议",
}
logger = logging.getLogger("empathyqa.evaluate.judge")
SYSTEM_MESSAGE = (
    "你是一位资深的心理咨询督导，负责比较多个回答的质量。只输出一个 JSON 对象，不要输出其他文字。"
)


@dataclass
class JudgeOptions:
    model: str
    base_url: str | None = None
    orders: int = 2
    concurrency: int = 4
    retries: int = 1  # extra asks when a reply is not a valid ranking
    response_format: str = "json_object"  # json_object | none
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int = 0
    note: str = ""  # shown beside the judge in the report (the offline sample judge says what it is)


@dataclass
class PostAnswers:
    question_id: str
    prompt: str
    answers: dict[str, str]  # system -> answer text


def labels_for(n: int) -> list[str]:
    if n > len(string.ascii_uppercase):
        raise ValueError(f"the judge ranks at most {len(string.ascii_uppercase)} systems, got {n}")
    return list(string.ascii_uppercase[:n])


def presentation_orders(systems: Sequence[str], count: int, rng: random.Random) -> list[list[str]]:
    """`count` distinct orders: a shuffle, its reverse, then rotations of the shuffle."""
    base = list(systems)
    rng.shuffle(base)
    candidates = [base, base[::-1]] + [base[i:] + base[:i] for i in range(1, len(base))]
    orders: list[list[str]] = []
    for order in candidates:
        if order not in orders:
            orders.append(order)
        if len(orders) == count:
            break
    return orders


def judge_messages(prompt: str, shown: Sequence[str]) -> list[dict[str, str]]:
    labels = labels_for(len(shown))
    guide = "\n".join(f"- {key}（{text}）" for key, text in DIMENSION_GUIDE.items())
    blocks = "\n\n".join(
        f"【回答{label}】\n{text.strip() or '（空）'}" for label, text in zip(labels, shown, strict=True)
    )
    example = ", ".join(f'"{label}"' for label in labels)
    user = (
        f"下面是一位求助者的帖子和 {len(shown)} 个匿名回答（回答的先后顺序与质量无关）。"
        f"请在以下四个维度上分别把全部回答从最好到最差排序：\n{guide}\n\n"
        f"【求助帖】\n{prompt.strip()}\n\n{blocks}\n\n"
        f"只输出 JSON，键为 {', '.join(DIMENSIONS)}，每个值是回答字母的列表，从最好到最差，"
        f'每个字母恰好出现一次，例如 {{"fluency": [{example}], ...}}。'
    )
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]


def parse_ranking(text: str | None, labels: Sequence[str]) -> dict[str, list[str]]:
    """{dimension: labels best first}; ValueError says what is wrong with the reply."""
    if not text:
        raise ValueError("empty reply")
    cleaned = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the reply")
    try:
        data = json.loads(cleaned[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"reply is not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ValueError("reply is not a JSON object")
    ranking: dict[str, list[str]] = {}
    for dimension in DIMENSIONS:
        value = data.get(dimension)
        if not isinstance(value, list):
            raise ValueError(f"{dimension} is missing or not a list")
        order = [re.sub(r"^(?:回答)?\s*", "", str(item)).strip().upper() for item in value]
        if sorted(order) != sorted(labels):
            raise ValueError(f"{dimension} ranks {order}, not each of {list(labels)} once")
        ranking[dimension] = order
    return ranking


def run_judge(
    posts: Sequence[PostAnswers], systems: Sequence[str], options: JudgeOptions
) -> tuple[list[Judgement], list[dict[str, Any]]]:
    """Judgements (one per post, order and dimension) and the call log."""
    base_url = options.base_url or os.environ.get("OPENAI_BASE_URL")
    if not base_url:
        raise ValueError("the judge needs --judge-base-url URL or OPENAI_BASE_URL")
    rng = random.Random(options.seed)
    labels = labels_for(len(systems))
    calls = [
        (post, index, order)
        for post in posts
        for index, order in enumerate(presentation_orders(systems, options.orders, rng), 1)
    ]
    # endpoints that reject response_format get plain requests (the prompt asks for JSON anyway)
    fmt = {"format": {"type": "json_object"} if options.response_format == "json_object" else None}

    async def one(endpoint: Endpoint, call: tuple[PostAnswers, int, list[str]]) -> dict[str, Any]:
        post, index, order = call
        messages = judge_messages(post.prompt, [post.answers[s] for s in order])
        entry: dict[str, Any] = {
            "question_id": post.question_id,
            "order_index": index,
            "order": order,
            "labels": dict(zip(labels, order, strict=True)),
            "attempts": 0,
            "ranking": None,
            "error": None,
        }
        tries_left = 1 + options.retries
        while tries_left > 0:
            tries_left -= 1
            entry["attempts"] += 1
            sent_format = fmt["format"]
            try:
                reply = await endpoint.request(messages, response_format=sent_format)
                entry["reply"] = reply.content
                entry["ranking"] = parse_ranking(entry["reply"], labels)
                entry["error"] = None
                break
            except ValueError as exc:
                entry["error"] = f"invalid ranking: {exc}"
            except EndpointError as exc:  # after the transport retries
                entry["error"] = f"{exc.reason}: {exc.error}"[:500]
                if sent_format and exc.reason == "http_400" and "response_format" in exc.error:
                    if fmt["format"]:
                        logger.warning("the judge endpoint rejects response_format; asking without it")
                    fmt["format"] = None
                    tries_left += 1  # the endpoint's limitation, not a failed try
                    entry["attempts"] -= 1
        return entry

    params = {"temperature": options.temperature, "max_tokens": options.max_tokens}
    connect = {"model": options.model, "params": params, "retry": FEW_RETRIES}
    log = map_requests(connect, base_url, one, calls, options.concurrency, desc="judge")
    judgements = [
        Judgement(
            post=entry["question_id"],
            dimension=dimension,
            ranking=tuple(entry["labels"][label] for label in ranked),
            source=f"order-{entry['order_index']}",
        )
        for entry in log
        if entry["ranking"]
        for dimension, ranked in entry["ranking"].items()
    ]
    return judgements, log
