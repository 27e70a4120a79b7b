"""No identifier leaves curation: planted identifiers are searched for in every output and log."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from curation.salt import SALT_FILE_NAME, fingerprint
from empathyqa.synthetic import generate_corpus

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMPATHYQA_")}
    return subprocess.run(
        [sys.executable, "-m", "curation", "run", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**base, **(env or {})},
    )


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def everything_written(out: Path, done: subprocess.CompletedProcess) -> str:
    """Every output as text: Parquet rows as JSON, reports, manifest, stdout and stderr."""
    parts = [done.stdout, done.stderr]
    for path in sorted(out.iterdir()):
        if path.suffix == ".parquet":
            parts.append(json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False, default=str))
        else:
            parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def spellings(value: str) -> set[str]:
    digits = re.sub(r"\D", "", value)
    return {value} | ({digits} if len(digits) >= 7 else set())


def odd_placements() -> tuple[list[dict], list[str]]:
    """Identifiers where no scrubber pattern looks: an id, a tag, a url path, names, a bad record."""
    corpus = generate_corpus(3, seed=11, pii_rate=0.0, repost_rate=0.0, same_id_rate=0.0)
    a, b, c = corpus.threads
    a["source_id"], a["url"] = "13907551234", "https://www.xinli001.com/qa/13907551234?uid=556677"
    a["tags"].append("vx:zhangsan_0755")
    a["answers"][0]["author"]["name"] = "周慧敏 微信 zhouhm_1986"
    b["url"] += "#reply-15800001111"
    b["asker"]["name"] = "小鹿 QQ 2735561908"
    bad = dict(c, answers=[dict(c["answers"][0], author_role="心理咨询师")])  # invalid role: rejected
    bad["answers"][0]["author"] = {"id": "18611112222", "name": "吴思远"}
    bad["body"] += "有事打我电话18977778888。"
    planted = [
        "13907551234", "556677", "zhangsan_0755", "zhouhm_1986", "周慧敏", "15800001111",
        "2735561908", "18611112222", "吴思远", "18977778888",
    ]  # fmt: skip
    return [a, b, bad], planted


def test_planted_identifiers_reach_no_output(tmp_path):
    corpus = generate_corpus(120, seed=7, pii_rate=0.6)
    odd, odd_values = odd_placements()
    assert {fld for _, fld, _, _ in corpus.truth.planted_pii} >= {"tags", "url", "title", "body"}
    write_jsonl(tmp_path / "raw.jsonl", corpus.threads + odd)
    done = cli(str(tmp_path / "raw.jsonl"), "--out", str(tmp_path / "out"), "--demo-salt", "--workers", "1")
    assert done.returncode == 0, done.stderr
    text = everything_written(tmp_path / "out", done)
    planted = {v for _, _, _, v in corpus.truth.planted_pii} | set(odd_values)
    assert len(planted) > 60
    leaked = sorted(s for value in planted for s in spellings(value) if s in text)
    assert leaked == []
    # answer authors' names never leave, not even in the rejects
    authors = {
        a["author"]["name"] for t in corpus.threads for a in t["answers"] if len(a["author"]["name"]) > 2
    }
    assert not [name for name in authors if name in text]
    curated = pq.read_table(tmp_path / "out" / "curated.parquet").to_pylist()
    by_id = {t["question_id"]: t for t in curated}
    rekeyed = [t for t in curated if t["url"] and "xinli001.com/qa/h" in t["url"]]
    assert rekeyed and all(t["source_id"].startswith("h") and len(t["source_id"]) == 17 for t in rekeyed)
    assert all("?" not in t["url"] and "#" not in t["url"] for t in curated)
    phone_answers = [(sid, fld) for sid, fld, _, _ in corpus.truth.planted_pii if fld.endswith("].answer_id")]
    assert phone_answers  # those ids came back re-keyed, each under its own new id
    ids = [a["answer_id"] for t in by_id.values() for a in t["answers"]]
    assert len(ids) == len(set(ids))


def test_rekeyed_ids_are_stable_across_runs_and_unsalted(tmp_path):
    odd, _ = odd_placements()
    write_jsonl(tmp_path / "raw.jsonl", odd)
    first = cli(str(tmp_path / "raw.jsonl"), "--out", str(tmp_path / "a"), "--demo-salt", "--workers", "1")
    second = cli(
        str(tmp_path / "raw.jsonl"), "--out", str(tmp_path / "b"), "--workers", "1",
        env={"EMPATHYQA_SALT": "another-secret"},
    )  # fmt: skip
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    a = pq.read_table(tmp_path / "a" / "curated.parquet").to_pylist()
    b = pq.read_table(tmp_path / "b" / "curated.parquet").to_pylist()
    assert [t["question_id"] for t in a] == [t["question_id"] for t in b]
    assert [x["answer_id"] for t in a for x in t["answers"]] == [
        x["answer_id"] for t in b for x in t["answers"]
    ]
    authors_a = [x["author_id"] for t in a for x in t["answers"]]
    authors_b = [x["author_id"] for t in b for x in t["answers"]]
    assert all(authors_a) and not set(authors_a) & set(authors_b)  # pseudonyms are salted


def test_without_a_salt_one_is_generated_beside_the_output_and_reused(tmp_path):
    odd, _ = odd_placements()
    raw = write_jsonl(tmp_path / "raw.jsonl", odd[:2])
    data = tmp_path / "data"
    first = cli(str(raw), "--out", str(data / "curated"), "--workers", "1")
    assert first.returncode == 0, first.stderr
    salt_file = data / SALT_FILE_NAME
    assert str(salt_file) in first.stderr and "generated" in first.stderr
    assert stat.S_IMODE(salt_file.stat().st_mode) == 0o600
    salt = salt_file.read_text().strip()
    assert len(salt) == 64
    manifest = json.loads((data / "curated" / "manifest.json").read_text())
    assert manifest["meta"]["salt_fingerprint"] == fingerprint(salt)
    assert salt not in everything_written(data / "curated", first)
    before = pq.read_table(data / "curated" / "curated.parquet").column("asker_id").to_pylist()
    again = cli(str(raw), "--out", str(data / "curated"), "--workers", "1")
    assert again.returncode == 0 and f"salt: from {salt_file}" in again.stderr
    assert pq.read_table(data / "curated" / "curated.parquet").column("asker_id").to_pylist() == before
    # another salt into the same folder is refused, and the folder is left as it was
    mixed = cli(str(raw), "--out", str(data / "curated"), "--workers", "1", env={"EMPATHYQA_SALT": "x"})
    assert mixed.returncode == 2 and "another salt" in mixed.stderr and "Traceback" not in mixed.stderr
    assert pq.read_table(data / "curated" / "curated.parquet").column("asker_id").to_pylist() == before


def test_the_salt_is_never_taken_from_argv(tmp_path):
    odd, _ = odd_placements()
    raw = write_jsonl(tmp_path / "raw.jsonl", odd[:1])
    done = cli(str(raw), "--out", str(tmp_path / "out"), "--salt", "s3cret")
    assert done.returncode == 2 and "unrecognized arguments: --salt" in done.stderr
    assert not (tmp_path / "out").exists()
