"""Person names in counseling posts: precision and recall of curation/names.py beside raw jieba `nr` tags.

    PYTHONPATH=. .venv/bin/python bench/names.py [--synthetic 400]

The labelled set below is written as posts are: names of partners, relatives, colleagues and the asker
marked [[like this]]; figures of speech (祥林嫂, 林黛玉), public figures (弗洛伊德, 武志红), therapies
(森田疗法, 萨提亚) and common words jieba tags `nr` (谢谢, 安全感, 华为) are not names. A second set comes
from `empathyqa.synthetic` (its planted person names are the truth). Places and organisations (ns/nt)
are counted too, as what a broader pass would touch.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.names import _posseg, find_names  # noqa: E402
from curation.text import normalise  # noqa: E402

LABELLED = """
我男朋友[[小王]]最近总是不回我消息，我是不是太敏感了？
我和[[张伟]]谈了三年恋爱，他妈妈[[李秀英]]一直反对我们在一起。
弗洛伊德说过，梦是愿望的满足，那我老梦见考试是什么意思？
咨询师建议我试试森田疗法，顺其自然，为所当为。
我现在活得像祥林嫂一样，逢人就说自己的不幸。
在北京大学读研，导师[[王建国]]对我特别严格，经常当众批评。
我同事[[刘洋]]总是抢我的功劳，领导还夸他。
华为的工作压力太大了，每天加班到十一点。
萨提亚模式和认知行为疗法哪个更适合我？
我叫[[陈静]]，今年25岁，最近总是失眠。
我女朋友[[晓雯]]上周提了分手，我到现在都缓不过来。
李老师建议我多运动，每天跑步半小时。
我爸爸叫[[王强]]，我妈叫[[赵丽]]，他们天天吵架。
高兴不起来，安全感很低，总觉得别人会离开我。
我从小就像林黛玉一样多愁善感。
表姐[[周婷婷]]结婚了，全家都在催我。
谢谢你愿意听我说这些，真的谢谢。
荣格说每个人都有阴影，我觉得我的阴影太大了。
看了武志红的书，才知道原来是原生家庭的问题。
我室友[[杨梓萱]]每天晚上打电话到两点，我不敢说她。
领导[[郭海峰]]当着全组的面说我能力不行。
事后诸葛亮有什么用，当时怎么不说？
我老公[[徐志强]]沉迷赌博，欠了二十多万。
阿德勒说一切烦恼都来自人际关系。
我闺蜜[[小林]]最近跟我疏远了，不知道是不是我做错了什么。
前男友[[黄浩然]]又来找我复合，我该不该答应？
高考失利以后，我就一直觉得自己是个失败者。
黎明前的黑暗最难熬，我现在就是这种感觉。
我婆婆总说我不会带孩子，老公也不帮我说话。
正念冥想我坚持了一个月，好像有点用。
我哥哥[[孙俊杰]]比我优秀太多，爸妈总拿我们比较。
马斯洛的需求层次理论里，我连安全需求都没满足。
班主任[[何雨欣]]老师对我很好，可我还是不想去学校。
我弟弟[[罗一鸣]]今年高三，压力大到掉头发。
我女儿[[欣怡]]今年六岁，最近特别黏人。
宋江那种讨好型人格说的就是我吧。
我和[[老郑]]合租了两年，他最近脾气越来越差。
同学[[邓思远]]在群里公开嘲笑我，我好几天没去上课。
我前妻[[梁春梅]]不让我见孩子，我该怎么办？
心理老师说我这是典型的回避型依恋。
"""

MARK = re.compile(r"\[\[(.+?)\]\]")


def parse(line: str) -> tuple[str, set[tuple[int, str]]]:
    text, spans, pos, last = [], set(), 0, 0
    for m in MARK.finditer(line):
        text.append(line[last : m.start()])
        pos += m.start() - last
        spans.add((pos, m.group(1)))
        text.append(m.group(1))
        pos += len(m.group(1))
        last = m.end()
    text.append(line[last:])
    return "".join(text), spans


def jieba_nr(text: str) -> set[tuple[int, str]]:
    found, pos = set(), 0
    for token in _posseg().cut(text):
        if token.flag == "nr":
            found.add((pos, token.word))
        pos += len(token.word)
    return found


def ours(text: str) -> set[tuple[int, str]]:
    return {(start, word) for start, _, word in find_names(text)}


def score(pairs: list[tuple[set, set]]) -> tuple[float, float, int, int, int]:
    tp = sum(len(gold & got) for gold, got in pairs)
    fp = sum(len(got - gold) for gold, got in pairs)
    fn = sum(len(gold - got) for gold, got in pairs)
    return tp / max(1, tp + fp), tp / max(1, tp + fn), tp, fp, fn


def synthetic_set(n: int) -> tuple[list[tuple[str, set[str]]], set[str]]:
    """(question or answer text, planted person names in it) and the planted schools/employers."""
    from empathyqa.synthetic import field_text, fragments, generate_corpus

    corpus = generate_corpus(n, seed=4, pii_rate=0.5, repost_rate=0.0, same_id_rate=0.0)
    org_names = set(fragments()["names"]["schools"] + fragments()["names"]["employers"])
    people: dict[tuple[str, str], set[str]] = {}
    orgs = set()
    for sid, fld, value in corpus.truth.names:
        if value in org_names:
            orgs.add(value)
        else:
            people.setdefault((sid, fld), set()).add(value)
    texts = []
    for thread in corpus.threads:
        for fld in ["body"] + [f"answers[{a['answer_id']}].body" for a in thread["answers"]]:
            texts.append((normalise(field_text(thread, fld)), people.get((thread["source_id"], fld), set())))
    return texts, orgs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", type=int, default=300, help="synthetic questions (0: skip)")
    args = parser.parse_args()
    lines = [parse(line) for line in LABELLED.strip().splitlines()]
    gold_total = sum(len(g) for _, g in lines)
    print(f"labelled set: {len(lines)} posts, {gold_total} person names")
    for name, finder in (("jieba nr (baseline)", jieba_nr), ("curation/names.py", ours)):
        p, r, tp, fp, fn = score([(gold, finder(text)) for text, gold in lines])
        print(f"  {name:22s} precision {p:.3f}  recall {r:.3f}  (tp {tp}, fp {fp}, fn {fn})")
        if finder is ours:
            for text, gold in lines:
                got = finder(text)
                for _, word in sorted(got - gold):
                    print(f"    false positive: {word}  in {text[:30]}")
                for _, word in sorted(gold - got):
                    print(f"    missed:         {word}  in {text[:30]}")
    if args.synthetic:
        texts, orgs = synthetic_set(args.synthetic)
        chars = sum(len(t) for t, _ in texts)
        print(
            f"synthetic: {len(texts)} texts, {chars:,} chars, {sum(len(g) for _, g in texts)} planted names"
        )
        for name, finder in (("jieba nr (baseline)", jieba_nr), ("curation/names.py", ours)):
            started = time.perf_counter()
            found = [{w for _, w in finder(text)} for text, _ in texts]
            seconds = time.perf_counter() - started
            tp = sum(len(g & f) for (_, g), f in zip(texts, found, strict=True))
            flagged = sum(len(f) for f in found)
            recall = tp / max(1, sum(len(g) for _, g in texts))
            print(
                f"  {name:22s} recall {recall:.3f}  flagged {flagged} (of which planted {tp})  "
                f"{chars / seconds:,.0f} chars/s"
            )
        tags: dict[str, int] = {}
        hit_orgs = 0
        for text, _ in texts:
            for token in _posseg().cut(text):
                if token.flag in ("ns", "nt"):
                    tags[token.flag] = tags.get(token.flag, 0) + 1
                    hit_orgs += token.word in orgs
        print(
            f"  jieba ns/nt tokens (places, organisations; not scrubbed): {tags}; planted orgs among them {hit_orgs}"
        )
    print("(timings on a shared, loaded machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
