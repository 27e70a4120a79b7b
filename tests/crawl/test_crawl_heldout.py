"""Regressions found by crawling a held-out site built from the reference alone (not the sample site).

The pages under tests/data/crawl/ are trimmed copies of that site's pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from _crawl_helpers import make_spider, response
from scrapy import Request

from crawlers.parsing import parse_time
from crawlers.spiders.yixinli import YixinliSpider
from empathyqa.schema import validate_raw_thread

PAGES = Path(__file__).parent / "pages"
BASE = "http://127.0.0.1:9"
CST = timezone(timedelta(hours=8))


@pytest.fixture
def spider() -> YixinliSpider:
    return make_spider(YixinliSpider, base_url=BASE)


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def test_paragraphs_written_inside_p_text_stay_in_the_body(spider: YixinliSpider) -> None:
    # `<p class="text"><p>…</p></p>`: the HTML parser closes p.text before the inner <p>, leaving
    # it empty; the thread used to be dropped for a missing body.
    html = page("question_nested_paragraphs.html")
    (item,) = list(spider.parse_question(response(f"{BASE}/qa/310000004", html), qid="310000004"))
    assert item["body"] == '二战又失败了。\n家里人"很失望"。\n还有\n一段在 div 里\n和它的尾巴'
    assert "编辑于" not in item["body"]  # a classed block after the text is not the question
    assert item["title"] == "考研失败，感觉人生没有希望"
    assert item["view_count"] is None and item["answer_count"] == 0 and item["answers"] == []
    assert item["tags"] == []
    crawled = datetime.fromisoformat(item["crawled_at"]).astimezone(CST)
    assert item["asked_at"] == f"{(crawled - timedelta(days=1)).date().isoformat()}T12:30:00+08:00"
    assert validate_raw_thread(item) == []


def test_answer_ids_from_jump_links_and_missing_counts(spider: YixinliSpider) -> None:
    html = page("question_jump_ids.html")
    out = list(spider.parse_question(response(f"{BASE}/qa/310000006", html), qid="310000006"))
    # 3个回答 shown, 2 on the page: the next page is tried, the thread travels with the request
    (request,) = out
    assert isinstance(request, Request) and request.url == f"{BASE}/qa/310000006?page=2"
    thread = request.cb_kwargs["thread"]
    assert thread["body"] == "每次开会都心跳加速，\n手心出汗。"  # one p.text with <br>: as before
    assert thread["answer_count"] == 3 and thread["view_count"] == 88
    first, second = thread["answers"]  # the "查看更多" row is not an answer
    assert first["answer_id"] == "460000001" and second["answer_id"] == "460000002"
    assert first["author"] == {"id": "7601", "name": "陈老师"} and first["author_role"] == "counselor"
    assert second["author"] == {"id": "8602", "name": "同路人"} and second["author_role"] == "user"
    assert first["likes"] is None and first["comment_count"] is None
    assert second["likes"] == 2 and second["comment_count"] is None
    crawled = datetime.fromisoformat(thread["crawled_at"]).astimezone(CST)
    assert first["answered_at"] == (crawled - timedelta(days=3)).isoformat()
    assert second["answered_at"] == (crawled - timedelta(minutes=30)).isoformat()
    # the empty page 2 ends the thread with the answers gathered
    empty = html.split('<ul class="content-ans">')[0] + "</div></body></html>"
    (item,) = list(spider.parse_answer_page(response(request.url, empty), thread=thread, page=2))
    assert len(item["answers"]) == 2 and validate_raw_thread(item) == []


def test_disabled_next_link_on_last_list_page_ends_the_list(spider: YixinliSpider) -> None:
    # `<a href="javascript:;">»</a>` used to become a Request that raised "Missing scheme".
    url = f"{BASE}/qa?page=3&type=question&object_name=last"
    out = list(spider.parse_list(response(url, page("list_last_disabled_next.html")), page=3))
    assert [r.url for r in out] == [f"{BASE}/qa/310000007"]


@pytest.mark.parametrize("text, minutes", [("半小时前", 30), ("回答于 半小时前", 30), ("刚刚", 0)])
def test_half_an_hour_ago(text: str, minutes: int) -> None:
    crawled = datetime(2026, 3, 18, 13, 40, tzinfo=timezone.utc)
    want = (crawled - timedelta(minutes=minutes)).astimezone(CST).isoformat()
    assert parse_time(text, crawled) == want


def test_list_that_repeats_its_last_page_past_the_end_stops(spider: YixinliSpider) -> None:
    # No » links and a site that serves the last page again for any later `page`: the walk used
    # to go on for ever (1000+ list requests in 15 s against the held-out site).
    html = page("list_last_disabled_next.html").split('<div class="pages">')[0] + "</div></body></html>"
    first = list(spider.parse_list(response(spider.list_url(1), html), page=1))
    assert [r.url for r in first if r.callback == spider.parse_list] == [spider.list_url(2)]
    again = list(spider.parse_list(response(spider.list_url(2), html), page=2))
    assert not [r for r in again if r.callback == spider.parse_list]
