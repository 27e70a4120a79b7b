"""Reading and writing the files stages exchange: JSON Lines and Parquet."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

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


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield (line number, record or None, error or None); bad lines are reported, never raised."""
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield lineno, None, f"not UTF-8: {exc}"
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield lineno, None, f"bad JSON: {exc.msg} at column {exc.colno}"
                continue
            if not isinstance(obj, dict):
                yield lineno, None, f"not a JSON object: {type(obj).__name__}"
                continue
            yield lineno, obj, None
