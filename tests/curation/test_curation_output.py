"""The output folder is written whole or not at all; input is read properly or refused in one line."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from curation.release.inputs import read_curated
from empathyqa.outputs import check_output, folder_lock, sha256_file
from empathyqa.synthetic import generate_corpus

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMPATHYQA_")}
    return subprocess.run(
        [sys.executable, "-m", "curation", "run", *args, "--demo-salt", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**base, **(env or {})},
    )


def threads(n: int = 12, seed: int = 3) -> list[dict]:
    return generate_corpus(n, seed=seed, repost_rate=0.0, same_id_rate=0.0, pii_rate=0.0).threads


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir())}


def good_run(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    raw = tmp_path / "good.jsonl"
    raw.write_text(jsonl(threads()), encoding="utf-8")
    out = tmp_path / "out"
    done = cli(str(raw), "--out", str(out))
    assert done.returncode == 0, done.stderr
    manifest = check_output(out, stage="curation")
    assert manifest.rows("curated.parquet") == pq.ParquetFile(out / "curated.parquet").metadata.num_rows
    return out, snapshot(out)


def test_failed_runs_leave_a_good_output_untouched(tmp_path):
    out, before = good_run(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": "yixinli"\n这不是JSON\n[1, 2]\n', encoding="utf-8")
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes(jsonl(threads(2)).encode("gbk"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    for path, says in ((bad, "3 bad record(s)"), (gbk, "not UTF-8"), (empty, "all empty")):
        done = cli(str(path), "--out", str(out))
        assert done.returncode == 2, done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and says in errors[0] and "left as it was" in errors[0]
        assert "Traceback" not in done.stderr
        assert snapshot(out) == before
    check_output(out, stage="curation")


def test_a_second_run_into_a_busy_folder_fails_in_one_line(tmp_path):
    out, before = good_run(tmp_path)
    with folder_lock(out):  # as a run in progress holds it
        done = cli(str(tmp_path / "good.jsonl"), "--out", str(out))
    assert done.returncode == 3
    assert done.stderr.strip().splitlines()[-1].startswith("error: ") and "another run" in done.stderr
    assert snapshot(out) == before


KILL_BETWEEN_WRITES = """
import os, signal, sys
import pyarrow.parquet as pq
real = pq.write_table
def write_then_die(table, where, *a, **k):
    real(table, where, *a, **k)
    os.kill(os.getpid(), signal.SIGKILL)  # after curated.parquet, before rejects and reports
pq.write_table = write_then_die
from curation.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_kill_between_writes_leaves_the_old_set_whole(tmp_path):
    out, before = good_run(tmp_path)
    other = tmp_path / "other.jsonl"
    other.write_text(jsonl(threads(5, seed=9)), encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMPATHYQA_")}
    killed = subprocess.run(
        [sys.executable, "-c", KILL_BETWEEN_WRITES, "run", str(other), "--out", str(out), "--demo-salt"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=base,
    )  # fmt: skip
    assert killed.returncode == -9
    assert snapshot(out) == before
    check_output(out, stage="curation")
    threads_before = pq.read_table(out / "curated.parquet").num_rows
    assert read_curated(out)[0] and len(read_curated(out)[0]) == threads_before
    # the next run cleans up what the killed one left and swaps in a whole new set
    done = cli(str(other), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert check_output(out, stage="curation").rows("curated.parquet") <= 5
    assert not [p for p in tmp_path.iterdir() if ".staging-" in p.name]


def test_json_array_single_object_and_gzip_inputs_are_read(tmp_path):
    rows = threads(6)
    (tmp_path / "array.json").write_text(json.dumps(rows[:2], ensure_ascii=False, indent=2), encoding="utf-8")
    (tmp_path / "one.json").write_text(json.dumps(rows[2], ensure_ascii=False, indent=2), encoding="utf-8")
    with gzip.open(tmp_path / "more.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(jsonl(rows[3:]))
    paths = [str(tmp_path / n) for n in ("array.json", "one.json", "more.jsonl.gz")]
    done = cli(*paths, "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["threads_read"] == 6 and report["counts"]["bad_input"] == 0


def test_a_broken_gzip_or_json_file_is_one_clear_line(tmp_path):
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(jsonl(threads(3)).encode())[:-40])
    (tmp_path / "broken.json").write_text('[{"source": "yixinli", ', encoding="utf-8")
    (tmp_path / "good.jsonl").write_text(jsonl(threads(2)), encoding="utf-8")
    done = cli(
        *(str(tmp_path / n) for n in ("cut.jsonl.gz", "broken.json", "good.jsonl")),
        "--out",
        str(tmp_path / "o"),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text(encoding="utf-8"))
    errors = {b["where"].rsplit("/", 1)[-1].split(":")[0]: b["error"] for b in report["bad_input"]}
    assert "not a readable gzip file" in errors["cut.jsonl.gz"]
    assert errors["broken.json"].startswith("bad JSON")
    assert report["counts"]["threads_read"] >= 2


def test_takedown_list_is_honoured_by_curation_and_release(tmp_path):
    rows = threads(6)
    (tmp_path / "raw.jsonl").write_text(jsonl(rows), encoding="utf-8")
    gone = [f"yixinli:{rows[1]['source_id']}", f"yixinli:{rows[4]['source_id']}"]
    takedown = tmp_path / "takedown.txt"
    takedown.write_text(
        f"# asked by the poster, 2024-06-01\n{gone[0]}\n\n{gone[1]}  # legal\n", encoding="utf-8"
    )
    done = cli(str(tmp_path / "raw.jsonl"), "--out", str(tmp_path / "out"), "--takedown", str(takedown))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "Taken down (takedown list) 2" in text
    everything = json.dumps(
        pq.read_table(out / "curated.parquet").to_pylist()
        + pq.read_table(out / "rejects.parquet").to_pylist(),
        ensure_ascii=False,
        default=str,
    )
    for qid in gone:
        assert qid.split(":")[1] not in everything
    assert rows[1]["body"][:30] not in everything
    # a later takedown: the release leaves it out too
    curated = read_curated(out)[0]
    late = curated[0]["question_id"]
    takedown.write_text(takedown.read_text(encoding="utf-8") + late + "\n", encoding="utf-8")
    assert late not in {t["question_id"] for t in read_curated(out)[0]}
    assert len(read_curated(out)[0]) == len(curated) - 1
