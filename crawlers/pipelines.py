"""Item validation against the raw-thread contract: a bad item is dropped, counted and logged."""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from empathyqa.schema import validate_raw_thread

logger = logging.getLogger(__name__)


class ValidateRawThreadPipeline:
    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidateRawThreadPipeline:
        return cls(crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        row = ItemAdapter(item).asdict()
        problems = validate_raw_thread(row)
        if problems:
            self.stats.inc_value("validation/dropped")
            for problem in problems:
                self.stats.inc_value(f"validation/problem/{problem.split(' ')[0]} {problem.split(' ')[-1]}")
            raise DropItem(f"invalid raw thread {row.get('url')}: {'; '.join(problems)}")
        self.stats.inc_value("validation/ok")
        return item
