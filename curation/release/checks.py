"""The checks a release must pass, run on write (before the version appears) and by `verify`.

Schema, PII (curation.pii over the Parquet text columns: the card is prose, and quotes crisis
hotline numbers on purpose), completions that parse back, prompts as training builds them,
no question or near-duplicate group in two splits, release ids in place of the site's ids (the site's
ids and urls only where the manifest says `include_source_ids`), checksums and the manifest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation.release.ids import ANSWER_ID, QUESTION_ID, SOURCE_COLUMNS, release_schema
from empathyqa.coe import build_prompt, parse_completion
from empathyqa.outputs import IncompleteOutput, check_output, read_manifest, sha256_file
from empathyqa.schema import LAYERS, RELEASE_SPLITS, pair_id

TEXT_COLUMNS = ("title", "question", "answer", "prompt", "completion")
COE_STATUSES_RELEASED = ("accepted", "edited", "draft")
REQUIRED = ("id", "question_id", "answer_id", "source", "question", "answer", "prompt")
CHECKSUMS_FILE = "SHA256SUMS"
RELEASE_FILES = tuple(f"{split}.parquet" for split in RELEASE_SPLITS) + ("README.md", "schema.json")
MAX_SHOWN = 10  # failures listed per check; the rest are counted

Scrub = Callable[[str], Any]


def load_scrub() -> Scrub | None:
    try:
        from curation.pii import scrub
    except ImportError:
        return None
    return scrub


class PiiScanner:
    """PII kinds found in a text, remembered per text: a question repeats once per answer."""

    def __init__(self, scrub: Scrub) -> None:
        self.scrub = scrub
        self.seen: dict[str, tuple[str, ...]] = {}

    def kinds(self, text: str) -> tuple[str, ...]:
        if text not in self.seen:
            self.seen[text] = tuple(sorted({_hit_kind(hit) for hit in self.scrub(text).found}))
        return self.seen[text]


def _hit_kind(hit: Any) -> str:
    kind = hit.get("kind") if isinstance(hit, dict) else getattr(hit, "kind", None)
    return str(kind or "pii")


def text_fields(row: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for column in TEXT_COLUMNS:
        if row.get(column):
            yield column, row[column]
    for layer in LAYERS:
        text = (row.get("coe") or {}).get(layer)
        if text:
            yield f"coe.{layer}", text


class Failures:
    """Failures grouped by check, each list capped so a broken release gives a readable report."""

    def __init__(self) -> None:
        self.by_check: dict[str, list[str]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, check: str, detail: str) -> None:
        self.counts[check] += 1
        if len(self.by_check[check]) < MAX_SHOWN:
            self.by_check[check].append(detail)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def total(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        out = []
        for check, details in self.by_check.items():
            out.append(f"{check}: {self.counts[check]} failure(s)")
            out.extend(f"  - {d}" for d in details)
            hidden = self.counts[check] - len(details)
            if hidden:
                out.append(f"  … and {hidden} more")
        return out


def _check_ids(where: str, row: dict[str, Any], failures: Failures) -> None:
    for name, pattern in (("question_id", QUESTION_ID), ("answer_id", ANSWER_ID), ("dup_group", QUESTION_ID)):
        value = row.get(name)
        if value and not pattern.fullmatch(value):
            # the value itself is not shown: it may be the site's id
            failures.add("source id", f"{where}: {name} is not a release id ({pattern.pattern})")


def _check_row(split: str, row: dict[str, Any], failures: Failures, scanner: PiiScanner | None) -> None:
    rid = row.get("id") or "<no id>"
    where = f"{split} {rid}"
    for name in REQUIRED:
        if not row.get(name):
            failures.add("required field empty", f"{where}: {name}")
    _check_ids(where, row, failures)
    if (
        row.get("question_id")
        and row.get("answer_id")
        and rid != pair_id(row["question_id"], row["answer_id"])
    ):
        failures.add("id", f"{where}: id is not question_id/answer_id")
    if row.get("prompt") != build_prompt(row.get("title") or "", row.get("question") or ""):
        failures.add("prompt", f"{where}: prompt differs from build_prompt(title, question)")

    status, coe, completion = row.get("coe_status"), row.get("coe"), row.get("completion")
    if (coe is None) != (completion is None) or (coe is None) != (status is None):
        failures.add("coe", f"{where}: coe, coe_status and completion must be all set or all null")
    if status is not None and status not in COE_STATUSES_RELEASED:
        failures.add("coe", f"{where}: coe_status {status!r} is never released")
    if completion is not None:
        parsed = parse_completion(completion)
        if parsed is None:
            failures.add("completion", f"{where}: does not parse into <L1>..<L4> and <answer>")
        elif coe is not None:
            layers_match = all(getattr(parsed, layer) == (coe.get(layer) or "").strip() for layer in LAYERS)
            if not layers_match or parsed.answer != (row.get("answer") or "").strip():
                failures.add("completion", f"{where}: parsed layers or answer differ from coe / answer")

    if scanner is not None:
        for column, text in text_fields(row):
            kinds = scanner.kinds(text)
            if kinds:
                failures.add("pii", f"{where}: {column} holds {', '.join(kinds)}")


def check_tables(
    tables: dict[str, pa.Table],
    scrub: Scrub | None,
    scan_pii: bool = True,
    include_source_ids: bool = False,
) -> Failures:
    """Every check that needs only the rows; `scrub` None records that PII could not be checked."""
    failures = Failures()
    schema = release_schema(include_source_ids)
    scanner = PiiScanner(scrub) if scrub is not None and scan_pii else None
    if scrub is None and scan_pii:
        failures.add("pii", "curation.pii is not importable, so no PII check could run")
    seen_ids: set[str] = set()
    split_of_question: dict[str, str] = {}
    split_of_group: dict[str, str] = {}
    reported: set[tuple[str, str, str]] = set()
    for split, table in tables.items():
        if table.schema.remove_metadata() != schema:
            leaked = [n for n in SOURCE_COLUMNS.names if n in table.column_names and not include_source_ids]
            if leaked:
                failures.add(
                    "source id",
                    f"{split}: column(s) {', '.join(leaked)} present, but the manifest does not say "
                    "include_source_ids",
                )
            failures.add("schema", f"{split}: columns/types differ from the release schema")
            continue
        for row in table.to_pylist():
            rid = row["id"]
            if rid in seen_ids:
                failures.add("duplicate id", f"{split} {rid}")
            seen_ids.add(rid)
            for key, owner, label in (
                (row["question_id"], split_of_question, "question"),
                (row["dup_group"], split_of_group, "near-duplicate group"),
            ):
                if key is None:
                    continue
                first = owner.setdefault(key, split)
                if first != split and (label, key, split) not in reported:
                    reported.add((label, key, split))
                    failures.add("split overlap", f"{label} {key} is in {first} and {split}")
            _check_row(split, row, failures, scanner)
    return failures


def checksum_lines(folder: Path, names: Iterable[str]) -> str:
    return "".join(f"{sha256_file(folder / name)}  {name}\n" for name in names)


def _check_checksums(folder: Path, failures: Failures) -> None:
    sums = folder / CHECKSUMS_FILE
    if not sums.is_file():
        failures.add("files", f"{CHECKSUMS_FILE} missing")
        return
    listed = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        listed[name.strip()] = digest.strip()
    for name in RELEASE_FILES:
        if name not in listed:
            failures.add("checksum", f"{name} not listed in {CHECKSUMS_FILE}")
        elif (folder / name).is_file() and sha256_file(folder / name) != listed[name]:
            failures.add("checksum", f"{name} does not match its SHA-256 in {CHECKSUMS_FILE}")


def read_release(folder: Path, failures: Failures) -> dict[str, pa.Table]:
    tables = {}
    for split in RELEASE_SPLITS:
        path = folder / f"{split}.parquet"
        if not path.is_file():
            failures.add("files", f"{path.name} missing")
            continue
        try:
            tables[split] = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            failures.add("files", f"{path.name} is not readable Parquet: {exc}")
    return tables


def verify_release(folder: Path, scrub: Scrub | None) -> tuple[Failures, dict[str, int]]:
    """(failures, rows per split) for a release folder."""
    failures = Failures()
    if not folder.is_dir():
        failures.add("files", f"{folder} is not a folder")
        return failures, {}
    for name in ("README.md", "schema.json"):
        if not (folder / name).is_file():
            failures.add("files", f"{name} missing")
    _check_checksums(folder, failures)
    include_source_ids = False
    try:
        manifest = read_manifest(folder)
        if manifest is None:
            failures.add("manifest", "manifest.json missing: the folder is not a complete release")
        else:
            include_source_ids = manifest.meta.get("include_source_ids") is True
            check_output(folder, stage="release")
    except IncompleteOutput as exc:
        failures.add("manifest", str(exc))
    tables = read_release(folder, failures)
    row_failures = check_tables(tables, scrub, include_source_ids=include_source_ids)
    for check, details in row_failures.by_check.items():
        failures.by_check[check].extend(details)
        failures.counts[check] += row_failures.counts[check]
    return failures, {split: table.num_rows for split, table in tables.items()}
