"""`scrapy crawl douban -a group=GID`: Douban group topics as raw threads (replies = answers).

Arguments: -a group=<group id> (required), -a base_url=https://www.douban.com (or the sample site),
-a max_list_pages=N, -a store=DIR.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import scrapy
from parsel import Selector
from scrapy.http import Response

from crawlers.health import FieldSpec
from crawlers.items import raw_answer, raw_thread
from crawlers.parsing import iso_utc, now_utc, parse_count, parse_time
from crawlers.spiders._base import ThreadSpider, block_text, first_attr, first_text, select_any

# Every selector of this spider, in one place (../shared/reference/yixinli.md, "Douban groups").
SELECTORS: dict[str, tuple[str, ...]] = {
    "list_row": ("table.olt tr",),
    "list_link": ("td.title a::attr(href)", "a[href*='/group/topic/']::attr(href)"),
    "list_replies": ("td.r-count", "td:nth-child(3)"),
    "list_next": ("div.paginator span.next a::attr(href)", "div.paginator span.next link::attr(href)"),
    "title": (".article h1", "#content h1"),
    "body": ("#link-report .topic-content",),
    "author_link": (".topic-doc .from a::attr(href)", ".topic-doc h3 a::attr(href)"),
    "author_name": (".topic-doc .from a", ".topic-doc h3 a"),
    "asked_at": (".topic-doc .color-green", ".topic-doc .create-time"),
    "replies": ("li.comment-item", ".comment-item"),
    # inside one reply
    "reply_id": ("::attr(data-cid)", "::attr(id)"),
    "reply_author_link": (".reply-doc h4 a::attr(href)", ".user-face a::attr(href)"),
    "reply_author_name": (".reply-doc h4 a",),
    "reply_time": (".reply-doc .pubtime", ".pubtime"),
    "reply_body": (".reply-doc .reply-content",),
    "reply_likes": (".comment-vote", "a.lnk-fav"),
    "reply_next": ("div.paginator span.next a::attr(href)",),
}
FIELDS = [
    FieldSpec("list_rows", "list", SELECTORS["list_row"], required=True, min_pages=1),
    FieldSpec("topic_links", "list", SELECTORS["list_link"], required=True, min_pages=1),
    FieldSpec("title", "topic", SELECTORS["title"], required=True),
    FieldSpec("body", "topic", SELECTORS["body"], required=True),
    FieldSpec("author", "topic", SELECTORS["author_link"] + SELECTORS["author_name"]),
    FieldSpec("asked_at", "topic", SELECTORS["asked_at"]),
    FieldSpec("replies", "topic", SELECTORS["replies"], required=True),
    FieldSpec("reply_id", "reply", SELECTORS["reply_id"], required=True),
    FieldSpec("reply_author", "reply", SELECTORS["reply_author_link"] + SELECTORS["reply_author_name"]),
    FieldSpec("reply_body", "reply", SELECTORS["reply_body"], required=True),
    FieldSpec("reply_time", "reply", SELECTORS["reply_time"]),
    FieldSpec("reply_likes", "reply", SELECTORS["reply_likes"]),
]

TOPIC_ID = re.compile(r"/group/topic/(\d+)")
PERSON_ID = re.compile(r"/people/([^/?#]+)")


class DoubanSpider(ThreadSpider):
    name = "douban"
    default_base_url = "https://www.douban.com"
    fields = FIELDS

    def __init__(self, *args: Any, group: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not group or not re.fullmatch(r"[\w-]+", group):
            raise ValueError(f"-a group=<Douban group id> is required (letters, digits, -), got {group!r}")
        self.group = group

    def list_url(self, start: int) -> str:
        return f"{self.base_url}/group/{self.group}/discussion?start={start}"

    def topic_url(self, tid: str) -> str:
        return f"{self.base_url}/group/topic/{tid}/"

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(self.list_url(0), callback=self.parse_list, cb_kwargs={"page": 1})

    def parse_list(self, response: Response, page: int = 1) -> Iterator[scrapy.Request]:
        self.crawler.stats.inc_value("douban/list_pages")
        table_rows = select_any(response, SELECTORS["list_row"])
        rows = 0
        for row in table_rows:
            m = TOPIC_ID.search(first_attr(row, *SELECTORS["list_link"]) or "")
            if not m:
                continue  # the header row
            rows += 1
            if self.probe and rows > self.probe_pages:
                break
            tid = m.group(1)
            # An empty reply cell means no replies yet.
            replies = parse_count(first_text(row, *SELECTORS["list_replies"])) or 0
            if self.already_stored(tid, replies):
                continue
            yield scrapy.Request(
                self.topic_url(tid),
                callback=self.parse_topic,
                errback=self.request_failed,
                cb_kwargs={"tid": tid, "listed_replies": replies},
                priority=10,
            )
        if table_rows or page == 1:  # an empty later page is the end of the list, not a layout change
            found = {"list_rows": bool(table_rows), "topic_links": bool(rows)}
            self.health.record("list", response, found, f"list-{page}")
        if not rows:
            self.logger.warning("List page %s has no topic rows", response.url)
            return
        if self.probe or (self.max_list_pages is not None and page >= self.max_list_pages):
            return
        next_href = first_attr(response, *SELECTORS["list_next"])
        if next_href:
            yield scrapy.Request(
                urljoin(response.url, next_href),
                callback=self.parse_list,
                errback=self.request_failed,
                cb_kwargs={"page": page + 1},
            )

    def parse_topic(self, response: Response, tid: str, listed_replies: int | None = None) -> Iterator[Any]:
        self.crawler.stats.inc_value("douban/topic_pages")
        crawled = now_utc()
        m = PERSON_ID.search(first_attr(response, *SELECTORS["author_link"]) or "")
        thread = raw_thread(
            source=self.name,
            source_id=tid,
            url=self.topic_url(tid),
            title=first_text(response, *SELECTORS["title"]),
            body=block_text(response, SELECTORS["body"][0]),
            tags=[],
            asker={"id": m.group(1) if m else None, "name": first_text(response, *SELECTORS["author_name"])},
            asked_at=parse_time(first_text(response, *SELECTORS["asked_at"]), crawled),
            view_count=None,
            answer_count=listed_replies,
            crawled_at=iso_utc(crawled),
        )
        replies = self._add_replies(response, thread)
        found = {
            "title": thread["title"] is not None,
            "body": thread["body"] is not None,
            "author": thread["asker"]["id"] is not None,
            "asked_at": thread["asked_at"] is not None,
        }
        if listed_replies:  # only where the list says there are replies
            found["replies"] = bool(replies)
        if replies:
            found.update(
                {
                    "reply_id": True,  # a reply without an id is not kept
                    "reply_author": all(r["author"]["id"] for r in replies),
                    "reply_body": all(r["body"] for r in replies),
                    "reply_time": all(r["answered_at"] for r in replies),
                    "reply_likes": all(r["likes"] is not None for r in replies),
                }
            )
        self.health.record("topic", response, found, tid)
        if self.probe:
            return
        yield from self._next_or_thread(response, thread, len(replies))

    def parse_reply_page(self, response: Response, thread: dict[str, Any]) -> Iterator[Any]:
        self.crawler.stats.inc_value("douban/reply_pages")
        yield from self._next_or_thread(response, thread, len(self._add_replies(response, thread)))

    def _add_replies(self, response: Response, thread: dict[str, Any]) -> list[dict[str, Any]]:
        crawled = datetime.fromisoformat(thread["crawled_at"])
        seen = {a["answer_id"] for a in thread["answers"]}
        added = []
        for li in select_any(response, SELECTORS["replies"]):
            reply = self._reply(li, crawled)
            if reply and reply["answer_id"] not in seen:
                seen.add(reply["answer_id"])
                thread["answers"].append(reply)
                added.append(reply)
        return added

    def _next_or_thread(self, response: Response, thread: dict[str, Any], added: int) -> Iterator[Any]:
        next_href = first_attr(response, *SELECTORS["reply_next"])
        if added and next_href:
            yield scrapy.Request(
                urljoin(response.url, next_href),
                callback=self.parse_reply_page,
                errback=self.later_page_failed,
                cb_kwargs={"thread": thread},
                priority=20,
            )
        else:
            if thread["answer_count"] is None:
                thread["answer_count"] = len(thread["answers"])
            yield thread

    def _reply(self, li: Selector, crawled: datetime) -> dict[str, Any] | None:
        reply_id = first_attr(li, *SELECTORS["reply_id"])
        if not reply_id:
            self.crawler.stats.inc_value("douban/reply_without_id")
            return None
        m = PERSON_ID.search(first_attr(li, *SELECTORS["reply_author_link"]) or "")
        return raw_answer(
            answer_id=reply_id,
            body=block_text(li, SELECTORS["reply_body"][0]) or "",
            author_id=m.group(1) if m else None,
            author_name=first_text(li, *SELECTORS["reply_author_name"]),
            author_role="user",
            likes=parse_count(first_text(li, *SELECTORS["reply_likes"])),
            comment_count=None,
            answered_at=parse_time(first_text(li, *SELECTORS["reply_time"]), crawled),
        )
