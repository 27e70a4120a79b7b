"""Release build on synthetic data: time per stage, against the floor of one plain Parquet write.

    .venv/bin/python bench/release.py [--questions 2000] [--realistic 3000] [--curated DIR]

Prints throughput of the whole build and of its parts (the PII scan runs twice: on write and in the
read-back verify), the same rows written with `pq.write_table` defaults as the baseline, how evenly
topics are cut (worst gap between a topic's test share and the target), and how many questions of an
earlier version change split in a later one, for the release's hash split beside the topic-stratified
dealing it replaced (re-implemented here as the baseline). The split figures run on realistic threads
from `empathyqa.synthetic` (`--realistic N`) and on a curation output folder (`--curated DIR`).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "release")]
from _release_helpers import TOPICS, coe_record, synthetic_curated, thread, write_inputs  # noqa: E402

from curation.release.build import main  # noqa: E402
from curation.release.checks import check_tables, load_scrub, verify_release  # noqa: E402
from curation.release.splits import assign_splits, dup_groups  # noqa: E402

FRACTIONS = (0.9, 0.05, 0.05)


def _inputs(root: Path, questions: int) -> dict[str, Path]:
    threads = [thread(n, TOPICS[n % 3] + str(n % 7), answers=1 + n % 4) for n in range(questions)]
    for n in range(0, questions - 5, 50):  # some near-duplicate pairs
        threads[n]["dup_cluster"] = threads[n + 5]["dup_cluster"] = f"d{n}"
    reviews = [
        coe_record(t["question_id"], a["answer_id"], "accepted", "2026-11-21")
        for t in threads[::2]
        for a in t["answers"]
    ]
    return write_inputs(root, threads=threads, drafts=[], reviews=reviews)


def _worst_topic_gap(
    split_of: dict[str, str], topic_of: dict[str, str], share: float, split: str, min_questions: int = 1
) -> tuple[float, str]:
    """(worst |share of the topic's questions in `split` - target|, that topic) over topics this big."""
    per_topic = Counter(topic_of[q] for q in split_of)
    hits = Counter(topic_of[q] for q, s in split_of.items() if s == split)
    gaps = [(abs(hits[t] / n - share), t) for t, n in per_topic.items() if n >= min_questions]
    return max(gaps) if gaps else (0.0, "-")


def _stratified(threads: list[dict], fractions=FRACTIONS, seed: int = 0) -> dict[str, str]:
    """The split the release used before: groups by (topic, seeded hash), dealt to the split most short."""
    group_of = dup_groups(threads)
    members: dict[str, list[dict]] = {}
    for t in threads:
        members.setdefault(group_of[t["question_id"]], []).append(t)

    def order(group: str) -> tuple[str, str]:
        topics = Counter(t.get("topic") or "" for t in members[group])
        topic = min(topics.items(), key=lambda i: (-i[1], i[0]))[0]
        return topic, hashlib.sha256(f"{seed}\0{group}".encode()).hexdigest()

    assigned, dealt, split_of = [0, 0, 0], 0, {}
    for group in sorted(members, key=order):
        size = len(members[group])
        deficits = [f * (dealt + size) - got for f, got in zip(fractions, assigned, strict=True)]
        index = max(range(3), key=lambda i: (deficits[i], -i))
        assigned[index] += size
        dealt += size
        for t in members[group]:
            split_of[t["question_id"]] = ("train", "validation", "test")[index]
    return split_of


def _hashed(threads: list[dict]) -> dict[str, str]:
    return assign_splits(threads, FRACTIONS, 0, {t["question_id"] for t in threads})[0]


def split_figures(name: str, threads: list[dict]) -> None:
    """Topic gaps of both splits, and split moves from an earlier crawl (first 60% by date) to all."""
    topic_of = {t["question_id"]: t.get("topic") or "(none)" for t in threads}
    ordered = sorted(
        threads, key=lambda t: (t.get("asked_at") or t.get("crawled_at") or "", t["question_id"])
    )
    earlier = ordered[: len(ordered) * 3 // 5]
    print(f"  {name}: {len(threads):,} questions, {len(set(topic_of.values()))} topics "
          f"(sizes {min(Counter(topic_of.values()).values())}..{max(Counter(topic_of.values()).values())})")  # fmt: skip
    for label, assign in (("hash split (release)", _hashed), ("stratified dealing (baseline)", _stratified)):
        full, before = assign(threads), assign(earlier)
        moved = sum(1 for q, s in before.items() if full[q] != s)
        into_train = sum(1 for q, s in before.items() if s != "train" and full[q] == "train")
        test_gap, test_topic = _worst_topic_gap(full, topic_of, FRACTIONS[2], "test", 50)
        val_gap, _ = _worst_topic_gap(full, topic_of, FRACTIONS[1], "validation", 50)
        share = sum(s == "test" for s in full.values()) / len(full)
        print(f"    {label:30s} test share {share:.2%}; worst topic gap (topics >= 50 q.) test {test_gap:.2%} "
              f"({test_topic}), validation {val_gap:.2%}; earlier crawl {len(before):,} q. -> all: "
              f"{moved:,} changed split, {into_train:,} held-out moved into train")  # fmt: skip


def run(questions: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = _inputs(root / "in", questions)
        pairs = pq.read_metadata(paths["curated"] / "curated.parquet").num_rows

        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            main(["--curated", str(paths["curated"]), "--coe", str(paths["review"]), "--version", "1.0.0",
                  "--out", str(root / "out")])  # fmt: skip
        build_s = time.perf_counter() - start
        release = root / "out" / "1.0.0"
        tables = {s: pq.read_table(release / f"{s}.parquet") for s in ("train", "validation", "test")}
        rows = sum(t.num_rows for t in tables.values())

        scrub = load_scrub()
        start = time.perf_counter()
        check_tables(tables, scrub)
        checks_s = time.perf_counter() - start
        start = time.perf_counter()
        check_tables(tables, None)
        checks_no_pii_s = time.perf_counter() - start
        start = time.perf_counter()
        failures, _ = verify_release(release, scrub)
        verify_s = time.perf_counter() - start
        assert not failures, failures.lines()

        start = time.perf_counter()
        for split, table in tables.items():
            pq.write_table(table, root / f"plain-{split}.parquet")
        plain_s = time.perf_counter() - start
        ours = sum((release / f"{s}.parquet").stat().st_size for s in tables)
        plain = sum((root / f"plain-{s}.parquet").stat().st_size for s in tables)

        print(
            f"release bench: {pairs:,} questions, {rows:,} rows, {len({t['topic'] for t in pq.read_table(paths['curated'] / 'curated.parquet', columns=['topic']).to_pylist()})} topics"
        )
        print(f"  full build (read, rows, PII scan, split, write, card, read-back verify)  {build_s:6.2f} s  "
              f"{rows / build_s:8,.0f} rows/s")  # fmt: skip
        print(f"  checks with PII scan     {checks_s:6.2f} s  {rows / checks_s:8,.0f} rows/s")
        print(f"  checks without PII scan  {checks_no_pii_s:6.2f} s  {rows / checks_no_pii_s:8,.0f} rows/s")
        print(f"  verify (files, sums, checks)  {verify_s:6.2f} s")
        print(f"  baseline pq.write_table defaults  {plain_s:6.3f} s, {plain / 1e6:.2f} MB; "
              f"release writer (zstd) {ours / 1e6:.2f} MB")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument(
        "--realistic", type=int, default=3000, help="synthetic questions for the split figures"
    )
    parser.add_argument("--curated", default="", help="a curation output folder for the split figures too")
    args = parser.parse_args()
    run(args.questions)
    print("split figures (shares 0.9/0.05/0.05, seed 0):")
    split_figures(f"empathyqa.synthetic {args.realistic:,}", synthetic_curated(args.realistic, seed=0))
    if args.curated:
        split_figures(args.curated, pq.read_table(Path(args.curated) / "curated.parquet").to_pylist())
