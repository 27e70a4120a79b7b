"""Drafting through the shared endpoint client: the CoE prompt, one repair round, the format probe."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI

from annotation.draft.prompting import (
    MODES,
    Mode,
    PromptSpec,
    ReplyError,
    json_object_in,
    parse_reply,
    response_format,
)
from empathyqa.endpoint import (  # noqa: F401  (the drafting commands and bench import these from here)
    ENDPOINT_REFUSALS,
    Endpoint,
    EndpointError,
    EndpointRefused,
    RateLimiter,
    Reply,
    RetryPolicy,
    Stats,
    is_retryable,
    make_client,
    probe_format,
)

DraftFailure = EndpointError  # a pair that could not be drafted, with the reason kind


@dataclass
class GenParams:
    temperature: float = 0.3
    max_tokens: int = 1200

    def as_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}


class Drafter(Endpoint):
    def __init__(
        self,
        client: AsyncOpenAI,
        model: str,
        prompt: PromptSpec,
        params: GenParams,
        retry: RetryPolicy,
        limiter: RateLimiter,
        mode: Mode = "json_schema",
    ):
        super().__init__(client, model, params.as_dict(), retry, limiter)
        self.prompt, self.gen_params, self.mode = prompt, params, mode

    async def ask(self, messages: list[dict[str, str]], est_tokens: int) -> Reply:
        return await self.request(messages, est_tokens, response_format(self.mode))

    async def draft(self, title: str, question: str, answer: str, est_tokens: int) -> tuple[dict, Reply, str]:
        """(validated layers, last reply, raw reply text); at most one repair request."""
        messages = self.prompt.messages(title, question, answer, self.mode)
        reply = await self.ask(messages, est_tokens)
        for repaired in (False, True):
            if reply.finish_reason in ("length", "content_filter"):
                raise DraftFailure(reply.finish_reason, f"finish_reason={reply.finish_reason}", reply.content)
            try:
                return parse_reply(reply.content, self.mode).layers(), reply, reply.content or ""
            except ReplyError as exc:
                if repaired:
                    raise DraftFailure("invalid_reply", f"after one repair: {exc}", reply.content) from exc
                self.stats.repairs += 1
                messages = self.prompt.repair_messages(messages, reply.content or "", str(exc))
                first = reply
                reply = await self.ask(messages, est_tokens)
                reply.prompt_tokens += first.prompt_tokens
                reply.completion_tokens += first.completion_tokens
        raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------- probe
PROBE_MESSAGES = [
    {"role": "system", "content": "你是一个只输出 JSON 的助手。"},
    {"role": "user", "content": '请只输出这个 JSON 对象：{"l1": "好", "l2": "好", "l3": "好", "l4": "好"}'},
]


def _is_layers(content: str | None) -> bool | None:
    obj = json_object_in(content)
    return False if obj is None else ("l1" in obj or None)


async def probe_mode(drafter: Drafter) -> tuple[Mode, list[str]]:
    """The best structured-output mode the endpoint honours: json_schema, then json_object, then text."""
    mode, notes = await probe_format(drafter, PROBE_MESSAGES, response_format, _is_layers)
    drafter.mode = mode
    return mode, notes


def load_probe(path: Path, base_url: str, model: str) -> Mode | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = data.get(f"{base_url}|{model}") if isinstance(data, dict) else None
    return entry.get("mode") if isinstance(entry, dict) and entry.get("mode") in MODES else None


def save_probe(path: Path, base_url: str, model: str, mode: Mode, notes: list[str]) -> None:
    from empathyqa.io import write_json_atomic

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data[f"{base_url}|{model}"] = {"mode": mode, "notes": notes}
    write_json_atomic(data, path)
