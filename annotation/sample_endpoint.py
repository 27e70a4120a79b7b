"""`python -m annotation.sample_endpoint --port N`: the offline sample LLM endpoint, and the tests' fake.

An OpenAI-compatible chat-completions server on 127.0.0.1 (asyncio: hundreds of slow replies in
flight at once). By default it answers drafting requests with CoE drafts written by hand for the
bundled sample posts (annotation/sample_drafts.json) and judge requests with a transparent heuristic
ranking, so the demo drafts and judges without a key. It is not a model: every reply and every log
line says it is the offline sample, and posts it does not know get an openly generic draft that a
reviewer must rewrite.

The same server, given `reply=fn(body)` and a fault schedule, is what the tests and benchmarks talk to:

    with FakeEndpoint(latency=0.05, reply=stock_layers) as fake:     # a thread, a free port
        fake.add_fault(Fault("status", status=429, retry_after=0.1, match="问题A", times=1))
        ... OpenAI-compatible client at fake.url ...
        fake.count(match="问题A")                  # chat requests whose user turns hold it

Faults (`Fault.kind`): status (HTTP `status`, optional `retry_after` header: seconds, or a str sent
verbatim such as an HTTP date), timeout (answer after `delay` s), malformed_body (HTTP 200, broken
JSON), malformed_content (reply text cut in half), missing_layer (l4 left out), length /
content_filter (that finish_reason), english (layers in English), drop (close the connection), reset
(half a body, then abort), error_body (HTTP 200 whose body is `{"error": ...}`), no_choices
(`choices: []`), null_content (`content: null`), garbage (HTTP 200, bytes that are not UTF-8),
no_usage (a valid reply without `usage`), trickle (headers, then a space every 0.2 s for `delay` s).
A fault applies to requests whose user turns contain `match` (any request when None), `times` times
(-1: always). A scripted reply that is a dict is sent as JSON (as <L1>… tags in text mode when its
keys are l1..l4); a str is sent verbatim as the message content; an int is an HTTP error status.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from aiohttp import web

from empathyqa.endpoint import rough_tokens
from empathyqa.schema import STAND_IN_MODEL
from empathyqa.synthetic import coe_layers

MODEL = STAND_IN_MODEL
NOTE = "离线示例端点（offline sample）：以下共情链为示例数据中预先写好的草稿，不是模型生成的。"
GENERIC_NOTE = "离线示例端点（offline sample）：此帖不在示例数据中，以下为按模板拼出的替身草稿，需人工重写。"
JUDGE_BANNER = "SAMPLE JUDGE (offline heuristic, not an LLM)"
JUDGE_NOTE = f"离线示例端点（offline sample）：{JUDGE_BANNER}，按长度与关键词排序。"
DRAFTS_FILE = Path(__file__).parent / "sample_drafts.json"
ALL_MODES = ("json_schema", "json_object", "text")
TAG = "[offline sample endpoint]"
log = logging.getLogger("annotation.sample_endpoint")
request_log = logging.getLogger("annotation.sample_endpoint.requests")
Reply = Callable[[dict[str, Any]], "dict[str, Any] | str | int"]

# ---------------------------------------------------------------------------------- sample drafts
_KEEP = re.compile(r"[\u3400-\u9fffA-Za-z0-9]+")


def _norm(text: str) -> str:
    return "".join(_KEEP.findall(text or ""))


@lru_cache(maxsize=1)
def load_drafts() -> list[dict[str, str]]:
    return json.loads(DRAFTS_FILE.read_text(encoding="utf-8"))["drafts"]


def _sections(user: str) -> tuple[str, str, str]:
    """(title, post, answer) from a drafting prompt; empty strings where a part is absent."""
    post = user.split("【求助帖】", 1)[1] if "【求助帖】" in user else ""
    post, _, answer = post.partition("【咨询师的回答】")
    answer = answer.split("请写出", 1)[0]
    title = ""
    if post.strip().startswith("标题："):
        title = post.strip()[3:].split("\n", 1)[0]
    return title, post, answer


def _overlap(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    grams = lambda s: {s[i : i + 2] for i in range(len(s) - 1)} or {s}  # noqa: E731
    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y)


def find_draft(title: str, post: str) -> dict[str, str] | None:
    """The sample draft for this post: by title (robust to normalisation), else by the best close title."""
    norm_title, norm_post = _norm(title), _norm(post)
    best, best_score = None, 0.0
    for draft in load_drafts():
        key = _norm(draft["title"])
        if key and (key == norm_title or key in norm_post):
            return draft
        score = _overlap(key, norm_title)
        if score > best_score:
            best, best_score = draft, score
    return best if best_score >= 0.7 else None


def stand_in_layers(title: str, post: str, answer: str) -> dict[str, str]:
    """Layers for a post the sample data does not know: phrases of this post and answer put into the
    generator's templates, seeded by the pair's texts (the prompt carries no ids), so every pair gets
    its own wording and the same pair the same wording. Still stand-in text, marked as such in the reply."""
    body = post.strip()
    if body.startswith("标题："):
        body = body.split("\n", 1)[1] if "\n" in body else ""
    seed = int.from_bytes(hashlib.sha256(f"{title}\0{body}\0{answer}".encode()).digest()[:8], "big")
    thread = {"title": title or _norm(body)[:20] or "这篇求助帖", "body": body.strip(), "tags": []}
    return coe_layers(thread, {"body": answer.strip(), "author_role": "counselor"}, random.Random(seed))


def layers_for(user: str) -> tuple[dict[str, str], bool]:
    """(layers, whether they were written for this post)."""
    title, post, answer = _sections(user)
    draft = find_draft(title, post)
    if draft is None:
        return stand_in_layers(title, post, answer), False
    layers = {name: draft[name] for name in ("l1", "l2", "l3", "l4")}
    if _norm(draft["answer_start"]) not in _norm(answer):
        layers["l4"] = (
            "（示例数据只为该帖排名第一的咨询师回答写了回应策略）这条回答的策略需要审核者对照回答原文撰写："
            "它如何确认情绪、如何回应上面的信念与意图。"
        )
    return layers, True


# ---------------------------------------------------------------------------------- sample judge
_ANSWER = re.compile(r"【回答([A-Z])】\n(.*?)(?=\n\n【回答[A-Z]】|\n\n只输出 JSON|\Z)", re.S)
DIMENSIONS = ("fluency", "recognition", "comfort", "suggestions")  # training.evaluate.ranking's order
CUES = {
    "fluency": ("。", "，"),
    "recognition": ("感受", "感到", "难过", "辛苦", "痛苦", "理解", "情绪"),
    "comfort": ("抱抱", "陪伴", "不是你的错", "允许", "温暖", "你并不孤单", "接纳"),
    "suggestions": ("可以", "试着", "建议", "尝试", "寻求", "步骤"),
}


def heuristic_scores(answer: str) -> dict[str, float]:
    """Length up to a cap plus counts of feeling, comfort and advice words: openly not a judgement."""
    length = min(len(answer), 300) / 300
    return {d: length + sum(answer.count(cue) for cue in cues) for d, cues in CUES.items()}


def rank_prompt(prompt: str) -> dict[str, list[str]]:
    answers = dict(_ANSWER.findall(prompt))
    scores = {label: heuristic_scores(text.strip()) for label, text in answers.items()}
    return {d: sorted(scores, key=lambda label: (-scores[label][d], label)) for d in DIMENSIONS}


def _user_text(body: dict[str, Any]) -> str:
    users = [m.get("content") for m in body.get("messages") or [] if m.get("role") == "user"]
    drafting = [u for u in users if isinstance(u, str) and "【求助帖】" in u]
    return drafting[0] if drafting else (users[-1] if users and isinstance(users[-1], str) else "")


def sample_content(body: dict[str, Any], mode: str) -> tuple[str, str]:
    """(message content, note saying what answered) for the bundled sample."""
    user = _user_text(body)
    if "【回答A】" in user:  # the LLM judge's prompt: rank the labelled answers
        return json.dumps(rank_prompt(user)), JUDGE_NOTE
    if "【求助帖】" in user:
        layers, known = layers_for(user)
        note = NOTE if known else GENERIC_NOTE
    else:  # e.g. the drafting client's format probe
        layers, note = {name: "离线示例" for name in ("l1", "l2", "l3", "l4")}, NOTE
    if mode in ("json_schema", "json_object"):
        # the note rides along even under json_schema: the stored raw reply then says where it came from
        return json.dumps({**layers, "note": note}, ensure_ascii=False), note
    return f"【{note}】\n" + _tags(layers), note


# ---------------------------------------------------------------------------------- scripted replies
def stock_layers(body: dict[str, Any]) -> dict[str, str]:
    """A valid Chinese draft, tagged with a hash of the user turns so that each pair's draft differs."""
    tag = hashlib.sha1(user_text(body).encode("utf-8")).hexdigest()[:6]
    return {
        "l1": f"求助者在帖子描述的处境中感到焦虑、委屈和无助，情绪强度较高。编号{tag}。",
        "l2": "这些情绪可能源于长期压力与人际冲突，也可能带有灾难化和过度概括的想法。",
        "l3": "求助者希望自己的感受被理解，同时想得到一些具体可行的建议。",
        "l4": "回答先共情并确认情绪，再温和地挑战不合理信念，最后给出小步骤的行动建议。",
    }


def user_text(body: dict[str, Any]) -> str:
    """All user turns joined: faults and counts match on it, so a repair request still matches its pair."""
    parts = []
    for message in body.get("messages") or []:
        if message.get("role") == "user":
            content = message.get("content")
            parts.append(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False))
    return "\n".join(parts)


def _tags(layers: dict[str, str]) -> str:
    return "\n".join(f"<{k.upper()}>{v}</{k.upper()}>" for k, v in layers.items())


# ---------------------------------------------------------------------------------- the server
@dataclass
class Fault:
    kind: str
    status: int = 500
    retry_after: float | str | None = None
    delay: float = 0.0
    match: str | None = None
    times: int = 1


class FakeEndpoint:
    """The server. `reply=None` serves the bundled sample; `latency` is seconds or a (low, high) range."""

    def __init__(
        self,
        latency: float | tuple[float, float] = 0.0,
        modes: tuple[str, ...] = ALL_MODES,
        unsupported: str = "reject",
        faults: list[Fault] | None = None,
        reply: Reply | None = None,
        model_name: str | None = None,
        log_bodies: bool = True,
        batch_api: bool = True,
    ):
        self.latency = latency if isinstance(latency, tuple) else (latency, latency)
        self.modes, self.unsupported = modes, unsupported
        self.faults: list[Fault] = list(faults or [])
        self.reply, self.model_name, self.log_bodies = reply, model_name, log_bodies
        self.batch_api = batch_api  # off: /v1/files and /v1/batches answer 404, as many servers do
        self.requests: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def count(self, match: str | None = None, path: str = "/v1/chat/completions") -> int:
        with self._lock:
            return sum(
                1 for r in self.requests if r["path"] == path and (match is None or match in r["user"])
            )

    # ------------------------------------------------------------------ in a thread (tests, the judge)
    def start(self) -> FakeEndpoint:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start_site())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-endpoint", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the offline sample endpoint did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._runner = None

    def __enter__(self) -> FakeEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ routes
    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024**2, middlewares=[_labelled])
        for prefix in ("/v1", ""):
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_get(f"{prefix}/models", self._models)
        if self.batch_api:
            app.router.add_post("/v1/files", self._upload)
            app.router.add_get("/v1/files/{file_id}/content", self._file_content)
            app.router.add_post("/v1/batches", self._create_batch)
            app.router.add_get("/v1/batches/{batch_id}", self._get_batch)
        app.router.add_get("/stub/stats", self._stats)
        app.router.add_route("*", "/{tail:.*}", self._no_route)
        return app

    async def start_site(self, port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def _take_fault(self, user: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times != 0 and (fault.match is None or fault.match in user):
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    def completion(self, body: dict[str, Any], fault: Fault | None) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body or raw text/bytes, headers) for one chat request, without the waiting."""
        fmt = (body.get("response_format") or {}).get("type", "text")
        mode = fmt if fmt in ("json_schema", "json_object") else "text"
        if mode not in self.modes and self.unsupported == "fail":  # some servers answer 500 instead of 400
            return 500, _error("internal error", "server_error"), {}
        if mode not in self.modes and self.unsupported == "reject":
            return 400, _error(f"response_format {fmt} is not supported", "invalid_request_error"), {}
        if mode not in self.modes:
            mode = "text"
        kind = fault.kind if fault else None
        if fault and kind == "status":
            headers = {} if fault.retry_after is None else {"retry-after": _header_value(fault.retry_after)}
            return fault.status, _error(f"{TAG} fault: HTTP {fault.status}", "stub"), headers
        if kind == "malformed_body":
            return 200, '{"id": "chatcmpl-broken", "choices": [{"message": {"content": "没写完', {}
        if kind == "error_body":
            return 200, _error(f"{TAG} fault: upstream model error", "server_error"), {}
        if kind == "garbage":
            return 200, b"\xff\xfe\xfa not utf-8 \x80\x81", {}
        scripted = self.reply(body) if self.reply is not None else None
        if isinstance(scripted, int):  # a scripted failure status
            message = (
                f"response_format {fmt} is not supported" if scripted == 400 else f"{TAG} scripted failure"
            )
            return scripted, _error(message, "stub"), {}
        content, note = self._content(body, mode, kind, scripted)
        finish = "stop"
        if kind == "malformed_content":
            content = content[: len(content) // 2]
        if kind in ("length", "content_filter"):
            finish = kind
            content = content[: len(content) // 2] if kind == "length" else ""
        payload = self._payload(body, content, finish, note)
        if kind == "no_choices":
            payload["choices"] = []
        if kind == "null_content":
            payload["choices"][0]["message"]["content"] = None
        if kind == "no_usage":
            del payload["usage"]
        return 200, payload, {}

    def _content(
        self, body: dict[str, Any], mode: str, kind: str | None, reply: Any
    ) -> tuple[str, str | None]:
        if reply is None:
            return sample_content(body, mode)
        if isinstance(reply, str):  # scripted verbatim (e.g. an LLM judge's verdict)
            return reply, None
        layers = dict(reply)
        if kind == "missing_layer":
            layers.pop("l4", None)
        if kind == "english":
            layers = {k: "The asker feels anxious and wants advice about the situation." for k in layers}
        text_mode = mode == "text" and set(layers) <= {"l1", "l2", "l3", "l4"}
        return (_tags(layers) if text_mode else json.dumps(layers, ensure_ascii=False)), None

    def _payload(self, body: dict[str, Any], content: str, finish: str, note: str | None) -> dict[str, Any]:
        if note is None:  # scripted: token counts the tests can predict
            prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages") or []) // 2 + 1
            completion = len(content) // 2 + 1
        else:
            prompt = sum(rough_tokens(str(m.get("content", ""))) for m in body.get("messages") or [])
            completion = rough_tokens(content)
        payload = {
            "id": f"chatcmpl-offline-sample-{uuid.uuid4().hex[:10]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL if note else (self.model_name or body.get("model", "stub")),
            # the sample's own replies name it, so the drafter records them as stand-in
            "system_fingerprint": MODEL if note else "fake-endpoint",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
        if note:
            payload["offline_sample"] = note
        return payload

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read() or b"{}")
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise ValueError("messages must be a list")
        except ValueError as exc:
            return _json(_error(f"offline sample endpoint: bad request: {exc}"), 400)
        user = user_text(body)
        fault = self._take_fault(user)
        with self._lock:
            entry = {
                "path": request.path,
                "user": user,
                "t": time.time(),
                "fault": fault.kind if fault else None,
            }
            if self.log_bodies:
                entry["body"] = body
            self.requests.append(entry)
        low, high = self.latency
        if high:
            await asyncio.sleep(random.uniform(low, high))
        kind = fault.kind if fault else None
        if kind == "timeout":
            await asyncio.sleep(fault.delay or 30)
        if kind == "drop":
            request.transport.close()
            return web.Response(status=500)
        if kind in ("trickle", "reset"):  # headers, then a space every 0.2 s / half a body, then cut
            response = web.StreamResponse(
                headers={"Content-Type": "application/json", "Content-Length": "4096"}
            )
            await response.prepare(request)
            if kind == "trickle":
                for _ in range(int((fault.delay or 30) / 0.2)):
                    await response.write(b" ")
                    await asyncio.sleep(0.2)
            else:
                await response.write(b'{"id": "chatcmpl-cut", "choices": [{"message": {"content": "')
            request.transport.abort()
            return response
        status, payload, headers = self.completion(body, fault)
        if isinstance(payload, bytes | str):
            raw = payload if isinstance(payload, bytes) else payload.encode("utf-8")
            return web.Response(status=status, body=raw, content_type="application/json", headers=headers)
        if payload.get("offline_sample") == JUDGE_NOTE:
            log.info("%s %s: ranked %d answers", TAG, JUDGE_BANNER, user_text(body).count("【回答"))
        return _json(payload, status, headers)

    async def _models(self, request: web.Request) -> web.Response:
        name = self.model_name or (MODEL if self.reply is None else "stub")
        return _json(
            {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "offline-sample"}]}
        )

    async def _stats(self, request: web.Request) -> web.Response:
        return _json({"requests": self.count()})

    async def _no_route(self, request: web.Request) -> web.Response:
        return _json(_error(f"offline sample endpoint: no route {request.path}"), 404)

    # ------------------------------------------------------------------ batch API
    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        data = upload.file.read() if hasattr(upload, "file") else str(upload or "").encode()
        file_id = f"file-{uuid.uuid4().hex[:12]}"
        self.files[file_id] = data
        with self._lock:
            self.requests.append({"path": request.path, "user": "", "t": time.time(), "fault": None})
        return _json(
            {
                "id": file_id,
                "object": "file",
                "bytes": len(data),
                "created_at": int(time.time()),
                "filename": getattr(upload, "filename", "upload.jsonl"),
                "purpose": form.get("purpose", "batch"),
                "status": "processed",
            }
        )

    async def _file_content(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["file_id"])
        if data is None:
            return _json(_error("no such file"), 404)
        return web.Response(body=data, content_type="application/jsonl")

    async def _create_batch(self, request: web.Request) -> web.Response:
        spec = await request.json()
        source = self.files.get(spec.get("input_file_id", ""))
        if source is None:
            return _json(_error("input file not found"), 400)
        lines = []
        for raw in source.decode("utf-8").splitlines():
            if not raw.strip():
                continue
            item = json.loads(raw)
            body = item["body"]
            fault = self._take_fault(user_text(body))
            status, payload, _ = self.completion(body, fault)
            if isinstance(payload, str | bytes):
                status, payload = 500, _error(f"{TAG} fault: broken body")
            with self._lock:
                self.requests.append(
                    {"path": "/v1/chat/completions", "user": user_text(body), "t": time.time(),
                     "fault": fault.kind if fault else None, "batch": True}
                )  # fmt: skip
            response = {"status_code": status, "request_id": uuid.uuid4().hex, "body": payload}
            line = {
                "id": f"batch_req_{uuid.uuid4().hex[:8]}",
                "custom_id": item["custom_id"],
                "response": response,
            }
            lines.append(json.dumps({**line, "error": None}, ensure_ascii=False))
        output_id = f"file-{uuid.uuid4().hex[:12]}"
        self.files[output_id] = ("\n".join(lines) + "\n").encode("utf-8")
        batch_id = f"batch_{uuid.uuid4().hex[:12]}"
        self.batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": spec.get("endpoint"),
            "errors": None,
            "input_file_id": spec["input_file_id"],
            "completion_window": spec.get("completion_window", "24h"),
            "status": "in_progress",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "request_counts": {"total": len(lines), "completed": len(lines), "failed": 0},
            "_output": output_id,
            "_polls": 0,
        }
        return _json(_public(self.batches[batch_id]))

    async def _get_batch(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return _json(_error("no such batch"), 404)
        batch["_polls"] += 1
        if batch["_polls"] >= 2:  # one poll sees it running, the next sees it done
            batch.update(status="completed", output_file_id=batch["_output"], completed_at=int(time.time()))
        return _json(_public(batch))


@web.middleware
async def _labelled(request: web.Request, handler: Callable) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        response.headers["X-EmpathyQA-Offline-Sample"] = "1"
    request_log.info(
        '%s %s "%s %s" %s', TAG, request.remote, request.method, request.path_qs, response.status
    )
    return response


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


def _json(payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        payload, status=status, headers=headers, dumps=lambda obj: json.dumps(obj, ensure_ascii=False)
    )


def _header_value(retry_after: float | str) -> str:
    return retry_after if isinstance(retry_after, str) else f"{retry_after:g}"


def start_sample_judge() -> tuple[str, Callable[[], None]]:
    """The sample endpoint in a background thread for one `score` run: (base_url, stop)."""
    fake = FakeEndpoint(log_bodies=False).start()
    log.warning("%s %s listening on 127.0.0.1:%s", TAG, JUDGE_BANNER, fake.port)
    return fake.url, fake.stop


# ---------------------------------------------------------------------------------- the command
def parse_latency(text: str) -> tuple[float, float]:
    """`A-B` milliseconds (a uniform random delay per reply) or one number: seconds as (low, high)."""
    low, _, high = text.partition("-")
    try:
        lo, hi = float(low), float(high or low)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--latency-ms wants A-B or A (milliseconds), got {text!r}") from exc
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError(f"--latency-ms wants 0 <= A <= B, got {text!r}")
    return lo / 1000, hi / 1000


def spawn(port_file: Path, *args: str, timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """This endpoint as a child process (`python -m annotation.sample_endpoint --port-file F ARGS...`,
    its output discarded) and its base url once it listens; the caller stops it."""
    port_file.unlink(missing_ok=True)  # a port left by an earlier endpoint is not this one's
    cmd = [sys.executable, "-m", "annotation.sample_endpoint", "--port-file", str(port_file), *args]
    proc = subprocess.Popen(
        cmd, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the offline endpoint did not start ({' '.join(args)})")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}/v1"


async def _serve(fake: FakeEndpoint, port: int, port_file: Path | None) -> None:
    await fake.start_site(port)
    if port_file:  # written whole via rename, so a waiting script never reads half a number
        port_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = port_file.with_name(port_file.name + ".tmp")
        tmp.write_text(str(fake.port))
        tmp.replace(port_file)
    what = (
        f"hand-written drafts for {len(load_drafts())} sample posts and a heuristic judge"
        if fake.reply is None
        else "stock drafts"
    )
    log.info(
        "%s serving the OpenAI chat API at %s with %s; this is NOT a language model", TAG, fake.url, what
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # a plain `kill` ends it as cleanly as Ctrl-C
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await fake._runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m annotation.sample_endpoint",
        description="Offline sample OpenAI-compatible endpoint (hand-written drafts for the bundled sample posts).",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one, printed)")
    parser.add_argument("--port-file", type=Path, help="write the bound port to this file")
    parser.add_argument(
        "--latency-ms", type=parse_latency, default=(0.0, 0.0), metavar="A-B",
        help="wait a uniform random A..B milliseconds before each chat reply",
    )  # fmt: skip
    parser.add_argument(
        "--reply", choices=("sample", "stock"), default="sample",
        help="sample: the bundled drafts and judge; stock: one valid draft per request (benchmarks)",
    )  # fmt: skip
    parser.add_argument("--faults", default="[]", help='JSON list of Fault fields, e.g. [{"kind": "status"}]')
    parser.add_argument("--modes", default=",".join(ALL_MODES), help="response formats honoured")
    parser.add_argument("--quiet", action="store_true", help="log start and stop only, not each request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.quiet:
        request_log.setLevel(logging.WARNING)
    fake = FakeEndpoint(
        latency=args.latency_ms,
        modes=tuple(args.modes.split(",")),
        faults=[Fault(**f) for f in json.loads(args.faults)],
        reply=stock_layers if args.reply == "stock" else None,
        log_bodies=False,
    )
    try:
        asyncio.run(_serve(fake, args.port, args.port_file))
    except OSError as exc:
        print(f"{TAG} error: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    log.info("%s stopped", TAG)
    return 0


if __name__ == "__main__":
    sys.exit(main())
