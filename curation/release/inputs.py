"""Read the curated threads and CoE records a release is built from, and turn them into release rows."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation.takedown import drop_taken_down
from empathyqa.coe import build_prompt, format_completion
from empathyqa.schema import COE_RECORD, COE_STATUSES, CURATED_THREAD, LAYERS, pair_id

CURATED_FILE = "curated.parquet"
REPORT_FILE = "report.json"
COE_FILE = "coe.parquet"
VERIFIED = ("accepted", "edited", "rejected")


class ReleaseInputError(Exception):
    """Input a release cannot be built from; the message says what and where."""


@dataclass
class Tally:
    """What went in and what came out, for the end-of-run summary and the card."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, key: str, example: str | None = None, n: int = 1) -> None:
        self.counts[key] += n
        if example is not None:
            self.examples.setdefault(key, [])
            if len(self.examples[key]) < 5:
                self.examples[key].append(example)


def _resolve(path: Path, filename: str, what: str) -> Path:
    if path.is_dir():
        path = path / filename
    if not path.is_file():
        raise ReleaseInputError(f"{what}: {path} not found (expected a folder holding {filename})")
    return path


def _read_parquet(path: Path, schema: pa.Schema, required: Iterable[str], what: str) -> list[dict[str, Any]]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReleaseInputError(f"{what}: {path} is not a readable Parquet file ({exc})") from exc
    missing = [name for name in required if name not in table.column_names]
    if missing:
        raise ReleaseInputError(f"{what}: {path} lacks column(s) {', '.join(missing)}")
    # Extra columns are ignored; missing optional ones read as null.
    return [{name: row.get(name) for name in schema.names} for row in table.to_pylist()]


def read_curated(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None, Path]:
    """(curated threads, the curation report or None, the curated file)."""
    curated_file = _resolve(path, CURATED_FILE, "--curated")
    threads = _read_parquet(
        curated_file, CURATED_THREAD, ("question_id", "source", "title", "body", "answers"), "--curated"
    )
    seen: set[str] = set()
    for thread in threads:
        qid = thread["question_id"]
        if not qid:
            raise ReleaseInputError(f"--curated: {curated_file} has a thread without question_id")
        if qid in seen:
            raise ReleaseInputError(f"--curated: {curated_file} holds question {qid} twice")
        seen.add(qid)
    report = read_report(curated_file.parent / REPORT_FILE)
    threads = drop_taken_down(threads, ((report or {}).get("settings") or {}).get("takedown"))
    return threads, report, curated_file


def read_report(path: Path) -> dict[str, Any] | None:
    """The curation report, or None when absent or unreadable (the card then says so)."""
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return report if isinstance(report, dict) else None


AGREEMENT_FILE = "agreement.json"


def read_agreements(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The project agreement figures that review pull writes beside its coe.parquet, where present."""
    found = []
    for path in paths:
        folder = path if path.is_dir() else path.parent
        agreement = read_report(folder / AGREEMENT_FILE)
        if agreement is not None:
            found.append(agreement)
    return found


def read_coe(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """All CoE records, in input order (the order breaks ties between equally recent records)."""
    records: list[dict[str, Any]] = []
    for path in paths:
        coe_file = _resolve(path, COE_FILE, "--coe")
        rows = _read_parquet(coe_file, COE_RECORD, ("question_id", "answer_id", *LAYERS, "status"), "--coe")
        for i, row in enumerate(rows):
            if row["status"] not in COE_STATUSES:
                raise ReleaseInputError(
                    f"--coe: {coe_file} row {i} has status {row['status']!r}; "
                    f"expected one of {', '.join(COE_STATUSES)}"
                )
        records.extend(rows)
    return records


def choose_records(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One record per pair: a verified one over a draft, then the latest (created_at, then input order)."""
    best: dict[str, tuple[tuple[int, str, int], dict[str, Any]]] = {}
    for order, record in enumerate(records):
        key = (int(record["status"] in VERIFIED), record.get("created_at") or "", order)
        pid = pair_id(record["question_id"], record["answer_id"])
        if pid not in best or key > best[pid][0]:
            best[pid] = (key, record)
    return {pid: record for pid, (_, record) in best.items()}


def _risk_flags(thread: dict[str, Any], answer_id: str) -> list[str]:
    flags = set()
    for flag in thread.get("risk_flags") or []:
        where = flag.get("field") or ""
        if where.startswith("answer:") and where != f"answer:{answer_id}":
            continue
        flags.add(f"{flag.get('category') or 'unknown'}:{flag.get('level') or 'unknown'}")
    return sorted(flags)


def _chain(record: dict[str, Any], answer: str) -> tuple[dict[str, str], str] | None:
    layers = {name: (record.get(name) or "").strip() for name in LAYERS}
    if not all(layers.values()):
        return None
    try:
        return layers, format_completion(*layers.values(), answer)
    except ValueError:
        return None


def _review_flags(record: dict[str, Any] | None) -> list[str]:
    return ((record or {}).get("review") or {}).get("flags") or []


def _review(record: dict[str, Any]) -> dict[str, Any] | None:
    review = record.get("review")
    if not review:
        return None
    return {"ratings": review.get("ratings"), "agreement": review.get("agreement")}


def build_rows(
    threads: list[dict[str, Any]],
    records: list[dict[str, Any]],
    *,
    include_drafts: bool,
    plain_qa: bool,
    skip_unknown_coe: bool,
    tally: Tally,
) -> list[dict[str, Any]]:
    """Release rows (without dup_group; splitting adds it), counting every pair left out and why."""
    chosen = choose_records(records)
    tally.add("coe records read", n=len(records))
    known = {
        pair_id(t["question_id"], a["answer_id"])
        for t in threads
        for a in t["answers"] or []
        if a["answer_id"]
    }
    unknown = sorted(set(chosen) - known)
    if unknown and not skip_unknown_coe:
        shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise ReleaseInputError(
            f"--coe: {len(unknown)} CoE record(s) name a (question, answer) pair not in the curated "
            f"threads: {shown}. Were they drafted from another curation run? "
            "Pass --skip-unknown-coe to leave them out."
        )
    for pid in unknown:
        tally.add("coe skipped: pair not in curated", pid)

    rows = []
    for thread in threads:
        tally.add("questions in")
        for answer in thread["answers"] or []:
            tally.add("answers in")
            aid = answer["answer_id"]
            pid = pair_id(thread["question_id"], aid or "")
            if not aid or not (answer.get("body") or "").strip():
                tally.add("dropped: answer without id or text", pid)
                continue
            record = chosen.get(pid)
            status = record["status"] if record else None
            if status == "rejected":
                tally.add("dropped: CoE rejected in review", pid)
                continue
            if "pii_left" in _review_flags(record):
                tally.add("dropped: reviewer flagged PII left in the texts", pid)
                continue
            chain = None
            if status == "draft" and not include_drafts:
                tally.add("draft CoE held back (needs review or --include-drafts)", pid)
            elif record is not None:
                chain = _chain(record, answer["body"])
                if chain is None:
                    tally.add(f"{status} CoE unusable (empty layer or CoE tag in text)", pid)
            if chain is None and not plain_qa:
                tally.add("dropped: no releasable CoE (--no-plain-qa)", pid)
                continue
            title, question = thread["title"] or "", thread["body"] or ""
            rows.append(
                {
                    "id": pid,
                    "question_id": thread["question_id"],
                    "answer_id": aid,
                    "source": thread["source"],
                    "topic": thread.get("topic"),
                    "subtopic": thread.get("subtopic"),
                    "title": title,
                    "question": question,
                    "answer": answer["body"],
                    "answer_role": answer.get("author_role"),
                    "likes": answer.get("likes"),
                    "coe": chain[0] if chain else None,
                    "coe_status": status if chain else None,
                    "review": _review(record) if chain else None,
                    "prompt": build_prompt(title, question),
                    "completion": chain[1] if chain else None,
                    "risk_flags": _risk_flags(thread, aid),
                }
            )
    return rows
