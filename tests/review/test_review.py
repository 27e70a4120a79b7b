"""Review stage without a server: agreement, resolution, input checks, server-down message."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _review_helpers import draft_rows, write_inputs

from annotation.review.agreement import (
    Vote,
    alpha,
    layers_edit_distance,
    layers_similarity,
    levenshtein,
    pairwise_agreement,
    resolve,
)
from annotation.review.server import free_port
from annotation.review.tasks import build_task, load_curated, load_drafts
from empathyqa.labelstudio import ReviewError

DRAFT = {"l1": "焦虑", "l2": "担心失败", "l3": "想被理解", "l4": "先共情"}


def test_levenshtein_and_similarity():
    assert levenshtein("", "abc") == 3
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("担心失败", "担心考试失败") == 2
    assert layers_similarity(DRAFT, DRAFT) == 1.0 and layers_similarity({}, {}) == 1.0
    assert layers_similarity({"l1": "ab"}, {"l1": "cd"}) == 0.0
    assert layers_edit_distance(DRAFT, dict(DRAFT, l4="先共情再建议")) == 3


def test_pairwise_agreement():
    assert pairwise_agreement(["accepted"]) is None
    assert pairwise_agreement(["accepted", "accepted", "edited"]) == pytest.approx(1 / 3)


def test_alpha():
    perfect = {1: {"a": 5, "b": 5}, 2: {"a": 1, "b": 1}, 3: {"a": 3, "b": 3}}
    assert alpha(perfect, "ordinal") == 1.0
    assert alpha({1: {"a": 5}}, "ordinal") is None  # no overlap
    assert alpha({1: {"a": 4, "b": 4}}, "ordinal") is None  # no variation: undefined
    mixed = {1: {"a": 5, "b": 1}, 2: {"a": 1, "b": 5}, 3: {"a": 3, "b": 3}}
    assert alpha(mixed, "ordinal") < 0.5
    assert alpha({1: {"a": "edited", "b": "edited"}, 2: {"a": "rejected", "b": "rejected"}}, "nominal") == 1.0


def test_resolve_rules():
    edit_a = Vote(1, "edited", dict(DRAFT, l1="焦虑、委屈"))
    edit_b = Vote(2, "edited", dict(DRAFT, l1="焦虑、委屈、疲惫"))
    accept = Vote(3, "accepted", DRAFT)
    assert resolve(DRAFT, []).status == "draft"
    assert resolve(DRAFT, [Vote(9, "skipped", DRAFT)]).rule == "none"
    tie = resolve(DRAFT, [edit_a, accept])
    assert (tie.status, tie.needs_adjudication, tie.layers) == ("draft", True, DRAFT)
    majority = resolve(DRAFT, [edit_a, edit_b, accept])
    assert (
        majority.status == "edited" and majority.rule == "majority" and majority.layers["l1"] == "焦虑、委屈"
    )
    truth = resolve(DRAFT, [edit_a, Vote(4, "accepted", DRAFT, ground_truth=True)])
    assert truth.status == "accepted" and truth.rule == "ground_truth" and not truth.needs_adjudication
    rejected = resolve(DRAFT, [Vote(5, "rejected", DRAFT)])
    assert rejected.status == "rejected" and rejected.rule == "single" and rejected.agreement is None


def test_load_drafts_reports_missing_columns(tmp_path):
    table = pa.table({"question_id": ["q"], "answer_id": ["a"], "l1": ["x"]})
    pq.write_table(table, tmp_path / "coe.parquet")
    with pytest.raises(ReviewError, match="missing column"):
        load_drafts(tmp_path)
    with pytest.raises(ReviewError, match="does not exist"):
        load_drafts(tmp_path / "nowhere")


def test_tasks_carry_post_answer_and_prefilled_draft(tmp_path):
    drafts, curated = write_inputs(tmp_path)
    rows, pairs = load_drafts(drafts), load_curated(curated)
    assert len(rows) == len(draft_rows())
    task = build_task(rows[0], pairs["sample:q1/q1a1"])
    assert task["data"]["title"] == "总是失眠怎么办" and task["data"]["pair_id"] == "sample:q1/q1a1"
    assert task["predictions"][0]["model_version"] == "sample-llm@coe-v1"
    assert [r["from_name"] for r in task["predictions"][0]["result"]] == ["l1", "l2", "l3", "l4"]


def test_server_down_gives_one_clear_message(tmp_path, cli):
    drafts, curated = write_inputs(tmp_path)
    url = f"http://127.0.0.1:{free_port()}"
    result = cli(
        "annotation",
        ["review", "push", drafts, "--curated", curated, "--project", "p", "--url", url, "--token", "t"],
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not answering" in result.stderr and "make label-studio" in result.stderr


def test_help_explains(cli):
    result = cli("annotation", ["review", "--help"])
    assert result.returncode == 0 and "push" in result.stdout and "pull" in result.stdout


def _reference_levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, char_b in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (char_a != char_b))
    return row[-1]


def test_levenshtein_matches_plain_dynamic_programming():
    import random

    rng = random.Random(7)
    for _ in range(500):
        a = "".join(rng.choice("共情ab") for _ in range(rng.randint(0, 9)))
        b = "".join(rng.choice("共情ab") for _ in range(rng.randint(0, 9)))
        assert levenshtein(a, b) == _reference_levenshtein(a, b), (a, b)


def test_simulated_annotators_refuse_a_real_project():
    from annotation.review import simulate as review_demo

    assert review_demo.main(["--project", "CoE round 3", "--url", "http://127.0.0.1:9", "--token", "t"]) == 1


def test_annotation_rows_follow_the_text_and_keep_skips(tmp_path):
    from types import SimpleNamespace

    from _review_helpers import ui_result

    from annotation.review.tasks import annotation_row

    drafts, curated = write_inputs(tmp_path)
    built = build_task(load_drafts(drafts)[0], load_curated(curated)["sample:q1/q1a1"])
    task = SimpleNamespace(id=7, data=built["data"])
    draft = {item["from_name"]: item["value"]["text"][0] for item in built["predictions"][0]["result"]}
    skipped = annotation_row(
        task, {"id": 1, "completed_by": 3, "was_cancelled": True, "result": []}, {3: "a@x"}
    )
    assert (skipped["status"], skipped["rating"], skipped["l1"]) == ("skipped", None, draft["l1"])
    # "accept" chosen but the text changed: the change is what counts
    changed = annotation_row(
        task, {"id": 2, "completed_by": 4, "result": ui_result(dict(draft, l3="想被看见"), "accept", 4)}, {}
    )
    assert changed["status"] == "edited" and changed["edit_distance"] > 0 and changed["annotator"] == "user-4"
    rejected = annotation_row(
        task,
        {"id": 3, "completed_by": 3, "result": ui_result(draft, "reject", 1, reasons=["harmful"])},
        {3: "a@x"},
    )
    assert rejected["status"] == "rejected" and rejected["reject_reasons"] == ["harmful"]


def test_ls_server_bad_cases(tmp_path):
    import json
    import os

    from annotation.review import server as ls_server

    with pytest.raises(ls_server.ServerError, match="make install-ls"):
        ls_server.start(tmp_path, port=free_port(), ls_bin=tmp_path / "no-label-studio")
    assert ls_server.stop(tmp_path) is False  # nothing was started
    # a stale pid file naming some other process: stop must leave that process alone
    (tmp_path / ls_server.STATE_FILE).write_text(
        json.dumps({"pid": os.getpid(), "url": "http://127.0.0.1:9"})
    )
    assert ls_server.running(tmp_path) is None and ls_server.stop(tmp_path) is False
    assert ls_server.main(["status", "--data-dir", str(tmp_path)]) == 1
