"""Raw threads in: JSON Lines, JSON arrays and Parquet; bad input reported by file and line, never fatal."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from curation.pipeline import Record, reject_row
from empathyqa.io import iter_jsonl
from empathyqa.schema import question_id, validate_raw_thread


@dataclass
class BadInput:
    where: str
    error: str


@dataclass
class ReadStats:
    files: int = 0
    rows: int = 0
    bad: list[BadInput] = field(default_factory=list)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        yield from _parquet_rows(path)
    elif name.endswith((".json", ".json.gz")):
        yield from _json_rows(path)
    else:  # .jsonl, .jsonl.gz, .ndjson, or any file named on the command line
        yield from iter_jsonl(path)


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable Parquet is reported, not raised
        yield 0, None, f"unreadable Parquet: {exc}"
        return
    row = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for obj in batch.to_pylist():
            row += 1
            yield row, obj, None


def _json_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """A `.json` file: an array of threads, one thread, or (misnamed) JSON Lines."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        yield 1, None, f"unreadable file: {exc}"
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield 1, None, f"not UTF-8 (convert it first, e.g. iconv -f gbk -t utf-8): {exc}"
        return
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        first = text.lstrip()[:1]
        if first == "{" and "\n" in text.strip():
            yield from iter_jsonl(path)  # JSON Lines under a .json name
            return
        yield exc.lineno, None, f"bad JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        return
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        yield 1, None, f"not a JSON array or object: {type(items).__name__}"
        return
    for i, obj in enumerate(items, 1):
        yield (i, obj, None) if isinstance(obj, dict) else (i, None, "not a JSON object")


def _redacted(obj: Any) -> str:
    """A bad record as JSON for the rejects, names dropped (curation.run scrubs the rest with the salt)."""
    if isinstance(obj, dict):
        asker = obj.get("asker")
        obj = {k: v for k, v in obj.items() if k != "asker"}
        if isinstance(asker, dict):
            obj["asker"] = {k: v for k, v in asker.items() if k in ("id", "anonymous")}
        answers = obj.get("answers")
        if isinstance(answers, list):
            obj["answers"] = [
                {k: v for k, v in a.items() if k != "author"} | _author_id(a) if isinstance(a, dict) else a
                for a in answers
            ]
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)


def _author_id(answer: dict[str, Any]) -> dict[str, Any]:
    author = answer.get("author")
    return {"author": {"id": author.get("id")}} if isinstance(author, dict) else {}


def to_working(raw: dict[str, Any], order: int) -> Record:
    """The raw thread as the steps expect it: names dropped; ids hashed later by the PII step."""
    asker = raw.get("asker") or {}
    answers = []
    for answer in raw.get("answers") or []:
        author = answer.get("author") or {}
        answers.append(
            {
                "answer_id": str(answer["answer_id"]),
                "body": answer.get("body") or "",
                "author_id": author.get("id"),
                "author_role": answer.get("author_role") or "unknown",
                "likes": answer.get("likes"),
                "comment_count": answer.get("comment_count"),
                "answered_at": answer.get("answered_at"),
            }
        )
    return {
        "question_id": question_id(raw["source"], raw["source_id"]),
        "source": raw["source"],
        "source_id": raw["source_id"],
        "url": raw["url"],
        "title": raw.get("title") or "",
        "body": raw.get("body") or "",
        "tags": [str(t) for t in (raw.get("tags") or [])],
        "asker_id": asker.get("id"),
        "asker_anonymous": bool(asker.get("anonymous", False)),
        "asked_at": raw.get("asked_at"),
        "view_count": raw.get("view_count"),
        "answer_count": raw.get("answer_count"),
        "answers": answers,
        "crawled_at": raw.get("crawled_at"),
        "_order": order,
    }


def input_order(file_index: int, line: int) -> int:
    """A record's place in the input (file, then line): the same under any engine."""
    return (file_index << 32) | line


def read_file(
    path: Path, where_name: str, file_index: int
) -> Iterator[tuple[Record | None, BadInput | None, Record | None]]:
    """(working record, None, None) per good row; (None, bad input, reject row) per bad one."""
    for line, obj, error in _rows(path):
        where = f"{where_name}:{line}"
        if error is None and obj is not None:
            problems = validate_raw_thread(obj)
            if problems:
                error = "invalid record: " + "; ".join(problems)
        if error is not None:
            qid = None
            if (
                isinstance(obj, dict)
                and isinstance(obj.get("source"), str)
                and isinstance(obj.get("source_id"), str)
            ):
                qid = question_id(obj["source"], obj["source_id"])
            reject = reject_row(qid, None, "input", error.split(":")[0], f"{where}: {error}", None)
            reject["record"] = None if obj is None else _redacted(obj)
            yield None, BadInput(where, error), reject
            continue
        yield to_working(obj, input_order(file_index, line)), None, None


def read_threads(paths: list[Path], stats: ReadStats, rejects: list[Record]) -> Iterator[Record]:
    for file_index, path in enumerate(paths):
        stats.files += 1
        for record, bad, reject in read_file(path, str(path), file_index):
            if record is None:
                stats.bad.append(bad)
                rejects.append(reject)
                continue
            stats.rows += 1
            yield record
