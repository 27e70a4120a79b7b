"""The offline sample endpoint serves hand-written drafts for the bundled sample posts."""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from _draft_helpers import REPO, thread, write_curated
from openai import OpenAI

from annotation.draft.prompting import load_prompt, parse_reply
from annotation.sample_endpoint import load_drafts

SAMPLE = REPO / "crawlers" / "sample_site" / "data" / "questions.json"


def curated_from_sample() -> list[dict]:
    """The sample posts shaped as curated threads (as curation would pass them, minus its edits)."""
    questions = json.loads(SAMPLE.read_text(encoding="utf-8"))["yixinli"]["questions"]
    return [
        {
            "question_id": f"yixinli:{q['id']}",
            "source": "yixinli",
            "source_id": q["id"],
            "title": q["title"],
            "body": q["body"],
            "risk_level": "high" if any("risk:suicidal" in n for n in q.get("notes") or []) else "none",
            "answers": [
                {"answer_id": a["id"], "body": a["body"], "author_role": a["role"], "likes": a["likes"]}
                for a in q["answers"]
            ],
        }
        for q in questions
    ]


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample site data not present")
def test_demo_drafting_through_the_sample_endpoint(tmp_path, endpoint, cli):
    url, proc = endpoint
    write_curated(tmp_path / "cur", [*curated_from_sample(), thread(1)])
    result = cli(
        "annotation",
        [
            "draft",
            str(tmp_path / "cur"),
            "--out",
            str(tmp_path / "out"),
            "--model",
            "empathyqa-offline-sample",
            "--base-url",
            url,
        ],
    )
    assert result.returncode == 0, result.stderr
    rows = {r["question_id"]: r for r in pq.read_table(tmp_path / "out" / "coe.parquet").to_pylist()}
    written = {f"yixinli:{d['sample_question_id']}": d for d in load_drafts()}
    assert "yixinli:101000014" not in rows  # risk-flagged, skipped without --include-risk
    for qid, draft in written.items():
        if qid == "yixinli:101000014":
            continue
        assert rows[qid]["l4"] == draft["l4"] and rows[qid]["answer_id"] == draft["sample_answer_id"]
        assert "offline sample" in rows[qid]["raw_reply"]
    generic = rows["sample:00001"]
    assert "此帖不在示例数据中" in generic["raw_reply"] and "问题1" in generic["l1"]  # built from this post
    assert all(r["stand_in"] and r["endpoint_model"] == "empathyqa-offline-sample" for r in rows.values())
    assert re.search(r"failed\s+0\n", result.stderr), result.stderr
    assert "endpoint says" in result.stderr and "offline sample" in result.stderr


@pytest.mark.parametrize("mode", ["json_schema", "json_object", "text"])
def test_every_response_format_parses_and_says_it_is_the_sample(endpoint, mode):
    url, _ = endpoint
    draft = load_drafts()[0]
    questions = (
        {q["id"]: q for q in json.loads(SAMPLE.read_text(encoding="utf-8"))["yixinli"]["questions"]}
        if SAMPLE.exists()
        else {}
    )
    q = questions.get(draft["sample_question_id"], {"title": draft["title"], "body": "", "answers": []})
    answer = next(
        (a["body"] for a in q["answers"] if a["id"] == draft["sample_answer_id"]), draft["answer_start"]
    )
    messages = load_prompt().messages(q["title"], q["body"], answer, mode)
    from annotation.draft.prompting import response_format

    extra = {"response_format": response_format(mode)} if response_format(mode) else {}
    reply = OpenAI(base_url=url, api_key="none").chat.completions.create(
        model="x", messages=messages, **extra
    )
    content = reply.choices[0].message.content
    assert "offline sample" in content and reply.model == "empathyqa-offline-sample"
    assert parse_reply(content, mode).l1 == draft["l1"]


def test_endpoint_log_lines_say_offline_sample_and_bad_requests_get_400(tmp_path, start_endpoint):
    import httpx

    url, proc = start_endpoint(tmp_path)
    assert httpx.post(url + "/chat/completions", content=b"not json").status_code == 400
    assert httpx.get(url + "/models").json()["data"][0]["id"] == "empathyqa-offline-sample"
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and all("offline sample endpoint" in line for line in lines), lines[:5]


def test_drafts_file_is_valid():
    from annotation.draft.prompting import CoeDraft

    drafts = load_drafts()
    assert len(drafts) >= 20 and len({d["title"] for d in drafts}) == len(drafts)
    for d in drafts:
        CoeDraft(**{k: d[k] for k in ("l1", "l2", "l3", "l4")})
    assert Path(REPO / "annotation" / "sample_drafts.json").exists()


def test_latency_range_holds_256_slow_replies_at_once():
    """256 requests each held 0.3-0.4 s: served together, not one after another (that would be ~90 s)."""
    import asyncio

    import aiohttp

    from annotation.sample_endpoint import FakeEndpoint, parse_latency

    assert parse_latency("300-400") == (0.3, 0.4) and parse_latency("50") == (0.05, 0.05)
    for bad in ("fast", "400-300", "-5"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_latency(bad)
    body = {"model": "m", "messages": [{"role": "user", "content": "【求助帖】\n标题：考研失利\n我很难过。"}]}

    async def hammer(url: str) -> list[int]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def one() -> int:
                async with session.post(url + "/chat/completions", json=body) as response:
                    assert "offline sample" in (await response.json())["offline_sample"]
                    return response.status

            return await asyncio.gather(*(one() for _ in range(256)))

    with FakeEndpoint(latency=parse_latency("300-400"), log_bodies=False) as fake:
        started = time.monotonic()
        statuses = asyncio.run(hammer(fake.url))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 256 and fake.count() == 256
    assert elapsed < 20, elapsed


def test_sample_judge_ranks_by_its_published_heuristic():
    from annotation.sample_endpoint import DIMENSIONS, JUDGE_NOTE, FakeEndpoint
    from training.evaluate.judge import judge_messages, parse_ranking
    from training.evaluate.ranking import DIMENSIONS as JUDGED

    assert DIMENSIONS == tuple(JUDGED)
    warm = "我能理解你的感受，抱抱你。你可以试着每天写下三件小事，也可以寻求学校心理中心的帮助。"
    messages = judge_messages("失恋三个月了还是走不出来，每天都很难过。", ["加油。", warm])
    with FakeEndpoint() as fake:
        reply = OpenAI(base_url=fake.url, api_key="none").chat.completions.create(
            model="j", messages=messages
        )
    assert parse_ranking(reply.choices[0].message.content, ["A", "B"]) == {d: ["B", "A"] for d in DIMENSIONS}
    assert (
        reply.model_extra["offline_sample"] == JUDGE_NOTE
        and reply.system_fingerprint == "empathyqa-offline-sample"
    )
