"""`python -m curation run INPUT... --out DIR`: raw threads in, curated threads, rejects and a report out."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from curation.config import CurationConfig
from curation.dedup import deduplicate, newest_crawls
from curation.minhash import local_pairs
from curation.pipeline import Batch, LocalExecutor, Record, StepStats, merge_stats, public_view
from curation.reader import ReadStats, read_threads
from curation.report import build_report, render_markdown
from curation.salt import Salt, SaltError, check_same_salt, resolve_salt
from curation.steps import build_record_steps, safe_id, scrub_raw, scrub_text
from curation.takedown import TakedownError, load_takedown
from empathyqa.config import add_dataclass_arguments, dataclass_from_args
from empathyqa.io import expand_inputs, write_json_atomic, write_parquet_atomic
from empathyqa.outputs import MANIFEST, IncompleteOutput, OutputBusy, read_manifest, staged_output
from empathyqa.progress import print_summary, progress
from empathyqa.schema import CURATED_THREAD, REJECT, conform

CURATED_ANSWER_FIELDS = (
    "answer_id", "body", "author_id", "author_role", "likes", "comment_count", "answered_at", "pii_counts", "dup_cluster",
    "question_source_id",
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
    "takedown",
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


def settings_for_report(config: CurationConfig, salt: Salt | None = None) -> dict[str, Any]:
    settings = dataclasses.asdict(config)
    settings.pop("salt")  # never write the salt next to the hashes it protects
    settings["salt_source"] = salt.source if salt else config.resolved_salt()[1]
    for name in ("workers", "engine", "ray_address"):
        settings.pop(name)  # they do not change the output; reports stay identical across engines
    return settings


OUTPUT_FILES = ("curated.parquet", "rejects.parquet", "report.json", "report.md", MANIFEST)


class InputError(ValueError):
    """Input that cannot give a curated set; the output folder is left as it was."""


def check_output_folder(out: Path, salt: Salt) -> None:
    """Refuse a folder holding other things than a curation set, or a set made with another salt."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    strangers = sorted(p.name for p in out.iterdir() if p.name not in OUTPUT_FILES)
    if strangers:
        raise InputError(
            f"--out {out} holds files a curation run did not write ({', '.join(strangers[:3])}): "
            "choose an empty or a curation output folder"
        )
    manifest = read_manifest(out)
    if manifest is not None:
        check_same_salt(manifest.meta.get("salt_fingerprint"), salt, out)


def _rejected_crawls(step_rejects: list[Record]) -> list[tuple[str, str | None]]:
    """(question id, crawled_at) of the threads a step rejected whole, so older crawls do not stand in."""
    out = []
    for row in step_rejects:
        if row["answer_id"] is None and row["question_id"] and row["record"]:
            out.append((row["question_id"], json.loads(row["record"]).get("crawled_at")))
    return out


def _scrub_input_rejects(rejects: list[Record], salt: str) -> None:
    """Bad input is rejected before the PII step: its kept record and message are scrubbed here."""
    for row in rejects:
        row["detail"] = scrub_text(row["detail"] or "", with_names=False)
        if row["question_id"]:
            source, _, source_id = row["question_id"].partition(":")
            row["question_id"] = f"{source}:{safe_id(source, source_id)}"
        if row["record"] is not None:
            row["record"] = json.dumps(
                scrub_raw(json.loads(row["record"]), salt), ensure_ascii=False, sort_keys=True
            )


def curate(inputs: list[str | Path], out: str | Path, config: CurationConfig) -> dict[str, Any]:
    """Curate `inputs` into the folder `out`, written whole or not at all (empathyqa.outputs)."""
    out = Path(out)
    paths = expand_inputs(list(inputs))
    if not paths:
        raise InputError(
            f"no input files in {', '.join(map(str, inputs))} (.jsonl, .jsonl.gz, .json, .parquet)"
        )
    if config.takedown:  # absolute in the report, where a release finds it
        config = dataclasses.replace(config, takedown=str(Path(config.takedown).absolute()))
    takedown = load_takedown(config.takedown)
    salt = resolve_salt(out, salt_file=config.salt_file, demo=config.demo_salt, configured=config.salt)
    check_output_folder(out, salt)
    config = dataclasses.replace(config, salt=salt.value)  # workers use the one resolved salt
    meta: dict[str, Any] = {"salt_fingerprint": salt.fingerprint, "salt_source": salt.source}
    with staged_output(out, stage="curation", meta=meta) as staging:
        report = _curate(paths, staging, config, salt, takedown)
        meta["threads_out"] = report["counts"]["threads_out"]
    return report


def _curate(
    paths: list[Path], out: Path, config: CurationConfig, salt: Salt, takedown: frozenset[str]
) -> dict[str, Any]:
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
    if read_stats.rows == 0:
        raise InputError(no_valid_input(paths, read_stats))
    timing["per_record_wall"] = round(time.perf_counter() - started, 3)
    for name, stats in stages.items():
        timing[name] = round(stats.seconds, 3)  # CPU-seconds summed over workers

    # bad input of a taken-down post leaves no trace either
    rejects = [r for r in rejects if r["question_id"] not in takedown]
    _scrub_input_rejects(rejects, salt.value)
    for bad in read_stats.bad:
        bad.error = scrub_text(bad.error, with_names=False)

    print("dedup: questions and answers ...", file=sys.stderr)
    newest = newest_crawls(kept, _rejected_crawls(step_rejects))
    curated, dedup_rejects, dedup_stats, clusters = deduplicate(kept, config, find_pairs, newest)
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
        settings=settings_for_report(config, salt),
    )
    write_json_atomic(report, out / "report.json")
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    return report


def no_valid_input(paths: list[Path], stats: ReadStats) -> str:
    if not stats.bad:
        return f"no raw threads in the input ({len(paths)} file(s), all empty)"
    first = stats.bad[0]
    return (
        f"no valid raw threads in the input: {len(stats.bad)} bad record(s), e.g. "
        f"{first.where}: {scrub_text(first.error, with_names=False)[:200]}"
    )


def print_run_summary(report: dict[str, Any], out: Path) -> None:
    rows: dict[str, Any] = {
        "threads read": report["counts"]["threads_read"],
        "bad input": report["counts"]["bad_input"],
        "taken down": report["counts"]["taken_down"],
    }
    for name, stage in report["stages"].items():
        dropped = sum(stage["dropped"].values())
        rows[f"{name}: dropped"] = dropped
        for reason, n in stage["dropped"].items():
            rows[f"  {reason}"] = n
    rows["threads out"] = report["counts"]["threads_out"]
    rows["answers out"] = report["counts"]["answers_out"]
    rows["PII replaced"] = sum(report["pii_found"].values())
    rows["older crawls dropped"] = report["counts"]["same_id_older_crawls"]
    rows["answers merged from duplicates"] = report["counts"]["answers_merged_from_duplicates"]
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
        allow_abbrev=False,  # `--salt VALUE` must not pass for `--salt-file`
        help="curate raw threads",
        description="Normalise, scrub PII, filter, deduplicate, flag risk and assign topics. "
        "Writes DIR/curated.parquet, DIR/rejects.parquet, DIR/report.json, DIR/report.md and "
        "DIR/manifest.json as one set (a failed or killed run leaves DIR as it was). The secret salt of "
        "the pseudonyms: $EMPATHYQA_SALT, $EMPATHYQA_SALT_FILE, --salt-file, or DIR/../.empathyqa-salt "
        "(generated on first use); --demo-salt for demos only.",
    )
    parser.add_argument(
        "inputs", nargs="+", help="raw thread files (.jsonl, .jsonl.gz, .json, .parquet) or folders of them"
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    add_dataclass_arguments(parser, CurationConfig)


def main_run(args: argparse.Namespace) -> int:
    try:
        config = dataclass_from_args(CurationConfig, args)
        report = curate(args.inputs, args.out, config)
    except OutputBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (FileNotFoundError, InputError, SaltError, TakedownError, IncompleteOutput) as exc:
        print(f"error: {exc} ({args.out} left as it was)", file=sys.stderr)
        return 2
    except TypeError as exc:  # a YAML value of the wrong shape
        print(f"error: bad configuration: {exc}", file=sys.stderr)
        return 2
    print_run_summary(report, args.out)
    return 0
