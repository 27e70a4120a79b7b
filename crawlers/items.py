"""Raw-thread items: built through the typed records of empathyqa.schema, yielded as plain dicts."""

from __future__ import annotations

from typing import Any

from empathyqa.schema import Asker, Author, RawAnswer, RawThread


def raw_answer(
    answer_id: str,
    body: str,
    author_id: str | None,
    author_name: str | None,
    author_role: str,
    likes: int | None,
    comment_count: int | None,
    answered_at: str | None,
) -> dict[str, Any]:
    answer = RawAnswer(
        answer_id=answer_id,
        body=body,
        author=Author(id=author_id, name=author_name),
        author_role=author_role,  # type: ignore[arg-type]
        likes=likes,
        comment_count=comment_count,
        answered_at=answered_at,
    )
    return _asdict(answer)


def raw_thread(**fields: Any) -> dict[str, Any]:
    """Every raw-thread field present (missing optional ones as None/[])."""
    asker = fields.pop("asker", None) or {}
    thread = RawThread(
        **{k: fields.get(k) for k in ("source", "source_id", "url", "title", "body", "crawled_at")},
        tags=fields.get("tags") or [],
        asker=Asker(**asker) if asker else Asker(),
        asked_at=fields.get("asked_at"),
        view_count=fields.get("view_count"),
        answer_count=fields.get("answer_count"),
        answers=[],
    )
    row = thread.to_dict()
    row["answers"] = list(fields.get("answers") or [])
    return row


def _asdict(answer: RawAnswer) -> dict[str, Any]:
    return {
        "answer_id": answer.answer_id,
        "body": answer.body,
        "author": {"id": answer.author.id, "name": answer.author.name},
        "author_role": answer.author_role,
        "likes": answer.likes,
        "comment_count": answer.comment_count,
        "answered_at": answer.answered_at,
    }
