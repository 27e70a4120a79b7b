"""A release-shaped sample for the miniature (`training.learn`): generated threads with varied CoE drafts.

Threads come from `empathyqa.synthetic` (no identifiers planted, no risk posts: what curation would
let through to training). Each counselor answer keeps its post-specific part (from the sentence that
quotes the asker's words on), and each question a short body that holds the words its answers quote,
so that a tiny model on two cores can read and write a whole Chain-of-Empathy and its answer can be
told from another post's by reading the post. Counselor answers that quote nothing of the post are
left out (about 1 in 10 of the generator's). Counselor answers get a CoE drafted from this
post and this answer (`coe_layers`); user answers stay plain QA pairs (hard negatives for the reward
model). Rows are split by question: validation and test questions are never trained on.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

from empathyqa.coe import build_prompt, format_completion
from empathyqa.schema import RELEASE_ROW, conform, pair_id
from empathyqa.synthetic import _sentences, coe_layers, generate_corpus

BODY_CHARS = 100
ANSWER_CHARS = 70
LAYER_CHARS = 30
COUNSELOR_ANSWERS = 2
USER_ANSWERS = 2
_QUOTED = re.compile(r"“([^”]{4,})”")


def _head(sentences: list[str], limit: int) -> str:
    """Whole sentences while they fit; the first one cut at `limit` when even it does not."""
    out = ""
    for sentence in (s.strip() for s in sentences):
        if not sentence:
            continue
        if len(out) + len(sentence) > limit:
            break
        out += sentence
    return out or next(s.strip() for s in sentences if s.strip())[: limit - 1] + "。"


def _nonempty_sentences(text: str) -> list[str]:
    return [s.strip() for s in _sentences(text) if s.strip()]


def quotes_of(sentence: str, post: str) -> list[str]:
    """The asker's words that `sentence` quotes back (“…”, found verbatim in `post`)."""
    return [q for q in _QUOTED.findall(sentence) if q in post]


def short_answer(answer: str, post: str) -> str:
    """The part of a counselor answer about this post: from the first sentence quoting it on.

    An answer that quotes nothing of the post gives "".
    """
    sentences = _nonempty_sentences(answer)
    start = next((i for i, s in enumerate(sentences) if quotes_of(s, post)), None)
    return "" if start is None else _head(sentences[start:], ANSWER_CHARS)


def short_body(body: str, quoted: list[str]) -> str:
    """The opening sentence and every sentence an answer quotes, then others in order, within BODY_CHARS.

    Sentences keep their order in the post; a quoted sentence that no longer fits is left out (and
    so is the answer quoting it: see `thread_rows`).
    """
    sentences = _nonempty_sentences(body)
    if not sentences:
        return ""
    wanted = [0] + [i for i, s in enumerate(sentences) if any(q in s for q in quoted)]
    wanted += range(len(sentences))
    kept: set[int] = set()
    size = 0
    for index in dict.fromkeys(wanted):
        if size + len(sentences[index]) <= BODY_CHARS:
            kept.add(index)
            size += len(sentences[index])
    if not kept:
        return sentences[0][: BODY_CHARS - 1] + "。"
    return "".join(sentences[i] for i in sorted(kept))


def _clip(text: str, limit: int = LAYER_CHARS) -> str:
    """At most `limit` characters, cut after a clause where one ends late enough."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    comma = cut.rfind("，")
    return (cut[:comma] if comma > limit // 2 else cut[: limit - 1]) + "。"


def thread_rows(thread: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    qid = f"{thread['source']}:{thread['source_id']}"
    post = thread["body"]
    answers = [
        (a, short_answer(a["body"], post)) for a in thread["answers"] if a["author_role"] == "counselor"
    ]
    answers = [(a, text) for a, text in answers if text][:COUNSELOR_ANSWERS]
    body = short_body(post, [q for _, text in answers for q in quotes_of(text, post)])
    short = {**thread, "body": body}
    base = {
        "question_id": qid,
        "source": thread["source"],
        "topic": (thread.get("tags") or [None])[0],
        "subtopic": (thread.get("tags") or [None, None])[1] if len(thread.get("tags") or []) > 1 else None,
        "title": thread["title"],
        "question": body,
        "prompt": build_prompt(thread["title"], body),
        "risk_flags": [],
        "dup_group": None,
    }
    users = [a for a in thread["answers"] if a["author_role"] != "counselor"][:USER_ANSWERS]
    rows = []
    for answer, text in answers:
        if not quotes_of(text, body):
            continue  # its quote did not fit in the short body
        layers = coe_layers(short, {**answer, "body": text}, rng)
        layers = {k: _clip(v) for k, v in layers.items()}
        completion = format_completion(layers["l1"], layers["l2"], layers["l3"], layers["l4"], text)
        rows.append(
            {
                **base,
                "answer_id": answer["answer_id"],
                "answer": text,
                "answer_role": "counselor",
                "likes": answer.get("likes"),
                "coe": layers,
                "coe_status": "draft",
                "completion": completion,
            }
        )
    for answer in users:
        rows.append(
            {
                **base,
                "answer_id": answer["answer_id"],
                "answer": _head(_sentences(answer["body"]), ANSWER_CHARS // 2),
                "answer_role": "user",
                "likes": answer.get("likes"),
                "coe": None,
                "coe_status": None,
                "completion": None,
            }
        )
    for row in rows:
        row["id"] = pair_id(row["question_id"], row["answer_id"])
    return rows


def build_sample_release(
    out: Path, questions: int, seed: int = 0, eval_questions: int = 48
) -> dict[str, int]:
    """Write train/validation/test parquet to `out`; returns rows per split."""
    import pyarrow.parquet as pq

    corpus = generate_corpus(
        questions, seed=seed, pii_rate=0.0, risk_rate=0.0, repost_rate=0.0, same_id_rate=0.0
    )
    rng = random.Random(seed)
    by_question: dict[str, list[dict[str, Any]]] = {}
    for thread in corpus.threads:
        rows = thread_rows(thread, rng)
        if any(r["answer_role"] == "counselor" for r in rows):
            by_question.setdefault(rows[0]["question_id"], []).extend(rows)
    qids = sorted(by_question)
    random.Random(seed + 1).shuffle(qids)
    split_of = {q: "validation" for q in qids[:eval_questions]}
    split_of.update({q: "test" for q in qids[eval_questions : 2 * eval_questions]})
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    for split in ("train", "validation", "test"):
        rows = [r for q in qids if split_of.get(q, "train") == split for r in by_question[q]]
        pq.write_table(conform(rows, RELEASE_ROW), out / f"{split}.parquet")
        counts[f"{split} rows"] = len(rows)
        counts[f"{split} questions"] = len({r["question_id"] for r in rows})
    return dict(counts)
