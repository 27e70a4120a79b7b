"""Read the curated threads and CoE records a release is built from, and turn them into release rows."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from curation.release.ids import QUESTION_ID, release_answer_id, release_question_id, strip_query
from curation.takedown import TakedownError, is_taken_down, load_takedown
from empathyqa.coe import build_prompt, format_completion
from empathyqa.io import read_table
from empathyqa.outputs import IncompleteOutput, Manifest, check_output, read_manifest
from empathyqa.schema import (
    COE_RECORD,
    COE_STATUSES,
    CURATED_THREAD,
    LAYERS,
    RELEASE_SPLITS,
    STAND_IN_MODEL,
    pair_id,
)

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
    table = read_table(path, required, what, error=ReleaseInputError)
    # Extra columns are ignored; missing optional ones read as null.
    return [{name: row.get(name) for name in schema.names} for row in table.to_pylist()]


def check_curated(folder: Path, legacy: bool) -> Manifest | None:
    """The curation manifest after checking the set is whole; None for a legacy folder (with `legacy`)."""
    try:
        return check_output(folder, stage="curation")
    except IncompleteOutput as exc:
        if legacy and read_manifest(folder) is None:
            return None
        hint = (
            " (a folder written before curation wrote manifests: rerun `python -m curation run`, or pass "
            "--legacy-curated to read it unchecked)"
            if read_manifest(folder) is None
            else ""
        )
        raise ReleaseInputError(f"--curated: {exc}{hint}") from exc


def read_curated(
    path: Path, legacy: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, Path, Manifest | None]:
    """(curated threads, the curation report or None, the curated file, its manifest or None)."""
    curated_file = _resolve(path, CURATED_FILE, "--curated")
    manifest = check_curated(curated_file.parent, legacy)
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
    taken_down = takedown_ids(report)
    threads = [t for t in threads if not is_taken_down(t, taken_down)]
    return threads, report, curated_file, manifest


def takedown_ids(report: dict[str, Any] | None) -> frozenset[str]:
    """The ids on the takedown list the curation report names and on $EMPATHYQA_TAKEDOWN, as they are now."""
    try:
        return load_takedown(((report or {}).get("settings") or {}).get("takedown"))
    except TakedownError as exc:
        raise ReleaseInputError(
            f"{exc}; the curation report names it, so the release will not go out without it "
            "(restore the file, or point $EMPATHYQA_TAKEDOWN at it)"
        ) from exc


def read_previous(folder: Path) -> dict[str, str]:
    """Release question id -> split of an earlier version (whose ids may still be the site's)."""
    previous: dict[str, str] = {}
    for split in RELEASE_SPLITS:
        path = folder / f"{split}.parquet"
        if not path.is_file():
            raise ReleaseInputError(f"--previous: {path} not found (expected a release folder)")
        table = read_table(path, ["question_id"], "--previous: release split", error=ReleaseInputError)
        ids = table.column("question_id").to_pylist()
        for qid in ids:
            previous[qid if QUESTION_ID.fullmatch(qid) else release_question_id(qid)] = split
    return previous


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


STAND_IN_NOTE = "离线示例端点"  # what the sample endpoint's replies said before records carried `stand_in`


def is_stand_in(record: dict[str, Any]) -> bool:
    """An unreviewed chain written by the offline sample endpoint (canned or template text), not a model.

    A chain a reviewer accepted or edited is human-verified, whatever drafted it first.
    """
    return record.get("status") == "draft" and bool(
        record.get("stand_in")
        or record.get("endpoint_model") == STAND_IN_MODEL
        or record.get("model") == STAND_IN_MODEL
        or STAND_IN_NOTE in (record.get("raw_reply") or "")
    )


def _coe_model(record: dict[str, Any]) -> str | None:
    """The model the endpoint said drafted the chain (the `--model` asked for on older records)."""
    if is_stand_in(record):
        return STAND_IN_MODEL
    return record.get("endpoint_model") or record.get("model")


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
    allow_stand_in: bool = False,
) -> list[dict[str, Any]]:
    """Release rows (without dup_group; splitting adds it), counting every pair left out and why.

    `id`, `question_id` and `answer_id` are release ids; the site's ids and url ride along as
    `source_question_id`, `source_answer_id` and `url`, which only `--include-source-ids` writes.
    """
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
    stand_ins = sorted(pid for pid in known if pid in chosen and is_stand_in(chosen[pid]))
    if stand_ins and include_drafts and not allow_stand_in:
        raise ReleaseInputError(
            f"--coe: {len(stand_ins)} draft chain(s) come from the offline sample endpoint "
            f"(stand-in text, not an LLM draft), e.g. {', '.join(stand_ins[:3])}. "
            "Pass --allow-stand-in to release them marked as such (demo only), or review them first."
        )

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
            stand_in = chain is not None and is_stand_in(record)
            if stand_in:
                tally.add("stand-in chain (offline sample endpoint)", pid)
            if chain is None and not plain_qa:
                tally.add("dropped: no releasable CoE (--no-plain-qa)", pid)
                continue
            title, question = thread["title"] or "", thread["body"] or ""
            rqid = release_question_id(thread["question_id"])
            raid = release_answer_id(thread["question_id"], aid)
            rows.append(
                {
                    "id": pair_id(rqid, raid),
                    "question_id": rqid,
                    "answer_id": raid,
                    "source_question_id": thread["question_id"],
                    "source_answer_id": aid,
                    "url": strip_query(thread.get("url")),
                    "stand_in": stand_in,
                    "source": thread["source"],
                    "topic": thread.get("topic"),
                    "subtopic": thread.get("subtopic"),
                    "topic_source": thread.get("topic_source"),
                    "title": title,
                    "question": question,
                    "answer": answer["body"],
                    "answer_role": answer.get("author_role"),
                    "likes": answer.get("likes"),
                    "coe": chain[0] if chain else None,
                    "coe_status": status if chain else None,
                    "coe_model": _coe_model(record) if chain else None,
                    "review": _review(record) if chain else None,
                    "prompt": build_prompt(title, question),
                    "completion": chain[1] if chain else None,
                    "risk_flags": _risk_flags(thread, aid),
                    "risk_level": thread.get("risk_level"),
                }
            )
    return rows
