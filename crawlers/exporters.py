"""The `parquet` feed format: raw threads written with exactly empathyqa.schema.RAW_THREAD."""

from __future__ import annotations

from typing import Any, BinaryIO

import pyarrow.parquet as pq
from itemadapter import ItemAdapter
from scrapy.exporters import BaseItemExporter

from empathyqa.schema import RAW_THREAD, conform


class ParquetItemExporter(BaseItemExporter):
    """Buffers rows and writes them as row groups, so memory stays bounded on long crawls."""

    batch_size = 500

    def __init__(self, file: BinaryIO, **kwargs: Any):
        super().__init__(dont_fail=True, **kwargs)
        self.file = file
        self.rows: list[dict[str, Any]] = []
        self.writer: pq.ParquetWriter | None = None

    def start_exporting(self) -> None:
        self.writer = pq.ParquetWriter(self.file, RAW_THREAD, compression="zstd")

    def export_item(self, item: Any) -> None:
        self.rows.append(ItemAdapter(item).asdict())
        if len(self.rows) >= self.batch_size:
            self._flush()

    def finish_exporting(self) -> None:
        self._flush()
        if self.writer is not None:
            self.writer.close()  # an empty crawl still leaves a valid file with the schema

    def _flush(self) -> None:
        if self.rows and self.writer is not None:
            self.writer.write_table(conform(self.rows, RAW_THREAD))
            self.rows = []
