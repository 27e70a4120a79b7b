"""`--engine ray` gives the same files as the local engine (a local Ray instance with 2 CPUs)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from _curation_helpers import REPOST_KINDS, raw_thread, repost, write_jsonl

ROOT = Path(__file__).resolve().parents[2]


def corpus(tmp_path: Path) -> Path:
    rng = random.Random(11)
    rows = []
    for i in range(40):
        thread = raw_thread(i, rng)
        rows.append(thread)
        if i % 8 == 0:
            rows += [
                repost(thread, kind, rng, f"{thread['source_id']}-r{k}")
                for k, kind in enumerate(REPOST_KINDS)
            ]
    rows[3]["answers"][0]["body"] = "太短"
    rows[5]["body"] += "电话13812345678"
    rows[7]["answers"][1]["body"] = rows[9]["answers"][0]["body"]
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "a.jsonl", rows[:30])
    lines = [json.dumps(r, ensure_ascii=False) for r in rows[30:]]
    lines.insert(2, lines[0][:50])  # truncated line
    (tmp_path / "in" / "b.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "in" / "c.jsonl").write_bytes("坏".encode("gbk") + b"\n")
    return tmp_path / "in"


@pytest.mark.slow
def test_ray_engine_matches_local_engine(tmp_path):
    pytest.importorskip("ray")
    inputs = corpus(tmp_path)
    env = {**os.environ, "EMPATHYQA_SALT": "ray-test", "RAY_DISABLE_USAGE_STATS": "1"}
    for engine in ("local", "ray"):
        done = subprocess.run(
            [sys.executable, "-m", "curation", "run", str(inputs), "--out", str(tmp_path / engine)]
            + ["--engine", engine, "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=400,
            cwd=ROOT,
            env=env,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    for name in ("curated.parquet", "rejects.parquet"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes(), name
    reports = []
    for engine in ("local", "ray"):
        report = json.loads((tmp_path / engine / "report.json").read_text(encoding="utf-8"))
        report.pop("timing")
        reports.append(report)
    assert reports[0] == reports[1]
    assert reports[0]["counts"]["bad_input"] == 2
    assert reports[0]["duplicates"]["question_clusters"] == 5


def test_missing_ray_is_one_clear_message(tmp_path, monkeypatch):
    from curation import ray_engine

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(SystemExit, match="pip install"):
        ray_engine.require_ray()
