"""A bundled, offline stand-in for the LLM judge: an OpenAI-compatible endpoint on 127.0.0.1.

It is NOT a language model. It ranks the answers in a judge prompt by a transparent heuristic
(length up to a cap, plus counts of feeling, comfort and advice words) so that the offline demo
runs the real judge path end to end (openai client, HTTP, position swapping, parsing). Every log
line and every reply says so. `score --judge-base-url sample` starts it for the run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Callable

from aiohttp import web

from training.evaluate.ranking import DIMENSIONS

log = logging.getLogger("empathyqa.sample_judge")
BANNER = "SAMPLE JUDGE (offline heuristic, not an LLM)"
_ANSWER = re.compile(r"【回答([A-Z])】\n(.*?)(?=\n\n【回答[A-Z]】|\n\n只输出 JSON|\Z)", re.S)
CUES = {
    "fluency": ("。", "，"),
    "recognition": ("感受", "感到", "难过", "辛苦", "痛苦", "理解", "情绪"),
    "comfort": ("抱抱", "陪伴", "不是你的错", "允许", "温暖", "你并不孤单", "接纳"),
    "suggestions": ("可以", "试着", "建议", "尝试", "寻求", "步骤"),
}


def heuristic_scores(answer: str) -> dict[str, float]:
    length = min(len(answer), 300) / 300
    return {d: length + sum(answer.count(cue) for cue in cues) for d, cues in CUES.items()}


def rank_prompt(prompt: str) -> dict[str, list[str]]:
    answers = dict(_ANSWER.findall(prompt))
    scores = {label: heuristic_scores(text.strip()) for label, text in answers.items()}
    return {d: sorted(scores, key=lambda label: (-scores[label][d], label)) for d in DIMENSIONS}


async def _chat(request: web.Request) -> web.Response:
    body = await request.json()
    prompt = next(
        (m.get("content") or "" for m in reversed(body.get("messages", [])) if m.get("role") == "user"), ""
    )
    ranking = rank_prompt(prompt)
    log.info("%s: ranked %d answers", BANNER, len(ranking["fluency"]))
    return web.json_response(
        {
            "id": f"sample-{time.time_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "sample-judge"),
            "system_fingerprint": BANNER,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": json.dumps(ranking)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
    )


def start_sample_judge() -> tuple[str, Callable[[], None]]:
    """Serve on 127.0.0.1 (a free port) in a background thread; returns (base_url, stop)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", _chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]
        ready.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True
    )
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the sample judge did not start")
    log.warning("%s listening on 127.0.0.1:%s", BANNER, holder["port"])

    def stop() -> None:
        async def shutdown() -> None:
            await holder["runner"].cleanup()  # type: ignore[union-attr]

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return f"http://127.0.0.1:{holder['port']}/v1", stop
