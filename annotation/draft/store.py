"""Crash-safe draft store: records appended to JSONL shards as they arrive, compacted to Parquet.

The store doubles as the content-addressed cache: every record carries `cache_key`, a hash of
(prompt version, model, generation parameters, question and answer text). A pair whose key is
already in the store is not requested again, whichever run or shard drafted it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from empathyqa.io import iter_jsonl, write_parquet_atomic
from empathyqa.schema import COE_RECORD, conform, pair_id

FAILURE = pa.schema(
    [
        ("pair_id", pa.string()),
        ("question_id", pa.string()),
        ("answer_id", pa.string()),
        ("reason", pa.string()),
        ("last_error", pa.string()),
        ("model", pa.string()),
        ("prompt_version", pa.string()),
        ("cache_key", pa.string()),
        ("raw_reply", pa.string()),
        ("created_at", pa.string()),
    ]
)
FSYNC_EVERY_S = 0.5


def cache_key(prompt_version: str, model: str, params: dict[str, Any], question: str, answer: str) -> str:
    payload = json.dumps(
        [prompt_version, model, params, question, answer], ensure_ascii=False, sort_keys=True
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _Appender:
    """One JSONL shard: each line flushed at once (survives a killed process), fsynced often."""

    def __init__(self, path: Path):
        self.path = path
        self._fh = None
        self._last_sync = 0.0

    def write(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()
        if time.monotonic() - self._last_sync > FSYNC_EVERY_S:
            os.fsync(self._fh.fileno())
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


class StoreBusy(Exception):
    """Another run holds the output folder."""


class DraftStore:
    """`DIR/coe.parquet` + `DIR/failures.parquet`, with `DIR/parts/*.jsonl` holding what is not compacted yet.

    One run at a time per folder (a lock file): two runs compacting the same shards would lose drafts.
    """

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.out_dir / ".lock", "w")  # noqa: SIM115 - held for the store's life
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock.close()
            raise StoreBusy(
                f"another draft run is writing to {self.out_dir}; wait for it or use another --out"
            ) from exc
        self.parts = self.out_dir / "parts"
        self.records: dict[str, dict[str, Any]] = {}  # pair id -> latest record
        self.by_key: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, dict[str, Any]] = {}
        self.bad_lines = 0
        run = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        self._drafts = _Appender(self.parts / f"drafts-{run}.jsonl")
        self._failed = _Appender(self.parts / f"failures-{run}.jsonl")
        self._load()

    # ------------------------------------------------------------------ reading
    def _load(self) -> None:
        coe = self.out_dir / "coe.parquet"
        if coe.exists():
            for record in pq.read_table(coe).to_pylist():
                self._remember(record)
        failures = self.out_dir / "failures.parquet"
        if failures.exists():
            for failure in pq.read_table(failures).to_pylist():
                self.failures[failure["pair_id"]] = failure
        for path in sorted(self.parts.glob("drafts-*.jsonl")):
            for record in self._read_shard(path):
                self._remember(record)
        for path in sorted(self.parts.glob("failures-*.jsonl")):
            for failure in self._read_shard(path):
                self.failures[failure["pair_id"]] = failure

    def _read_shard(self, path: Path) -> Iterable[dict[str, Any]]:
        for _, record, error in iter_jsonl(path):
            if error:  # a line cut short by a kill: the pair simply gets drafted again
                self.bad_lines += 1
                continue
            yield record

    def _remember(self, record: dict[str, Any]) -> None:
        pid = pair_id(record["question_id"], record["answer_id"])
        self.records[pid] = record
        if record.get("cache_key"):
            self.by_key[record["cache_key"]] = record

    def cached(self, key: str) -> dict[str, Any] | None:
        return self.by_key.get(key)

    # ------------------------------------------------------------------ writing
    def add_draft(self, record: dict[str, Any]) -> None:
        self._drafts.write(record)
        self._remember(record)
        self.failures.pop(pair_id(record["question_id"], record["answer_id"]), None)

    def add_failure(self, failure: dict[str, Any]) -> None:
        self._failed.write(failure)
        self.failures[failure["pair_id"]] = failure

    def compact(self) -> tuple[Path, Path]:
        """Fold the shards into coe.parquet and failures.parquet, then drop the shards."""
        self._drafts.close()
        self._failed.close()
        records = sorted(self.records.values(), key=lambda r: (r["question_id"], r["answer_id"]))
        failures = [f for pid, f in sorted(self.failures.items()) if pid not in self.records]
        coe = write_parquet_atomic(conform(records, COE_RECORD), self.out_dir / "coe.parquet")
        failed = write_parquet_atomic(conform(failures, FAILURE), self.out_dir / "failures.parquet")
        for path in self.parts.glob("*.jsonl"):
            path.unlink()
        if self.parts.exists() and not any(self.parts.iterdir()):
            self.parts.rmdir()
        self._unlock()
        return coe, failed

    def close(self) -> None:
        self._drafts.close()
        self._failed.close()
        self._unlock()

    def _unlock(self) -> None:
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
