"""empathyqa.outputs: an output folder is the whole old set or the whole new one, and one run at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from empathyqa.outputs import (
    IncompleteOutput,
    OutputBusy,
    atomic_file,
    check_output,
    staged_output,
)

ROOT = Path(__file__).resolve().parents[2]


def write_set(folder: Path, rows: int, note: str) -> None:
    pq.write_table(
        pa.table({"question_id": [f"yixinli:{i}" for i in range(rows)]}), folder / "curated.parquet"
    )
    (folder / "report.json").write_text(json.dumps({"note": note}), encoding="utf-8")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_manifest_lists_rows_and_hashes_and_catches_changes(tmp_path: Path) -> None:
    out = tmp_path / "curated"
    with staged_output(out, stage="curation", meta={"salt_fingerprint": "ab12"}) as staging:
        write_set(staging, 29, "first")
    manifest = check_output(out, stage="curation")
    assert manifest.rows("curated.parquet") == 29
    assert sorted(manifest.files) == ["curated.parquet", "report.json"]
    assert manifest.meta == {"salt_fingerprint": "ab12"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".curated.lock", "curated"]

    with pytest.raises(IncompleteOutput, match="holds 'curation' output, not 'release'"):
        check_output(out, stage="release")
    (out / "report.json").write_text('{"note": "edited by hand"}', encoding="utf-8")
    with pytest.raises(IncompleteOutput, match="report.json changed"):
        check_output(out)
    (out / "report.json").unlink()
    with pytest.raises(IncompleteOutput, match="report.json is listed in the manifest but missing"):
        check_output(out)
    with pytest.raises(IncompleteOutput, match="has no manifest.json"):
        check_output(tmp_path)


def test_a_failed_run_leaves_the_previous_set_untouched(tmp_path: Path) -> None:
    out = tmp_path / "curated"
    with staged_output(out, stage="curation") as staging:
        write_set(staging, 16, "good")
    before = snapshot(out)
    with pytest.raises(ValueError, match="every line is bad"):
        with staged_output(out, stage="curation") as staging:
            write_set(staging, 3, "half written")
            raise ValueError("every line is bad")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".curated.lock", "curated"]


def test_rerun_replaces_the_whole_set(tmp_path: Path) -> None:
    out = tmp_path / "curated"
    with staged_output(out, stage="curation") as staging:
        write_set(staging, 16, "old")
        pq.write_table(pa.table({"reason": ["too_short"]}), staging / "rejects.parquet")
    with staged_output(out, stage="curation") as staging:
        write_set(staging, 29, "new")
    assert sorted(p.name for p in out.iterdir()) == ["curated.parquet", "manifest.json", "report.json"]
    assert check_output(out).rows("curated.parquet") == 29


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from empathyqa.outputs import staged_output
    with staged_output(Path(sys.argv[1]), stage="curation") as staging:
        (staging / "curated.parquet").write_bytes(b"new, not finished")
        print("inside", flush=True)
        time.sleep(60)
    """
)


def start_holder(out: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "inside"
    return proc


def test_a_second_run_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "curated"
    holder = start_holder(out)
    try:
        with pytest.raises(OutputBusy, match=rf"being written by another run \(pid {holder.pid}\)"):
            with staged_output(out, stage="curation"):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_a_kill_midway_keeps_the_old_set_and_the_next_run_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "curated"
    with staged_output(out, stage="curation") as staging:
        write_set(staging, 16, "good")
    before = snapshot(out)
    holder = start_holder(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert snapshot(out) == before
    assert check_output(out).rows("curated.parquet") == 16
    assert len(list(tmp_path.glob(".curated.staging-*"))) == 1  # what the killed run left
    deadline = time.monotonic() + 10
    while True:  # the kernel drops the dead holder's lock at once; retry only to be safe on slow machines
        try:
            with staged_output(out, stage="curation") as staging:
                write_set(staging, 29, "after the kill")
            break
        except OutputBusy:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert list(tmp_path.glob(".curated.staging-*")) == []
    assert check_output(out).rows("curated.parquet") == 29


def test_atomic_file_writes_all_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "good.jsonl"
    target.write_text('{"source_id": "101000001"}\n', encoding="utf-8")
    with pytest.raises(RuntimeError, match="crawl failed"):
        with atomic_file(target) as fh:
            fh.write('{"source_id": "half')
            raise RuntimeError("crawl failed")
    assert target.read_text(encoding="utf-8") == '{"source_id": "101000001"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]
    with atomic_file(target) as fh:
        fh.write('{"source_id": "101000002"}\n')
    assert target.read_text(encoding="utf-8") == '{"source_id": "101000002"}\n'
