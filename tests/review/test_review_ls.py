"""Review against a real Label Studio (the session fixture in conftest.py starts it)."""

from __future__ import annotations

import json
import uuid

import httpx
import pyarrow.parquet as pq
import pytest
from _review_helpers import MODEL, PROMPT_VERSION, draft_rows, ui_result, write_inputs

from annotation.review import server as ls_server

pytestmark = [pytest.mark.slow, pytest.mark.labelstudio]  # every test here talks to the real server


def _project_title() -> str:
    return f"coe-{uuid.uuid4().hex[:8]}"


def _tasks(client, title: str) -> dict[str, object]:
    project = next(p for p in client.projects.list(title=title) if p.title == title)
    return project, {t.data["pair_id"]: t for t in client.tasks.list(project=project.id, fields="all")}


def _layers(task) -> dict[str, str]:
    return {item["from_name"]: item["value"]["text"][0] for item in task.predictions[0].result}


def test_push_annotate_pull_restart(label_studio, tmp_path, cli, review_inputs):
    drafts, curated = review_inputs
    title = _project_title()
    env = label_studio.env()

    first = cli(
        "annotation",
        ["review", "push", drafts, "--curated", curated, "--project", title, "--overlap", "2"],
        env=env,
    )
    assert first.returncode == 0, first.stderr
    again = cli(
        "annotation", ["review", "push", drafts.parent, "--project", title], env=env
    )  # curated.parquet lies beside
    assert again.returncode == 0, again.stderr
    assert "already in project" in again.stderr and "updated project" not in again.stdout

    admin = label_studio.client()
    project, tasks = _tasks(admin, title)
    assert sorted(tasks) == sorted(
        f"{d['question_id']}/{d['answer_id']}" for d in draft_rows()
    )  # no duplicates
    assert project.maximum_annotations == 2 and project.show_collab_predictions
    assert project.model_version == f"{MODEL}@{PROMPT_VERSION}"  # so the editor opens pre-filled
    task = tasks["sample:q1/q1a1"]
    assert task.predictions[0].model_version == project.model_version
    assert task.data["title"] == "总是失眠怎么办" and "专业回答" in task.data["answer"]

    ann = label_studio.create_user(f"ann-{uuid.uuid4().hex[:6]}@example.com")
    bob = label_studio.create_user(f"bob-{uuid.uuid4().hex[:6]}@example.com")
    # What the labeling stream hands the annotator's editor: the task with the draft to pre-fill.
    queued = httpx.get(
        f"{label_studio.url}/api/projects/{project.id}/next", headers={"Authorization": f"Token {ann.token}"}
    )
    assert queued.status_code == 200, queued.text
    assert queued.json()["predictions"][0]["model_version"] == project.model_version
    assert len(queued.json()["predictions"][0]["result"]) == 4

    def submit(user, pair: str, layers: dict[str, str], verdict: str, rating: int, **kw) -> None:
        t = tasks[pair]
        user.client().annotations.create(
            id=t.id,
            result=ui_result(layers, verdict, rating, **kw),
            parent_prediction=t.predictions[0].id,
            lead_time=42.0,
        )

    q1a1, q1a2, q2a1, q2a2 = (_layers(tasks[p]) for p in sorted(tasks))
    edited = dict(q1a1, l2="担心自己撑不下去，觉得“必须事事做好”。")
    submit(ann, "sample:q1/q1a1", edited, "edit", 4, comment="L2 太笼统")
    submit(bob, "sample:q1/q1a1", q1a1, "accept", 3)  # a tie: edited vs accepted
    submit(ann, "sample:q1/q1a2", q1a2, "accept", 5)
    submit(bob, "sample:q1/q1a2", q1a2, "accept", 5)
    submit(ann, "sample:q2/q2a1", q2a1, "reject", 1, reasons=["mismatch"], flags=["pii_left"])
    submit(bob, "sample:q2/q2a1", q2a1, "reject", 2, reasons=["vague"])
    submit(ann, "sample:q2/q2a2", dict(q2a2, l4="先肯定她的内疚，再建议一次平静的道歉。"), "edit", 4)
    submit(bob, "sample:q2/q2a2", dict(q2a2, l4="先肯定内疚背后的爱，再建议找时间道歉。"), "edit", 3)

    status = cli("annotation", ["review", "status", "--project", title], env=env)
    assert status.returncode == 0, status.stderr
    assert "annotated    4" in status.stdout and f"{ann.email}: 4 submitted" in status.stdout

    out1 = tmp_path / "pull1"
    pulled = cli("annotation", ["review", "pull", "--project", title, "--out", out1], env=env)
    assert pulled.returncode == 0, pulled.stderr
    records = {
        f"{r['question_id']}/{r['answer_id']}": r for r in pq.read_table(out1 / "coe.parquet").to_pylist()
    }

    tie = records["sample:q1/q1a1"]
    assert (
        tie["status"] == "draft"
        and tie["review"]["needs_adjudication"]
        and tie["review"]["resolution"] == "tie"
    )
    assert tie["review"]["verdicts"] == ["edited", "accepted"] and tie["review"]["agreement"] == 0.0
    assert tie["review"]["annotators"] == [ann.email, bob.email] and tie["review"]["lead_times"] == [
        42.0,
        42.0,
    ]
    accepted = records["sample:q1/q1a2"]
    assert accepted["status"] == "accepted" and accepted["review"]["edit_distance"] == 0
    assert accepted["review"]["ratings"] == [5, 5] and accepted["review"]["agreement"] == 1.0
    rejected = records["sample:q2/q2a1"]
    assert rejected["status"] == "rejected" and rejected["review"]["reject_reasons"] == ["mismatch", "vague"]
    assert rejected["review"]["flags"] == ["pii_left"]
    changed = records["sample:q2/q2a2"]
    assert changed["status"] == "edited" and changed["l4"] == "先肯定她的内疚，再建议一次平静的道歉。"
    assert changed["draft"]["l4"] == q2a2["l4"] and changed["review"]["edit_distance"] > 0
    assert 0 < changed["review"]["text_similarity"] < 1
    assert changed["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 80,
    }  # the draft's fields travel along

    rows = pq.read_table(out1 / "annotations.parquet").to_pylist()
    assert len(rows) == 8  # every submitted annotation kept
    mine = next(r for r in rows if r["pair_id"] == "sample:q1/q1a1" and r["annotator"] == ann.email)
    assert mine["l2"] == edited["l2"] and mine["comment"] == "L2 太笼统" and mine["status"] == "edited"
    agreement = json.loads((out1 / "agreement.json").read_text())
    assert agreement["tasks_with_overlap"] == 4 and agreement["needs_adjudication"] == 1
    assert isinstance(agreement["rating_alpha_ordinal"], float)
    assert agreement["verdict_agreement"] == 0.75
    ties = json.loads((out1 / "adjudication.json").read_text())
    assert [t["pair_id"] for t in ties] == ["sample:q1/q1a1"]

    label_studio.restart()
    out2 = tmp_path / "pull2"
    assert cli("annotation", ["review", "pull", "--project", title, "--out", out2], env=env).returncode == 0
    for name in ("coe.parquet", "annotations.parquet"):
        assert pq.read_table(out1 / name).equals(pq.read_table(out2 / name)), name
    for name in ("agreement.json", "adjudication.json"):
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), name


def test_add_annotator_can_log_in(label_studio, cli):
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    created = cli(
        "annotation",
        ["review", "add-annotator", email, "--password", "Zz-long-enough-1"],
        env=label_studio.env(),
    )
    assert created.returncode == 0, created.stderr
    assert email in created.stdout and f"{label_studio.url}/user/login/" in created.stdout
    assert ls_server.login_token(label_studio.url, email, "Zz-long-enough-1")
    again = cli("annotation", ["review", "add-annotator", email], env=label_studio.env())
    assert again.returncode == 1 and "already exists" in again.stderr


def _assert_clean_failure(result, *words: str) -> None:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert all(w in result.stderr for w in words), result.stderr


def _has_project(label_studio, title: str) -> bool:
    return any(p.title == title for p in label_studio.client().projects.list(title=title))


def test_wrong_token_changes_nothing(label_studio, tmp_path, cli):
    drafts, curated = write_inputs(tmp_path)
    title = _project_title()
    env = label_studio.env(LABEL_STUDIO_API_KEY="0" * 40)
    result = cli("annotation", ["review", "push", drafts, "--curated", curated, "--project", title], env=env)
    _assert_clean_failure(result, "rejected the API token")
    assert not _has_project(label_studio, title)


def test_missing_project(label_studio, tmp_path, cli):
    for command in (("status",), ("pull", "--out", tmp_path / "out")):
        result = cli(
            "annotation", ["review", *command, "--project", "no-such-project"], env=label_studio.env()
        )
        _assert_clean_failure(result, "no project titled 'no-such-project'", "push drafts first")
    assert not (tmp_path / "out").exists()


def test_draft_file_with_missing_fields_changes_nothing(label_studio, tmp_path, cli):
    rows = draft_rows()
    rows[1]["l3"] = ""
    drafts, curated = write_inputs(tmp_path, rows)
    title = _project_title()
    result = cli(
        "annotation",
        ["review", "push", drafts, "--curated", curated, "--project", title],
        env=label_studio.env(),
    )
    _assert_clean_failure(result, "missing fields", "l3")
    assert not _has_project(label_studio, title)
    (tmp_path / "lone").mkdir()
    lone = write_inputs(tmp_path / "ok")[0].rename(tmp_path / "lone" / "drafts.parquet")  # nothing beside it
    no_curated = cli("annotation", ["review", "push", lone, "--project", title], env=label_studio.env())
    _assert_clean_failure(no_curated, "--curated")
    assert not _has_project(label_studio, title)
