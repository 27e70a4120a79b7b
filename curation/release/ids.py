"""Release ids: a stable hash of the site's ids, so a row does not link to the live page or the asker.

`q-` + 16 hex of sha256 over the question id (`{source}:{source_id}`), `a-` + 16 hex over the pair
id: the same post gets the same id in every version and on every machine (splits and evaluations
join on it). The hash is not keyed: whoever already holds a site id or url can compute its release id
(that is how a takedown request is matched), but the ids no longer point anyone to the page. The
site's ids and urls are released only with `--include-source-ids`, as the extra columns below.
"""

from __future__ import annotations

import hashlib
import re

import pyarrow as pa

from empathyqa.schema import RELEASE_ROW, pair_id

ID_HEX = 16
QUESTION_ID = re.compile(rf"q-[0-9a-f]{{{ID_HEX}}}")
ANSWER_ID = re.compile(rf"a-[0-9a-f]{{{ID_HEX}}}")
SOURCE_COLUMNS = pa.schema(
    [
        ("source_question_id", pa.string()),  # the site's "{source}:{source_id}"
        ("source_answer_id", pa.string()),  # the site's answer id
        ("url", pa.string()),  # the question's page, query string dropped
    ]
)
RELEASE_ROW_WITH_SOURCE_IDS = pa.schema(list(RELEASE_ROW) + list(SOURCE_COLUMNS))


def _digest(kind: str, text: str) -> str:
    return hashlib.sha256(f"empathy-qa:{kind}:{text}".encode()).hexdigest()[:ID_HEX]


def release_question_id(question_id: str) -> str:
    return f"q-{_digest('question', question_id)}"


def release_answer_id(question_id: str, answer_id: str) -> str:
    # Over the pair: an answer id need only be unique within its question.
    return f"a-{_digest('answer', pair_id(question_id, answer_id))}"


def release_schema(include_source_ids: bool) -> pa.Schema:
    return RELEASE_ROW_WITH_SOURCE_IDS if include_source_ids else RELEASE_ROW


def strip_query(url: str | None) -> str | None:
    if not url:
        return url
    return url.split("?", 1)[0].split("#", 1)[0]
