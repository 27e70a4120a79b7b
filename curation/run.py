"""`python -m curation run INPUT... --out DIR`: raw threads in, curated threads, rejects and a report out."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from curation.config import CurationConfig
from curation.dedup import deduplicate
from curation.minhash import local_pairs
from curation.pipeline import Batch, LocalExecutor, Record, StepStats, merge_stats, public_view
from curation.reader import ReadStats, read_threads
from curation.report import build_report, render_markdown
from curation.steps import build_record_steps
from empathyqa.config import add_dataclass_arguments, dataclass_from_args
from empathyqa.io import expand_inputs, write_json_atomic, write_parquet_atomic
from empathyqa.progress import print_summary, progress
from empathyqa.schema import CURATED_THREAD, REJECT, conform

CURATED_ANSWER_FIELDS = (
    "answer_id", "body", "author_id", "author_role", "likes", "comment_count", "answered_at", "pii_counts", "dup_cluster",
)  # fmt: skip


def batched(records: Iterable[Record], size: int) -> Iterator[Batch]:
    batch: Batch = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


STAGE_ORDER = (
    "input",
    "normalise",
    "pii",
    "boilerplate",
    "question_filter",
    "answer_filter",
    "no_answers",
    "dedup",
)


def reject_sort_key(row: Record) -> tuple:
    stage = STAGE_ORDER.index(row["stage"]) if row["stage"] in STAGE_ORDER else len(STAGE_ORDER)
    return (stage, row["question_id"] or "", row["answer_id"] or "", row["reason"], row["detail"] or "")


def curated_row(doc: Record) -> dict[str, Any]:
    row = public_view(doc)
    row["answers"] = [{k: a.get(k) for k in CURATED_ANSWER_FIELDS} for a in row["answers"]]
    row["quality"] = sorted((row.get("quality") or {}).items())
    return row


def curated_table(curated: list[Record], chunk: int = 4096) -> pa.Table:
    """Converted in chunks, so the plain-Python copies of all rows never exist at once."""
    tables = [
        conform([curated_row(d) for d in curated[i : i + chunk]], CURATED_THREAD)
        for i in range(0, len(curated), chunk)
    ]
    return pa.concat_tables(tables) if tables else conform([], CURATED_THREAD)


def settings_for_report(config: CurationConfig) -> dict[str, Any]:
    settings = dataclasses.asdict(config)
    settings.pop("salt")  # never write the salt next to the hashes it protects
    settings["salt_source"] = config.resolved_salt()[1]
    for name in ("workers", "engine", "ray_address"):
        settings.pop(name)  # they do not change the output; reports stay identical across engines
    return settings


def curate(inputs: list[str | Path], out: str | Path, config: CurationConfig) -> dict[str, Any]:
    out = Path(out)
    paths = expand_inputs(list(inputs))
    started = time.perf_counter()
    read_stats = ReadStats()
    rejects: list[Record] = []
    stages: dict[str, StepStats] = {}
    timing: dict[str, float] = {}

    kept: list[Record] = []
    step_rejects: list[Record] = []
    find_pairs = local_pairs
    if config.engine == "ray":
        from curation import ray_engine

        results = ray_engine.run_record_steps(paths, config, read_stats, rejects)
        find_pairs = ray_engine.ray_pair_finder(config)
    else:
        executor = LocalExecutor(config.resolved_workers())
        threads = read_threads(paths, read_stats, rejects)
        results = (
            (r.records, r.rejects, r.stats)
            for r in executor.map_batches(build_record_steps, config, batched(threads, config.batch_size))
        )
    for records, batch_rejects, batch_stats in progress(results, desc="per-record steps", unit="batch"):
        kept.extend(records)
        step_rejects.extend(batch_rejects)
        merge_stats(stages, batch_stats)
    timing["per_record_wall"] = round(time.perf_counter() - started, 3)
    for name, stats in stages.items():
        timing[name] = round(stats.seconds, 3)  # CPU-seconds summed over workers

    print("dedup: questions and answers ...", file=sys.stderr)
    curated, dedup_rejects, dedup_stats, clusters = deduplicate(kept, config, find_pairs)
    stages["dedup"] = dedup_stats
    timing["dedup"] = round(dedup_stats.seconds, 3)
    rejects += step_rejects + dedup_rejects
    rejects.sort(key=reject_sort_key)  # the same order whatever the engine or batch layout

    curated.sort(key=lambda d: d["_order"])
    write_parquet_atomic(curated_table(curated), out / "curated.parquet")
    write_parquet_atomic(conform(rejects, REJECT), out / "rejects.parquet")
    timing["total_wall"] = round(time.perf_counter() - started, 3)
    report = build_report(
        inputs=[str(p) for p in paths],
        read={"rows": read_stats.rows, "bad": [dataclasses.asdict(b) for b in read_stats.bad]},
        stages=stages,
        curated=curated,
        rejects=rejects,
        clusters=clusters,
        timing=timing,
        settings=settings_for_report(config),
    )
    write_json_atomic(report, out / "report.json")
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    return report


def print_run_summary(report: dict[str, Any], out: Path) -> None:
    rows: dict[str, Any] = {
        "threads read": report["counts"]["threads_read"],
        "bad input": report["counts"]["bad_input"],
    }
    for name, stage in report["stages"].items():
        dropped = sum(stage["dropped"].values())
        rows[f"{name}: dropped"] = dropped
        for reason, n in stage["dropped"].items():
            rows[f"  {reason}"] = n
    rows["threads out"] = report["counts"]["threads_out"]
    rows["answers out"] = report["counts"]["answers_out"]
    rows["PII replaced"] = sum(report["pii_found"].values())
    rows["question dup clusters"] = report["duplicates"]["question_clusters"]
    rows["answer dup clusters"] = report["duplicates"]["answer_clusters"]
    rows["risk-flagged threads"] = sum(
        n for k, n in report["risk"]["threads_by_level"].items() if k != "none"
    )
    rows["seconds"] = report["timing"]["total_wall"]
    print_summary(f"curation -> {out}", rows)
    for bad in report["bad_input"][:20]:
        print(f"  bad input {bad['where']}: {bad['error']}", file=sys.stderr)


def add_run_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "run",
        help="curate raw threads",
        description="Normalise, scrub PII, filter, deduplicate, flag risk and assign topics. "
        "Writes DIR/curated.parquet, DIR/rejects.parquet, DIR/report.json and DIR/report.md.",
    )
    parser.add_argument(
        "inputs", nargs="+", help="raw thread files (.jsonl, .json, .parquet) or folders of them"
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    add_dataclass_arguments(parser, CurationConfig)


def main_run(args: argparse.Namespace) -> int:
    try:
        config = dataclass_from_args(CurationConfig, args)
        report = curate(args.inputs, args.out, config)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TypeError as exc:  # a YAML value of the wrong shape
        print(f"error: bad configuration: {exc}", file=sys.stderr)
        return 2
    print_run_summary(report, args.out)
    if report["counts"]["threads_read"] == 0:
        print("error: no valid raw threads in the input", file=sys.stderr)
        return 1
    return 0
