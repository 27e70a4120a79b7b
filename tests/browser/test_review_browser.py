"""An annotator reviews drafts on the real Label Studio page in headless Chromium; `review pull` returns
exactly what was typed and chosen."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from _ls_page import (
    choose,
    dismiss_warning,
    edit_region,
    log_in,
    open_stream,
    rate,
    region,
    submit_with_hotkey,
    warning_text,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "review"))
from _review_helpers import write_inputs  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.labelstudio, pytest.mark.slow]

# What the annotator types into L2: full-width punctuation, quotes and a line break inside.
NEW_L2 = "她把“妈妈哭了”全归咎于自己，认为“好女儿就不该发脾气”——典型的应该思维。"


def _pair_on_screen(page) -> str:
    """The task on screen, read from its L1 draft ("q1-2：…" is the draft of sample:q1/q1a2)."""
    l1 = region(page, "l1").text
    qid, i = l1.split("：", 1)[0].split("-")
    return f"sample:{qid}/{qid}a{i}"


def _annotations(client, project_id: int) -> dict[str, list]:
    return {
        t.data["pair_id"]: t.annotations or [] for t in client.tasks.list(project=project_id, fields="all")
    }


def test_annotator_edits_accepts_rejects_and_pull_returns_it(label_studio, page, tmp_path, cli):
    drafts, curated = write_inputs(tmp_path / "in")
    title = f"browser-{uuid.uuid4().hex[:6]}"
    env = label_studio.env()
    pushed = cli("annotation", ["review", "push", drafts, "--curated", curated, "--project", title], env=env)
    assert pushed.returncode == 0, pushed.stderr
    admin = label_studio.client()
    project = next(p for p in admin.projects.list(title=title) if p.title == title)
    annotator = label_studio.create_user(f"reviewer-{uuid.uuid4().hex[:6]}@example.com")

    log_in(page, label_studio.url, annotator.email, annotator.password)
    instructions = open_stream(page, label_studio.url, project.id)
    assert "Label All Tasks" in instructions and "四层各写什么" in instructions  # the guidelines, in full
    assert "annotation/review/GUIDELINES.md" not in instructions

    # Task 1: edit L2, choose 修改后接受, four stars, Ctrl+Enter.
    first = _pair_on_screen(page)
    page.step("task-1")
    edit_region(page, "l2", NEW_L2)
    choose(page, "修改后接受")
    rate(page, 4)
    page.step("task-1-filled")
    submit_with_hotkey(page)
    page.wait_for(lambda: _pair_on_screen(page) != first, "the next task after submitting", timeout=90)
    assert len(_annotations(admin, project.id)[first]) == 1

    # Task 2: 拒绝 without a reason is blocked, with the reason asked for; then with one it goes.
    second = _pair_on_screen(page)
    choose(page, "拒绝")
    rate(page, 1)
    page.step("task-2-reject-no-reason")
    submit_with_hotkey(page)
    warning = warning_text(page)
    page.step("task-2-blocked")
    assert warning and "拒绝理由" in warning, warning
    dismiss_warning(page)
    assert _pair_on_screen(page) == second and _annotations(admin, project.id)[second] == []
    choose(page, "内容空泛")
    page.step("task-2-with-reason")
    submit_with_hotkey(page)
    page.wait_for(lambda: _pair_on_screen(page) not in (first, second), "the third task", timeout=90)
    page.step("task-3")

    out = tmp_path / "pulled"
    pulled = cli("annotation", ["review", "pull", "--project", title, "--out", out], env=env)
    assert pulled.returncode == 0, pulled.stderr
    rows = {r["pair_id"]: r for r in pq.read_table(out / "annotations.parquet").to_pylist()}
    assert sorted(rows) == sorted([first, second])
    edited, rejected = rows[first], rows[second]
    assert edited["l2"] == NEW_L2
    assert (edited["verdict"], edited["status"], edited["rating"]) == ("edit", "edited", 4)
    assert edited["annotator"] == annotator.email and edited["reject_reasons"] == []
    assert (rejected["verdict"], rejected["status"], rejected["rating"]) == ("reject", "rejected", 1)
    assert rejected["reject_reasons"] == ["vague"] and rejected["edit_distance"] == 0
    records = {
        f"{r['question_id']}/{r['answer_id']}": r for r in pq.read_table(out / "coe.parquet").to_pylist()
    }
    assert records[first]["l2"] == NEW_L2 and records[first]["status"] == "edited"
    assert records[second]["status"] == "rejected"
