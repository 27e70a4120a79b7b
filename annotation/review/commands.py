"""Human review of the CoE drafts in Label Studio: `python -m annotation review push|add-annotator|status|pull`.

  push DRAFTS [--curated C] --project NAME [--overlap N]       one task per pair, the draft pre-filled
  add-annotator EMAIL [--password PW]                          an account that can log in and annotate
  status --project NAME                                        tasks done / remaining, per annotator
  pull --project NAME --out DIR                                coe.parquet, annotations.parquet,
                                                               agreement.json, adjudication.json

The server and token come from --url/--token, LABEL_STUDIO_URL/LABEL_STUDIO_API_KEY, or the local
server that `make label-studio` started.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import secrets
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from label_studio_sdk.core.api_error import ApiError

from annotation.review import server as ls_server
from annotation.review.agreement import Vote, alpha, layers_edit_distance, resolve
from annotation.review.tasks import (
    ANNOTATION_ROW,
    annotation_row,
    build_task,
    draft_layers,
    find_curated,
    load_curated,
    load_drafts,
    model_version,
)
from empathyqa.io import write_json_atomic, write_parquet_atomic
from empathyqa.labelstudio import (
    Connection,
    ReviewError,
    connect,
    find_project,
    require_project,
    resolve_connection,
)
from empathyqa.progress import print_summary, progress
from empathyqa.schema import COE_RECORD, LAYERS, conform, pair_id

LABEL_CONFIG_PATH = Path(__file__).with_name("label_config.xml")
IMPORT_BATCH = 100
GUIDELINES_PATH = Path(__file__).with_name("GUIDELINES.md")
INSTRUCTION_HEAD = (
    "<p><b>只从项目页的「Label All Tasks」（标注全部任务）开始标注</b>；不要在任务列表里点开单条任务，"
    "那里会显示其他标注员的标注。</p>"
    "<p>修改草稿：鼠标移到草稿文字上，点右侧的铅笔图标，改好后点框右上角的 ✓ 保存。选「拒绝」时必须勾选拒绝理由。</p>"
    "<p>快捷键：1 接受 · 2 修改后接受 · 3 拒绝；q/w/e/r 拒绝理由；a 残留个人信息；s 风险内容；"
    "Ctrl+Enter 提交。完整指南如下（标注界面右上角的 Instructions 随时可以再打开）。</p><hr>"
)
LOCK_WAIT_S = 600.0


def instruction_html() -> str:
    """The project's instructions: the essentials, then the whole of GUIDELINES.md as HTML, so that
    annotators who never see this repository read the guidelines where they work."""
    from markdown_it import MarkdownIt

    guidelines = MarkdownIt("commonmark").enable("table").render(GUIDELINES_PATH.read_text(encoding="utf-8"))
    return INSTRUCTION_HEAD + guidelines


def label_config() -> str:
    return LABEL_CONFIG_PATH.read_text(encoding="utf-8")


def _same_html(html: str) -> str:
    """HTML as Label Studio stores it: it sanitises `<br/>` into `<br>`."""
    return re.sub(r"\s*/>", ">", html).strip()


# --------------------------------------------------------------------------- push
def push(
    conn: Connection, drafts_path: Path, curated_path: Path | None, title: str, overlap: int | None
) -> int:
    # Files are checked before the server is touched, so a bad file changes nothing.
    drafts = load_drafts(drafts_path)
    curated_path = find_curated(curated_path, Path(drafts_path))
    pairs = load_curated(curated_path)
    orphans = [pair_id(d["question_id"], d["answer_id"]) for d in drafts]
    orphans = [p for p in orphans if p not in pairs]
    if orphans:
        raise ReviewError(
            f"{len(orphans)} draft(s) have no post/answer in {curated_path} (first: {orphans[0]}): "
            "pass the curated set the drafts were made from"
        )
    reviewed = [d for d in drafts if d.get("status") not in (None, "draft")]
    drafts = [d for d in drafts if d.get("status") in (None, "draft")]
    versions = Counter(model_version(d) for d in drafts)
    with project_lock(conn.url, title):
        return _push_locked(conn, drafts, reviewed, pairs, versions, title, overlap)


@contextmanager
def project_lock(url: str, title: str, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """One push per project at a time on this machine: a second one waits, then finds the tasks there."""
    folder = Path(tempfile.gettempdir()) / f"empathyqa-review-locks-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    key = hashlib.sha256(f"{url.rstrip('/')}\n{title}".encode()).hexdigest()[:24]
    with open(folder / f"{key}.lock", "a+") as handle:
        deadline = time.monotonic() + wait_s
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:
                    print(
                        f"another `review push` to {title!r} is running: waiting for it ...", file=sys.stderr
                    )
                    waiting = True
                if time.monotonic() > deadline:
                    raise ReviewError(
                        f"another `review push` to {title!r} held the project for {wait_s:.0f} s; try again later"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _push_locked(
    conn: Connection,
    drafts: list[dict[str, Any]],
    reviewed: list[dict[str, Any]],
    pairs: dict[str, dict[str, Any]],
    versions: Counter,
    title: str,
    overlap: int | None,
) -> int:
    client = connect(conn)
    project = find_project(client, title)
    main_version = versions.most_common(1)[0][0] if versions else None
    if project is None:
        project = client.projects.create(
            title=title,
            description="Empathy-QA: 核对 LLM 起草的共情链（CoE）",
            label_config=label_config(),
            expert_instruction=instruction_html(),
            show_instruction=True,
            show_skip_button=True,
            maximum_annotations=overlap or 1,
            overlap_cohort_percentage=100,
            show_collab_predictions=True,
            model_version=main_version,
        )
        print(f"created project {title!r} (id {project.id})")
    else:
        changes: dict[str, Any] = {}
        if (project.label_config or "").strip() != label_config().strip():
            changes["label_config"] = label_config()
        if overlap and project.maximum_annotations != overlap:
            changes["maximum_annotations"] = overlap
        if not project.model_version and main_version:
            changes["model_version"] = main_version
        if _same_html(project.expert_instruction or "") != _same_html(instruction_html()):
            changes["expert_instruction"] = instruction_html()
            changes["show_instruction"] = True
        if changes:
            project = client.projects.update(id=project.id, **changes)
            print(f"updated project {title!r}: {', '.join(sorted(changes))}")
    if project.model_version and any(v != project.model_version for v in versions):
        others = sorted(v for v in versions if v != project.model_version)
        print(
            f"warning: the editor pre-fills drafts of {project.model_version} only; {', '.join(others)} "
            "show as predictions without pre-fill: push them to a project of their own",
            file=sys.stderr,
        )
    # The index of pairs in the project: listed once, then kept up to date as batches go in.
    existing = {task.data.get("pair_id") for task in client.tasks.list(project=project.id, fields="all")}
    in_project = len(existing)
    new = [d for d in drafts if pair_id(d["question_id"], d["answer_id"]) not in existing]
    tasks = [build_task(d, pairs[pair_id(d["question_id"], d["answer_id"])]) for d in new]
    batches = [tasks[i : i + IMPORT_BATCH] for i in range(0, len(tasks), IMPORT_BATCH)]
    for batch in progress(batches, "import", unit="batch"):
        batch = [task for task in batch if task["data"]["pair_id"] not in existing]
        if batch:
            client.projects.import_tasks(id=project.id, request=batch, return_task_ids=True)
            existing.update(task["data"]["pair_id"] for task in batch)
    print_summary(
        f"review push -> {title}",
        {
            "drafts read": len(drafts) + len(reviewed),
            "skipped: not a draft": len(reviewed),
            "already in project": len(drafts) - len(new),
            "imported": len(new),
            "tasks in project": in_project + len(new),
            "overlap (annotators per task)": project.maximum_annotations,
        },
    )
    print(f"{conn.url}/projects/{project.id}/data")
    return 0


# --------------------------------------------------------------------------- add-annotator
def add_annotator(conn: Connection, email: str, password: str | None) -> int:
    client = connect(conn)
    email = email.strip().lower()
    if "@" not in email:
        raise ReviewError(f"{email!r} is not an email address")
    if any((user.email or "").lower() == email for user in client.users.list()):
        raise ReviewError(f"an account for {email} already exists at {conn.url}: they log in with it")
    password = password or secrets.token_urlsafe(9)
    try:
        ls_server.signup_user(conn.url, conn.token, email, password)
    except ls_server.ServerError as exc:
        raise ReviewError(str(exc)) from exc
    print(f"annotator account created: {email}")
    print(f"  log in at   {conn.url}/user/login/")
    print(f"  password    {password}   (hand it over privately; it can be changed under Account & Settings)")
    print("  guidelines  shown as the project's Instructions; they start from 'Label All Tasks'")
    return 0


# --------------------------------------------------------------------------- status
def status(conn: Connection, title: str) -> int:
    client = connect(conn)
    project = require_project(client, title, conn.url)
    emails = {user.id: user.email for user in client.users.list()}
    overlap = project.maximum_annotations or 1
    done = started = total = 0
    submitted: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    # Label Studio Community shows a task's annotations to whoever opens it from the task list, and does
    # not record who opened what; it does record building on, or changing, someone else's annotation.
    others_work: dict[str, set[int]] = defaultdict(set)
    for task in client.tasks.list(project=project.id, fields="all"):
        total += 1
        count = 0
        authors = {a.get("id"): a.get("completed_by") for a in task.annotations or []}
        for annotation in task.annotations or []:
            author = annotation.get("completed_by")
            parent_author = authors.get(annotation.get("parent_annotation"))
            if parent_author is not None and parent_author != author:
                others_work[emails.get(author, f"user-{author}")].add(task.id)
            editor = annotation.get("updated_by")
            if editor is not None and editor != author:
                others_work[emails.get(editor, f"user-{editor}")].add(task.id)
            who = emails.get(annotation.get("completed_by"), f"user-{annotation.get('completed_by')}")
            if annotation.get("was_cancelled"):
                skipped[who] += 1
            else:
                submitted[who] += 1
                count += 1
        done += count >= overlap
        started += 0 < count < overlap
    print(f"project {title!r} (id {project.id}), {overlap} annotator(s) per task")
    print(f"  tasks        {total}")
    print(f"  annotated    {done}")
    print(f"  in progress  {started}")
    print(f"  remaining    {total - done}")
    for who in sorted(set(submitted) | set(skipped)):
        print(f"  {who}: {submitted[who]} submitted, {skipped[who]} skipped")
    for who, task_ids in sorted(others_work.items()):
        print(
            f"  warning: {who} worked from another annotator's annotation on {len(task_ids)} task(s) "
            f"(e.g. task {min(task_ids)}): opened from the task list, not 'Label All Tasks'; "
            "their votes there are not independent"
        )
    return 0


# --------------------------------------------------------------------------- pull
def _record(task: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    draft = draft_layers(task.data)
    votes = [
        Vote(r["annotation_id"], r["status"], {n: r[n] for n in LAYERS}, r["ground_truth"]) for r in rows
    ]
    outcome = resolve(draft, votes)
    rejecting = [r for r in rows if r["status"] == "rejected"]
    record = json.loads(task.data["record"])
    record.update(outcome.layers)
    record["status"] = outcome.status
    record["draft"] = draft
    record["review"] = {
        "annotators": [r["annotator"] for r in rows],
        "ratings": [r["rating"] for r in rows],
        "verdicts": [r["status"] for r in rows],
        "reject_reasons": sorted({reason for r in rejecting for reason in r["reject_reasons"]}),
        "comments": [r["comment"] for r in rows],
        "flags": sorted({flag for r in rows for flag in r["flags"]}),
        "lead_times": [r["lead_time"] for r in rows],
        "edit_distance": layers_edit_distance(draft, outcome.layers),
        "agreement": None if outcome.agreement is None else round(outcome.agreement, 6),
        "needs_adjudication": outcome.needs_adjudication,
        "task_id": task.id,
        "annotation_ids": [r["annotation_id"] for r in rows],
        "text_similarity": None if outcome.text_similarity is None else round(outcome.text_similarity, 6),
        "resolution": outcome.rule,
    }
    return record


def _project_agreement(title: str, records: list[dict], rows: list[dict]) -> dict[str, Any]:
    ratings: dict[int, dict[str, Any]] = defaultdict(dict)
    verdicts: dict[int, dict[str, Any]] = defaultdict(dict)
    for r in rows:
        if r["status"] == "skipped":
            continue
        verdicts[r["task_id"]][r["annotator"]] = r["status"]
        if r["rating"] is not None:
            ratings[r["task_id"]][r["annotator"]] = r["rating"]
    task_agreement = [rec["review"]["agreement"] for rec in records if rec["review"]["agreement"] is not None]
    similarity = [
        rec["review"]["text_similarity"] for rec in records if rec["review"]["text_similarity"] is not None
    ]
    per_annotator: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        per_annotator[r["annotator"]][r["status"]] += 1

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 6) if values else None

    return {
        "project": title,
        "tasks": len(records),
        "tasks_with_votes": sum(1 for v in verdicts.values() if v),
        "tasks_with_overlap": len(task_agreement),
        "annotations": len(rows),
        "status_counts": dict(sorted(Counter(rec["status"] for rec in records).items())),
        "needs_adjudication": sum(rec["review"]["needs_adjudication"] for rec in records),
        "rating_alpha_ordinal": alpha(ratings, "ordinal"),
        "verdict_alpha_nominal": alpha(verdicts, "nominal"),
        "verdict_agreement": mean(task_agreement),
        "text_similarity": mean(similarity),
        "per_annotator": {who: dict(sorted(c.items())) for who, c in sorted(per_annotator.items())},
    }


def pull(conn: Connection, title: str, out: Path) -> int:
    client = connect(conn)
    project = require_project(client, title, conn.url)
    emails = {user.id: user.email for user in client.users.list()}
    tasks = list(client.tasks.list(project=project.id, fields="all"))
    foreign = [t.id for t in tasks if not {"pair_id", "record"} <= set(t.data or {})]
    if foreign:
        raise ReviewError(
            f"{len(foreign)} task(s) in {title!r} were not made by `review push` (first: task {foreign[0]}): "
            "pull reads only projects that push created"
        )
    by_pair: dict[str, list[Any]] = defaultdict(list)
    for task in sorted(tasks, key=lambda t: t.id):
        by_pair[task.data["pair_id"]].append(task)
    duplicates = {pair: [t.id for t in group] for pair, group in by_pair.items() if len(group) > 1}
    if duplicates:
        first = next(iter(sorted(duplicates)))
        print(
            f"warning: {len(duplicates)} pair(s) have more than one task (e.g. {first}: tasks "
            f"{duplicates[first]}); each pair is pulled once, from its first task, with every annotator's "
            "latest vote on any of its tasks",
            file=sys.stderr,
        )
    records, rows = [], []
    for pair in progress(sorted(by_pair), "pull", unit="task"):
        group = by_pair[pair]
        task = group[0]
        task_rows = [annotation_row(t, a, emails) for t in group for a in t.annotations or []]
        if len(group) > 1:  # one vote per annotator, counted on the pair's first task
            latest: dict[Any, dict[str, Any]] = {}
            for row in sorted(task_rows, key=lambda r: (r["updated_at"], r["annotation_id"])):
                latest[row["annotator_id"]] = dict(row, task_id=task.id)
            task_rows = list(latest.values())
        task_rows.sort(key=lambda r: r["annotation_id"])
        rows.extend(task_rows)
        records.append(_record(task, task_rows))
    agreement = _project_agreement(title, records, rows)
    ties = [
        {
            "pair_id": rec["question_id"] + "/" + rec["answer_id"],
            "task_id": rec["review"]["task_id"],
            "votes": [
                {"annotator": a, "verdict": v, "rating": s}
                for a, v, s in zip(
                    rec["review"]["annotators"],
                    rec["review"]["verdicts"],
                    rec["review"]["ratings"],
                    strict=True,
                )
            ],
        }
        for rec in records
        if rec["review"]["needs_adjudication"]
    ]
    out.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(conform(records, COE_RECORD), out / "coe.parquet")
    write_parquet_atomic(conform(rows, ANNOTATION_ROW), out / "annotations.parquet")
    write_json_atomic(agreement, out / "agreement.json")
    write_json_atomic(ties, out / "adjudication.json")
    summary: dict[str, Any] = {"tasks": len(records), "annotations kept": len(rows)}
    if duplicates:
        summary["duplicate tasks merged"] = sum(len(ids) - 1 for ids in duplicates.values())
    summary.update({f"status {k}": v for k, v in agreement["status_counts"].items()})
    summary["ties for adjudication"] = len(ties)
    for key in ("rating_alpha_ordinal", "verdict_agreement", "text_similarity"):
        summary[key] = "n/a (no overlap)" if agreement[key] is None else agreement[key]
    print_summary(f"review pull <- {title}", summary)
    print(f"wrote {out}/coe.parquet, annotations.parquet, agreement.json, adjudication.json")
    return 0


# --------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m annotation review",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="Label Studio URL (default: LABEL_STUDIO_URL or the local server)")
    common.add_argument("--token", help="API token (default: LABEL_STUDIO_API_KEY or the local admin's)")
    common.add_argument("--data-dir", type=Path, help="the local server's data dir (default: .label-studio)")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("push", parents=[common], help="import drafts as pre-filled tasks (idempotent)")
    cmd.add_argument("drafts", type=Path, help="coe.parquet of drafts, or a folder holding it")
    cmd.add_argument(
        "--curated",
        type=Path,
        help="curated threads (file or folder) with the posts and answers (default: curated.parquet beside DRAFTS)",
    )
    cmd.add_argument("--project", required=True, help="project title (created if missing)")
    cmd.add_argument("--overlap", type=int, help="annotators per task (default 1 for a new project)")
    cmd = sub.add_parser("add-annotator", parents=[common], help="create an annotator account")
    cmd.add_argument("email")
    cmd.add_argument("--password", help="their password (default: generated and printed)")
    cmd = sub.add_parser("status", parents=[common], help="tasks done and remaining, per annotator")
    cmd.add_argument("--project", required=True)
    cmd = sub.add_parser("pull", parents=[common], help="export annotations as reviewed CoE records")
    cmd.add_argument("--project", required=True)
    cmd.add_argument("--out", type=Path, required=True, help="folder for the snapshot")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "push" and args.overlap is not None and args.overlap < 1:
            raise ReviewError("--overlap must be 1 or more")
        conn = resolve_connection(args.url, args.token, args.data_dir)
        if args.command == "push":
            return push(conn, args.drafts, args.curated, args.project, args.overlap)
        if args.command == "add-annotator":
            return add_annotator(conn, args.email, args.password)
        if args.command == "status":
            return status(conn, args.project)
        return pull(conn, args.project, args.out)
    except ReviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:
        print(
            f"error: Label Studio refused the request (HTTP {exc.status_code}): {exc.body}", file=sys.stderr
        )
        return 1
    except httpx.HTTPError as exc:
        print(
            f"error: lost the connection to Label Studio ({exc}); check it with `make label-studio`",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
