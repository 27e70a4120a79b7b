"""The human ranking round in Label Studio.

`push`: one task per post; the systems' answers appear as 回答A, 回答B, ... in a fresh random
order per task, and annotators rank the labels on each of the four dimensions (one Ranker per
dimension: every answer dragged from the left column into the ranked one, best on top; a required
"已排好" tick per dimension before submit). Which system hides behind which label is stored only in the local
state file, never in Label Studio. `pull`: the submitted rankings are mapped back to systems and
turned into the same Win@K table as the LLM judge, with inter-rater agreement.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from empathyqa.io import write_json_atomic
from training.evaluate.generate import EvaluateInputError
from training.evaluate.judge import DIMENSION_GUIDE, labels_for
from training.evaluate.ranking import DIMENSIONS, Judgement

STATE_VERSION = 1
PREVIEW_CHARS = 40


DIMENSION_NAMES = {d: DIMENSION_GUIDE[d].split("：", 1)[0] for d in DIMENSIONS}
# Each dimension's answers start in the left column; the annotator drags every one into the right
# column, best on top. Only a right column holding all of them is a ranking: the editor saves an
# untouched ranker too (everything left, in the shown order), and that is no judgement at all.
RANKED = "{dimension}_ranked"  # the ranked column of a dimension (names must be unique in a config)
STYLE = """  <Style>
    .htx-ranker-item p:last-child { display: none; }
    .htx-ranker-column { min-height: 120px; }
    .htx-ranker-item { font-size: 15px; }
  </Style>"""


def label_config(n_answers: int) -> str:
    labels = labels_for(n_answers)
    answers = "\n".join(
        f'    <Header value="回答{label}" size="5"/>\n    <Text name="answer_{label}" value="$answer_{label}"/>'
        for label in labels
    )
    rankers = []
    for d in DIMENSIONS:
        name = DIMENSION_NAMES[d]
        rankers.append(
            f'    <Header value="{escape(DIMENSION_GUIDE[d])}" size="5"/>\n'
            f'    <List name="{d}_answers" value="$items" title="{name}：待排序"/>\n'
            f'    <Ranker name="{d}" toName="{d}_answers">\n'
            f'      <Bucket name="{RANKED.format(dimension=d)}" title="{name}：排好的顺序（最好的在最上面）"/>\n'
            "    </Ranker>\n"
            f'    <Choices name="{d}_done" toName="post" required="true" '
            f'requiredMessage="「{name}」还没有排好：把全部回答拖到右栏并排好顺序，再勾选「{name}已排好」。">\n'
            f'      <Choice value="{name}已排好" alias="done"/>\n'
            "    </Choices>"
        )
    return (
        "<View>\n"
        f"{STYLE}\n"
        '  <Header value="求助帖"/>\n  <Text name="post" value="$post"/>\n'
        f'  <View style="display: grid; gap: 8px">\n{answers}\n  </View>\n'
        '  <Header value="请在每个维度上把全部回答从左栏拖到右栏，最好的放最上面"/>\n'
        f"  <View>\n" + "\n".join(rankers) + "\n  </View>\n"
        "</View>"
    )


INSTRUCTION = (
    "<p>每个任务有一篇求助帖和若干匿名回答（回答A、B……的顺序每个任务随机，与来源无关）。"
    "请在四个维度上分别排序：流畅度、情绪识别、安慰、建议。</p>"
    "<p>做法：按住左栏「待排序」里的回答卡片，拖到右栏「排好的顺序」，最好的放最上面、最差的放最下面；"
    "全部回答都要拖过去。每个维度排好后勾选下面的「……已排好」，四个维度都勾选了才能提交（Ctrl+Enter）。"
    "只排了一部分的维度不计入结果。</p>"
    "<p>也可以用键盘：Tab 选中卡片，空格拿起，→ 移到右栏，↑/↓ 调整位置，空格放下。</p>"
)


def client(url: str | None, api_key: str | None):
    from label_studio_sdk import LabelStudio

    url = url or os.environ.get("LABEL_STUDIO_URL")
    api_key = api_key or os.environ.get("LABEL_STUDIO_API_KEY")
    if not url or not api_key:
        raise EvaluateInputError(
            "Label Studio needs --url and --api-key (or LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY)"
        )
    return LabelStudio(base_url=url, api_key=api_key), url


@contextmanager
def label_studio_errors(url: str) -> Iterator[None]:
    """Label Studio's refusals and an unreachable server as one clear line, not a traceback."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    try:
        yield
    except ApiError as exc:
        raise EvaluateInputError(
            f"Label Studio at {url} refused: HTTP {exc.status_code}: {str(exc.body)[:200]}"
        ) from exc
    except httpx.HTTPError as exc:
        raise EvaluateInputError(f"cannot reach Label Studio at {url}: {exc}") from exc


def build_tasks(
    systems: dict[str, list[dict[str, Any]]], posts: list[str], seed: int
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Task payloads and, per task ref, the label -> system mapping (kept locally)."""
    names = sorted(systems)
    labels = labels_for(len(names))
    by_post = {s: {r["question_id"]: r for r in rows} for s, rows in systems.items()}
    rng = random.Random(seed)
    tasks, mapping = [], {}
    for i, qid in enumerate(posts, 1):
        order = names[:]
        rng.shuffle(order)
        ref = f"t{i:05d}"
        texts = [(by_post[system][qid]["answer"] or "").strip() or "（空）" for system in order]
        data = {
            "ref": ref,
            "post": by_post[names[0]][qid]["prompt"],
            # the ranker cards carry the label and the answer's opening as a reminder
            "items": [
                {
                    "id": x,
                    "title": f"回答{x}",
                    "body": text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else ""),
                }
                for x, text in zip(labels, texts, strict=True)
            ],
        }
        for label, text in zip(labels, texts, strict=True):
            data[f"answer_{label}"] = text
        tasks.append({"data": data})
        mapping[ref] = {"question_id": qid, "labels": dict(zip(labels, order, strict=True))}
    return tasks, mapping


def push(
    systems: dict[str, list[dict[str, Any]]],
    posts: list[str],
    state_path: Path,
    *,
    url: str | None,
    api_key: str | None,
    title: str,
    seed: int,
    overlap: int,
) -> dict[str, Any]:
    if len(systems) < 2:
        raise EvaluateInputError("a ranking round needs at least two systems")
    if state_path.exists():
        raise EvaluateInputError(
            f"{state_path} exists: it holds an earlier round's hidden mapping; pass another --state"
        )
    ls, base_url = client(url, api_key)
    tasks, mapping = build_tasks(systems, posts, seed)
    with label_studio_errors(base_url):
        return _push(ls, base_url, systems, tasks, mapping, state_path, title, overlap)


def _push(
    ls, base_url, systems, tasks, mapping, state_path: Path, title: str, overlap: int
) -> dict[str, Any]:
    project = ls.projects.create(
        title=title,
        label_config=label_config(len(systems)),
        expert_instruction=INSTRUCTION,
        show_instruction=True,
        maximum_annotations=max(1, overlap),
    )
    ls.projects.import_tasks(id=project.id, request=tasks, return_task_ids=True)
    task_ids = {}
    for task in ls.tasks.list(project=project.id, fields="all"):
        data = task.data or {}
        if data.get("ref") in mapping:
            task_ids[str(task.id)] = data["ref"]
    if len(task_ids) != len(mapping):
        raise EvaluateInputError(f"imported {len(mapping)} tasks but Label Studio lists {len(task_ids)}")
    state = {
        "version": STATE_VERSION,
        "url": base_url,
        "project_id": project.id,
        "systems": sorted(systems),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tasks": {task_id: mapping[ref] | {"ref": ref} for task_id, ref in task_ids.items()},
    }
    write_json_atomic(state, state_path)
    return state


def load_state(path: Path) -> dict[str, Any]:
    import json

    if not path.is_file():
        raise EvaluateInputError(f"state file not found: {path} (written by `evaluate human push`)")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvaluateInputError(f"{path} is not a human-round state file (not JSON)") from exc
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION or "tasks" not in state:
        raise EvaluateInputError(f"{path} is not a human-round state file")
    return state


def ranking_ids(value: Any, dimension: str, labels: list[str] | None = None) -> list[str] | None:
    """The ordered ids the annotator put in the ranked column, or None when no ranking was made there:
    nothing moved (the editor then saves every answer in the left column `_`, in the shown order),
    a result of another shape, or (given `labels`) not every answer moved."""
    ranked = value.get("ranker") if isinstance(value, dict) else None
    column = RANKED.format(dimension=dimension)
    if not isinstance(ranked, dict) or not isinstance(ranked.get(column), list) or not ranked[column]:
        return None
    ids = [str(x) for x in ranked[column]]
    if labels is not None and (sorted(ids) != sorted(labels) or ranked.get("_")):
        return None
    return ids


def annotation_judgements(
    state: dict[str, Any], tasks: list[dict[str, Any]]
) -> tuple[list[Judgement], dict[str, int]]:
    """Judgements from exported tasks; counts of what was skipped and why."""
    judgements: list[Judgement] = []
    counts = {
        "annotations": 0,
        "cancelled": 0,
        "incomplete_rankings": 0,
        "unranked_dimensions": 0,
        "unknown_tasks": 0,
    }
    for task in tasks:
        entry = state["tasks"].get(str(task.get("id")))
        if entry is None:
            counts["unknown_tasks"] += 1
            continue
        labels = entry["labels"]
        for annotation in task.get("annotations") or []:
            if annotation.get("was_cancelled"):
                counts["cancelled"] += 1
                continue
            counts["annotations"] += 1
            annotator = annotation.get("completed_by")
            if isinstance(annotator, dict):
                annotator = annotator.get("id") or annotator.get("email")
            ranked: set[str] = set()
            for item in annotation.get("result") or []:
                dimension = item.get("from_name")
                if item.get("type") != "ranker" or dimension not in DIMENSIONS or dimension in ranked:
                    continue
                if ranking_ids(item.get("value"), dimension) is None:
                    continue  # nothing moved into the ranked column: not ranked
                ids = ranking_ids(item.get("value"), dimension, list(labels))
                if ids is None:
                    counts["incomplete_rankings"] += 1
                    continue
                ranked.add(dimension)
                judgements.append(
                    Judgement(
                        entry["question_id"],
                        dimension,
                        tuple(labels[x] for x in ids),
                        f"annotator-{annotator}",
                    )
                )
            # an annotator who never touched a Ranker leaves no result for that dimension
            counts["unranked_dimensions"] += len(DIMENSIONS) - len(ranked)
    return judgements, counts


def export_tasks(state: dict[str, Any], url: str | None, api_key: str | None) -> list[dict[str, Any]]:
    ls, base_url = client(url or state.get("url"), api_key)
    with label_studio_errors(base_url):
        return _export(ls, state["project_id"])


def _export(ls, project_id: int) -> list[dict[str, Any]]:
    tasks = []
    for task in ls.tasks.list(project=project_id, fields="all"):
        dumped = task.model_dump() if hasattr(task, "model_dump") else dict(task)
        annotations = []
        for a in dumped.get("annotations") or []:
            annotations.append(a if isinstance(a, dict) else dict(a))
        dumped["annotations"] = annotations
        tasks.append(dumped)
    return tasks


def pull_report(
    state: dict[str, Any], tasks: list[dict[str, Any]], ks: list[int], bootstrap: int, seed: int, out: Path
) -> tuple[dict[str, Any], dict[str, Path]]:
    """The Win@K table and inter-rater agreement from exported tasks, written as a report."""
    from training.evaluate.ranking import agreement, win_table
    from training.evaluate.report import agreement_markdown, ranking_markdown, write_report

    systems = state["systems"]
    judgements, counts = annotation_judgements(state, tasks)
    table = win_table(judgements, systems, ks, bootstrap, seed) if judgements else {}
    agree = agreement(judgements, systems) if judgements else None
    report = {
        "systems": systems,
        "project_id": state["project_id"],
        "tasks": len(state["tasks"]),
        "counts": counts,
        "ks": ks,
        "table": table,
        "agreement": agree,
    }
    markdown = [
        "# Empathy-QA human ranking",
        "",
        f"Label Studio project {state['project_id']}: {len(state['tasks'])} tasks, {counts['annotations']} "
        f"annotations ({counts['cancelled']} skipped; left out: {counts['incomplete_rankings']} incomplete "
        f"rankings, {counts['unranked_dimensions']} dimensions an annotator did not rank).",
        "Only rankings that were made count: every answer moved into the ranked column.",
        "Ranks are averaged over annotators, then over the four dimensions; ties share places.",
        "",
        *ranking_markdown(table, ks),
    ]
    if agree:
        markdown += ["", "## Inter-rater agreement", "", *agreement_markdown(agree, "annotators")]
    files = write_report(out, report, markdown, table or None, ks, "Human ranking: Win@K per system")
    return report, files
