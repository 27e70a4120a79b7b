"""A local OpenAI-compatible server for tests and benchmarks, with scripted faults and a request log.

    with OpenAIStub(latency=0.05) as stub:            # a thread, free port on 127.0.0.1
        stub.add_fault(Fault("status", status=429, retry_after=0.1, match="问题A", times=1))
        client = OpenAI(base_url=stub.url, api_key="x")
        ...
        stub.count(match="问题A")                       # chat requests whose user turns hold it

Or as a process: `python tests/openai_stub.py --latency 0.05 --port-file PORT` (the port is written
to PORT once it listens; GET /stub/stats gives the request count).

Faults (`Fault.kind`): status (HTTP `status`, optional `retry_after` header: seconds, or a str sent
verbatim such as an HTTP date), timeout (answer after `delay` s), malformed_body (HTTP 200, broken JSON),
malformed_content (reply text is not JSON), missing_layer (l4 left out), length / content_filter (that
finish_reason), english (layers in English), drop (close the connection), reset (send half a body, then
abort), error_body (HTTP 200 whose body is `{"error": ...}`), no_choices (`choices: []`), null_content
(`content: null`), garbage (HTTP 200, bytes that are not UTF-8), no_usage (a valid reply without `usage`),
trickle (headers, then a space every 0.2 s for `delay` s). A fault applies to requests whose last user message contains `match`
(any request when None; all user turns are searched, so repairs match too), `times` times (-1: always). Replies default to a valid Chinese draft in the
requested response format; pass `reply=fn(body)` to script them: a dict is sent as JSON (as <L1>… tags
in text mode when its keys are l1..l4), a str is sent verbatim as the message content.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

ALL_MODES = ("json_schema", "json_object", "text")


@dataclass
class Fault:
    kind: str
    status: int = 500
    retry_after: float | str | None = None
    delay: float = 0.0
    match: str | None = None
    times: int = 1


def default_layers(body: dict[str, Any]) -> dict[str, str]:
    user = user_text(body)
    tag = hashlib.sha1(user.encode("utf-8")).hexdigest()[:6]
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


class OpenAIStub:
    def __init__(
        self,
        latency: float = 0.0,
        modes: tuple[str, ...] = ALL_MODES,
        unsupported: str = "reject",
        faults: list[Fault] | None = None,
        reply: Callable[[dict[str, Any]], dict[str, Any] | str] | None = None,
        model_name: str | None = None,
        log_bodies: bool = True,
    ):
        self.latency, self.modes, self.unsupported = latency, modes, unsupported
        self.faults: list[Fault] = list(faults or [])
        self.reply = reply or default_layers
        self.model_name, self.log_bodies = model_name, log_bodies
        self.requests: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ public API
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

    def start(self) -> OpenAIStub:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start_site())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="openai-stub", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("stub server did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ server
    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{file_id}/content", self._file_content)
        app.router.add_post("/v1/batches", self._create_batch)
        app.router.add_get("/v1/batches/{batch_id}", self._get_batch)
        app.router.add_get("/stub/stats", self._stats)
        return app

    async def _start_site(self, port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
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

    def completion(
        self, body: dict[str, Any], fault: Fault | None
    ) -> tuple[int, dict[str, Any] | str | bytes, dict]:
        """(status, JSON body or raw text, headers) for one chat request, without the waiting."""
        fmt = (body.get("response_format") or {}).get("type", "text")
        mode = fmt if fmt in ("json_schema", "json_object") else "text"
        if mode not in self.modes and self.unsupported == "fail":  # some servers answer 500 instead of 400
            return 500, {"error": {"message": "internal error", "type": "server_error"}}, {}
        if mode not in self.modes and self.unsupported == "reject":
            return (
                400,
                {
                    "error": {
                        "message": f"response_format {fmt} is not supported",
                        "type": "invalid_request_error",
                    }
                },
                {},
            )
        if mode not in self.modes:
            mode = "text"
        if fault and fault.kind == "status":
            retry_after = fault.retry_after
            headers = {} if retry_after is None else {"retry-after": _header_value(retry_after)}
            return (
                fault.status,
                {"error": {"message": f"stub fault: HTTP {fault.status}", "type": "stub"}},
                headers,
            )
        if fault and fault.kind == "malformed_body":
            return 200, '{"id": "chatcmpl-broken", "choices": [{"message": {"content": "没写完', {}
        if fault and fault.kind == "error_body":
            return 200, {"error": {"message": "stub fault: upstream model error", "type": "server_error"}}, {}
        if fault and fault.kind == "garbage":
            return 200, b"\xff\xfe\xfa not utf-8 \x80\x81", {}
        reply = self.reply(body)
        finish = "stop"
        if isinstance(reply, str):  # scripted verbatim (e.g. an LLM judge's verdict)
            content = reply
        else:
            layers = dict(reply)
            if fault and fault.kind == "missing_layer":
                layers.pop("l4", None)
            if fault and fault.kind == "english":
                layers = {k: "The asker feels anxious and wants advice about the situation." for k in layers}
            text_mode = mode == "text" and set(layers) <= {"l1", "l2", "l3", "l4"}
            content = _tags(layers) if text_mode else json.dumps(layers, ensure_ascii=False)
        if fault and fault.kind == "malformed_content":
            content = content[: len(content) // 2]
        if fault and fault.kind in ("length", "content_filter"):
            finish = fault.kind
            content = content[: len(content) // 2] if fault.kind == "length" else ""
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages") or [])
        payload = self._payload(body, content, finish, prompt_chars)
        if fault and fault.kind == "no_choices":
            payload["choices"] = []
        if fault and fault.kind == "null_content":
            payload["choices"][0]["message"]["content"] = None
        if fault and fault.kind == "no_usage":
            del payload["usage"]
        return 200, payload, {}

    def _payload(self, body: dict[str, Any], content: str, finish: str, prompt_chars: int) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name or body.get("model", "stub"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_chars // 2 + 1,
                "completion_tokens": len(content) // 2 + 1,
                "total_tokens": prompt_chars // 2 + len(content) // 2 + 2,
            },
        }

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": {"message": "request body is not JSON"}}, status=400)
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
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault and fault.kind == "timeout":
            await asyncio.sleep(fault.delay or 30)
        if fault and fault.kind == "drop":
            request.transport.close()
            return web.Response(status=500)
        if fault and fault.kind == "trickle":  # a byte every 0.2 s for `delay` s: no single read times out
            response = web.StreamResponse(
                headers={"Content-Type": "application/json", "Content-Length": "4096"}
            )
            await response.prepare(request)
            for _ in range(int((fault.delay or 30) / 0.2)):
                await response.write(b" ")
                await asyncio.sleep(0.2)
            request.transport.abort()
            return response
        if fault and fault.kind == "reset":  # headers and half a body, then the connection is cut
            response = web.StreamResponse(
                headers={"Content-Type": "application/json", "Content-Length": "4096"}
            )
            await response.prepare(request)
            await response.write(b'{"id": "chatcmpl-cut", "choices": [{"message": {"content": "')
            request.transport.abort()
            return response
        status, payload, headers = self.completion(body, fault)
        if isinstance(payload, bytes):
            return web.Response(status=status, body=payload, content_type="application/json", headers=headers)
        if isinstance(payload, str):
            return web.Response(status=status, text=payload, content_type="application/json", headers=headers)
        return web.json_response(payload, status=status, headers=headers, dumps=_dumps)

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": self.model_name or "stub", "object": "model"}]}
        )

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": self.count()})

    # ------------------------------------------------------------------ batch API
    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        data = upload.file.read() if hasattr(upload, "file") else str(upload or "").encode()
        file_id = f"file-{uuid.uuid4().hex[:12]}"
        self.files[file_id] = data
        with self._lock:
            self.requests.append({"path": request.path, "user": "", "t": time.time(), "fault": None})
        return web.json_response(
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
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.Response(body=data, content_type="application/jsonl")

    async def _create_batch(self, request: web.Request) -> web.Response:
        spec = await request.json()
        source = self.files.get(spec.get("input_file_id", ""))
        if source is None:
            return web.json_response({"error": {"message": "input file not found"}}, status=400)
        lines = []
        for raw in source.decode("utf-8").splitlines():
            if not raw.strip():
                continue
            item = json.loads(raw)
            body = item["body"]
            fault = self._take_fault(user_text(body))
            status, payload, _ = self.completion(body, fault)
            if isinstance(payload, (str, bytes)):
                status, payload = 500, {"error": {"message": "stub fault: broken body"}}
            with self._lock:
                self.requests.append(
                    {
                        "path": "/v1/chat/completions",
                        "user": user_text(body),
                        "t": time.time(),
                        "fault": fault.kind if fault else None,
                        "batch": True,
                    }
                )
            lines.append(
                json.dumps(
                    {
                        "id": f"batch_req_{uuid.uuid4().hex[:8]}",
                        "custom_id": item["custom_id"],
                        "response": {"status_code": status, "request_id": uuid.uuid4().hex, "body": payload},
                        "error": None,
                    },
                    ensure_ascii=False,
                )
            )
        output_id = f"file-{uuid.uuid4().hex[:12]}"
        self.files[output_id] = ("\n".join(lines) + "\n").encode("utf-8")
        batch_id = f"batch_{uuid.uuid4().hex[:12]}"
        now = int(time.time())
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
            "created_at": now,
            "request_counts": {"total": len(lines), "completed": len(lines), "failed": 0},
            "_output": output_id,
            "_polls": 0,
        }
        return web.json_response(self._public(self.batches[batch_id]))

    async def _get_batch(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        batch["_polls"] += 1
        if batch["_polls"] >= 2:  # one poll sees it running, the next sees it done
            batch.update(status="completed", output_file_id=batch["_output"], completed_at=int(time.time()))
        return web.json_response(self._public(batch))

    @staticmethod
    def _public(batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if not k.startswith("_")}


def _header_value(retry_after: float | str) -> str:
    return retry_after if isinstance(retry_after, str) else f"{retry_after:g}"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def main() -> None:
    parser = argparse.ArgumentParser(description="local OpenAI-compatible stub server (tests, benchmarks)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each chat reply")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument(
        "--faults", default="[]", help='JSON list of Fault fields, e.g. [{"kind": "status", "status": 500}]'
    )
    parser.add_argument("--modes", default=",".join(ALL_MODES), help="response formats honoured")
    args = parser.parse_args()
    stub = OpenAIStub(
        latency=args.latency,
        modes=tuple(args.modes.split(",")),
        faults=[Fault(**f) for f in json.loads(args.faults)],
        log_bodies=False,
    )

    async def serve() -> None:
        await stub._start_site()
        if args.port_file:
            tmp = args.port_file.with_suffix(".tmp")
            tmp.write_text(str(stub.port))
            tmp.replace(args.port_file)
        print(f"openai stub on {stub.url}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
