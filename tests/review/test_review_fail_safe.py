"""Review against the real Label Studio when things go wrong: racing pushes, duplicate tasks, file modes."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import uuid

import pyarrow.parquet as pq
import pytest
from _review_helpers import REPO_ROOT, draft_rows, ui_result, write_inputs

from annotation.review.tasks import build_task, load_curated

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]


def _project(client, title: str):
    return next(p for p in client.projects.list(title=title) if p.title == title)


def test_two_pushes_at_once_import_each_pair_once(label_studio, tmp_path):
    drafts, curated = write_inputs(tmp_path / "in")
    title = f"race-{uuid.uuid4().hex[:6]}"
    env = dict(label_studio.env(), PYTHONPATH=str(REPO_ROOT))
    cmd = [sys.executable, "-m", "annotation", "review", "push", str(drafts), "--curated", str(curated)]
    runs = [
        subprocess.Popen(
            [*cmd, "--project", title], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outcomes = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outcomes
    admin = label_studio.client()
    projects = [p for p in admin.projects.list(title=title) if p.title == title]
    assert len(projects) == 1  # not two projects of one title either
    pairs = [t.data["pair_id"] for t in admin.tasks.list(project=projects[0].id, fields="all")]
    assert sorted(pairs) == sorted(f"{d['question_id']}/{d['answer_id']}" for d in draft_rows())
    summaries = sorted(err for _, err in outcomes)
    assert sorted(int(re.search(r"imported\s+(\d+)", s).group(1)) for s in summaries) == [0, 4]


def test_pull_merges_duplicate_tasks_of_one_pair(label_studio, tmp_path, cli):
    drafts, curated = write_inputs(tmp_path / "in")
    title = f"dup-{uuid.uuid4().hex[:6]}"
    env = label_studio.env()
    assert (
        cli(
            "annotation", ["review", "push", drafts, "--curated", curated, "--project", title], env=env
        ).returncode
        == 0
    )
    admin = label_studio.client()
    project = _project(admin, title)
    # A second task of one pair, as an older push racing another one left behind.
    draft = next(d for d in draft_rows() if d["answer_id"] == "q1a1")
    pair = load_curated(curated)["sample:q1/q1a1"]
    admin.projects.import_tasks(id=project.id, request=[build_task(draft, pair)], return_task_ids=True)
    tasks = sorted(
        (
            t
            for t in admin.tasks.list(project=project.id, fields="all")
            if t.data["pair_id"] == "sample:q1/q1a1"
        ),
        key=lambda t: t.id,
    )
    assert len(tasks) == 2
    layers = {name: draft[name] for name in ("l1", "l2", "l3", "l4")}
    ann = label_studio.create_user(f"ann-{uuid.uuid4().hex[:6]}@example.com")
    bob = label_studio.create_user(f"bob-{uuid.uuid4().hex[:6]}@example.com")
    ann.client().annotations.create(id=tasks[0].id, result=ui_result(layers, "accept", 5))
    bob.client().annotations.create(id=tasks[1].id, result=ui_result(layers, "reject", 1, reasons=["vague"]))
    ann.client().annotations.create(  # ann saw it again as the duplicate: her later vote counts
        id=tasks[1].id, result=ui_result(dict(layers, l3="她只想有人听她说完。"), "edit", 4)
    )

    out = tmp_path / "pulled"
    pulled = cli("annotation", ["review", "pull", "--project", title, "--out", out], env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert "1 pair(s) have more than one task" in pulled.stderr
    assert re.search(r"duplicate tasks merged\s+1\n", pulled.stderr)
    records = pq.read_table(out / "coe.parquet").to_pylist()
    assert len(records) == 4  # one record per pair
    merged = next(r for r in records if r["answer_id"] == "q1a1")
    assert merged["review"]["task_id"] == tasks[0].id
    assert sorted(merged["review"]["verdicts"]) == ["edited", "rejected"]
    rows = [r for r in pq.read_table(out / "annotations.parquet").to_pylist() if r["answer_id"] == "q1a1"]
    assert sorted((r["annotator"], r["status"]) for r in rows) == sorted(
        [(ann.email, "edited"), (bob.email, "rejected")]
    )
    assert {r["task_id"] for r in rows} == {tasks[0].id}


def test_label_studio_data_stays_private(label_studio):
    mode = stat.S_IMODE(os.stat(label_studio.data_dir).st_mode)
    assert mode == 0o700, oct(mode)
    database = label_studio.data_dir / "label_studio.sqlite3"
    assert stat.S_IMODE(os.stat(database).st_mode) & 0o077 == 0, oct(os.stat(database).st_mode)


def test_status_names_annotators_who_worked_from_someone_elses_annotation(label_studio, tmp_path, cli):
    drafts, curated = write_inputs(tmp_path / "in")
    title = f"peek-{uuid.uuid4().hex[:6]}"
    env = label_studio.env()
    assert (
        cli(
            "annotation",
            ["review", "push", drafts, "--curated", curated, "--project", title, "--overlap", "2"],
            env=env,
        ).returncode
        == 0
    )
    admin = label_studio.client()
    project = _project(admin, title)
    tasks = sorted(admin.tasks.list(project=project.id, fields="all"), key=lambda t: t.id)
    layers = {item["from_name"]: item["value"]["text"][0] for item in tasks[0].predictions[0].result}
    ann = label_studio.create_user(f"ann-{uuid.uuid4().hex[:6]}@example.com")
    peeker = label_studio.create_user(f"peek-{uuid.uuid4().hex[:6]}@example.com")
    fair = label_studio.create_user(f"fair-{uuid.uuid4().hex[:6]}@example.com")
    first = ann.client().annotations.create(id=tasks[0].id, result=ui_result(layers, "accept", 5))
    # Opened from the task list, the peeker started from ann's annotation (the editor sets its parent).
    peeker.client().annotations.create(
        id=tasks[0].id, result=ui_result(layers, "accept", 5), parent_annotation=first.id
    )
    fair.client().annotations.create(id=tasks[1].id, result=ui_result(layers, "reject", 2, reasons=["vague"]))

    status = cli("annotation", ["review", "status", "--project", title], env=env)
    assert status.returncode == 0, status.stderr
    warnings = [line for line in status.stdout.splitlines() if "warning:" in line]
    assert len(warnings) == 1, status.stdout
    assert peeker.email in warnings[0] and f"1 task(s) (e.g. task {tasks[0].id})" in warnings[0]
    assert ann.email not in warnings[0] and fair.email not in status.stdout.split("warning:")[1]
