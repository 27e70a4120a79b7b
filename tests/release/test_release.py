"""The release: rows and fields, splits, byte-identical rebuilds, card, verify, loading, bad input."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
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
    sample_threads,
    thread,
    write_inputs,
)

from curation.release.build import main
from curation.release.checks import CHECKSUMS_FILE, RELEASE_FILES, checksum_lines
from curation.release.files import write_split
from empathyqa.coe import build_prompt, parse_completion
from empathyqa.outputs import check_output, read_manifest, write_manifest
from empathyqa.schema import RELEASE_ROW

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return write_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def release(inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    assert main(build_args(inputs, out)) == 0
    return out / "1.0.0"


def _copy(release: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy" / release.name
    shutil.copytree(release, copy)
    return copy


def _rewrite(release: Path, split: str, rows: list[dict], schema: pa.Schema = RELEASE_ROW) -> None:
    """Replace a split's rows and refresh SHA256SUMS and the manifest, so only the planted fault is wrong."""
    write_split(pa.Table.from_pylist(rows, schema=schema), release / f"{split}.parquet")
    (release / CHECKSUMS_FILE).write_text(checksum_lines(release, RELEASE_FILES), encoding="utf-8")
    write_manifest(release, "release", read_manifest(release).meta)


# --------------------------------------------------------------------------- files and rows
def test_release_folder_holds_every_file(release):
    assert sorted(p.name for p in release.iterdir()) == sorted(
        ["train.parquet", "validation.parquet", "test.parquet", "README.md", "schema.json", "SHA256SUMS"]
        + ["manifest.json"]
    )
    for split in SPLITS:
        assert pq.read_schema(release / f"{split}.parquet").remove_metadata() == RELEASE_ROW
    manifest = check_output(release, stage="release")
    assert manifest.meta["include_source_ids"] is False and manifest.meta["stand_in_rows"] == 0
    assert sum(manifest.rows(f"{s}.parquet") for s in SPLITS) == 59


def test_rows_follow_the_review_rules(release):
    rows = all_rows(release)
    assert pid("yixinli:101", "a1-1") not in rows  # rejected: never released
    assert rows[pid("yixinli:100", "a0-0")]["coe_status"] == "accepted"
    assert rows[pid("yixinli:100", "a0-0")]["review"] == {"ratings": [4, 5], "agreement": 1.0}
    assert rows[pid("yixinli:101", "a1-0")]["coe_status"] == "edited"
    assert rows[pid("yixinli:102", "a2-0")]["coe"]["l1"].endswith("（新）")  # the latest verified record
    assert rows[pid("yixinli:103", "a3-0")]["coe_status"] == "accepted"  # verified beats draft
    # Drafts are held back by default: the pair is plain QA.
    plain = rows[pid("yixinli:104", "a4-0")]
    assert plain["coe"] is None and plain["coe_status"] is None and plain["completion"] is None
    assert len(rows) == 59  # 60 answers, one rejected


def test_completion_and_prompt_are_what_training_reads(release):
    for row in all_rows(release).values():
        assert row["id"] == f"{row['question_id']}/{row['answer_id']}"
        assert re.fullmatch(r"q-[0-9a-f]{16}/a-[0-9a-f]{16}", row["id"]), row["id"]
        assert row["prompt"] == build_prompt(row["title"], row["question"])
        if row["coe"] is not None:
            parsed = parse_completion(row["completion"])
            assert parsed is not None
            assert (parsed.l1, parsed.answer) == (row["coe"]["l1"], row["answer"].strip())


def test_risk_flags_carried_per_question(release):
    rows = all_rows(release)
    assert rows[pid("yixinli:105", "a5-0")]["risk_flags"] == ["suicide:high"]
    assert rows[pid("yixinli:100", "a0-0")]["risk_flags"] == []


def test_include_drafts_releases_drafts(inputs, tmp_path):
    assert main(build_args(inputs, tmp_path, "0.0.0-demo", "--include-drafts")) == 0
    rows = all_rows(tmp_path / "0.0.0-demo")
    assert rows[pid("yixinli:104", "a4-0")]["coe_status"] == "draft"
    assert rows[pid("yixinli:103", "a3-0")]["coe_status"] == "accepted"
    assert pid("yixinli:101", "a1-1") not in rows
    assert "--include-drafts" in (tmp_path / "0.0.0-demo" / "README.md").read_text(encoding="utf-8")


def test_no_plain_qa_keeps_only_chains(inputs, tmp_path):
    assert main(build_args(inputs, tmp_path, "1.0.0", "--no-plain-qa")) == 0
    rows = all_rows(tmp_path / "1.0.0")
    chained = [
        ("yixinli:100", "a0-0"),
        ("yixinli:101", "a1-0"),
        ("yixinli:102", "a2-0"),
        ("yixinli:103", "a3-0"),
    ]
    assert sorted(rows) == sorted(pid(q, a) for q, a in chained)


def test_reviewer_pii_flag_drops_the_pair(tmp_path):
    reviews = [coe_record("yixinli:100", "a0-0", "accepted", "2026-11-21", review={"flags": ["pii_left"]})]
    paths = write_inputs(tmp_path / "in", reviews=reviews)
    assert main(build_args(paths, tmp_path / "out")) == 0
    assert pid("yixinli:100", "a0-0") not in all_rows(tmp_path / "out" / "1.0.0")


# --------------------------------------------------------------------------- splits
def test_splits_are_disjoint_by_question_and_dup_group(release):
    by_split = read_rows(release)
    for key in ("question_id", "dup_group"):
        owners: dict[str, str] = {}
        for split, rows in by_split.items():
            for row in rows:
                assert owners.setdefault(row[key], split) == split, f"{key} {row[key]} in two splits"
    assert all(by_split[s] for s in SPLITS)
    rows = all_rows(release)
    # 100 and 103 share a question cluster, 104 and 107 an answer cluster: kept together.
    assert rows[pid("yixinli:100", "a0-0")]["dup_group"] == rows[pid("yixinli:103", "a3-0")]["dup_group"]
    assert rows[pid("yixinli:100", "a0-0")]["dup_group"] == rid("yixinli:100")  # crawled first
    assert rows[pid("yixinli:104", "a4-0")]["dup_group"] == rows[pid("yixinli:107", "a7-0")]["dup_group"]


def _same_files(a: Path, b: Path) -> None:
    """Byte-identical, but for the release path the card's snippets name (and so the README checksum)."""
    for name in RELEASE_FILES:
        left, right = (a / name).read_bytes(), (b / name).read_bytes()
        if name == "README.md":
            left = left.replace(a.as_posix().encode(), b"RELEASE")
            right = right.replace(b.as_posix().encode(), b"RELEASE")
        assert left == right, name


def test_rebuild_is_byte_identical(inputs, release, tmp_path):
    assert main(build_args(inputs, tmp_path)) == 0
    _same_files(tmp_path / "1.0.0", release)


def test_another_seed_gives_another_split(inputs, release, tmp_path):
    assert main(build_args(inputs, tmp_path, "1.0.0", "--seed", "7")) == 0
    before = {s: {r["question_id"] for r in rows} for s, rows in read_rows(release).items()}
    after = {s: {r["question_id"] for r in rows} for s, rows in read_rows(tmp_path / "1.0.0").items()}
    assert before != after
    assert set().union(*before.values()) == set().union(*after.values())


# --------------------------------------------------------------------------- card
def test_card_covers_what_a_user_needs(release):
    card = (release / "README.md").read_text(encoding="utf-8")
    for needle in (
        "## Sources, crawl dates and licences",
        "www.xinli001.com",
        "| unknown: see the site's terms |",
        "2026-11-10T08:00:00+00:00",
        "| train | 20 | 38 |",
        "## Chain-of-Empathy status",
        "## Topics",
        "| L4 |",
        "| filter | 40 | 33 | 7 | answer_too_short 5, empty 2 |",
        "mean 1.000",
        "| Krippendorff's alpha, verdicts (nominal) | 0.812345 |",
        "research only",
        "400-161-9995",
        "010-82951332",
        "## PII handling",
        'load_dataset(\n    "parquet"',
        "pd.read_parquet",
        "arXiv:2509.14851",
        "configs:",
    ):
        assert needle in card, needle


def test_card_reads_the_curation_report_as_curation_writes_it(tmp_path):
    report = {
        "counts": {"threads_read": 40, "threads_out": 30, "rejects": 12},
        "stages": {
            "dedup": {"in": 33, "out": 30, "dropped": {"near_duplicate": 3}, "counters": {}},
            "filter": {"in": 40, "out": 33, "dropped": {"answer_too_short": 5, "empty": 2}, "counters": {}},
        },
        "stage_order": ["filter", "dedup"],
        "rejects_by_reason": {"dedup:near_duplicate": 3},
        "pii_found": {"PHONE": 4},
        "timing": {"total_wall": 1.23},
        "settings": {"seed": 1},
    }
    paths = write_inputs(tmp_path / "in", report=report)
    assert main(build_args(paths, tmp_path / "out")) == 0
    card = (tmp_path / "out" / "1.0.0" / "README.md").read_text(encoding="utf-8")
    assert "| dedup | 33 | 30 | 3 | near_duplicate 3 |" in card
    assert card.index("| filter | 40 |") < card.index("| dedup | 33 |")  # run order, not sorted keys
    assert "| pii_found.PHONE | 4 |" in card and "| counts.rejects | 12 |" in card
    assert "total_wall" not in card and "settings" not in card


def test_card_says_when_the_curation_report_is_missing(tmp_path):
    paths = write_inputs(tmp_path / "in", report=None)
    assert main(build_args(paths, tmp_path / "out")) == 0
    card = (tmp_path / "out" / "1.0.0" / "README.md").read_text(encoding="utf-8")
    assert "No curation report" in card


# --------------------------------------------------------------------------- verify
def test_verify_passes_a_fresh_release(release):
    result = run_cli("verify", str(release))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK:")


def test_verify_catches_planted_pii(release, tmp_path):
    copy = _copy(release, tmp_path)
    rows = read_rows(copy)["train"]
    rows[0]["answer"] += "有事可以打我电话 13812345678。"
    _rewrite(copy, "train", rows)
    result = run_cli("verify", str(copy))
    assert result.returncode == 1
    assert "pii: 1 failure(s)" in result.stderr and "answer holds PHONE" in result.stderr
    assert "13812345678" not in result.stderr  # the report names the kind, never the value


def test_verify_catches_broken_completion(release, tmp_path):
    copy = _copy(release, tmp_path)
    rows = read_rows(copy)["train"]
    chained = next(r for r in rows if r["completion"])
    chained["completion"] = chained["completion"].replace("<L3>", "")
    _rewrite(copy, "train", rows)
    result = run_cli("verify", str(copy))
    assert result.returncode == 1
    assert "completion: 1 failure(s)" in result.stderr and chained["id"] in result.stderr


def test_verify_catches_overlapping_question(release, tmp_path):
    copy = _copy(release, tmp_path)
    by_split = read_rows(copy)
    moved = dict(by_split["test"][0], answer_id="x")
    moved["id"] = f"{moved['question_id']}/x"
    _rewrite(copy, "train", by_split["train"] + [moved])
    result = run_cli("verify", str(copy))
    assert result.returncode == 1
    assert f"question {moved['question_id']} is in train and test" in result.stderr
    assert "split overlap: 2 failure(s)" in result.stderr  # the question and its dup group, once each


def test_verify_catches_tampering_and_missing_files(release, tmp_path):
    copy = _copy(release, tmp_path)
    with open(copy / "schema.json", "a", encoding="utf-8") as fh:
        fh.write(" ")
    (copy / "test.parquet").unlink()
    result = run_cli("verify", str(copy))
    assert result.returncode == 1
    assert "schema.json does not match" in result.stderr and "test.parquet missing" in result.stderr
    missing = run_cli("verify", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "is not a folder" in missing.stderr


# --------------------------------------------------------------------------- loading
def test_loads_with_datasets_and_pandas(release, tmp_path):
    import datasets

    files = {s: str(release / f"{s}.parquet") for s in SPLITS}
    ds = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf"))
    expected = {s: len(rows) for s, rows in read_rows(release).items()}
    assert {s: ds[s].num_rows for s in SPLITS} == expected
    sft = ds["train"].filter(lambda row: row["completion"] is not None)
    assert sft.num_rows >= 1 and parse_completion(sft[0]["completion"]) is not None
    # The card's YAML front matter names the splits, so the folder alone loads too.
    by_card = datasets.load_dataset(str(release), cache_dir=str(tmp_path / "hf2"))
    assert {s: by_card[s].num_rows for s in SPLITS} == expected

    frame = pd.read_parquet(release / "train.parquet")
    assert len(frame) == expected["train"] and list(frame.columns) == RELEASE_ROW.names


# --------------------------------------------------------------------------- CLI and bad input
def test_cli_build_prints_card_summary_and_refuses_overwrite(inputs, release, tmp_path):
    first = run_cli(*build_args(inputs, tmp_path))
    assert first.returncode == 0, first.stderr
    assert "dataset card" in first.stdout and "CoE status" in first.stdout
    # Another process (another hash seed) gives the same bytes as the in-process build.
    _same_files(tmp_path / "1.0.0", release)
    before = (tmp_path / "1.0.0" / "train.parquet").read_bytes()
    again = run_cli(*build_args(inputs, tmp_path))
    assert again.returncode != 0
    assert "refusing to overwrite" in again.stderr and "Traceback" not in again.stderr
    assert (tmp_path / "1.0.0" / "train.parquet").read_bytes() == before


def test_out_that_is_a_file_is_a_clear_error(inputs, tmp_path):
    (tmp_path / "file").write_text("x")
    result = run_cli(*build_args(inputs, tmp_path / "file"))
    assert result.returncode != 0 and "Traceback" not in result.stderr and "cannot create" in result.stderr


def test_missing_curated_file_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli(
        "--curated", str(tmp_path / "empty"), "--version", "1.0.0", "--out", str(tmp_path / "out")
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "curated.parquet not found" in result.stderr
    assert not (tmp_path / "out" / "1.0.0").exists()


def test_takedown_list_named_by_curation_but_gone_stops_the_release(tmp_path):
    """A list the curation report names must be there at release time: a missing one is not an empty one."""
    gone = tmp_path / "takedown.txt"
    report = {"counts": {"in": 30, "out": 30}, "settings": {"takedown": str(gone)}}
    paths = write_inputs(tmp_path, report=report)
    result = run_cli(*build_args(paths, tmp_path / "out"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"takedown list {gone} not found" in result.stderr
    assert not (tmp_path / "out" / "1.0.0").exists()
    gone.write_text("yixinli:101  # asked by e-mail\n", encoding="utf-8")
    result = run_cli(*build_args(paths, tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    released = {row["question_id"] for row in all_rows(tmp_path / "out" / "1.0.0").values()}
    assert rid("yixinli:101") not in released and rid("yixinli:102") in released


def test_coe_for_unknown_pair_is_a_clear_error(tmp_path):
    reviews = [coe_record("yixinli:999", "zz", "accepted", "2026-11-21")]
    paths = write_inputs(tmp_path / "in", reviews=reviews)
    result = run_cli(*build_args(paths, tmp_path / "out"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "yixinli:999/zz" in result.stderr and "--skip-unknown-coe" in result.stderr
    skipped = run_cli(*build_args(paths, tmp_path / "out", "1.0.0", "--skip-unknown-coe"))
    assert skipped.returncode == 0, skipped.stderr
    assert "coe skipped: pair not in curated" in skipped.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--version", "v1"], "--version must look like 1.0.0"),
        (["--version", "1.0.0/../x"], "--version must look like 1.0.0"),
        (["--split", "0.9,0.2,0.05"], "sum to 1"),
        (["--split", "a,b,c"], "must be numbers"),
    ],
)
def test_bad_options_are_clear_errors(inputs, tmp_path, extra, message):
    args = build_args(inputs, tmp_path) + extra
    result = run_cli(*args)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert message in result.stderr


def test_bad_coe_status_and_unreadable_parquet(tmp_path):
    paths = write_inputs(tmp_path / "in", reviews=[coe_record("yixinli:100", "a0-0", "accepted", "x")])
    # A CoE status outside the contract.
    table = pq.read_table(paths["review"] / "coe.parquet")
    table = table.set_column(table.schema.get_field_index("status"), "status", pa.array(["approved"]))
    pq.write_table(table, paths["review"] / "coe.parquet")
    result = run_cli(*build_args(paths, tmp_path / "out"))
    assert result.returncode != 0 and "'approved'" in result.stderr
    (paths["curated"] / "curated.parquet").write_text("not parquet")
    result = run_cli(*build_args(paths, tmp_path / "out"))
    assert result.returncode != 0 and "curated.parquet changed after the run that wrote it" in result.stderr
    result = run_cli(*build_args(paths, tmp_path / "out"), "--legacy-curated")
    assert result.returncode != 0 and "changed after" in result.stderr  # the flag is for no manifest only
    (paths["curated"] / "manifest.json").unlink()
    result = run_cli(*build_args(paths, tmp_path / "out"), "--legacy-curated")
    assert result.returncode != 0 and "not a readable Parquet file" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_explains_both_commands():
    result = run_cli("--help")
    assert result.returncode == 0 and "verify PATH" in result.stdout and "--include-drafts" in result.stdout


def test_sample_threads_are_pii_free():
    from curation.pii import scrub

    for item in sample_threads():
        assert not scrub(item["body"]).found and not scrub(item["title"]).found


def test_tiny_release_with_empty_splits_still_loads(tmp_path):
    import datasets

    paths = write_inputs(
        tmp_path / "in", threads=[thread(n, "情绪压力") for n in range(3)], drafts=[], reviews=[]
    )
    assert main(build_args(paths, tmp_path / "out")) == 0
    release = tmp_path / "out" / "1.0.0"
    assert pq.read_metadata(release / "test.parquet").num_row_groups == 0
    assert run_cli("verify", str(release)).returncode == 0
    ds = datasets.load_dataset(str(release), cache_dir=str(tmp_path / "hf"))
    assert list(ds) == ["train"] and ds["train"].num_rows == 6
    assert "are empty" in (release / "README.md").read_text(encoding="utf-8")
