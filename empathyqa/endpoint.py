"""The one OpenAI-compatible client: retries with backoff, retry-after, rate limits, format probing.

Drafting, the LLM judge and `openai:` generation all talk to their endpoint through `Endpoint`;
the Batch API (files, batches) goes through `sync_client`. No other module builds an openai client.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import openai
from openai import AsyncOpenAI, OpenAI

RETRYABLE_4XX = {408, 409, 425, 429}
NOT_TRANSIENT_5XX = {501, 505}  # "not implemented" and "version not supported" will not change on a retry
ENDPOINT_REFUSALS = {401, 402, 403, 404}
MAX_RETRY_AFTER = 600.0  # a server asking for hours is treated as asking for ten minutes
FORMAT_MODES = ("json_schema", "json_object", "text")


def is_retryable(status: int) -> bool:
    # any other 5xx is a server having a bad moment: 529 "overloaded", Cloudflare's 520-524, 599...
    return status in RETRYABLE_4XX or (status >= 500 and status not in NOT_TRANSIENT_5XX)


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def rough_tokens(text: str) -> int:
    """Fast estimate for rate limiting: ~1 token per CJK character, ~4 characters per token otherwise."""
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk) // 4 + 1


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


# two retries with backoff, as the openai client makes by default: for commands without retry flags
FEW_RETRIES = RetryPolicy(max_retries=2, base_delay=0.5, max_delay=8.0, timeout=120.0)


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


class EndpointError(Exception):
    """A request that failed for good; `reason` is its kind (timeout, connection, rate_limited,
    server_error, http_NNN, bad_response, or a caller's own such as invalid_reply)."""

    def __init__(self, reason: str, error: str, raw_reply: str | None = None):
        super().__init__(f"{reason}: {error}")
        self.reason, self.error, self.raw_reply = reason, error, raw_reply


class EndpointRefused(EndpointError):
    """401/402/403/404: a bad key, no credit, no such model; it says nothing about the request."""


@dataclass
class Reply:
    content: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    model: str | None = None  # the model id the endpoint's reply named
    fingerprint: str | None = None  # its system_fingerprint (the offline sample endpoint names itself)


@dataclass
class Stats:
    retry_reasons: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_estimated: int = 0  # replies without a `usage` field: tokens estimated from the text
    endpoint_note: str | None = None  # e.g. the offline sample endpoint saying what it is


def retry_after(response: httpx.Response | None) -> float | None:
    """Seconds the server asks us to wait: retry-after-ms, or retry-after as seconds or an HTTP date."""
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


def resolve(base_url: str | None, api_key: str | None = None) -> tuple[str | None, str]:
    """The endpoint and key: the ones given, else $OPENAI_BASE_URL and $OPENAI_API_KEY."""
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    return base_url, api_key or os.environ.get("OPENAI_API_KEY") or "no-key"


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


def sync_client(base_url: str | None, api_key: str | None = None, max_retries: int = 3) -> OpenAI:
    """A blocking client for the Batch API (file upload, batch status), which has no hot path."""
    base_url, api_key = resolve(base_url, api_key)
    return OpenAI(base_url=base_url, api_key=api_key, max_retries=max_retries)


class Endpoint:
    """Chat completions against one model, retried on 429/5xx/timeouts/broken bodies, rate limited."""

    def __init__(
        self,
        client: AsyncOpenAI,
        model: str,
        params: dict[str, Any],
        retry: RetryPolicy,
        limiter: RateLimiter | None = None,
    ):
        self.client, self.model, self.params = client, model, params
        self.retry, self.limiter = retry, limiter or RateLimiter()
        self.stats = Stats()

    async def _once(
        self, messages: list[dict[str, str]], response_format: dict | None, extra: dict[str, Any]
    ) -> Reply:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, **self.params, **extra}
        if response_format:
            kwargs["response_format"] = response_format
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
            model=_text(body.get("model")),
            fingerprint=_text(body.get("system_fingerprint")),
        )

    async def request(
        self,
        messages: list[dict[str, str]],
        est_tokens: int = 0,
        response_format: dict | None = None,
        **extra: Any,
    ) -> Reply:
        """One completion (`extra` overrides the generation parameters); EndpointError when it gives up."""
        attempt = 0
        while True:
            await self.limiter.acquire(est_tokens)
            reason, error, wait_hint, retryable, status_refused = "error", "", None, True, False
            try:
                # the client's timeout is per read: a server that trickles a byte a second never trips it
                async with asyncio.timeout(self.retry.timeout):
                    reply = await self._once(messages, response_format, extra)
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
                wait_hint = retry_after(exc.response)
            except _BadBody as exc:
                reason, error = "bad_response", str(exc)
            if status_refused:
                raise EndpointRefused(reason, error)
            if not retryable or attempt >= self.retry.max_retries:
                raise EndpointError(reason, error)
            self.stats.retries += 1
            self.stats.retry_reasons[reason] = self.stats.retry_reasons.get(reason, 0) + 1
            await asyncio.sleep(self.retry.delay(attempt, wait_hint))
            attempt += 1


FORMAT_REFUSALS = ("http_400", "http_415", "http_422", "http_501")


async def probe_format(
    endpoint: Endpoint,
    messages: list[dict[str, str]],
    formats: Callable[[str], dict | None],
    accept: Callable[[str | None], bool | None],
    max_tokens: int = 60,
) -> tuple[str, list[str]]:
    """The best structured-output mode the endpoint honours: json_schema, then json_object, then text.

    `formats(mode)` is the response_format sent for a mode; `accept(content)` is True for a reply of
    the wanted shape, None for JSON of another shape, False for no JSON."""
    notes = []
    for mode in FORMAT_MODES[:-1]:
        try:  # retried like any request: one 503 or timeout must not decide the mode or end the run
            reply = await endpoint.request(messages, 100, formats(mode), max_tokens=max_tokens)
        except EndpointRefused as exc:  # a bad key or unknown model is not a format refusal
            raise EndpointError("probe_failed", f"the endpoint refused: {exc.error}") from exc
        except EndpointError as exc:
            if exc.reason in FORMAT_REFUSALS:
                notes.append(f"{mode}: refused ({exc.error[:80]})")
                continue
            if exc.reason in ("server_error", "bad_response") and mode != FORMAT_MODES[-2]:
                # some servers answer an unsupported response_format with a 500 or a broken body
                notes.append(f"{mode}: failed every retry ({exc.error[:80]})")
                continue
            raise EndpointError("probe_failed", f"endpoint unreachable or broken: {exc.error}") from exc
        verdict = accept(reply.content)
        if verdict:
            notes.append(f"{mode}: ok")
            return mode, notes
        notes.append(f"{mode}: reply was " + ("JSON of another shape" if verdict is None else "not JSON"))
    return "text", notes


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


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


def map_requests(
    connect: dict[str, Any],
    base_url: str,
    work: Callable[[Endpoint, Any], Awaitable[Any]],
    items: Sequence[Any],
    concurrency: int,
    desc: str,
    unit: str = "call",
) -> list:
    """`work(endpoint, item)` for every item, at most `concurrency` in flight, results in input order.

    `connect` is Endpoint's keyword arguments (model, params, retry); the client lives for this call."""
    from empathyqa.progress import progress_bar

    async def main() -> list:
        base, key = resolve(base_url)
        retry = connect.get("retry") or RetryPolicy()
        client = make_client(base, key, retry.timeout)
        endpoint = Endpoint(client, **connect)
        gate = asyncio.Semaphore(max(1, concurrency))
        try:
            with progress_bar(desc, len(items), unit) as bar:

                async def one(item: Any) -> Any:
                    async with gate:
                        result = await work(endpoint, item)
                    bar.update()
                    return result

                return await asyncio.gather(*(one(item) for item in items))
        finally:
            await client.close()

    return asyncio.run(main())
