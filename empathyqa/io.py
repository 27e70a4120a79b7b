"""Reading and writing the files stages exchange: JSON Lines and Parquet."""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

T = TypeVar("T")

# Inside a folder only these are data; a `.json` there is usually a side file (crawl health, stats).
DATA_SUFFIXES = (".jsonl", ".parquet", ".jsonl.gz")


def expand_inputs(paths: list[str | Path]) -> list[Path]:
    """Files named (whatever their suffix), plus the data files inside folders named (sorted)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(DATA_SUFFIXES)))
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"input not found: {path}")
    return found


class TableError(ValueError):
    """A Parquet input that cannot be read or lacks columns a stage needs."""


def read_table(
    path: str | Path,
    required: Iterable[str] = (),
    what: str = "input",
    error: type[Exception] = TableError,
) -> pa.Table:
    """The Parquet file at `path`, checked to hold the `required` columns.

    `what` names the input in the message ("curated set", "release split"); `error` is the exception
    raised (TableError unless the stage has its own input-error type)."""
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError and others for a broken file
        raise error(f"{what} {path} is not a readable Parquet file ({exc})") from exc
    missing = [name for name in required if name not in table.column_names]
    if missing:
        raise error(f"{what} {path} is missing column(s) {', '.join(missing)}")
    return table


def write_parquet_atomic(table: pa.Table, path: str | Path) -> Path:
    """Write to a temporary name and rename, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def write_json_atomic(obj: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_model_json(path: str | Path, build: Callable[[dict], T], what: str) -> T | None:
    """`build(the JSON of path)`, or None when the file is absent; a file that is not such a model stops
    the run with one line naming it."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return build(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError) as exc:
        raise SystemExit(f"{path}: unusable {what}: {exc}") from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield (line number, record or None, error or None); bad lines are reported, never raised.

    A name ending in `.gz` is read through gzip; a file that is not gzip, or is cut short, is one error.
    """
    lineno = 0
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                yield from _jsonl_line(lineno, raw)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        yield lineno + 1, None, f"not a readable gzip file: {exc}"


def _jsonl_line(lineno: int, raw: bytes) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    if not raw.strip():
        return
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield lineno, None, f"not UTF-8 (convert it first, e.g. iconv -f gbk -t utf-8): {exc}"
        return
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        yield lineno, None, f"bad JSON: {exc.msg} at column {exc.colno}"
        return
    if not isinstance(obj, dict):
        yield lineno, None, f"not a JSON object: {type(obj).__name__}"
        return
    yield lineno, obj, None
