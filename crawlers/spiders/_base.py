"""What both spiders share: base_url, selector helpers, the incremental store, the crawl clock."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import scrapy
from parsel import Selector, SelectorList
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure

from crawlers.health import CrawlHealth, FieldSpec
from crawlers.parsing import clean_line, html_to_text
from crawlers.store import stored_answer_counts

logger = logging.getLogger(__name__)


def select(node: Selector | SelectorList, query: str) -> SelectorList:
    """A selector from the SELECTORS table: XPath when it starts with '/', './' or '(' (or is '.'), else CSS."""
    is_xpath = query == "." or query.startswith(("/", "./", "(", ".."))
    return node.xpath(query) if is_xpath else node.css(query)


def select_any(node: Selector | SelectorList, queries: tuple[str, ...]) -> SelectorList:
    """What the first query that finds anything finds (the variants of one field, in order)."""
    for query in queries:
        found = select(node, query)
        if found:
            return found
    return select(node, queries[0])


def first_text(node: Selector | SelectorList, *queries: str) -> str | None:
    """Text of the first element any query finds (tags dropped, entities decoded), else None."""
    for query in queries:
        for found in select(node, query):  # e.g. an avatar link with no text before the name link
            value = found.get()
            text = clean_line(html_to_text(value).replace("\n", " ")) if "<" in value else clean_line(value)
            if text:
                return text
    return None


def first_attr(node: Selector | SelectorList, *queries: str) -> str | None:
    for query in queries:
        value = select(node, query).get()
        if value and value.strip():
            return value.strip()
    return None


def block_text(node: Selector | SelectorList, query: str, first_only: bool = False) -> str | None:
    """Multi-paragraph text of every element the query finds, joined with '\\n'; None if none."""
    fragments = select(node, query).getall()
    if first_only:
        fragments = fragments[:1]
    parts = [html_to_text(fragment) for fragment in fragments]
    text = "\n".join(p for p in parts if p)
    return text or None


class ThreadSpider(scrapy.Spider):
    """Base for spiders that yield one raw thread per question."""

    default_base_url = ""
    fields: list[FieldSpec] = []

    def __init__(
        self,
        *args: Any,
        base_url: str | None = None,
        max_list_pages: str | int | None = None,
        probe: str | None = None,
        probe_pages: str | int = 5,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.probe = str(probe or "").lower() in ("1", "true", "yes")
        try:
            self.probe_pages = int(probe_pages)
        except ValueError:
            raise ValueError(f"probe_pages must be a whole number, got {probe_pages!r}") from None
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        try:
            self.max_list_pages = int(max_list_pages) if max_list_pages not in (None, "") else None
        except ValueError:
            raise ValueError(f"max_list_pages must be a whole number, got {max_list_pages!r}") from None
        if self.max_list_pages is not None and self.max_list_pages < 1:
            raise ValueError(f"max_list_pages must be at least 1, got {self.max_list_pages}")
        self.stored: dict[str, int] = {}

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        if not settings.getdict("FEEDS"):
            store = settings.get("RAW_STORE_DIR", "data/raw/%(name)s") % {"name": cls.name}
            feed = f"{store}/{cls.name}-%(time)s.jsonl"
            settings.set("FEEDS", {feed: {"format": "jsonlines", "encoding": "utf8"}}, priority="spider")
            settings.set("_RAW_STORE_IS_OUTPUT", True, priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ThreadSpider:
        try:
            spider = super().from_crawler(crawler, *args, **kwargs)
        except ValueError as exc:
            if crawler.settings.getbool("SPIDER_ARG_ERRORS_RAISE"):
                raise
            # A bad -a argument is the user's typo, not a crash: one line, non-zero exit.
            raise SystemExit(f"error: scrapy crawl {cls.name}: {exc}") from None
        if spider.probe:
            # A probe only reads: no thread output, no incremental store.
            crawler.settings.set("FEEDS", {}, priority="cmdline")
            crawler.settings.set("INCREMENTAL", False, priority="cmdline")
        spider.health = CrawlHealth(crawler, cls.fields, probe=spider.probe)
        spider.stored = spider._load_store(crawler, kwargs.get("store"))
        crawler.signals.connect(spider._nothing_fetched, signal=signals.spider_idle)
        return spider

    def _nothing_fetched(self) -> None:
        """A crawl that parsed no page (host down, every request failed) is no `finished` crawl."""
        if (
            self.probe
            or sum(self.health.pages.values())
            or self.crawler.stats.get_value("incremental/skipped")
        ):
            return
        self.logger.error(
            "No page of %s could be fetched (%d request(s) failed): closing as 'no_pages_fetched'; "
            "any previous output is left as it was",
            self.base_url,
            self.crawler.stats.get_value("downloader/exception_count", 0),
        )
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="no_pages_fetched"))
        raise DontCloseSpider

    def _load_store(self, crawler: Crawler, store: str | None) -> dict[str, int]:
        """Incremental re-crawls read the default output store, or `-a store=DIR` when given.

        With -o/-O the output goes elsewhere, so the default store is not consulted: a crawl of
        another host must never skip questions because of ids seen on this one.
        """
        settings = crawler.settings
        if not settings.getbool("INCREMENTAL", True):
            return {}
        if store is None:
            if not settings.getbool("_RAW_STORE_IS_OUTPUT"):
                return {}
            store = settings.get("RAW_STORE_DIR", "data/raw/%(name)s") % {"name": self.name}
        counts = stored_answer_counts(store)
        if counts:
            logger.info(
                "Incremental: %d questions already in %s; unchanged ones are skipped", len(counts), store
            )
        return counts

    def already_stored(self, source_id: str, listed_answers: int | None) -> bool:
        stored = self.stored.get(source_id)
        if stored is None or listed_answers is None or listed_answers > stored:
            return False
        self.crawler.stats.inc_value("incremental/skipped")
        return True

    def later_page_failed(self, failure: Failure) -> Iterator[dict[str, Any]]:
        """Errback of a thread's later answer page: keep the thread with what it has gathered so far."""
        self.crawler.stats.inc_value(f"{self.name}/partial_threads")
        self.logger.warning(
            "Answer page failed: %s (%s); saving the thread with the answers gathered so far",
            failure.request.url,
            failure.getErrorMessage(),
        )
        yield failure.request.cb_kwargs["thread"]

    def request_failed(self, failure: Failure) -> None:
        if failure.check(IgnoreRequest):  # robots.txt forbids it, or the crawl is closing
            self.crawler.stats.inc_value(f"{self.name}/request_ignored")
            self.logger.info("Not fetched: %s (%s)", failure.request.url, failure.getErrorMessage())
            return
        self.crawler.stats.inc_value(f"{self.name}/request_failed")
        self.logger.warning("Request failed: %s (%s)", failure.request.url, failure.getErrorMessage())
