"""Feed output: the `parquet` format (raw threads with exactly empathyqa.schema.RAW_THREAD), and file
feeds that replace the previous output only when a crawl ends well."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO, Any, BinaryIO

import pyarrow.parquet as pq
from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exporters import BaseItemExporter
from scrapy.extensions.feedexport import FileFeedStorage

from empathyqa.schema import RAW_THREAD, conform

logger = logging.getLogger(__name__)


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


# Close reasons after which the previous output must stay: the crawl fetched nothing, hit a changed
# layout or a block, or was stopped. Any other reason (finished, a closespider limit) publishes.
FAILED_REASONS = frozenset({"no_pages_fetched", "layout_changed", "blocked", "shutdown", "cancelled"})


class AtomicFileFeedStorage(FileFeedStorage):
    """`-O out.jsonl` writes to a hidden temporary file beside the output and renames it into place
    when the crawl ends well, so a failed crawl leaves the previous file as it was (a plain
    FileFeedStorage truncates it at the start). The partial output of a failed crawl that got items
    goes to the output when there was none before, else to `<output>.incomplete`; appending (`-o`)
    is left as Scrapy does it."""

    def __init__(
        self, uri: str, *, feed_options: dict[str, Any] | None = None, crawler: Crawler | None = None
    ):
        super().__init__(uri, feed_options=feed_options)
        self.crawler = crawler
        self.final = Path(self.path)
        self.staging = self.final.with_name(f".{self.final.name}.{os.getpid()}.partial")

    @classmethod
    def from_crawler(cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None):
        return cls(uri, feed_options=feed_options, crawler=crawler)

    def open(self, spider: Any) -> IO[bytes]:
        if self.write_mode != "wb":
            return super().open(spider)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        return self.staging.open("wb")

    def store(self, file: IO[bytes]) -> None:
        file.close()
        if self.write_mode != "wb":
            return
        stats = self.crawler.stats if self.crawler is not None else None
        reason = stats.get_value("finish_reason") if stats is not None else "finished"
        items = stats.get_value("item_scraped_count", 0) if stats is not None else 0
        if reason not in FAILED_REASONS or (items and not self.final.exists()):  # nothing to protect
            os.replace(self.staging, self.final)
        elif items:
            kept = self.final.with_name(f"{self.final.name}.incomplete")
            os.replace(self.staging, kept)
            logger.warning("Crawl closed as %r: %s left as it was; this run's %d items are in %s", reason, self.final, items, kept)  # fmt: skip
        else:
            self.staging.unlink(missing_ok=True)
            logger.warning("Crawl closed as %r: %s left as it was", reason, self.final)
