"""Deduplication over all records: questions first, then answers across threads.

Two crawls of one (source, source_id) are one question: the newest crawl wins as a whole (an older
crawl's answers the site no longer shows are not revived). Exact duplicates share a dedup key; near
duplicates share an LSH bucket and pass the exact Jaccard (or containment) check. Each thread cluster
keeps one member (most answers, then longest, then earliest) and takes in the answers of all the
others, each marked with the question it was written to; the kept thread's risk level is the highest
in the cluster. Each answer cluster keeps the copy under the thread with the fewest answers, then the
longest, earliest.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any

import numpy as np

from curation.config import CurationConfig
from curation.minhash import LazyKeys, PairFinder, Verify, cluster, local_pairs
from curation.pipeline import Record, StepStats, reject_row
from curation.risk import RANK
from curation.steps import question_key, rekey, shingler
from curation.text import dedup_key
from curation.verify import pair_checker


def _earliest(value: str | None) -> str:
    return value or "9999"


def _thread_rank(doc: Record) -> tuple:
    # smaller is better: most answers, longest, earliest, then a stable id
    length = len(doc["title"]) + len(doc["body"])
    return (-len(doc["answers"]), -length, _earliest(doc.get("asked_at")), doc["question_id"], doc["_order"])


def _answer_rank(item: tuple[Record, Record]) -> tuple:
    # the copy under the thread with the fewest answers stays first: a thread whose only answer was
    # pasted elsewhere too would otherwise be left empty while the other thread has answers to spare
    doc, answer = item
    return (
        len(doc["answers"]),
        -len(answer["body"]),
        _earliest(answer.get("answered_at")),
        doc["_order"],
        answer["answer_id"],
    )


def verifier(config: CurationConfig) -> Verify:
    return Verify(config.dedup_threshold, config.containment_threshold, config.edit_similarity)


def _signatures(items: list[Record], num_perm: int) -> np.ndarray:
    if not items:
        return np.zeros((0, num_perm), dtype=np.uint32)
    return np.stack([item["_sig"] for item in items])


def crawl_time(value: str | None) -> datetime:
    """A crawl's time for comparing crawls (naive times read as UTC; unreadable ones as the oldest)."""
    try:
        moment = datetime.fromisoformat(value or "")
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def newest_crawls(records: list[Record], rejected: list[tuple[str, str | None]] = ()) -> dict[str, datetime]:
    """The newest crawl time per question id, over kept records and threads a step rejected."""
    newest: dict[str, datetime] = {}
    for qid, crawled_at in [(d["question_id"], d.get("crawled_at")) for d in records] + list(rejected):
        moment = crawl_time(crawled_at)
        if qid not in newest or moment > newest[qid]:
            newest[qid] = moment
    return newest


def resolve_recrawls(
    records: list[Record],
    rejects: list[Record],
    stats: StepStats,
    newest: dict[str, datetime] | None = None,
) -> list[Record]:
    """One record per question id: its newest crawl, whole; older crawls go to the rejects.

    `newest` also holds crawls a filter rejected: when the newest crawl was rejected, an older one
    that passed is not kept in its place.
    """
    newest = newest if newest is not None else newest_crawls(records)
    by_id: dict[str, list[Record]] = {}
    for doc in records:
        by_id.setdefault(doc["question_id"], []).append(doc)
    kept = []
    for qid, docs in by_id.items():
        if len(docs) > 1 or crawl_time(docs[0].get("crawled_at")) < newest[qid]:
            stats.counters["same_id_questions"] += 1
        docs.sort(key=lambda d: (crawl_time(d.get("crawled_at")), d["_order"]), reverse=True)
        best = docs[0] if crawl_time(docs[0].get("crawled_at")) >= newest[qid] else None
        for doc in docs:
            if doc is best:
                kept.append(doc)
                continue
            stats.counters["same_id_older_crawls"] += 1
            stats.dropped["older_crawl"] += 1
            detail = f"a newer crawl of {qid} ({newest[qid].isoformat()}) wins"
            rejects.append(reject_row(qid, None, "dedup", "older_crawl", detail, doc))
    kept.sort(key=lambda d: d["_order"])
    return kept


def _max_level(levels: list[str | None]) -> str:
    return max((level or "none" for level in levels), key=lambda level: RANK.get(level, 0))


def merge_into(keep: Record, other: Record) -> int:
    """Move `other`'s answers (marked with their question) and its risk into `keep`; answers moved."""
    taken = {a["answer_id"] for a in keep["answers"]}
    moved = 0
    for answer in other["answers"]:
        answer.setdefault("question_source_id", other["question_id"])
        if answer["answer_id"] in taken:
            # another site's answer with the same id: a deterministic new id keeps pair ids unique
            answer["answer_id"] = rekey(other["question_id"], answer["answer_id"])
        taken.add(answer["answer_id"])
        keep["answers"].append(answer)
        moved += 1
    other["answers"] = []
    keep["merged_source_ids"] = sorted({*keep.get("merged_source_ids", []), other["question_id"]})
    level = _max_level([keep.get("risk_level"), other.get("risk_level")])
    flags = list(keep.get("risk_flags") or [])
    for flag in other.get("risk_flags") or []:
        where = flag.get("field") or ""
        if not where.startswith("answer:"):  # answer flags keep their field: the answer moved too
            flag = {**flag, "field": f"{where}:{other['question_id']}"}
        if flag not in flags:
            flags.append(flag)
    keep["risk_flags"], keep["risk_level"] = flags, level
    return moved


def _sizes(items: list[Record]) -> np.ndarray | None:
    # shingle-set sizes let the MinHash estimate settle most candidate pairs (curation.verify)
    if not all("_nsh" in item for item in items):
        return None
    return np.array([item["_nsh"] for item in items], dtype=np.int64)


def _cluster(keys: LazyKeys, items: list[Record], config: CurationConfig, find_pairs: PairFinder):
    """Near-duplicate clusters of `items` (threads or answers, each with its signature and key hash)."""
    return cluster(
        keys,
        _signatures(items, config.num_perm),
        shingler(config),
        verifier(config),
        config.lsh_threshold,
        config.num_perm,
        config.max_bucket_pairs,
        find_pairs=find_pairs,
        key_hashes=[item["_key_hash"] for item in items],
        sizes=_sizes(items),
        check=pair_checker(config),
    )


def dedup_questions(
    records: list[Record],
    config: CurationConfig,
    rejects: list[Record],
    stats: StepStats,
    find_pairs: PairFinder = local_pairs,
) -> tuple[list[Record], list[int]]:
    """One thread per cluster, holding the answers of all; returns kept threads and cluster sizes (> 1).

    `records` hold one crawl per question id (see `resolve_recrawls`).
    """
    for doc in records:
        for answer in doc["answers"]:
            answer.setdefault("question_source_id", doc["question_id"])
        doc.setdefault("merged_source_ids", [])
    uf, info = _cluster(LazyKeys(records, question_key), records, config, find_pairs)
    stats.counters.update({f"questions_{k}": v for k, v in info.items() if isinstance(v, int)})
    kept_ids: set[int] = set()
    sizes = []
    for members in uf.clusters().values():
        ranked = sorted(members, key=lambda i: _thread_rank(records[i]))
        keep = ranked[0]
        kept_ids.add(keep)
        if len(members) == 1:
            records[keep]["dup_cluster"] = None
            continue
        cluster_id = "q:" + min(records[i]["question_id"] for i in members)
        records[keep]["dup_cluster"] = cluster_id
        sizes.append(len(members))
        kept_qid = records[keep]["question_id"]
        for i in ranked[1:]:
            exact = records[i]["_key_hash"] == records[keep]["_key_hash"]
            reason = "exact_duplicate_question" if exact else "near_duplicate_question"
            moved = merge_into(records[keep], records[i])
            stats.counters["answers_merged_from_duplicates"] += moved
            detail = f"cluster {cluster_id}, kept {kept_qid}; {moved} answer(s) merged into it"
            rejects.append(reject_row(records[i]["question_id"], None, "dedup", reason, detail, records[i]))
            stats.dropped[reason] += 1
    kept = [doc for i, doc in enumerate(records) if i in kept_ids]
    return kept, sizes


def dedup_answers(
    records: list[Record],
    config: CurationConfig,
    rejects: list[Record],
    stats: StepStats,
    find_pairs: PairFinder = local_pairs,
) -> list[int]:
    """One answer pasted under many questions (or twice in one) keeps its first best copy only."""
    items = [(doc, answer) for doc in records for answer in doc["answers"]]
    for _, answer in items:
        answer["dup_cluster"] = None
    if len(items) < 2:
        return []
    answers = [answer for _, answer in items]
    uf, info = _cluster(LazyKeys(items, lambda item: dedup_key(item[1]["body"])), answers, config, find_pairs)
    stats.counters.update({f"answers_{k}": v for k, v in info.items() if isinstance(v, int)})
    dropped: set[int] = set()
    left = {id(doc): len(doc["answers"]) for doc in records}
    sizes = []
    for members in uf.clusters().values():
        if len(members) == 1:
            continue
        ranked = sorted(members, key=lambda i: _answer_rank(items[i]))
        keep_doc, keep_answer = items[ranked[0]]
        cluster_id = "a:" + min(f"{items[i][0]['question_id']}/{items[i][1]['answer_id']}" for i in members)
        keep_answer["dup_cluster"] = cluster_id
        sizes.append(len(members))
        for i in ranked[1:]:
            doc, answer = items[i]
            if left[id(doc)] == 1 and not config.answer_dedup_empties_threads:
                # the thread's last answer: keep the pair (marked), or a shared answer pool would
                # take whole questions with it
                answer["dup_cluster"] = cluster_id
                stats.counters["answers_kept_as_last_answer"] += 1
                continue
            left[id(doc)] -= 1
            detail = f"cluster {cluster_id}, kept {keep_doc['question_id']}/{keep_answer['answer_id']}"
            rejects.append(
                reject_row(
                    doc["question_id"], answer["answer_id"], "dedup", "duplicate_answer", detail, answer
                )
            )
            stats.dropped["answer:duplicate_answer"] += 1
            dropped.add(id(answer))
    for doc in records:
        doc["answers"] = [a for a in doc["answers"] if id(a) not in dropped]
    return sizes


def deduplicate(
    records: list[Record],
    config: CurationConfig,
    find_pairs: PairFinder = local_pairs,
    newest: dict[str, datetime] | None = None,
) -> tuple[list[Record], list[Record], StepStats, dict[str, Any]]:
    """Recrawls resolved, question clusters merged, answers deduplicated; `newest` as for resolve_recrawls."""
    started = time.perf_counter()
    stats = StepStats(records_in=len(records))
    rejects: list[Record] = []
    records = resolve_recrawls(records, rejects, stats, newest)
    kept, question_sizes = dedup_questions(records, config, rejects, stats, find_pairs)
    answer_sizes = dedup_answers(kept, config, rejects, stats, find_pairs) if config.dedup_answers else []
    survivors = []
    for doc in kept:
        if doc["answers"] or not config.require_answers:
            survivors.append(doc)
        else:
            rejects.append(
                reject_row(
                    doc["question_id"], None, "dedup", "no_answers_left", "all answers were duplicates", doc
                )
            )
            stats.dropped["no_answers_left"] += 1
    stats.records_out = len(survivors)
    stats.seconds = time.perf_counter() - started
    clusters = {
        "question_clusters": len(question_sizes),
        "question_cluster_sizes": dict(sorted(Counter(question_sizes).items())),
        "largest_question_cluster": max(question_sizes, default=0),
        "answer_clusters": len(answer_sizes),
        "answer_cluster_sizes": dict(sorted(Counter(answer_sizes).items())),
        "largest_answer_cluster": max(answer_sizes, default=0),
        "same_id_questions": stats.counters["same_id_questions"],
        "same_id_older_crawls": stats.counters["same_id_older_crawls"],
        "answers_merged_from_duplicates": stats.counters["answers_merged_from_duplicates"],
    }
    return survivors, rejects, stats, clusters
