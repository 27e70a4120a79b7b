"""The name search's fast path (jieba-rs tags block by block, cached, blocks without a possible name left
untagged) finds exactly what a search over jieba-rs's tags of the whole text finds."""

from __future__ import annotations

import pytest

from curation.names import _tagger, find_names, pos_tokens, scrub_names
from curation.text import normalise
from empathyqa.synthetic import iter_threads

EDGES = [
    "我女朋友，小王说她很累。",  # a relation word, punctuation, then the name
    "表姐周婷婷最近总是哭，表姐，周婷婷。",  # a name jieba splits after a relation word
    "我男朋友陳志明總是不回消息，他說王建國是他同事。",  # traditional script
    "我同事叫\n李秀英，她说萨提亚模式和李明疗法都试过。",  # a line break; a theory after a name
    "我叫张伟。今天心情很差……朋友阿强也这么说",
    "她是我闺蜜 abc123 刘洋 hello，刘洋说 3.5 万块钱的事",
    "高兴的时候成就感很强，于是我常常方便地关心江湖上的事。",  # surnames inside plain words
    "，。！  \t\r\n",
]


def _reference(text: str) -> list[tuple[int, int, str]]:
    return find_names(text, _whole(text))


def _whole(text: str) -> list[tuple[str, str]]:
    return [tuple(t) for t in _tagger().tag(text, hmm=True)]


@pytest.mark.parametrize("text", EDGES)
def test_fast_path_finds_what_the_whole_cut_finds(text):
    assert find_names(text) == _reference(text)
    assert pos_tokens(text) == _whole(text)


def test_fast_path_on_generated_threads_with_names_and_reposts():
    threads = list(iter_threads(120, seed=31, pii_rate=0.5, repost_rate=0.1))
    texts = [t["title"] + "\n" + t["body"] for t in threads]
    texts += [a["body"] for t in threads for a in t["answers"]]
    texts += [normalise(x) for x in texts[:100]]
    found = [find_names(x) for x in texts]
    assert found == [_reference(x) for x in texts]
    assert sum(map(len, found)) >= 20  # the generated set does hold names to find
    assert scrub_names(EDGES[0]) == ("我女朋友，<NAME>说她很累。", 1)
