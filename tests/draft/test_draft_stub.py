"""The fake endpoint scripted: replies, faults, counts, and its process mode."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import OpenAI

from annotation.sample_endpoint import Fault, spawn


def test_scripted_reply_faults_and_counts(fake_endpoint):
    with fake_endpoint(
        reply=lambda body: '{"score": 4}', faults=[Fault("status", status=429, retry_after=0.01)]
    ) as stub:
        client = OpenAI(base_url=stub.url, api_key="x", max_retries=0)
        with pytest.raises(openai.RateLimitError) as err:
            client.chat.completions.create(model="judge", messages=[{"role": "user", "content": "评分"}])
        assert err.value.response.headers["retry-after"] == "0.01"
        reply = client.chat.completions.create(model="judge", messages=[{"role": "user", "content": "评分"}])
        assert reply.choices[0].message.content == '{"score": 4}' and reply.usage.prompt_tokens > 0
        assert stub.count() == 2 and stub.count(match="评分") == 2 and stub.count(match="别的") == 0
        assert [r["fault"] for r in stub.requests] == ["status", None]


def test_modes_rejected_or_ignored(fake_endpoint):
    with fake_endpoint(modes=("text",)) as stub:
        client = OpenAI(base_url=stub.url, api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "x"}],
                response_format={"type": "json_object"},
            )
        text = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert text.choices[0].message.content.startswith("<L1>")


def test_process_mode_writes_its_port_and_serves_stats(tmp_path):
    proc, url = spawn(
        tmp_path / "port", "--reply", "stock", "--faults", '[{"kind": "status", "status": 500}]'
    )
    try:
        body = {"model": "m", "messages": [{"role": "user", "content": "你好"}]}
        assert httpx.post(url + "/chat/completions", json=body).status_code == 500
        assert httpx.post(url + "/chat/completions", json=body).status_code == 200
        assert httpx.get(url.removesuffix("/v1") + "/stub/stats").json() == {"requests": 2}
    finally:
        proc.terminate()
        proc.wait(10)
