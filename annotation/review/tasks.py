"""Files in and out of review: drafts + curated threads become Label Studio tasks; annotations come back
as rows (every one kept, `annotations.parquet`) and resolved CoE records (`coe.parquet`).

The drafting stage's `coe.parquet` holds ids and layers only, so the post and the answer come from
the curated set (`--curated`, CURATED_THREAD; by default a `curated.parquet` beside the drafts). Each task carries the whole draft record as JSON, so a
pull needs nothing but the server to rebuild complete CoE records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from annotation.review.agreement import layers_edit_distance
from empathyqa.io import read_table
from empathyqa.labelstudio import ReviewError
from empathyqa.schema import COE_RECORD, LAYERS, pair_id

DRAFT_REQUIRED = ("question_id", "answer_id", *LAYERS, "model", "prompt_version")
CURATED_REQUIRED = ("question_id", "title", "body", "answers")

ANNOTATION_ROW = pa.schema(
    [
        ("pair_id", pa.string()),
        ("question_id", pa.string()),
        ("answer_id", pa.string()),
        ("task_id", pa.int64()),
        ("annotation_id", pa.int64()),
        ("annotator", pa.string()),  # the account's email
        ("annotator_id", pa.int64()),
        ("verdict", pa.string()),  # what the annotator chose: accept | edit | reject | null
        ("status", pa.string()),  # what it means: accepted | edited | rejected | skipped
        ("l1", pa.string()),
        ("l2", pa.string()),
        ("l3", pa.string()),
        ("l4", pa.string()),
        ("edit_distance", pa.int64()),
        ("rating", pa.int64()),
        ("reject_reasons", pa.list_(pa.string())),
        ("flags", pa.list_(pa.string())),
        ("comment", pa.string()),
        ("lead_time", pa.float64()),
        ("was_cancelled", pa.bool_()),
        ("ground_truth", pa.bool_()),
        ("created_at", pa.string()),
        ("updated_at", pa.string()),
        ("result_json", pa.string()),  # Label Studio's own result, verbatim
    ]
)


def _parquet_file(path: Path, preferred: str) -> list[Path]:
    if not path.exists():
        raise ReviewError(f"{path} does not exist")
    if path.is_file():
        return [path]
    named = path / preferred
    if named.exists():
        return [named]
    found = sorted(path.rglob("*.parquet"))
    if not found:
        raise ReviewError(f"no Parquet file in {path}")
    return found


def _read(paths: list[Path], required: tuple[str, ...], what: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        rows.extend(read_table(path, required, what, error=ReviewError).to_pylist())
    return rows


def load_drafts(path: Path) -> list[dict[str, Any]]:
    """Draft CoE records, each with every required field non-empty; duplicates by pair: first kept."""
    rows = _read(_parquet_file(Path(path), "coe.parquet"), DRAFT_REQUIRED, "CoE drafts")
    problems = []
    for i, row in enumerate(rows):
        empty = [
            name for name in DRAFT_REQUIRED if not (isinstance(row.get(name), str) and row[name].strip())
        ]
        if empty:
            problems.append(
                f"row {i} ({row.get('question_id')}/{row.get('answer_id')}): empty {', '.join(empty)}"
            )
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ReviewError(f"drafts in {path} have missing fields: {'; '.join(problems[:3])}{more}")
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        unique.setdefault(pair_id(row["question_id"], row["answer_id"]), row)
    return list(unique.values())


def find_curated(given: Path | None, drafts: Path) -> Path:
    """--curated, else a curated.parquet lying beside the drafts."""
    if given is not None:
        return Path(given)
    beside = (drafts if drafts.is_dir() else drafts.parent) / "curated.parquet"
    if beside.exists():
        return beside
    raise ReviewError(
        "give --curated DIR_OR_FILE: the curated threads the drafts were made from (post + answer); "
        f"no curated.parquet lies beside {drafts}"
    )


def load_curated(path: Path) -> dict[str, dict[str, Any]]:
    """(question, answer) pairs by pair id: title, post body, answer body, risk level."""
    pairs: dict[str, dict[str, Any]] = {}
    for row in _read(_parquet_file(Path(path), "curated.parquet"), CURATED_REQUIRED, "curated threads"):
        for answer in row.get("answers") or []:
            pairs[pair_id(row["question_id"], answer["answer_id"])] = {
                "title": row.get("title") or "",
                "post": row.get("body") or "",
                "answer": answer.get("body") or "",
                "risk_level": row.get("risk_level") or "none",
            }
    return pairs


def model_version(draft: Mapping[str, Any]) -> str:
    return f"{draft['model']}@{draft['prompt_version']}"


def build_task(draft: Mapping[str, Any], pair: Mapping[str, Any]) -> dict[str, Any]:
    """One Label Studio task: post + answer to read, the draft as an editable prediction."""
    record = {name: draft.get(name) for name in COE_RECORD.names if name not in ("status", "review", "draft")}
    data = {
        "pair_id": pair_id(draft["question_id"], draft["answer_id"]),
        "question_id": draft["question_id"],
        "answer_id": draft["answer_id"],
        "title": pair["title"],
        "post": pair["post"],
        "answer": pair["answer"],
        "risk_level": pair["risk_level"],
        "model_version": model_version(draft),
        "record": json.dumps(record, ensure_ascii=False, sort_keys=True, default=str),
    }
    result = [
        {"from_name": name, "to_name": "post", "type": "textarea", "value": {"text": [draft[name]]}}
        for name in LAYERS
    ]
    return {"data": data, "predictions": [{"model_version": model_version(draft), "result": result}]}


# --------------------------------------------------------------------------- annotations back
def _values(result: list[Mapping[str, Any]], name: str, key: str) -> list[Any] | None:
    for item in result:
        if item.get("from_name") == name:
            return list((item.get("value") or {}).get(key) or [])
    return None


def draft_layers(task_data: Mapping[str, Any]) -> dict[str, str]:
    record = json.loads(task_data["record"])
    return {name: record[name] for name in LAYERS}


def annotation_row(task: Any, annotation: Mapping[str, Any], emails: Mapping[int, str]) -> dict[str, Any]:
    """One submitted annotation as a flat row; a layer the result leaves out counts as the draft's text."""
    data = task.data
    draft = draft_layers(data)
    result = annotation.get("result") or []
    layers = {}
    for name in LAYERS:
        texts = _values(result, name, "text")
        layers[name] = draft[name] if texts is None else "\n".join(t.strip() for t in texts).strip()
    verdict = (_values(result, "verdict", "choices") or [None])[0]
    rating = next((item["value"].get("rating") for item in result if item.get("from_name") == "rating"), None)
    distance = layers_edit_distance(draft, layers)
    if annotation.get("was_cancelled"):
        status = "skipped"
    elif verdict == "reject":
        status = "rejected"
    else:  # the text decides: an "accept" that changed the text is an edit, an "edit" that did not is an accept
        status = "edited" if distance else "accepted"
    comment = _values(result, "comment", "text")
    user_id = annotation.get("completed_by")
    return {
        "pair_id": data["pair_id"],
        "question_id": data["question_id"],
        "answer_id": data["answer_id"],
        "task_id": task.id,
        "annotation_id": annotation["id"],
        "annotator": emails.get(user_id, f"user-{user_id}"),
        "annotator_id": user_id,
        "verdict": verdict,
        "status": status,
        **layers,
        "edit_distance": distance,
        "rating": int(rating) if rating is not None else None,
        "reject_reasons": sorted(_values(result, "reject_reason", "choices") or []),
        "flags": sorted(_values(result, "flags", "choices") or []),
        "comment": "\n".join(comment).strip() if comment else "",
        "lead_time": annotation.get("lead_time"),
        "was_cancelled": bool(annotation.get("was_cancelled")),
        "ground_truth": bool(annotation.get("ground_truth")),
        "created_at": str(annotation.get("created_at") or ""),
        "updated_at": str(annotation.get("updated_at") or ""),
        "result_json": json.dumps(result, ensure_ascii=False, sort_keys=True),
    }
