"""Release ids, versions, input sets and the card's figures, on realistic synthetic threads."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _release_helpers import (
    all_rows,
    build_args,
    coe_record,
    pid,
    read_rows,
    rid,
    run_cli,
    synthetic_curated,
    write_inputs,
)

from curation.release.build import main
from curation.release.card import length_stats
from curation.release.ids import RELEASE_ROW_WITH_SOURCE_IDS
from empathyqa.outputs import check_output, read_manifest, write_manifest
from empathyqa.schema import STAND_IN_MODEL
from empathyqa.synthetic import coe_layers

SPLITS = ("train", "validation", "test")


def _build(tmp: Path, threads: list[dict], version: str, *extra: str, **inputs) -> Path:
    paths = write_inputs(tmp / f"in-{version}", threads=threads, drafts=inputs.pop("drafts", []), **inputs)
    assert main(build_args(paths, tmp / "out", version, "--split", "0.9,0.05,0.05", *extra)) == 0
    return tmp / "out" / version


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return synthetic_curated(600, seed=7)


@pytest.fixture(scope="module")
def default_release(corpus, tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("rel"), corpus, "1.0.0", reviews=[])


# --------------------------------------------------------------------------- ids
def test_no_site_id_or_url_anywhere_in_a_default_release(corpus, default_release):
    planted = {t["question_id"] for t in corpus} | {t["url"] for t in corpus}
    planted |= {t["source_id"] for t in corpus} | {a["answer_id"] for t in corpus for a in t["answers"]}
    assert pq.read_schema(default_release / "train.parquet").names[-1] == "coe_model"
    cells = set()
    for rows in read_rows(default_release).values():
        for row in rows:
            cells |= {v for v in row.values() if isinstance(v, str)}
    assert not cells & planted
    texts = "\n".join(
        (default_release / n).read_text(encoding="utf-8") for n in ("README.md", "manifest.json")
    )
    assert not [p for p in planted if p in texts]
    assert "carries **no site ids and no urls**" in texts


def test_include_source_ids_adds_them_and_says_so(corpus, tmp_path):
    release = _build(tmp_path, corpus[:80], "1.1.0", "--include-source-ids", reviews=[])
    rows = all_rows(release)
    first = corpus[0]
    row = rows[pid(first["question_id"], first["answers"][0]["answer_id"])]
    assert (row["source_question_id"], row["source_answer_id"]) == (
        first["question_id"],
        first["answers"][0]["answer_id"],
    )
    assert row["url"] == first["url"] and row["question_id"] == rid(first["question_id"])
    assert read_manifest(release).meta["include_source_ids"] is True
    assert "**This release includes the sites' question and answer ids" in (release / "README.md").read_text(
        encoding="utf-8"
    )
    assert run_cli("verify", str(release)).returncode == 0


def test_verify_refuses_site_ids_the_manifest_does_not_declare(default_release, tmp_path):
    import shutil

    copy = tmp_path / "1.0.0"
    shutil.copytree(default_release, copy)
    rows = read_rows(copy)["train"]
    for row in rows:
        row.update(source_question_id="yixinli:100653172", source_answer_id="5621459", url="https://x/qa/1")
    pq.write_table(pa.Table.from_pylist(rows, schema=RELEASE_ROW_WITH_SOURCE_IDS), copy / "train.parquet")
    write_manifest(copy, "release", read_manifest(copy).meta)
    result = run_cli("verify", str(copy))
    assert result.returncode == 1
    assert "source_question_id, source_answer_id, url present" in result.stderr
    # A site id put back into question_id is caught too, without echoing it.
    rows = read_rows(default_release)["test"]
    rows[0]["question_id"] = "yixinli:100653172"
    pq.write_table(
        pa.Table.from_pylist(rows, schema=pq.read_schema(default_release / "test.parquet")),
        copy / "test.parquet",
    )
    write_manifest(copy, "release", read_manifest(copy).meta)
    result = run_cli("verify", str(copy))
    assert "question_id is not a release id" in result.stderr and "100653172" not in result.stderr


# --------------------------------------------------------------------------- versions
def _splits(release: Path) -> dict[str, str]:
    return {r["question_id"]: s for s, rows in read_rows(release).items() for r in rows}


def test_every_question_keeps_its_split_in_a_later_version(corpus, tmp_path):
    # Version A is an earlier crawl: the posts asked before a cut-off, where the most reposts are still
    # to come; B adds them to groups that A already had.
    spans = {}
    for t in corpus:
        if t["dup_cluster"]:
            low, high = spans.get(t["dup_cluster"], (t["asked_at"], t["asked_at"]))
            spans[t["dup_cluster"]] = (min(low, t["asked_at"]), max(high, t["asked_at"]))
    times = sorted(t["asked_at"] for t in corpus)[len(corpus) // 3 : 2 * len(corpus) // 3]
    cutoff = max(times, key=lambda c: sum(low < c <= high for low, high in spans.values()))
    first = [t for t in corpus if t["asked_at"] < cutoff]
    assert sum(low < cutoff <= high for low, high in spans.values()) >= 2
    split_a = _splits(_build(tmp_path, first, "1.0.0", reviews=[]))
    split_b = _splits(_build(tmp_path, corpus, "1.1.0", reviews=[]))
    assert len(split_a) > 150 and len(split_b) > len(split_a) + 100
    assert {q: (s, split_b.get(q)) for q, s in split_a.items() if split_b.get(q) != s} == {}


def test_previous_pins_a_backfilled_crawl_and_other_shares(corpus, tmp_path):
    # A crawl that later finds older posts (every other id first) can re-key a repost group;
    # --previous keeps A's questions in place, even under other shares.
    first = [t for t in corpus if int(t["source_id"]) % 2 == 0]
    a = _build(tmp_path, first, "1.0.0", reviews=[])
    split_a = _splits(a)
    c = _build(tmp_path, corpus, "1.2.0", "--previous", str(a), "--split", "0.5,0.25,0.25", reviews=[])
    split_c = _splits(c)
    assert {q: split_c[q] for q in split_a} == split_a
    assert sum(s == "test" for s in split_c.values()) > sum(s == "test" for s in split_a.values()) + 40
    assert "--previous 1.0.0:" in (c / "README.md").read_text(encoding="utf-8")


def test_previous_curated_with_another_salt_is_refused_unless_accepted(corpus, tmp_path, capsys):
    a = _build(tmp_path, corpus[:200], "1.0.0", reviews=[])
    paths = write_inputs(
        tmp_path / "in-1.1.0", threads=corpus, drafts=[], reviews=[], salt_fingerprint="0f0f"
    )
    args = build_args(paths, tmp_path / "out", "1.1.0", "--split", "0.9,0.05,0.05", "--previous", str(a))
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert "was curated with another salt (fingerprint test, this curated data's is 0f0f)" in str(stop.value)
    assert not (tmp_path / "out" / "1.1.0").exists()
    assert main([*args, "--new-salt"]) == 0
    assert read_manifest(tmp_path / "out" / "1.1.0").meta["curated"]["meta"]["salt_fingerprint"] == "0f0f"


def test_reposts_stay_together(corpus, default_release):
    groups: dict[str, set[str]] = {}
    for split, rows in read_rows(default_release).items():
        for row in rows:
            groups.setdefault(row["dup_group"], set()).add(split)
    assert all(len(s) == 1 for s in groups.values())
    clusters = {t["dup_cluster"] for t in corpus if t["dup_cluster"]}
    assert len(clusters) >= 10


# --------------------------------------------------------------------------- input sets
def test_curated_folder_without_manifest_is_refused_unless_legacy(corpus, tmp_path):
    paths = write_inputs(tmp_path / "in", threads=corpus[:40], drafts=[], reviews=[], manifest=False)
    result = run_cli(*build_args(paths, tmp_path / "out"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "has no manifest.json" in result.stderr and "--legacy-curated" in result.stderr
    assert not (tmp_path / "out" / "1.0.0").exists()
    result = run_cli(*build_args(paths, tmp_path / "out"), "--legacy-curated")
    assert result.returncode == 0, result.stderr
    assert "read unchecked (--legacy-curated)" in result.stderr
    assert "was read with --legacy-curated" in (tmp_path / "out" / "1.0.0" / "README.md").read_text(
        encoding="utf-8"
    )


def test_curated_set_from_two_runs_is_refused(corpus, tmp_path):
    paths = write_inputs(tmp_path / "in", threads=corpus[:40], drafts=[], reviews=[])
    # A later run's curated.parquet beside the first run's manifest and report: the mixed set of the issue.
    write_inputs(tmp_path / "other", threads=corpus[40:45], drafts=[], reviews=[])
    (paths["curated"] / "curated.parquet").write_bytes(
        (tmp_path / "other" / "curated" / "curated.parquet").read_bytes()
    )
    result = run_cli(*build_args(paths, tmp_path / "out"))
    assert result.returncode != 0 and "curated.parquet changed after the run that wrote it" in result.stderr


def test_manifest_counts_the_rows_written(default_release):
    manifest = check_output(default_release, stage="release")
    rows = read_rows(default_release)
    assert {s: manifest.rows(f"{s}.parquet") for s in SPLITS} == {s: len(r) for s, r in rows.items()}
    assert manifest.meta["curated"]["meta"] == {"salt_fingerprint": "test"}


# --------------------------------------------------------------------------- stand-in drafts
def _stand_in_drafts(threads: list[dict]) -> list[dict]:
    records = []
    for t in threads:
        for a in t["answers"]:
            layers = coe_layers(t, a, random.Random(pid(t["question_id"], a["answer_id"])))
            records.append(
                coe_record(
                    t["question_id"],
                    a["answer_id"],
                    "draft",
                    "2026-11-20T00:00:00Z",
                    **layers,
                    endpoint_model=STAND_IN_MODEL,
                    stand_in=True,
                    model="qwen-plus",
                )  # fmt: skip
            )
    return records


def test_stand_in_drafts_are_refused_unless_asked(corpus, tmp_path):
    threads = corpus[:30]
    paths = write_inputs(tmp_path / "in", threads=threads, drafts=_stand_in_drafts(threads), reviews=[])
    refused = run_cli(*build_args(paths, tmp_path / "out", "1.0.0", "--include-drafts"))
    assert refused.returncode != 0 and "offline sample endpoint" in refused.stderr
    assert "--allow-stand-in" in refused.stderr and "Traceback" not in refused.stderr
    # Held back as drafts, they are no problem.
    assert run_cli(*build_args(paths, tmp_path / "out", "0.9.0")).returncode == 0
    assert main(build_args(paths, tmp_path / "out", "1.0.0", "--include-drafts", "--allow-stand-in")) == 0
    release = tmp_path / "out" / "1.0.0"
    rows = list(all_rows(release).values())
    assert rows and all(r["coe_model"] == STAND_IN_MODEL and r["coe_status"] == "draft" for r in rows)
    card = (release / "README.md").read_text(encoding="utf-8")
    assert f"**{len(rows):,} chains are stand-in text, not LLM drafts**" in card
    assert read_manifest(release).meta["stand_in_rows"] == len(rows)


def test_a_real_models_draft_names_the_model_the_endpoint_reported(corpus, tmp_path):
    t = corpus[0]
    record = coe_record(t["question_id"], t["answers"][0]["answer_id"], "draft", "2026-11-20",
                        endpoint_model="qwen-plus-2025-01-25", model="qwen-plus")  # fmt: skip
    paths = write_inputs(tmp_path / "in", threads=corpus[:5], drafts=[record], reviews=[])
    assert main(build_args(paths, tmp_path / "out", "1.0.0", "--include-drafts")) == 0
    row = all_rows(tmp_path / "out" / "1.0.0")[pid(t["question_id"], t["answers"][0]["answer_id"])]
    assert row["coe_model"] == "qwen-plus-2025-01-25"


# --------------------------------------------------------------------------- card
def test_card_lengths_and_risk_counts_are_measured_on_the_rows(default_release):
    rows = [r for split in read_rows(default_release).values() for r in split]
    questions = {r["question_id"]: len(r["question"]) for r in rows}
    answers = [len(r["answer"]) for r in rows]
    card = (default_release / "README.md").read_text(encoding="utf-8")
    q_stats, a_stats = length_stats(list(questions.values())), length_stats(answers)
    assert q_stats[3] == statistics.median_low(sorted(questions.values()))  # nearest rank
    # Synthetic questions have a median near 165 characters, answers near 530: only answers are "long".
    assert q_stats[3] < 300 <= a_stats[3]
    assert f"questions (median {q_stats[3]:,} characters, quartiles {q_stats[2]:,}-{q_stats[4]:,})" in card
    assert f"long answers (median {a_stats[3]:,} characters, quartiles {a_stats[2]:,}-{a_stats[4]:,})" in card
    assert "long questions" not in card
    flagged = [r for r in rows if r["risk_flags"]]
    flagged_q = {r["question_id"] for r in flagged}
    assert flagged and f"{len(flagged):,} of {len(rows):,} rows" in card
    assert f"from {len(flagged_q):,} of {len(questions):,} questions" in card


def test_card_snippets_use_the_release_path(default_release):
    card = (default_release / "README.md").read_text(encoding="utf-8")
    path = default_release.as_posix()
    assert f'data_files={{s: f"{path}/{{s}}.parquet"' in card
    assert f'pd.read_parquet("{path}/train.parquet")' in card
    assert f"python -m curation.release verify {path}`" in card
    assert "datasets/empathy_qa/1.0.0" not in card
    schema = json.loads((default_release / "schema.json").read_text(encoding="utf-8"))
    assert "url" not in [f["name"] for f in schema["fields"]]


def test_card_licence_is_known_only_where_it_is(corpus, default_release, tmp_path):
    local = [
        dict(t, url=t["url"].replace("https://www.xinli001.com", "http://127.0.0.1:8801"))
        for t in corpus[:20]
    ]
    card = (_build(tmp_path, local, "1.0.0", reviews=[]) / "README.md").read_text(encoding="utf-8")
    assert "| 127.0.0.1:8801 |" in card and "bundled sample site, no real user's text): Apache-2.0 |" in card
    assert "unknown: see the site's terms" not in card
    card = (default_release / "README.md").read_text(encoding="utf-8")
    assert "| www.xinli001.com |" in card and "| unknown: see the site's terms |" in card
