"""`python -m annotation.sample_endpoint --port N`: the offline sample LLM endpoint.

An OpenAI-compatible chat-completions server on 127.0.0.1 that answers drafting requests with CoE
drafts written by hand for the bundled sample posts (annotation/sample_drafts.json), so the demo
drafts without a key. It is not a model: every reply and every log line says it is the offline
sample, and posts it does not know get an openly generic draft that a reviewer must rewrite.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import signal
import sys
import time
import uuid
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from annotation.draft.costs import rough_tokens

MODEL = "empathyqa-offline-sample"
NOTE = "离线示例端点（offline sample）：以下共情链为示例数据中预先写好的草稿，不是模型生成的。"
GENERIC_NOTE = "离线示例端点（offline sample）：此帖不在示例数据中，以下为通用草稿，需人工重写。"
DRAFTS_FILE = Path(__file__).parent / "sample_drafts.json"
log = logging.getLogger("annotation.sample_endpoint")

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


def layers_for(user: str) -> tuple[dict[str, str], bool]:
    """(layers, whether they were written for this post)."""
    title, post, answer = _sections(user)
    draft = find_draft(title, post)
    if draft is None:
        shown = title or _norm(post)[:20] or "这篇求助帖"
        return {
            "l1": f"（通用草稿）求助者在「{shown}」中讲述了自己的困扰，字里行间有明显的情绪压力，需要审核者根据原帖补充具体情境与核心情绪。",
            "l2": "（通用草稿）情绪可能与帖中描述的处境和求助者对它的解读有关，是否存在认知扭曲需要审核者对照原帖判断。",
            "l3": "（通用草稿）求助者大概率希望感受被理解，同时想获得可行的建议，具体意图需要审核者确认。",
            "l4": "（通用草稿）回答的回应策略尚未分析：请审核者对照给定回答，写出它如何共情、如何回应信念和意图。",
        }, False
    layers = {name: draft[name] for name in ("l1", "l2", "l3", "l4")}
    if _norm(draft["answer_start"]) not in _norm(answer):
        layers["l4"] = (
            "（示例数据只为该帖排名第一的咨询师回答写了回应策略）这条回答的策略需要审核者对照回答原文撰写："
            "它如何确认情绪、如何回应上面的信念与意图。"
        )
    return layers, True


def _user_text(body: dict[str, Any]) -> str:
    users = [m.get("content") for m in body.get("messages") or [] if m.get("role") == "user"]
    drafting = [u for u in users if isinstance(u, str) and "【求助帖】" in u]
    return drafting[0] if drafting else (users[-1] if users and isinstance(users[-1], str) else "")


def complete(body: dict[str, Any]) -> dict[str, Any]:
    mode = (body.get("response_format") or {}).get("type", "text")
    user = _user_text(body)
    if "【求助帖】" in user:
        layers, known = layers_for(user)
        note = NOTE if known else GENERIC_NOTE
    else:  # e.g. the drafting client's format probe
        layers, note = {name: "离线示例" for name in ("l1", "l2", "l3", "l4")}, NOTE
    if mode in ("json_schema", "json_object"):
        # the note rides along even under json_schema: the stored raw reply then says where it came from
        content = json.dumps({**layers, "note": note}, ensure_ascii=False)
    else:
        content = f"【{note}】\n" + "\n".join(f"<{k.upper()}>{v}</{k.upper()}>" for k, v in layers.items())
    prompt_tokens = sum(rough_tokens(str(m.get("content", ""))) for m in body.get("messages") or [])
    completion_tokens = rough_tokens(content)
    return {
        "id": f"chatcmpl-offline-sample-{uuid.uuid4().hex[:10]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "system_fingerprint": "offline-sample",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "offline_sample": note,
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "EmpathyQA-offline-sample/1"
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-EmpathyQA-Offline-Sample", "1")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(
                200,
                {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "offline-sample"}]},
            )
        else:
            self._send(404, {"error": {"message": f"offline sample endpoint: no route {self.path}"}})

    def do_POST(self) -> None:
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send(404, {"error": {"message": f"offline sample endpoint: no route {self.path}"}})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise ValueError("messages must be a list")
        except ValueError as exc:
            self._send(400, {"error": {"message": f"offline sample endpoint: bad request: {exc}"}})
            return
        reply = complete(body)
        if LATENCY_MS[1] > 0:  # a real model's reply time, for throughput benchmarks
            time.sleep(random.uniform(*LATENCY_MS) / 1000)
        self._send(200, reply)

    def log_message(self, fmt: str, *args: Any) -> None:
        log.info("[offline sample endpoint] %s %s", self.address_string(), fmt % args)


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # a plain `kill` ends it as cleanly as Ctrl-C, with its last log line


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # hundreds of drafting clients connect at once
    daemon_threads = True


LATENCY_MS = (0.0, 0.0)


def serve(port: int, port_file: Path | None = None) -> None:
    server = _Server(("127.0.0.1", port), Handler)
    bound = server.server_address[1]
    if port_file:  # written whole via rename, so a waiting script never reads half a number
        port_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = port_file.with_name(port_file.name + ".tmp")
        tmp.write_text(str(bound))
        tmp.replace(port_file)
    log.info(
        "[offline sample endpoint] serving the OpenAI chat API at http://127.0.0.1:%d/v1 with hand-written "
        "drafts for %d sample posts; this is NOT a language model",
        bound,
        len(load_drafts()),
    )
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.info("[offline sample endpoint] stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m annotation.sample_endpoint",
        description="Offline sample OpenAI-compatible endpoint (hand-written drafts for the bundled sample posts).",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one, printed)")
    parser.add_argument("--port-file", type=Path, help="write the bound port to this file")
    parser.add_argument("--latency-ms", default="0-0", help="reply delay drawn uniformly from A-B ms")
    args = parser.parse_args(argv)
    global LATENCY_MS
    low, _, high = args.latency_ms.partition("-")
    LATENCY_MS = (float(low), float(high or low))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        serve(args.port, args.port_file)
    except OSError as exc:
        print(
            f"[offline sample endpoint] error: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
