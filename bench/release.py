"""Release build on synthetic data: time per stage, against the floor of one plain Parquet write.

    .venv/bin/python bench/release.py [--questions 2000]

Prints throughput of the whole build and of its parts (the PII scan runs twice: on write and in the
read-back verify), the same rows written with `pq.write_table` defaults as the baseline, and how
evenly topics are cut compared with a plain hash split by question.
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
sys.path[:0] = [str(REPO), str(REPO / "tests")]
from _release_helpers import TOPICS, coe_record, thread, write_inputs  # noqa: E402

from curation.release.build import main  # noqa: E402
from curation.release.checks import check_tables, load_scrub, verify_release  # noqa: E402
from curation.release.splits import assign_splits  # noqa: E402


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


def _worst_topic_gap(split_of: dict[str, str], topic_of: dict[str, str], share: float, split: str) -> float:
    per_topic = Counter(topic_of.values())
    hits = Counter(topic_of[q] for q, s in split_of.items() if s == split)
    return max(abs(hits[t] / n - share) for t, n in per_topic.items())


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

        threads = pq.read_table(paths["curated"] / "curated.parquet").to_pylist()
        topic_of = {t["question_id"]: t["topic"] for t in threads}
        ours_split, _ = assign_splits(threads, (0.9, 0.05, 0.05), 0, set(topic_of))
        hashed = {
            q: "test" if int(hashlib.sha256(q.encode()).hexdigest(), 16) % 100 < 5 else "train"
            for q in topic_of
        }

        print(f"release bench: {pairs:,} questions, {rows:,} rows, {len(set(topic_of.values()))} topics")
        print(f"  full build (read, rows, PII scan, split, write, card, read-back verify)  {build_s:6.2f} s  "
              f"{rows / build_s:8,.0f} rows/s")  # fmt: skip
        print(f"  checks with PII scan     {checks_s:6.2f} s  {rows / checks_s:8,.0f} rows/s")
        print(f"  checks without PII scan  {checks_no_pii_s:6.2f} s  {rows / checks_no_pii_s:8,.0f} rows/s")
        print(f"  verify (files, sums, checks)  {verify_s:6.2f} s")
        print(f"  baseline pq.write_table defaults  {plain_s:6.3f} s, {plain / 1e6:.2f} MB; "
              f"release writer (zstd) {ours / 1e6:.2f} MB")  # fmt: skip
        print(f"  worst topic share gap in test (target 5%): stratified {_worst_topic_gap(ours_split, topic_of, 0.05, 'test'):.3%}, "
              f"plain hash split {_worst_topic_gap(hashed, topic_of, 0.05, 'test'):.3%}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2000)
    run(parser.parse_args().questions)
