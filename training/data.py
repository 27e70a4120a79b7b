"""Reading a release (RELEASE_ROW parquet) into the three training views: SFT, GRPO, reward pairs.

Rows without a Chain-of-Empathy (`coe` null, or a completion that does not parse) are plain QA
pairs: SFT skips them (training on an answer without its rationale would teach the model to skip
the CoE), while the reward model uses every pair and GRPO uses every question as a prompt.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from empathyqa.coe import build_prompt, chat_messages, parse_completion
from training.args import TrainingInputError

SPLITS = ("train", "validation", "test")
REQUIRED_COLUMNS = ("question_id", "question", "answer", "answer_role", "likes", "prompt", "completion")
PROFESSIONAL_ROLE = "counselor"


@dataclass
class DataArguments:
    release: str | None = field(
        default=None, metadata={"help": "release version folder holding train/validation/test.parquet"}
    )
    train_file: str | None = field(
        default=None, metadata={"help": "train split parquet (overrides --release)"}
    )
    validation_file: str | None = field(default=None, metadata={"help": "validation split parquet"})
    include_risk: bool = field(
        default=False, metadata={"help": "keep risk-flagged prompts (self-harm etc.), excluded by default"}
    )
    max_prompt_tokens: int = field(
        default=512, metadata={"help": "prompts (system + user, chat-formatted) longer than this are dropped"}
    )
    max_train_rows: int | None = field(
        default=None, metadata={"help": "cap on training examples (smoke runs)"}
    )
    coe_status: list[str] = field(
        default_factory=lambda: ["accepted", "edited", "draft"],
        metadata={
            "help": "CoE review statuses SFT trains on (e.g. `accepted edited` for reviewed ones only)"
        },
    )


def split_path(args: DataArguments, split: str) -> Path | None:
    explicit = {"train": args.train_file, "validation": args.validation_file}.get(split)
    if explicit:
        return Path(explicit)
    if args.release:
        return Path(args.release) / f"{split}.parquet"
    return None


def load_split(args: DataArguments, split: str, required: bool = True) -> list[dict[str, Any]]:
    from empathyqa.io import read_table

    path = split_path(args, split)
    if path is None:
        raise TrainingInputError(
            "no data: pass --release DIR (a release version folder) or --train_file FILE"
        )
    if not path.is_file():
        if not required:
            return []
        raise TrainingInputError(f"{split} split not found: {path}")
    return read_table(path, REQUIRED_COLUMNS, "release split", error=TrainingInputError).to_pylist()


def query_text(row: dict[str, Any]) -> str:
    """The user turn: the release's `prompt`, rebuilt from title + question where it is empty."""
    return (row.get("prompt") or build_prompt(row.get("title") or "", row.get("question") or "")).strip()


def prompt_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    return chat_messages(query_text(row))


def is_risky(row: dict[str, Any]) -> bool:
    """Whether the row's question is a risk post. The asker's `risk_level` is the same on every row of a
    question, so every row of a risk question goes; flags of answers alone keep it. Releases without
    the column fall back to the row's flags."""
    if "risk_level" in row:
        return (row.get("risk_level") or "none") != "none"
    return bool(row.get("risk_flags"))


@dataclass
class Selection:
    """Examples kept, plus why the others were dropped (printed as the run's data summary)."""

    examples: list[dict[str, Any]]
    rows_in: int
    dropped: Counter
    unit: str = "rows"

    def report(self) -> dict[str, int]:
        rows = {f"{self.unit} in": self.rows_in, "examples out": len(self.examples)}
        rows.update({f"dropped: {reason}": n for reason, n in sorted(self.dropped.items())})
        return rows

    def print(self, title: str) -> None:
        from empathyqa.progress import print_summary

        print_summary(title, self.report(), file=sys.stdout)


def _prompt_tokens(tokenizer, messages: list[dict[str, str]], generation_prompt: bool = True) -> int:
    ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return len(ids)


def sft_examples(
    rows: list[dict[str, Any]], args: DataArguments, tokenizer, max_length: int | None
) -> Selection:
    """Conversational examples (system, user, assistant) from rows whose completion parses."""
    dropped: Counter = Counter()
    examples = []
    for row in rows:
        if row.get("coe") is None or not row.get("completion"):
            dropped["no CoE (plain QA pair)"] += 1
            continue
        status = row.get("coe_status")
        if status is not None and status not in args.coe_status:
            dropped[f"coe_status {status} not in --coe_status"] += 1
            continue
        if parse_completion(row["completion"]) is None:
            dropped["completion does not parse"] += 1
            continue
        if is_risky(row) and not args.include_risk:
            dropped["risk-flagged"] += 1
            continue
        messages = prompt_messages(row)
        n_prompt = _prompt_tokens(tokenizer, messages)
        if n_prompt > args.max_prompt_tokens:
            dropped[f"prompt over {args.max_prompt_tokens} tokens"] += 1
            continue
        messages = [*messages, {"role": "assistant", "content": row["completion"]}]
        if (
            max_length is not None
            and _prompt_tokens(tokenizer, messages, generation_prompt=False) > max_length
        ):
            dropped[f"example over max_length {max_length} (would cut the answer)"] += 1
            continue
        examples.append({"messages": messages, "question_id": row["question_id"]})
    return _capped(examples, len(rows), dropped, args)


def grpo_examples(rows: list[dict[str, Any]], args: DataArguments, tokenizer) -> Selection:
    """One conversational prompt per question; `query` travels to the reward functions."""
    dropped: Counter = Counter()
    examples = []
    seen: set[str] = set()
    for row in rows:
        if row["question_id"] in seen:
            continue  # several answers per question: one prompt is enough
        seen.add(row["question_id"])
        if is_risky(row) and not args.include_risk:
            dropped["risk-flagged question"] += 1
            continue
        messages = prompt_messages(row)
        if _prompt_tokens(tokenizer, messages) > args.max_prompt_tokens:
            dropped[f"prompt over {args.max_prompt_tokens} tokens"] += 1
            continue
        examples.append({"prompt": messages, "query": query_text(row), "question_id": row["question_id"]})
    return _capped(examples, len(seen), dropped, args, unit="questions")


def _capped(
    examples: list[dict[str, Any]], rows_in: int, dropped: Counter, args: DataArguments, unit: str = "rows"
) -> Selection:
    if args.max_train_rows is not None and len(examples) > args.max_train_rows:
        dropped["over --max_train_rows"] += len(examples) - args.max_train_rows
        examples = examples[: args.max_train_rows]
    if not examples:
        raise TrainingInputError(
            f"no training examples left from {rows_in} rows ({dict(dropped) or 'empty split'}); "
            "check the release or --max_prompt_tokens / --include_risk"
        )
    return Selection(examples, rows_in, dropped, unit)


@dataclass
class QuestionGroup:
    """One question with its professional answers (positives) and weak user answers (hard negatives)."""

    question_id: str
    query: str
    positives: list[str]
    hard_negatives: list[str]


def contrastive_groups(
    rows: list[dict[str, Any]], short_answer_chars: int, low_likes: int, include_risk: bool
) -> tuple[list[QuestionGroup], Counter]:
    """Group answers by question; a question without a professional answer cannot be a query."""
    by_question: dict[str, QuestionGroup] = {}
    dropped: Counter = Counter()
    for row in rows:
        if is_risky(row) and not include_risk:
            dropped["risk-flagged row"] += 1
            continue
        answer = (row.get("answer") or "").strip()
        if not answer:
            dropped["empty answer"] += 1
            continue
        group = by_question.setdefault(
            row["question_id"], QuestionGroup(row["question_id"], query_text(row), [], [])
        )
        if row.get("answer_role") == PROFESSIONAL_ROLE:
            group.positives.append(answer)
        elif len(answer) < short_answer_chars or (row.get("likes") or 0) <= low_likes:
            group.hard_negatives.append(answer)
        else:
            dropped["non-professional answer, neither short nor low-liked (unused)"] += 1
    groups = []
    for group in by_question.values():
        if group.positives:
            groups.append(group)
        else:
            dropped["question without a professional answer"] += 1
    return groups, dropped
