"""Talking to an OpenAI-compatible endpoint: probe, rate limits, retries with backoff, one repair."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import openai
from openai import AsyncOpenAI

from annotation.draft.costs import rough_tokens
from annotation.draft.prompting import (
    MODES,
    Mode,
    PromptSpec,
    ReplyError,
    json_object_in,
    parse_reply,
    response_format,
)

RETRYABLE_4XX = {408, 409, 425, 429}
NOT_TRANSIENT_5XX = {501, 505}  # "not implemented" and "version not supported" will not change on a retry


def is_retryable(status: int) -> bool:
    # any other 5xx is a server having a bad moment: 529 "overloaded", Cloudflare's 520-524, 599...
    return status in RETRYABLE_4XX or (status >= 500 and status not in NOT_TRANSIENT_5XX)


MAX_RETRY_AFTER = 600.0  # a server asking for hours is treated as asking for ten minutes


@dataclass
class GenParams:
    temperature: float = 0.3
    max_tokens: int = 1200

    def as_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}


@dataclass
class RetryPolicy:
    max_retries: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 120.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        # full jitter (AWS style) spreads retries of many workers; a server's retry-after is a floor
        backoff = random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))
        if retry_after is None:
            return backoff
        return max(backoff, min(retry_after, MAX_RETRY_AFTER))


class RateLimiter:
    """Requests-per-minute and tokens-per-minute as token buckets refilled continuously."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None):
        self.rpm, self.tpm = rpm, tpm
        self._requests = float(rpm or 0)
        self._tokens = float(tpm or 0)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        elapsed, self._stamp = now - self._stamp, now
        if self.rpm:
            self._requests = min(self.rpm, self._requests + elapsed * self.rpm / 60)
        if self.tpm:
            self._tokens = min(self.tpm, self._tokens + elapsed * self.tpm / 60)

    async def acquire(self, tokens: int) -> None:
        if not self.rpm and not self.tpm:
            return
        tokens = min(tokens, int(self.tpm)) if self.tpm else tokens
        async with self._lock:  # first come, first served
            while True:
                self._refill()
                wait = 0.0
                if self.rpm and self._requests < 1:
                    wait = max(wait, (1 - self._requests) * 60 / self.rpm)
                if self.tpm and self._tokens < tokens:
                    wait = max(wait, (tokens - self._tokens) * 60 / self.tpm)
                if wait <= 0:
                    self._requests -= 1 if self.rpm else 0
                    self._tokens -= tokens if self.tpm else 0
                    return
                await asyncio.sleep(wait)


class DraftFailure(Exception):
    def __init__(self, reason: str, error: str, raw_reply: str | None = None):
        super().__init__(f"{reason}: {error}")
        self.reason, self.error, self.raw_reply = reason, error, raw_reply


class EndpointRefused(DraftFailure):
    """401/402/403/404: a bad key, no credit, no such model; it says nothing about the pair, so the run stops."""


ENDPOINT_REFUSALS = {401, 402, 403, 404}


@dataclass
class Reply:
    content: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retry_reasons: dict[str, int] = field(default_factory=dict)
    usage_estimated: int = 0  # replies without a `usage` field: tokens estimated from the text
    endpoint_note: str | None = None  # e.g. the offline sample endpoint saying what it is


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    headers = response.headers
    if "retry-after-ms" in headers:
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def make_client(base_url: str | None, api_key: str | None, timeout: float) -> AsyncOpenAI:
    # the client's own retries are off: ours count every attempt and share the rate limiter
    # the worker count is the bound; None would leave aiohttp's default cap of 100 connections
    limits = httpx.Limits(max_connections=100_000, max_keepalive_connections=256)
    try:  # aiohttp transport (vendored by openai, needs aiohttp): ~5x less client CPU per request than httpx
        from openai import DefaultAioHttpClient

        http_client = DefaultAioHttpClient(limits=limits, timeout=timeout)
    except (ImportError, RuntimeError):  # an openai without it: the SDK's own httpx client
        from openai import DefaultAsyncHttpxClient

        http_client = DefaultAsyncHttpxClient(timeout=timeout)
    return AsyncOpenAI(
        base_url=base_url,
        api_key=api_key or "no-key",
        max_retries=0,
        timeout=timeout,
        http_client=http_client,
    )


class Drafter:
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
        self.client, self.model, self.prompt = client, model, prompt
        self.params, self.retry, self.limiter, self.mode = params, retry, limiter, mode
        self.stats = Stats()

    async def _once(self, messages: list[dict[str, str]], mode: Mode, max_tokens: int | None = None) -> Reply:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, **self.params.as_dict()}
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        fmt = response_format(mode)
        if fmt:
            kwargs["response_format"] = fmt
        self.stats.requests += 1
        # client.post skips the SDK's typed-params transform, which cost ~40% of client CPU per request;
        # the body is plain JSON already. Errors still map to openai.APIStatusError and friends.
        raw = await self.client.post("/chat/completions", cast_to=bytes, body=kwargs)
        body = _chat_body(raw)
        choice = body["choices"][0]
        content = (choice.get("message") or {}).get("content")
        if body.get("offline_sample"):
            self.stats.endpoint_note = str(body["offline_sample"])[:200]
        usage = body.get("usage")
        try:
            prompt_tokens = int(usage["prompt_tokens"])
            completion_tokens = int(usage.get("completion_tokens") or 0)
        except (TypeError, KeyError, ValueError, AttributeError):  # no usage: estimate, so cost is not 0
            self.stats.usage_estimated += 1
            prompt_tokens = sum(rough_tokens(str(m.get("content") or "")) + 4 for m in messages)
            completion_tokens = rough_tokens(content) if isinstance(content, str) else 0
        if isinstance(content, list):  # content as parts: [{"type": "text", "text": ...}]
            content = "".join(str(part.get("text") or "") for part in content if isinstance(part, dict))
        return Reply(
            content=content if isinstance(content, str) or content is None else str(content),
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    async def request(
        self,
        messages: list[dict[str, str]],
        est_tokens: int,
        mode: Mode | None = None,
        max_tokens: int | None = None,
    ) -> Reply:
        """One completion, retried on 429/5xx/timeouts/broken bodies; DraftFailure when it gives up."""
        attempt = 0
        while True:
            await self.limiter.acquire(est_tokens)
            reason, error, retry_after, retryable, status_refused = "error", "", None, True, False
            try:
                # the client's timeout is per read: a server that trickles a byte a second never trips it
                async with asyncio.timeout(self.retry.timeout):
                    reply = await self._once(messages, mode or self.mode, max_tokens)
                self.stats.prompt_tokens += reply.prompt_tokens
                self.stats.completion_tokens += reply.completion_tokens
                return reply
            except (openai.APITimeoutError, TimeoutError) as exc:
                reason, error = _timeout_or_connection(exc, self.retry.timeout)
            except openai.APIConnectionError as exc:
                reason, error = "connection", str(exc.__cause__ or exc)
            except openai.APIStatusError as exc:
                status = exc.status_code
                retryable, status_refused = is_retryable(status), status in ENDPOINT_REFUSALS
                reason = "rate_limited" if status == 429 else f"http_{status}"
                if retryable and status >= 500:
                    reason = "server_error"
                error = f"HTTP {status}: {str(exc.message)[:300]}"
                retry_after = _retry_after(exc.response)
            except _BadBody as exc:
                reason, error = "bad_response", str(exc)
            if status_refused:
                raise EndpointRefused(reason, error)
            if not retryable or attempt >= self.retry.max_retries:
                raise DraftFailure(reason, error)
            self.stats.retries += 1
            self.stats.retry_reasons[reason] = self.stats.retry_reasons.get(reason, 0) + 1
            await asyncio.sleep(self.retry.delay(attempt, retry_after))
            attempt += 1

    async def draft(self, title: str, question: str, answer: str, est_tokens: int) -> tuple[dict, Reply, str]:
        """(validated layers, last reply, raw reply text); at most one repair request."""
        messages = self.prompt.messages(title, question, answer, self.mode)
        reply = await self.request(messages, est_tokens)
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
                reply = await self.request(messages, est_tokens)
                reply.prompt_tokens += first.prompt_tokens
                reply.completion_tokens += first.completion_tokens
        raise AssertionError("unreachable")


class _BadBody(Exception):
    pass


def _timeout_or_connection(exc: BaseException, timeout: float) -> tuple[str, str]:
    """The openai aiohttp transport reports a refused or reset connection as a timeout: tell them apart."""
    if isinstance(exc, TimeoutError):  # our own deadline over the whole reply
        return "timeout", f"no complete reply within {timeout:g}s"
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    if root is exc or isinstance(root, TimeoutError) or "Timeout" in type(root).__name__:
        return "timeout", f"no complete reply within {timeout:g}s"
    return "connection", f"{type(root).__name__}: {root}"[:300]


def _chat_body(raw: bytes) -> dict[str, Any]:
    """The parsed completion, or _BadBody saying in plain words what came instead (retried as transient)."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _BadBody(f"response body is not JSON ({type(exc).__name__}): {raw[:80]!r}") from exc
    if not isinstance(body, dict):
        raise _BadBody(f"response body is JSON but not an object: {raw[:80]!r}")
    if body.get("error") and not body.get("choices"):  # some gateways send errors with HTTP 200
        error = body["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise _BadBody(f"HTTP 200 carrying an error: {str(message)[:200]}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _BadBody(f"response has no choices: {raw[:120]!r}")
    if not isinstance(choices[0].get("message") or {}, dict):
        raise _BadBody(f"choice has no message object: {raw[:120]!r}")
    return body


# ---------------------------------------------------------------------------------- probe
PROBE_MESSAGES = [
    {"role": "system", "content": "你是一个只输出 JSON 的助手。"},
    {"role": "user", "content": '请只输出这个 JSON 对象：{"l1": "好", "l2": "好", "l3": "好", "l4": "好"}'},
]


async def probe_mode(drafter: Drafter) -> tuple[Mode, list[str]]:
    """The best structured-output mode the endpoint honours: json_schema, then json_object, then text."""
    notes = []
    for mode in MODES[:-1]:
        drafter.mode = mode
        try:  # retried like any request: one 503 or timeout must not decide the mode or end the run
            reply = await drafter.request(PROBE_MESSAGES, 100, mode=mode, max_tokens=60)
        except EndpointRefused as exc:  # a bad key or unknown model is not a format refusal
            raise DraftFailure("probe_failed", f"the endpoint refused: {exc.error}") from exc
        except DraftFailure as exc:
            if exc.reason in ("http_400", "http_415", "http_422", "http_501"):
                notes.append(f"{mode}: refused ({exc.error[:80]})")
                continue
            if exc.reason in ("server_error", "bad_response") and mode != MODES[-2]:
                # some servers answer an unsupported response_format with a 500 or a broken body
                notes.append(f"{mode}: failed every retry ({exc.error[:80]})")
                continue
            raise DraftFailure("probe_failed", f"endpoint unreachable or broken: {exc.error}") from exc
        obj = json_object_in(reply.content)
        if obj is not None and "l1" in obj:
            notes.append(f"{mode}: ok")
            return mode, notes
        notes.append(f"{mode}: reply was " + ("JSON of another shape" if obj is not None else "not JSON"))
    drafter.mode = "text"
    return "text", notes


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
