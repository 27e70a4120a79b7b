"""Deduplication over all records: questions first, then answers across threads.

Exact duplicates share a dedup key; near duplicates share an LSH bucket and pass the exact Jaccard (or
containment) check. Each thread cluster keeps one member: most answers, then longest, then earliest.
Each answer cluster keeps the copy under the thread with the fewest answers, then the longest, earliest.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np

from curation.config import CurationConfig
from curation.minhash import LazyKeys, PairFinder, Verify, cluster, local_pairs
from curation.pipeline import Record, StepStats, reject_row
from curation.steps import question_key, shingler
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


def _sizes(items: list[Record]) -> np.ndarray | None:
    # shingle-set sizes let the MinHash estimate settle most candidate pairs (curation.verify)
    if not all("_nsh" in item for item in items):
        return None
    return np.array([item["_nsh"] for item in items], dtype=np.int64)


def dedup_questions(
    records: list[Record],
    config: CurationConfig,
    rejects: list[Record],
    stats: StepStats,
    find_pairs: PairFinder = local_pairs,
) -> tuple[list[Record], list[int]]:
    """Drop all but one thread per cluster; returns kept threads and cluster sizes (> 1)."""
    same_id: dict[str, list[int]] = {}
    for i, doc in enumerate(records):
        same_id.setdefault(doc["question_id"], []).append(i)
    uf, info = cluster(
        LazyKeys(records, question_key),
        _signatures(records, config.num_perm),
        shingler(config),
        verifier(config),
        config.lsh_threshold,
        config.num_perm,
        config.max_bucket_pairs,
        exact_groups=[g for g in same_id.values() if len(g) > 1],
        find_pairs=find_pairs,
        key_hashes=[doc["_key_hash"] for doc in records],
        sizes=_sizes(records),
        check=pair_checker(config),
    )
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
        for i in ranked[1:]:
            exact = records[i]["_key_hash"] == records[keep]["_key_hash"]
            reason = "exact_duplicate_question" if exact else "near_duplicate_question"
            detail = f"cluster {cluster_id}, kept {records[keep]['question_id']}"
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
    uf, info = cluster(
        LazyKeys(items, lambda item: dedup_key(item[1]["body"])),
        _signatures([answer for _, answer in items], config.num_perm),
        shingler(config),
        verifier(config),
        config.lsh_threshold,
        config.num_perm,
        config.max_bucket_pairs,
        find_pairs=find_pairs,
        key_hashes=[answer["_key_hash"] for _, answer in items],
        sizes=_sizes([answer for _, answer in items]),
        check=pair_checker(config),
    )
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
    records: list[Record], config: CurationConfig, find_pairs: PairFinder = local_pairs
) -> tuple[list[Record], list[Record], StepStats, dict[str, Any]]:
    started = time.perf_counter()
    stats = StepStats(records_in=len(records))
    rejects: list[Record] = []
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
    }
    return survivors, rejects, stats, clusters
