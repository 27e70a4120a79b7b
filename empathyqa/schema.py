"""The data contracts of ../SPEC: raw thread, curated thread, CoE record, release row.

Each contract is a pyarrow schema (what is written to Parquet) plus a typed record (what code
builds). `conform(rows, schema)` turns dicts into a table of exactly that schema, filling missing
optional fields with null and failing loudly on a wrong type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pyarrow as pa

AuthorRole = Literal["counselor", "user", "unknown"]
CoeStatus = Literal["draft", "accepted", "edited", "rejected"]
AUTHOR_ROLES = ("counselor", "user", "unknown")
COE_STATUSES = ("draft", "accepted", "edited", "rejected")
LAYERS = ("l1", "l2", "l3", "l4")

# --------------------------------------------------------------------------- raw thread
RAW_ANSWER = pa.struct(
    [
        ("answer_id", pa.string()),
        ("body", pa.string()),
        ("author", pa.struct([("id", pa.string()), ("name", pa.string())])),
        ("author_role", pa.string()),
        ("likes", pa.int64()),
        ("comment_count", pa.int64()),
        ("answered_at", pa.string()),
    ]
)

RAW_THREAD = pa.schema(
    [
        ("source", pa.string()),
        ("source_id", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("body", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("asker", pa.struct([("id", pa.string()), ("name", pa.string()), ("anonymous", pa.bool_())])),
        ("asked_at", pa.string()),
        ("view_count", pa.int64()),
        ("answer_count", pa.int64()),
        ("answers", pa.list_(RAW_ANSWER)),
        ("crawled_at", pa.string()),
    ]
)
RAW_REQUIRED = ("source", "source_id", "url", "title", "body", "answers", "crawled_at")


@dataclass
class Author:
    id: str | None = None
    name: str | None = None


@dataclass
class Asker:
    id: str | None = None
    name: str | None = None
    anonymous: bool = False


@dataclass
class RawAnswer:
    answer_id: str
    body: str
    author: Author = field(default_factory=Author)
    author_role: AuthorRole = "unknown"
    likes: int | None = None
    comment_count: int | None = None
    answered_at: str | None = None


@dataclass
class RawThread:
    source: str
    source_id: str
    url: str
    title: str
    body: str
    crawled_at: str
    tags: list[str] = field(default_factory=list)
    asker: Asker = field(default_factory=Asker)
    asked_at: str | None = None
    view_count: int | None = None
    answer_count: int | None = None
    answers: list[RawAnswer] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_raw_thread(row: Mapping[str, Any]) -> list[str]:
    """Problems that make a raw thread unusable (empty list: valid)."""
    problems = []
    for name in RAW_REQUIRED:
        if row.get(name) is None:
            problems.append(f"missing {name}")
    for name in ("source", "source_id", "url", "title", "body", "crawled_at"):
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(f"{name} is {type(value).__name__}, not str")
    for name in ("view_count", "answer_count"):
        value = row.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            problems.append(f"{name} is {type(value).__name__}, not int")
    answers = row.get("answers")
    if answers is not None and not isinstance(answers, list):
        problems.append("answers is not a list")
    elif answers:
        for i, answer in enumerate(answers):
            if not isinstance(answer, Mapping):
                problems.append(f"answers[{i}] is not an object")
                continue
            if not answer.get("answer_id"):
                problems.append(f"answers[{i}] has no answer_id")
            if not isinstance(answer.get("body"), str):
                problems.append(f"answers[{i}] has no body")
            if answer.get("author_role", "unknown") not in AUTHOR_ROLES:
                problems.append(f"answers[{i}] has author_role {answer.get('author_role')!r}")
    return problems


# --------------------------------------------------------------------------- curated thread
RISK_FLAG = pa.struct(
    [
        ("category", pa.string()),  # suicide, self_harm, harm_others, ...
        ("level", pa.string()),  # low | medium | high
        ("term", pa.string()),  # the lexicon entry that matched
        ("field", pa.string()),  # title | body | answer:<answer_id>
        ("party", pa.string()),  # self | third | general: whose risk the text tells of
    ]
)
PII_COUNT = pa.struct([("kind", pa.string()), ("count", pa.int64())])

CURATED_ANSWER = pa.struct(
    [
        ("answer_id", pa.string()),
        ("body", pa.string()),
        ("author_id", pa.string()),  # salted hash; names dropped
        ("author_role", pa.string()),
        ("likes", pa.int64()),
        ("comment_count", pa.int64()),
        ("answered_at", pa.string()),
        ("pii_counts", pa.list_(PII_COUNT)),
        ("dup_cluster", pa.string()),
    ]
)

CURATED_THREAD = pa.schema(
    [
        ("question_id", pa.string()),  # "{source}:{source_id}"
        ("source", pa.string()),
        ("source_id", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("body", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("asker_id", pa.string()),  # salted hash, null when anonymous
        ("asker_anonymous", pa.bool_()),
        ("asked_at", pa.string()),
        ("view_count", pa.int64()),
        ("answer_count", pa.int64()),
        ("answers", pa.list_(CURATED_ANSWER)),
        ("crawled_at", pa.string()),
        ("topic", pa.string()),
        ("subtopic", pa.string()),
        ("topic_source", pa.string()),  # tag | classifier | keywords | default
        ("dup_cluster", pa.string()),
        ("risk_level", pa.string()),  # the asker's (title and body): none | low | medium | high
        ("risk_flags", pa.list_(RISK_FLAG)),
        ("pii_counts", pa.list_(PII_COUNT)),
        ("quality", pa.map_(pa.string(), pa.float64())),
    ]
)

REJECT = pa.schema(
    [
        ("question_id", pa.string()),
        ("answer_id", pa.string()),  # null when the whole thread is dropped
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("record", pa.string()),  # the dropped record as JSON, so nothing is lost
    ]
)


def question_id(source: str, source_id: str) -> str:
    return f"{source}:{source_id}"


# --------------------------------------------------------------------------- CoE record
LAYERS_STRUCT = pa.struct([(name, pa.string()) for name in LAYERS])
USAGE = pa.struct([("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64())])
REVIEW = pa.struct(
    [
        ("annotators", pa.list_(pa.string())),  # one entry per annotation, in annotation id order
        ("ratings", pa.list_(pa.int64())),
        ("verdicts", pa.list_(pa.string())),  # accepted | edited | rejected | skipped, per annotation
        ("reject_reasons", pa.list_(pa.string())),
        ("comments", pa.list_(pa.string())),
        ("flags", pa.list_(pa.string())),  # pii_left, risk_content
        ("lead_times", pa.list_(pa.float64())),
        ("edit_distance", pa.int64()),
        ("agreement", pa.float64()),  # verdict agreement on this task, null without overlap
        ("needs_adjudication", pa.bool_()),
        ("task_id", pa.int64()),  # Label Studio task
        ("annotation_ids", pa.list_(pa.int64())),
        ("text_similarity", pa.float64()),  # mean pairwise similarity of the kept texts, null without overlap
        ("resolution", pa.string()),  # none | single | majority | unanimous | ground_truth | tie
    ]
)

# The offline sample endpoint's model id: what it writes is stand-in text, not a model's.
STAND_IN_MODEL = "empathyqa-offline-sample"
COE_RECORD = pa.schema(
    [
        ("question_id", pa.string()),
        ("answer_id", pa.string()),
        ("l1", pa.string()),
        ("l2", pa.string()),
        ("l3", pa.string()),
        ("l4", pa.string()),
        ("model", pa.string()),
        ("prompt_version", pa.string()),
        ("status", pa.string()),
        ("draft", LAYERS_STRUCT),  # the LLM's draft, kept beside the verified text
        ("review", REVIEW),
        ("usage", USAGE),
        ("latency_s", pa.float64()),
        ("raw_reply", pa.string()),
        ("cache_key", pa.string()),
        ("created_at", pa.string()),
        ("endpoint_model", pa.string()),  # the model id the endpoint's reply named
        ("stand_in", pa.bool_()),  # the offline sample endpoint wrote it (canned or template text)
    ]
)


@dataclass
class CoeRecord:
    question_id: str
    answer_id: str
    l1: str
    l2: str
    l3: str
    l4: str
    model: str
    prompt_version: str
    status: CoeStatus = "draft"
    draft: dict[str, str] | None = None
    review: dict[str, Any] | None = None
    usage: dict[str, int] | None = None
    latency_s: float | None = None
    raw_reply: str | None = None
    cache_key: str | None = None
    created_at: str | None = None
    endpoint_model: str | None = None
    stand_in: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- release row
RELEASE_ROW = pa.schema(
    [
        ("id", pa.string()),  # "{question_id}/{answer_id}"
        ("question_id", pa.string()),
        ("answer_id", pa.string()),
        ("source", pa.string()),
        ("topic", pa.string()),
        ("subtopic", pa.string()),
        ("topic_source", pa.string()),
        ("title", pa.string()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("answer_role", pa.string()),
        ("likes", pa.int64()),
        ("coe", LAYERS_STRUCT),  # null: plain QA pair
        ("coe_status", pa.string()),  # accepted | edited | draft | null
        ("review", pa.struct([("ratings", pa.list_(pa.int64())), ("agreement", pa.float64())])),
        ("prompt", pa.string()),
        ("completion", pa.string()),
        ("risk_flags", pa.list_(pa.string())),  # "{category}:{level}" for the question and this answer
        ("risk_level", pa.string()),  # the asker's level; gates training per question
        ("dup_group", pa.string()),  # questions linked by a shared dup_cluster; never split apart
        ("coe_model", pa.string()),  # the endpoint's own model id; empathyqa-offline-sample: stand-in text
    ]
)
RELEASE_SPLITS = ("train", "validation", "test")


def pair_id(question_id: str, answer_id: str) -> str:
    return f"{question_id}/{answer_id}"


# --------------------------------------------------------------------------- helpers
def conform(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """Build a table of exactly `schema` from dicts; unknown keys are ignored, missing ones null."""
    names = schema.names
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for row in rows:
        for name in names:
            columns[name].append(row.get(name))
    return pa.Table.from_pydict(columns, schema=schema)


def empty_table(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()
