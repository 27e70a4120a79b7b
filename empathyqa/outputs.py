"""Output folders written as one set: staged, checked, swapped into place, and locked while written.

    with staged_output("data/curated", stage="curation", meta={"salt_fingerprint": fp}) as staging:
        write_parquet_atomic(table, staging / "curated.parquet")
        ...
    # here data/curated holds the new set and its manifest.json; on an exception it is untouched

A run holds an exclusive lock beside the folder (`.<name>.lock`): a second run into the same folder
fails at once with `OutputBusy` instead of racing. The new set is written into a staging folder beside
the target, a `manifest.json` (stage, files with bytes, sha256 and Parquet row counts, meta) is added
last, and the staging folder is swapped with the target in one `renameat2(RENAME_EXCHANGE)`, so a kill
at any moment leaves either the whole old set or the whole new one. Readers call `check_output`, which
raises `IncompleteOutput` when a file of the manifest is missing or changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import pyarrow.parquet as pq

MANIFEST = "manifest.json"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class OutputBusy(RuntimeError):
    """Another run holds the output folder's lock."""


class IncompleteOutput(RuntimeError):
    """An output folder whose manifest is missing or does not match its files."""


@dataclass(frozen=True)
class Manifest:
    stage: str
    files: dict[str, dict[str, Any]]
    meta: dict[str, Any]
    created_at: str

    def rows(self, name: str) -> int | None:
        return self.files.get(name, {}).get("rows")


def _sibling(path: Path, tag: str) -> Path:
    return path.parent / f".{path.name}.{tag}"


@contextmanager
def folder_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on an output folder (or file) for the block; OutputBusy if taken."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = _sibling(path, "lock")
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise OutputBusy(
                f"{path} is being written by another run (pid {holder}); wait for it or choose another folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(path: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    if path.suffix == ".parquet":
        entry["rows"] = pq.ParquetFile(path).metadata.num_rows
    return entry


def write_manifest(folder: Path, stage: str, meta: Mapping[str, Any] | None = None) -> Manifest:
    files = {
        p.relative_to(folder).as_posix(): _describe(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    manifest = Manifest(
        stage, files, dict(meta or {}), datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    body = {"stage": stage, "created_at": manifest.created_at, "meta": manifest.meta, "files": files}
    with atomic_file(folder / MANIFEST) as fh:
        fh.write(json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(folder: str | Path) -> Manifest | None:
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return Manifest(body["stage"], body["files"], body.get("meta", {}), body.get("created_at", ""))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise IncompleteOutput(f"{path} is not a valid manifest: {exc}") from exc


def check_output(folder: str | Path, stage: str | None = None, *, hashes: bool = True) -> Manifest:
    """The folder's manifest, after checking every listed file is there unchanged (IncompleteOutput if not)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise IncompleteOutput(
            f"{folder} has no {MANIFEST}: it is not a complete output set (rerun the stage that writes it)"
        )
    if stage is not None and manifest.stage != stage:
        raise IncompleteOutput(f"{folder} holds {manifest.stage!r} output, not {stage!r}")
    for name, entry in manifest.files.items():
        path = folder / name
        if not path.is_file():
            raise IncompleteOutput(f"{folder}: {name} is listed in the manifest but missing")
        if path.stat().st_size != entry["bytes"] or (hashes and sha256_file(path) != entry["sha256"]):
            raise IncompleteOutput(f"{folder}: {name} changed after the run that wrote it")
    return manifest


@contextmanager
def atomic_file(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write one file under a temporary name and rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    kwargs = {"encoding": encoding} if "b" not in mode else {}
    try:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    if not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is not a folder")
    if _exchange(staging, target):
        shutil.rmtree(staging)  # now holds the old set
        return
    # without an atomic exchange: a kill between the two renames leaves the old set at `.old`
    old = _sibling(target, "old")
    shutil.rmtree(old, ignore_errors=True)
    os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _recover(target: Path) -> None:
    """Undo what a killed run left beside the target: stale staging folders, an old set mid-swap."""
    for stale in target.parent.glob(f".{target.name}.staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    old = _sibling(target, "old")
    if old.exists():
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(old, target)


@contextmanager
def staged_output(out_dir: str | Path, stage: str, meta: Mapping[str, Any] | None = None) -> Iterator[Path]:
    """Lock `out_dir`, yield an empty staging folder, and on success swap it in with its manifest.

    `meta` may be changed by the block (it is read when the block ends), e.g. to add counts.
    """
    target = Path(out_dir)
    with folder_lock(target):
        _recover(target)
        staging = _sibling(target, f"staging-{os.getpid()}")
        staging.mkdir(parents=True)
        try:
            yield staging
            write_manifest(staging, stage, meta)
            _swap_into_place(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
