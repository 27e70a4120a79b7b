"""`scrapy crawl yixinli`: Yixinli (壹心理) QA threads, one raw-thread item per question.

Arguments: -a base_url=https://www.xinli001.com (or a mirror / the sample site),
-a list=last|cream, -a max_list_pages=N, -a store=DIR (incremental store to compare against).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import scrapy
from parsel import Selector
from scrapy.http import Response

from crawlers.health import FieldSpec
from crawlers.items import raw_answer, raw_thread
from crawlers.parsing import html_to_text, iso_utc, now_utc, parse_count, parse_time
from crawlers.spiders._base import ThreadSpider, block_text, first_attr, first_text, select, select_any

# Every selector of this spider, in one place (see ../shared/reference/yixinli.md). CSS unless the
# query starts with '/', './' or '(', which makes it XPath. Answer fields are relative to the answer `li`.
SELECTORS: dict[str, tuple[str, ...]] = {
    # list page
    "list_row": ("ul.content > li",),
    "list_link": ("p.title > span > a::attr(href)", "p.title a::attr(href)", "a[href*='/qa/']::attr(href)"),
    "list_label": ("p.label span", "p.label"),
    "next_page": ("//a[normalize-space(.)='»']/@href", "//a[normalize-space(.)='&raquo;']/@href"),
    # question page
    "question_id": ("div#answer-text::attr(data-question-id)", "div.collect::attr(data-question-id)"),
    "title": ("#left div.title h1", "div.title h1"),
    "asker": ("#left div.title > a", "div.title > a"),
    "answer_count": ("#left div.title strong", "div.title strong"),
    "asked_at": ("p.read-capacity > span:nth-child(1)", "p.read-capacity > span"),
    "view_count": ("span.absoulte-img > a", "span.absolute-img > a"),
    "body": ("div.content > p.text",),
    "body_container": ("div.content",),
    # Relative to the container of the first p.text: that paragraph and what follows it, bar classed
    # blocks (tags, images). A `<p>` or `<div>` written inside p.text is split off by the HTML parser
    # (a paragraph cannot hold one) and lands here as an unclassed sibling.
    "body_parts": (
        "./p[contains(concat(' ', normalize-space(@class), ' '), ' text ')][1]"
        " | ./p[contains(concat(' ', normalize-space(@class), ' '), ' text ')][1]/following-sibling::node()"
        "[self::text() or self::*[not(@class)]"
        " or self::p[contains(concat(' ', normalize-space(@class), ' '), ' text ')]]",
    ),
    "tags": ("ul.label.detail-tag li", "ul.detail-tag li"),
    "answers": ("ul.content-ans > li",),
    "answers_area_items": ("#answer-text li",),  # any list item in the answers area: answers are expected
    # inside one answer li
    "answer_id": (
        "span.answer_zan::attr(data-answer-id)",
        "[data-answer-id]::attr(data-answer-id)",
        "::attr(data-answer-id)",
    ),
    "answer_link": ("a.jumpA[href*='answer-']::attr(href)", "a[href*='answer-']::attr(href)"),
    "author_link": ("p.user a[href*='/user/']::attr(href)", "p.user a[href*='/expert/']::attr(href)"),
    "author_name": ("p.user span.username", "p.user a.username", "p.user a"),
    "counselor_signal": (
        ".//span[contains(concat(' ', normalize-space(@class), ' '), ' honor-icon ')]",
        ".//span[contains(concat(' ', normalize-space(@class), ' '), ' help ')]",
        ".//a[contains(@href, '/expert/')][not(ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' text ')])]",
    ),
    "answer_body": ("div.text",),
    "likes": ("span.answer_zan a font", "span.answer_zan font"),
    "comments": ("span.comment_item a font", "span.comment_item font"),
    "answered_at": ("p.created_time",),
}
# The crawl-health fields (crawlers/health.py): what each reads, and which a thread cannot do without.
FIELDS = [
    FieldSpec("list_rows", "list", SELECTORS["list_row"], required=True, min_pages=1),
    FieldSpec("question_links", "list", SELECTORS["list_link"], required=True, min_pages=1),
    FieldSpec("question_id", "question", SELECTORS["question_id"]),
    FieldSpec("title", "question", SELECTORS["title"], required=True),
    FieldSpec("body", "question", SELECTORS["body"], required=True),
    FieldSpec("asker", "question", SELECTORS["asker"]),
    FieldSpec("asked_at", "question", SELECTORS["asked_at"]),
    FieldSpec("view_count", "question", SELECTORS["view_count"]),
    FieldSpec("answer_count", "question", SELECTORS["answer_count"]),
    FieldSpec("tags", "question", SELECTORS["tags"]),
    FieldSpec("answers", "question", SELECTORS["answers"], required=True),
    FieldSpec("answer_id", "answer", SELECTORS["answer_id"] + SELECTORS["answer_link"], required=True),
    FieldSpec("answer_author", "answer", SELECTORS["author_link"] + SELECTORS["author_name"]),
    FieldSpec("answer_body", "answer", SELECTORS["answer_body"], required=True),
    FieldSpec("likes", "answer", SELECTORS["likes"]),
    FieldSpec("comments", "answer", SELECTORS["comments"]),
    FieldSpec("answered_at", "answer", SELECTORS["answered_at"]),
]

QUESTION_ID = re.compile(r"/qa/(\d+)")
ANSWER_ID = re.compile(r"answer-(\d+)")
PERSON_ID = re.compile(r"/(?:user|expert)/([\w-]+)")
LISTED_ANSWERS = re.compile(r"回答\s*(\d+)")
LISTS = ("last", "cream")
ANSWERS_PER_PAGE = 10


class YixinliSpider(ThreadSpider):
    name = "yixinli"
    default_base_url = "https://www.xinli001.com"
    fields = FIELDS

    def __init__(self, *args: Any, list: str = "last", **kwargs: Any):  # noqa: A002 - the -a name
        super().__init__(*args, **kwargs)
        if list not in LISTS:
            raise ValueError(f"list must be one of {LISTS}, got {list!r}")
        self.list_name = list
        self.list_has_next_links = False
        self.listed: set[str] = set()  # question ids seen on list pages so far

    def list_url(self, page: int) -> str:
        return (
            f"{self.base_url}/qa?page={page}&type=question&object_name={self.list_name}"
            "&title=&level2_tag=0&sort=id"
        )

    def question_url(self, qid: str, page: int = 1) -> str:
        return f"{self.base_url}/qa/{qid}" + (f"?page={page}" if page > 1 else "")

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(self.list_url(1), callback=self.parse_list, cb_kwargs={"page": 1})

    # ------------------------------------------------------------------ list pages
    def parse_list(self, response: Response, page: int = 1) -> Iterator[scrapy.Request]:
        rows = select_any(response, SELECTORS["list_row"])
        self.crawler.stats.inc_value("yixinli/list_pages")
        links = [
            m.group(1)
            for row in rows
            if (m := QUESTION_ID.search(first_attr(row, *SELECTORS["list_link"]) or ""))
        ]
        if rows or page == 1:  # an empty later page is the end of the list, not a layout change
            found = {"list_rows": bool(rows), "question_links": bool(links)}
            self.health.record("list", response, found, f"list-{page}")
        repeats_only = bool(links) and self.listed.issuperset(links)
        self.listed.update(links)
        if self.probe:
            links = links[: self.probe_pages]
        for row in rows:
            href = first_attr(row, *SELECTORS["list_link"])
            m = QUESTION_ID.search(href or "")
            if not m or m.group(1) not in links:
                continue
            qid = m.group(1)
            label = first_text(row, *SELECTORS["list_label"]) or ""
            listed = LISTED_ANSWERS.search(label)
            listed_answers = int(listed.group(1)) if listed else None
            if self.already_stored(qid, listed_answers):
                continue
            yield scrapy.Request(
                self.question_url(qid),
                callback=self.parse_question,
                errback=self.request_failed,
                cb_kwargs={"qid": qid},
                priority=10,  # finish threads before walking further down the list
            )
        if not rows:
            if page == 1:
                self.logger.warning("List page %s has no question rows", response.url)
            else:
                self.logger.info("List page %s is empty: the end of the list", response.url)
            return
        if self.probe or (self.max_list_pages is not None and page >= self.max_list_pages):
            return
        next_href = first_attr(response, *SELECTORS["next_page"])
        next_url = urljoin(response.url, next_href) if next_href else None
        if next_href:
            self.list_has_next_links = True
        if next_url and not next_url.startswith(("http://", "https://")):
            return  # a disabled » on the last page (`javascript:;`): the end of the list
        if not next_url:
            if self.list_has_next_links:
                return  # the site shows » links and this page has none: the last page
            if repeats_only:
                # A site that answers any page past the end with the last page again.
                self.logger.info("List page %s repeats listed questions: the end of the list", response.url)
                return
            next_url = self.list_url(page + 1)  # a site without » links: walk `page` until a page is empty
        yield scrapy.Request(
            next_url, callback=self.parse_list, errback=self.request_failed, cb_kwargs={"page": page + 1}
        )

    # ------------------------------------------------------------------ question + answer pages
    def parse_question(self, response: Response, qid: str) -> Iterator[Any]:
        crawled = now_utc()
        page_qid = first_attr(response, *SELECTORS["question_id"]) or qid
        self.crawler.stats.inc_value("yixinli/question_pages")
        asker = _asker(response)
        thread = raw_thread(
            source=self.name,
            source_id=page_qid,
            url=self.question_url(page_qid),
            title=first_text(response, *SELECTORS["title"]),
            body=_question_body(response),
            tags=[t for t in (first_text(li, ".") for li in select_any(response, SELECTORS["tags"])) if t],
            asker=asker,
            asked_at=parse_time(first_text(response, *SELECTORS["asked_at"]), crawled),
            view_count=parse_count(first_text(response, *SELECTORS["view_count"])),
            answer_count=parse_count(first_text(response, *SELECTORS["answer_count"])),
            crawled_at=iso_utc(crawled),
        )
        added = self._add_answers(response, thread, page=1)
        found = {
            "question_id": page_qid != qid or bool(first_attr(response, *SELECTORS["question_id"])),
            "title": thread["title"] is not None,
            "body": thread["body"] is not None,
            "asker": asker["anonymous"] or asker["id"] is not None,
            "asked_at": thread["asked_at"] is not None,
            "view_count": thread["view_count"] is not None,
            "answer_count": thread["answer_count"] is not None,
            "tags": bool(thread["tags"]),
        }
        count = thread["answer_count"]
        if count or (count is None and select(response, SELECTORS["answers_area_items"][0])):
            found["answers"] = bool(added)
        found.update(answer_coverage(thread["answers"], thread["source_id"]))
        self.health.record("question", response, found, page_qid)
        if self.probe:
            return  # a probe checks the layout; it follows no answer pages and writes no threads
        yield from self._next_or_thread(response, thread, 1, len(added))

    def parse_answer_page(self, response: Response, thread: dict[str, Any], page: int) -> Iterator[Any]:
        self.crawler.stats.inc_value("yixinli/answer_pages")
        added = self._add_answers(response, thread, page)
        yield from self._next_or_thread(response, thread, page, len(added))

    def _add_answers(self, response: Response, thread: dict[str, Any], page: int) -> list[dict[str, Any]]:
        crawled = _parse_iso(thread["crawled_at"])
        seen = {a["answer_id"] for a in thread["answers"]}
        added = []
        for index, li in enumerate(select_any(response, SELECTORS["answers"])):
            answer = self._answer(li, crawled, f"{thread['source_id']}-p{page}-{index}")
            if answer is not None and answer["answer_id"] not in seen:
                seen.add(answer["answer_id"])
                thread["answers"].append(answer)
                added.append(answer)
        return added

    def _next_or_thread(
        self, response: Response, thread: dict[str, Any], page: int, added: int
    ) -> Iterator[Any]:
        next_url = self._next_answer_page(response, thread, page, added)
        if next_url:
            yield scrapy.Request(
                next_url,
                callback=self.parse_answer_page,
                errback=self.later_page_failed,
                cb_kwargs={"thread": thread, "page": page + 1},
                priority=20,
            )
        else:
            yield thread

    def _next_answer_page(
        self, response: Response, thread: dict[str, Any], page: int, added: int
    ) -> str | None:
        if not added:
            return None  # a page with nothing new ends the thread, whatever the links say
        qid = thread["source_id"]
        for href in select_any(response, SELECTORS["next_page"]).getall():
            url = urljoin(response.url, href)
            parts = urlsplit(url)
            if f"/qa/{qid}" in parts.path and _page_param(parts.query) == page + 1:
                return self.question_url(qid, page + 1)
        total = thread["answer_count"]
        if total is not None and len(thread["answers"]) < total:
            return self.question_url(qid, page + 1)
        if total is None and added >= ANSWERS_PER_PAGE:  # no count shown and a full page: try the next
            return self.question_url(qid, page + 1)
        return None

    def _answer(self, li: Selector, crawled: Any, fallback_id: str) -> dict[str, Any] | None:
        answer_id = first_attr(li, *SELECTORS["answer_id"])
        if not answer_id:
            m = ANSWER_ID.search(first_attr(li, *SELECTORS["answer_link"]) or "")
            answer_id = m.group(1) if m else None
        # The first text block only: server-rendered comments under an answer would repeat the class.
        body = block_text(li, SELECTORS["answer_body"][0], first_only=True)
        if not answer_id:
            if not body:
                return None  # not an answer: a placeholder or advert row in the list
            self.crawler.stats.inc_value("yixinli/answer_without_id")
            answer_id = fallback_id
        author_link = first_attr(li, *SELECTORS["author_link"]) or ""
        m = PERSON_ID.search(author_link)
        counselor = any(select(li, q) for q in SELECTORS["counselor_signal"])
        return raw_answer(
            answer_id=answer_id,
            body=body or "",
            author_id=m.group(1) if m else None,
            author_name=first_text(li, *SELECTORS["author_name"]),
            author_role="counselor" if counselor else "user",
            likes=parse_count(first_text(li, *SELECTORS["likes"])),
            comment_count=parse_count(first_text(li, *SELECTORS["comments"])),
            answered_at=parse_time(first_text(li, *SELECTORS["answered_at"]), crawled),
        )

    # ------------------------------------------------------------------ failures


def answer_coverage(answers: list[dict[str, Any]], qid: str) -> dict[str, bool]:
    """Answer fields, each filled on a page when every answer on it has it."""
    if not answers:
        return {}
    return {
        "answer_id": all(not a["answer_id"].startswith(f"{qid}-p") for a in answers),
        "answer_author": all(a["author"]["id"] or a["author"]["name"] for a in answers),
        "answer_body": all(a["body"] for a in answers),
        "likes": all(a["likes"] is not None for a in answers),
        "comments": all(a["comment_count"] is not None for a in answers),
        "answered_at": all(a["answered_at"] is not None for a in answers),
    }


def _asker(response: Response) -> dict[str, Any]:
    for query in SELECTORS["asker"]:
        link = select(response, query)
        if link:
            href = link[0].attrib.get("href", "")
            name = first_text(link[0], ".")
            m = PERSON_ID.search(href)
            if href.startswith("javascript") or not m or (name or "").startswith("匿名"):
                return {"id": None, "name": name, "anonymous": True}  # the name shown, e.g. 匿名
            return {"id": m.group(1), "name": name, "anonymous": False}
    return {"id": None, "name": None, "anonymous": False}


def _question_body(response: Response) -> str | None:
    """The question text; '' for a title-only question (an empty container), None when not found."""
    first = select(response, SELECTORS["body"][0])
    body = None
    if first:
        parts = select(first[0].xpath(".."), SELECTORS["body_parts"][0]).getall()
        body = html_to_text("<p>" + "".join(parts) + "</p>") or None
    if body is None:
        container = select(response, SELECTORS["body_container"][0])
        if container and not html_to_text(container[0].get()):
            return ""
    return body


def _page_param(query: str) -> int | None:
    values = parse_qs(query).get("page")
    try:
        return int(values[-1]) if values else None
    except ValueError:
        return None


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)
