"""The output store of earlier runs, for incremental re-crawls: source_id -> stored answer count."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow.parquet as pq

logger = logging.getLogger(__name__)


def stored_answer_counts(folder: str | Path) -> dict[str, int]:
    """The largest answer count stored per question id in *.jsonl / *.parquet under `folder`."""
    counts: dict[str, int] = {}
    root = Path(folder)
    if not root.is_dir():
        return counts
    for path in sorted(root.glob("*.jsonl")):
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a run killed mid-line leaves a partial last line
                if isinstance(row, dict):
                    _keep(counts, row.get("source_id"), row.get("answers"), row.get("answer_count"))
    for path in sorted(root.glob("*.parquet")):
        try:
            table = pq.read_table(path, columns=["source_id", "answers", "answer_count"])
        except Exception as exc:  # a broken file must not stop a crawl
            logger.warning("Incremental store: skipping unreadable %s (%s)", path, exc)
            continue
        for row in table.to_pylist():
            _keep(counts, row["source_id"], row["answers"], row["answer_count"])
    return counts


def _keep(counts: dict[str, int], source_id: object, answers: object, answer_count: object) -> None:
    if not isinstance(source_id, str):
        return
    # The site's own count is what the list page shows; compare like with like.
    n = answer_count if isinstance(answer_count, int) else len(answers) if isinstance(answers, list) else 0
    counts[source_id] = max(n, counts.get(source_id, -1))
