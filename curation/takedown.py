"""A takedown list: posts that curation and every release leave out, whatever the input holds.

The file holds one `source:source_id` per line (the question id); `#` starts a comment. Both the file
named by the `takedown` setting (`--takedown FILE`, recorded in the curation report, so a release reads
the list as it is then) and the one named by `$EMPATHYQA_TAKEDOWN` are honoured. Taken-down posts leave
no trace in the output, not even in the rejects: only their number is reported.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from curation.pipeline import Batch, Context, Step
from curation.steps import safe_id

ENV = "EMPATHYQA_TAKEDOWN"


class TakedownError(ValueError):
    """A takedown file that cannot be read or holds a line that is not `source:source_id`."""


def takedown_paths(setting: str | Path | None = None) -> list[Path]:
    return [Path(named) for named in dict.fromkeys((setting, os.environ.get(ENV))) if named]


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int) -> frozenset[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TakedownError(f"takedown list {path} cannot be read: {exc}") from exc
    ids = set()
    for lineno, line in enumerate(lines, 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        source, _, source_id = entry.partition(":")
        if not source or not source_id.strip() or " " in entry:
            raise TakedownError(f"{path}:{lineno}: expected `source:source_id`, got {entry!r}")
        source, source_id = source.strip(), source_id.strip()
        # curation re-keys an id that is itself an identifier: match that form too
        ids.update((f"{source}:{source_id}", f"{source}:{safe_id(source, source_id)}"))
    return frozenset(ids)


def load_takedown(setting: str | Path | None = None) -> frozenset[str]:
    """The question ids on the lists named by `setting` and $EMPATHYQA_TAKEDOWN (empty when none)."""
    ids: frozenset[str] = frozenset()
    for path in takedown_paths(setting):
        if not path.is_file():
            raise TakedownError(f"takedown list {path} not found")
        ids |= _load(path.absolute(), path.stat().st_mtime_ns)
    return ids


def drop_taken_down(
    threads: Iterable[dict[str, Any]], setting: str | Path | None = None
) -> list[dict[str, Any]]:
    """Threads whose `question_id` (or `source:source_id`) is not on the takedown list."""
    ids = load_takedown(setting)
    return [t for t in threads if not ids or not is_taken_down(t, ids)]


def is_taken_down(thread: dict[str, Any], ids: frozenset[str]) -> bool:
    qid = thread.get("question_id") or f"{thread.get('source')}:{thread.get('source_id')}"
    return qid in ids or f"{thread.get('source')}:{thread.get('source_id')}" in ids


class Takedown(Step):
    """Drops taken-down threads before anything reads them; counted, never written to the rejects."""

    name = "takedown"

    def __init__(self, ids: frozenset[str]) -> None:
        self.ids = ids

    def process(self, batch: Batch, ctx: Context) -> Batch:
        kept = [doc for doc in batch if not is_taken_down(doc, self.ids)]
        if len(kept) != len(batch):
            ctx.step(self.name).dropped["taken_down"] += len(batch) - len(kept)
        return kept
