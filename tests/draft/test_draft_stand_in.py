"""The offline sample endpoint's drafts of unknown posts: varied per pair, parseable, marked as stand-in."""

from __future__ import annotations

import json
from collections import Counter

from annotation.draft.prompting import load_prompt, parse_reply
from annotation.sample_endpoint import FakeEndpoint
from empathyqa.schema import LAYERS, STAND_IN_MODEL
from empathyqa.synthetic import generate_corpus


def _reply(title: str, body: str, answer: str, mode: str = "json_object") -> dict:
    messages = load_prompt().messages(title, body, answer, mode)
    status, reply, _ = FakeEndpoint().completion(
        {"messages": messages, "response_format": {"type": mode}}, None
    )
    assert status == 200
    return reply


def test_unknown_posts_get_their_own_draft_and_every_reply_says_stand_in():
    corpus = generate_corpus(40, seed=11, pii_rate=0.0, same_id_rate=0.0, repost_rate=0.0)
    pairs = [(t["title"], t["body"], t["answers"][0]["body"]) for t in corpus.threads if t["answers"]][:30]
    layers = []
    for title, body, answer in pairs:
        reply = _reply(title, body, answer)
        assert reply["model"] == reply["system_fingerprint"] == STAND_IN_MODEL
        parsed = parse_reply(reply["choices"][0]["message"]["content"], "json_object").layers()
        assert parsed["l1"].count(title[:8]) == 1  # built from this post, not a memorised string
        layers.append(parsed)
    for name in LAYERS:
        repeats = Counter(d[name] for d in layers).most_common(1)[0][1]
        assert repeats == 1, (name, repeats)
    # The same pair gets the same draft (the cache and reruns see one text).
    again = _reply(*pairs[0])["choices"][0]["message"]["content"]
    assert json.loads(again)["l1"] == layers[0]["l1"]


def test_text_mode_stand_in_parses_and_names_itself():
    reply = _reply(
        "毕业两年还在啃老，我是不是很失败",
        "每天在家投简历，爸妈嘴上不说，但饭桌上的沉默让我喘不过气。我觉得自己一无是处，是不是我太没用了？",
        "你好，抱抱你。求职的挫败感很常见，建议先把目标拆小：①每天投三份；②每周找一位学长聊聊。",
        "text",
    )
    content = reply["choices"][0]["message"]["content"]
    assert (
        content.startswith("【离线示例端点（offline sample）")
        and reply["system_fingerprint"] == STAND_IN_MODEL
    )
    parsed = parse_reply(content, "text").layers()
    assert "毕业两年还在啃老" in parsed["l1"] and "给出具体可执行的步骤" in parsed["l4"]
