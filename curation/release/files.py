"""Writing a release's files so that the same rows always give the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation.release.card import FIELD_DOCS
from empathyqa.schema import RELEASE_ROW, RELEASE_SPLITS

# Fixed writer settings: row groups, codec and page layout all change the bytes. pyarrow adds no
# timestamp; its `created_by` names the pyarrow version, so byte-identity holds per pyarrow version.
ROW_GROUP_SIZE = 8192
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
}


def write_split(table: pa.Table, path: Path) -> None:
    table = table.sort_by("id").replace_schema_metadata(None)
    with pq.ParquetWriter(path, table.schema, **PARQUET_OPTIONS) as writer:
        # An empty split gets no row group at all: Hugging Face `datasets` fails on a 0-row group.
        if table.num_rows:
            writer.write_table(table, row_group_size=ROW_GROUP_SIZE)


def schema_document(version: str, schema: pa.Schema = RELEASE_ROW) -> dict:
    return {
        "dataset": "empathy_qa",
        "version": version,
        "row": "one (question, answer) pair",
        "splits": list(RELEASE_SPLITS),
        "fields": [
            {
                "name": f.name,
                "type": str(f.type),
                "nullable": f.nullable,
                "description": FIELD_DOCS.get(f.name, ""),
            }
            for f in schema
        ],
    }


def write_schema(version: str, path: Path, schema: pa.Schema = RELEASE_ROW) -> None:
    path.write_text(
        json.dumps(schema_document(version, schema), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
