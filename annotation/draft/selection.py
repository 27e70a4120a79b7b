"""Which (question, answer) pairs of a curated set get a CoE draft."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from empathyqa.io import read_table
from empathyqa.schema import pair_id


@dataclass(frozen=True)
class Pair:
    question_id: str
    answer_id: str
    title: str
    question: str
    answer: str
    author_role: str
    likes: int

    @property
    def pair_id(self) -> str:
        return pair_id(self.question_id, self.answer_id)


class InputError(Exception):
    """Unusable input: reported as one clear line."""


def curated_path(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / "curated.parquet"
    if not path.exists():
        raise InputError(f"curated set not found: {path}")
    return path


def read_curated(path: str | Path) -> list[dict]:
    path = curated_path(path)
    required = ("answers", "body", "question_id", "title")
    return read_table(path, required, "curated set", error=InputError).to_pylist()


def _answer_rank(answer: dict) -> tuple:
    # counselor answers first, then by likes; answer_id keeps the order stable between runs
    return (
        answer.get("author_role") != "counselor",
        -(answer.get("likes") or 0),
        str(answer.get("answer_id")),
    )


def asker_risk(thread: dict) -> str:
    """The asker's level (title and body, highest over a duplicate cluster), as curation wrote it.

    Flags found only in answers are recorded in `risk_flags` but never raise `risk_level`.
    """
    return thread.get("risk_level") or "none"


def select_pairs(
    threads: list[dict], per_question: int = 1, include_risk: bool = False
) -> tuple[list[Pair], Counter]:
    """Pairs to draft, and counts of what was left out and why."""
    skipped: Counter = Counter()
    pairs: list[Pair] = []
    for thread in threads:
        risk = asker_risk(thread)
        answers = [a for a in thread.get("answers") or [] if a and (a.get("body") or "").strip()]
        if risk != "none" and not include_risk:
            skipped[f"threads at risk {risk}"] += 1
            continue
        if not answers:
            skipped["threads without answers"] += 1
            continue
        ranked = sorted(answers, key=_answer_rank)
        skipped["answers beyond K per question"] += max(0, len(ranked) - per_question)
        for answer in ranked[:per_question]:
            pairs.append(
                Pair(
                    question_id=thread["question_id"],
                    answer_id=str(answer["answer_id"]),
                    title=thread.get("title") or "",
                    question=thread.get("body") or "",
                    answer=answer["body"],
                    author_role=answer.get("author_role") or "unknown",
                    likes=answer.get("likes") or 0,
                )
            )
    return pairs, skipped
