"""Build a versioned Empathy-QA release, or verify one.

    python -m curation.release --curated DIR --coe DIR [DIR ...] --version X.Y.Z
        [--out datasets/empathy_qa] [--include-drafts] [--no-plain-qa] [--split 0.9,0.05,0.05] [--seed N]
        [--previous datasets/empathy_qa/X.Y.W] [--include-source-ids] [--allow-stand-in] [--legacy-curated]
    python -m curation.release verify datasets/empathy_qa/X.Y.Z

A build reads a curated folder only whole (its manifest.json checked; a folder written before
curation wrote manifests only with --legacy-curated, and the card says so) and writes
`<out>/<version>/` with train/validation/test.parquet, README.md (the dataset card), schema.json,
SHA256SUMS and manifest.json. It never overwrites a version, and the version folder appears only
after every check passed on the files written.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from curation.release.card import CardFacts, SourceInfo, card_summary, render_card
from curation.release.checks import (
    CHECKSUMS_FILE,
    RELEASE_FILES,
    PiiScanner,
    check_tables,
    checksum_lines,
    load_scrub,
    text_fields,
    verify_release,
)
from curation.release.files import write_schema, write_split
from curation.release.ids import release_schema
from curation.release.inputs import (
    ReleaseInputError,
    Tally,
    build_rows,
    read_agreements,
    read_coe,
    read_curated,
    read_previous,
    takedown_ids,
)
from curation.release.splits import assign_splits, parse_fractions
from empathyqa.config import add_dataclass_arguments, dataclass_from_args
from empathyqa.outputs import (
    IncompleteOutput,
    Manifest,
    OutputBusy,
    folder_lock,
    read_manifest,
    write_manifest,
)
from empathyqa.progress import print_summary, progress
from empathyqa.schema import RELEASE_SPLITS, STAND_IN_MODEL, conform

VERSION = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z][0-9A-Za-z.]*)?")  # X.Y.Z, or X.Y.Z-pre (0.0.0-demo)


@dataclass
class ReleaseConfig:
    curated: str = field(default="", metadata={"help": "folder holding curated.parquet (and report.json)"})
    coe: list[str] = field(
        default_factory=list,
        metadata={"help": "folders holding coe.parquet (drafting, review pull); later folders win ties"},
    )
    version: str = field(
        default="",
        metadata={"help": "release version X.Y.Z (or X.Y.Z-pre); an existing one is never overwritten"},
    )
    out: str = field(default="datasets/empathy_qa", metadata={"help": "folder that holds the versions"})
    include_drafts: bool = field(default=False, metadata={"help": "release unreviewed LLM drafts too"})
    plain_qa: bool = field(
        default=True,
        metadata={
            "help": "release pairs without a releasable chain as plain QA (coe null); --no-plain-qa drops them"
        },
    )
    split: str = field(
        default="0.9,0.05,0.05", metadata={"help": "train,validation,test fractions of questions"}
    )
    seed: int = field(default=0, metadata={"help": "seed of the split assignment"})
    skip_unknown_coe: bool = field(
        default=False, metadata={"help": "leave out CoE records whose pair is not in the curated threads"}
    )
    previous: str = field(
        default="",
        metadata={"help": "an earlier release folder: every question it released keeps its split there"},
    )
    include_source_ids: bool = field(
        default=False,
        metadata={
            "help": "also release the site's question/answer ids and urls (they lead to the live page); "
            "by default rows carry only stable hashed ids"
        },
    )
    allow_stand_in: bool = field(
        default=False,
        metadata={
            "help": "release chains written by the offline sample endpoint (demo only; the card says so)"
        },
    )
    legacy_curated: bool = field(
        default=False,
        metadata={"help": "read a curated folder that has no manifest.json (written before manifests)"},
    )
    new_salt: bool = field(
        default=False,
        metadata={
            "help": "accept that the curated data used another pseudonym salt than --previous did (the "
            "same person then gets another pseudonym in this version)"
        },
    )


def check_same_salt_as_previous(previous: Path, curated: Manifest | None) -> None:
    """Pseudonyms stay stable across versions only when both were curated with one salt."""
    try:
        earlier = read_manifest(previous)
    except IncompleteOutput as exc:
        raise ReleaseInputError(f"--previous: {exc}") from exc
    before = (((earlier.meta if earlier else {}).get("curated") or {}).get("meta") or {}).get(
        "salt_fingerprint"
    )
    now = (curated.meta if curated else {}).get("salt_fingerprint")
    if before and now and before != now:
        raise ReleaseInputError(
            f"--previous: {previous} was curated with another salt (fingerprint {before}, this curated "
            f"data's is {now}), so askers' and answerers' pseudonyms would change between versions; "
            "curate again with the first salt ($EMPATHYQA_SALT_FILE), or pass --new-salt to accept it"
        )


def _fail(message: str) -> SystemExit:
    return SystemExit(f"error: {message}")


def _sources(threads: list[dict], released: set[str]) -> dict[str, SourceInfo]:
    sources: dict[str, SourceInfo] = {}
    for thread in threads:
        if thread["question_id"] not in released:
            continue
        info = sources.setdefault(
            thread["source"], SourceInfo(domain=urlparse(thread.get("url") or "").netloc)
        )
        info.questions += 1
        crawled = thread.get("crawled_at")
        if crawled:
            info.first_crawl = min(info.first_crawl or crawled, crawled)
            info.last_crawl = max(info.last_crawl or crawled, crawled)
    return sources


def _drop_pii_rows(rows: list[dict], scanner: PiiScanner, tally: Tally) -> list[dict]:
    kept = []
    for row in progress(rows, desc="PII scan"):
        if any(scanner.kinds(text) for _, text in text_fields(row)):
            tally.add("dropped: PII pattern left in a text", row["id"])
        else:
            kept.append(row)
    return kept


def _manifest_meta(config: ReleaseConfig, facts: CardFacts, curated: Manifest | None) -> dict:
    rows = [r for split in RELEASE_SPLITS for r in facts.rows.get(split, [])]
    return {
        "version": config.version,
        "include_source_ids": config.include_source_ids,
        "stand_in_rows": sum(1 for r in rows if r["coe_model"] == STAND_IN_MODEL),
        "split": list(facts.fractions),
        "seed": config.seed,
        "curated": None if curated is None else {"created_at": curated.created_at, "meta": curated.meta},
    }


def build(config: ReleaseConfig) -> Path:
    if not config.curated:
        raise _fail("--curated DIR is required (the folder curation wrote curated.parquet to)")
    if not VERSION.fullmatch(config.version or ""):
        raise _fail(f"--version must look like 1.0.0 (or 1.0.0-rc1), got {config.version!r}")
    try:
        fractions = parse_fractions(config.split)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    target = Path(config.out) / config.version
    if target.exists():
        raise _fail(f"{target} exists; refusing to overwrite a release (choose a new --version)")
    scrub = load_scrub()
    if scrub is None:
        raise _fail("curation.pii is not importable: a release cannot be checked for PII")

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(f"cannot create {target.parent}: {exc}") from exc
    try:
        with folder_lock(target):
            return _build_locked(config, fractions, target, scrub)
    except OutputBusy as exc:
        raise _fail(str(exc)) from exc


def _build_locked(config: ReleaseConfig, fractions: tuple[float, float, float], target: Path, scrub) -> Path:
    if target.exists():  # again, under the lock: another build may have finished meanwhile
        raise _fail(f"{target} exists; refusing to overwrite a release (choose a new --version)")
    tally = Tally()
    try:
        threads, report, curated_file, curated_manifest = read_curated(
            Path(config.curated), legacy=config.legacy_curated
        )
        taken_down = takedown_ids(report)
        records = [r for r in read_coe([Path(p) for p in config.coe]) if r["question_id"] not in taken_down]
        agreements = read_agreements([Path(p) for p in config.coe])
        previous = read_previous(Path(config.previous)) if config.previous else None
        if previous is not None and not config.new_salt:
            check_same_salt_as_previous(Path(config.previous), curated_manifest)
        rows = build_rows(
            threads,
            records,
            include_drafts=config.include_drafts,
            plain_qa=config.plain_qa,
            skip_unknown_coe=config.skip_unknown_coe,
            tally=tally,
            allow_stand_in=config.allow_stand_in,
        )
    except ReleaseInputError as exc:
        raise _fail(str(exc)) from exc
    if curated_manifest is None:
        print(
            f"warning: {config.curated} has no manifest.json; read unchecked (--legacy-curated)",
            file=sys.stderr,
        )
    rows = _drop_pii_rows(rows, PiiScanner(scrub), tally)
    if not rows:
        raise _fail("no (question, answer) pair is left to release; see the counts above")
    if len({row["id"] for row in rows}) != len(rows):
        raise _fail("two pairs hashed to one release id; nothing was written (report this)")

    released = {row["source_question_id"] for row in rows}
    split_of, group_of, split_notes = assign_splits(threads, fractions, config.seed, released, previous)
    by_split: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        row["dup_group"] = group_of[row["source_question_id"]]
        by_split[split_of[row["source_question_id"]]].append(row)
    for split in RELEASE_SPLITS:
        by_split[split].sort(key=lambda r: r["id"])
        tally.add(f"released: {split}", n=len(by_split[split]))
    schema = release_schema(config.include_source_ids)
    tables = {split: conform(by_split[split], schema) for split in RELEASE_SPLITS}

    # The rows were just scanned; the read-back verify below scans the written files again.
    failures = check_tables(tables, scrub, scan_pii=False, include_source_ids=config.include_source_ids)
    if failures:
        raise _fail("the release failed its checks; nothing was written:\n" + "\n".join(failures.lines()))

    notes = []
    empty = [s for s in RELEASE_SPLITS if not by_split[s]]
    if empty:
        notes.append(
            f"Split(s) {', '.join(empty)} are empty (too few questions for the requested shares): their "
            "files hold no rows and are left out of the loading instructions, which `datasets` needs."
        )
        print(f"warning: empty split(s): {', '.join(empty)}", file=sys.stderr)
    if not config.coe:
        notes.append("No CoE records were given: every row is a plain QA pair.")
    if curated_manifest is None:
        notes.append(
            "The curated folder had no manifest.json (written before curation wrote manifests) and was read "
            "with --legacy-curated: nobody checked that its files belong to one curation run."
        )
    for key, n in split_notes.items():
        notes.append(f"--previous {Path(config.previous).name}: {n:,} {key}.")
    # Written beside the target and renamed into place, so a version is complete or absent.
    staging = target.with_name(f".{config.version}.partial-{os.getpid()}")
    try:
        staging.mkdir(parents=True)
    except OSError as exc:
        raise _fail(f"cannot create {staging}: {exc}") from exc
    try:
        for split, table in tables.items():
            write_split(table, staging / f"{split}.parquet")
        write_schema(config.version, staging / "schema.json", schema)
        data_files = [name for name in RELEASE_FILES if name != "README.md"]
        facts = CardFacts(
            version=config.version,
            rows={split: table.to_pylist() for split, table in tables.items()},  # the rows as written
            sources=_sources(threads, released),
            report=report,
            tally=dict(tally.counts),
            seed=config.seed,
            fractions=fractions,
            include_drafts=config.include_drafts,
            plain_qa=config.plain_qa,
            checksums=checksum_lines(staging, data_files),
            notes=notes,
            agreements=agreements,
            include_source_ids=config.include_source_ids,
            allow_stand_in=config.allow_stand_in,
            previous=Path(config.previous).name if config.previous else None,
            path=target.as_posix(),
        )
        (staging / "README.md").write_text(render_card(facts), encoding="utf-8")
        (staging / CHECKSUMS_FILE).write_text(checksum_lines(staging, RELEASE_FILES), encoding="utf-8")
        write_manifest(staging, "release", _manifest_meta(config, facts, curated_manifest))
        read_back, _ = verify_release(staging, scrub)
        if read_back:
            raise _fail("the written files failed verification:\n" + "\n".join(read_back.lines()))
        staging.rename(target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _fail(f"writing {target} failed: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    print_summary(f"release {config.version}: pairs in, out, left out", tally.counts, file=sys.stdout)
    if report is None:
        print(f"  (no report.json beside {curated_file}: the card says so)", file=sys.stdout)
    for key, examples in tally.examples.items():
        if key.startswith("dropped") or "unusable" in key:
            print(f"  {key}: e.g. {', '.join(examples)}", file=sys.stdout)
    print_summary(f"dataset card {target / 'README.md'}", card_summary(facts), file=sys.stdout)
    print(f"wrote {target} (verify: python -m curation.release verify {target})", file=sys.stdout)
    return target


def verify(path: str) -> int:
    folder = Path(path)
    failures, rows = verify_release(folder, load_scrub())
    if failures:
        print(f"FAILED: {folder}: {failures.total()} problem(s)", file=sys.stderr)
        for line in failures.lines():
            print(line, file=sys.stderr)
        return 1
    counts = ", ".join(f"{split} {n:,}" for split, n in rows.items())
    print(f"OK: {folder}: {counts} rows; schema, checksums, PII, completions, prompts, splits all pass")
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m curation.release",
        description=(
            "Build a versioned Empathy-QA release (train/validation/test Parquet, dataset card, schema.json, "
            "SHA256SUMS) from curation and CoE outputs. To check an existing release: "
            "python -m curation.release verify PATH"
        ),
    )
    add_dataclass_arguments(parser, ReleaseConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "verify":
        parser = argparse.ArgumentParser(
            prog="python -m curation.release verify",
            description="Check a release: files, checksums, schema, PII, completions, prompts, split overlap.",
        )
        parser.add_argument("path", help="a release folder, e.g. datasets/empathy_qa/1.0.0")
        return verify(parser.parse_args(argv[1:]).path)
    if argv and argv[0] == "build":
        argv = argv[1:]
    build(dataclass_from_args(ReleaseConfig, _build_parser().parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
