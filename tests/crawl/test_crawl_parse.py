"""Callback tests: the spiders' parse methods on sample-site pages (no network), every field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest
from _crawl_helpers import make_spider, questions, renderer, response, sample_data
from scrapy import Request
from scrapy.exceptions import DropItem

from crawlers.exporters import ParquetItemExporter
from crawlers.parsing import html_to_text, parse_count, parse_time
from crawlers.pipelines import ValidateRawThreadPipeline
from crawlers.spiders.douban import DoubanSpider
from crawlers.spiders.yixinli import YixinliSpider
from empathyqa.schema import RAW_THREAD, validate_raw_thread

BASE = "http://sample.test"
CST = timezone(timedelta(hours=8))


def expected_time(shown: str, crawled: datetime) -> str:
    """The sample's time strings, resolved by hand (independently of crawlers.parsing)."""
    local = crawled.astimezone(CST)
    relative = {
        "34分钟前": timedelta(minutes=34),
        "1小时前": timedelta(hours=1),
        "2小时前": timedelta(hours=2),
        "5小时前": timedelta(hours=5),
        "2天前": timedelta(days=2),
        "3天前": timedelta(days=3),
    }
    if shown in relative:
        return (local - relative[shown]).isoformat()
    if shown.startswith(("昨天", "今天")):
        day = local.date() - timedelta(days=1 if shown.startswith("昨天") else 0)
        hour, minute = map(int, shown.split()[1].split(":"))
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CST).isoformat()
    if len(shown) == len("03-18 21:40"):
        moment = datetime.strptime(f"{local.year}-{shown}", "%Y-%m-%d %H:%M").replace(tzinfo=CST)
        if moment > local + timedelta(days=1):
            moment = moment.replace(year=local.year - 1)
        return moment.isoformat()
    return datetime.strptime(shown, "%Y-%m-%d %H:%M").replace(tzinfo=CST).isoformat()


def crawl_question(spider: YixinliSpider, qid: str, layout: str = "standard") -> dict:
    """Drive parse_question and parse_answer_page as Scrapy would, returning the one thread item."""
    site = renderer(layout)
    outputs = list(spider.parse_question(response(f"{BASE}/qa/{qid}", site.question_page(qid, 1)), qid=qid))
    while outputs and isinstance(outputs[-1], Request):
        request = outputs[-1]
        page = request.cb_kwargs["page"]
        assert request.url == f"{BASE}/qa/{qid}?page={page}"
        html = site.question_page(qid, page) or "<html></html>"
        outputs = list(request.callback(response(request.url, html), **request.cb_kwargs))
    assert len(outputs) == 1
    return outputs[0]


@pytest.fixture
def spider() -> YixinliSpider:
    return make_spider(YixinliSpider, base_url=BASE)


@pytest.mark.parametrize(
    "qid", [q for q, v in questions().items() if v["site_behaviour"] != "robots_disallowed"]
)
def test_question_every_field(spider: YixinliSpider, qid: str) -> None:
    q = questions()[qid]
    item = crawl_question(spider, qid)
    assert validate_raw_thread(item) == []
    crawled = datetime.fromisoformat(item["crawled_at"])
    assert crawled.utcoffset() == timedelta(0)
    assert item["source"] == "yixinli" and item["source_id"] == qid
    assert item["url"] == f"{BASE}/qa/{qid}"
    assert item["title"] == q["title"]
    assert item["body"] == q["body"]  # paragraphs and <br> as \n, entities decoded
    assert item["tags"] == q["tags"]
    if q["asker"] is None:
        assert item["asker"] == {"id": None, "name": "匿名", "anonymous": True}
    else:
        assert item["asker"] == {**q["asker"], "anonymous": False}
    assert item["asked_at"] == expected_time(q["asked_at"], crawled)
    assert item["view_count"] == q["view_count"]
    assert item["answer_count"] == len(q["answers"])
    assert [a["answer_id"] for a in item["answers"]] == [a["id"] for a in q["answers"]]
    for got, want in zip(item["answers"], q["answers"], strict=True):
        assert got["body"] == want["body"]
        assert got["author"] == want["author"]
        assert got["author_role"] == want["role"]
        assert got["likes"] == want["likes"]
        assert got["comment_count"] == want["comments"]
        assert got["answered_at"] == expected_time(want["answered_at"], crawled)


def test_thread_spans_answer_pages(spider: YixinliSpider) -> None:
    item = crawl_question(spider, "101000013")
    assert len(item["answers"]) == 13 == item["answer_count"]
    assert {a["author_role"] for a in item["answers"]} == {"counselor", "user"}


def test_answer_page_failure_keeps_gathered_answers(spider: YixinliSpider) -> None:
    site = renderer()
    first = list(
        spider.parse_question(
            response(f"{BASE}/qa/101000013", site.question_page("101000013", 1)), qid="101000013"
        )
    )
    request = first[-1]

    class FakeFailure:
        def __init__(self, request: Request):
            self.request = request

        def getErrorMessage(self) -> str:  # noqa: N802 - twisted's name
            return "connection lost"

    saved = list(spider.later_page_failed(FakeFailure(request)))
    assert len(saved) == 1 and len(saved[0]["answers"]) == 10


def test_list_page_requests_questions_and_next(spider: YixinliSpider) -> None:
    site = renderer()
    out = list(spider.parse_list(response(spider.list_url(1), site.list_page(1, "last")), page=1))
    question_urls = [r.url for r in out if r.callback == spider.parse_question]
    assert question_urls == [
        f"{BASE}/qa/{n}" for n in range(101000030, 101000020, -1)
    ]  # tracking params dropped
    assert [r.cb_kwargs["page"] for r in out if r.callback == spider.parse_list] == [2]
    last = list(spider.parse_list(response(spider.list_url(3), site.list_page(3, "last")), page=3))
    assert not [r for r in last if r.callback == spider.parse_list]  # no » on the last page


def test_list_without_next_link_walks_page_parameter(spider: YixinliSpider) -> None:
    html = renderer().list_page(1, "last").replace(">»</a>", ">next</a>")
    out = list(spider.parse_list(response(spider.list_url(1), html), page=1))
    assert [r.url for r in out if r.callback == spider.parse_list] == [spider.list_url(2)]
    empty = list(spider.parse_list(response(spider.list_url(9), "<html><body></body></html>"), page=9))
    assert empty == []


def test_max_list_pages_and_cream_list() -> None:
    spider = make_spider(YixinliSpider, base_url=BASE, max_list_pages="1", list="cream")
    assert "object_name=cream" in spider.list_url(1)
    out = list(spider.parse_list(response(spider.list_url(1), renderer().list_page(1, "last")), page=1))
    assert not [r for r in out if r.callback == spider.parse_list]


def test_incremental_skips_unless_answer_count_grew(spider: YixinliSpider) -> None:
    spider.stored = {"101000029": 1, "101000028": 1}  # 029 unchanged (1 answer), 028 grew to 2
    out = list(spider.parse_list(response(spider.list_url(1), renderer().list_page(1, "last")), page=1))
    urls = {r.url for r in out}
    assert f"{BASE}/qa/101000029" not in urls and f"{BASE}/qa/101000028" in urls
    assert spider.crawler.stats.get_value("incremental/skipped") == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"list": "hot"}, "list must be one of"),
        ({"max_list_pages": "x"}, "whole number"),
        ({"max_list_pages": "0"}, "at least 1"),
        ({"base_url": "127.0.0.1:80"}, "http://"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_spider(YixinliSpider, **{"base_url": BASE, **kwargs})


def test_broken_pages_give_invalid_items(spider: YixinliSpider) -> None:
    site = renderer(broken_pages=True)
    pipeline = ValidateRawThreadPipeline(spider.crawler)
    for qid in ("109999998", "109999999"):
        html = site.question_page(qid, 1) or ""
        items = list(spider.parse_question(response(f"{BASE}/qa/{qid}", html), qid=qid))
        assert len(items) == 1
        with pytest.raises(DropItem, match="missing title"):
            pipeline.process_item(items[0])
    assert spider.crawler.stats.get_value("validation/dropped") == 2


def test_answer_id_location_and_signals(spider: YixinliSpider) -> None:
    html = renderer().question_page("101000001", 1)
    assert 'data-answer-id="5200102"' not in html  # the second answer has its id only in the share link
    item = crawl_question(spider, "101000001")
    assert [a["answer_id"] for a in item["answers"]] == ["5200101", "5200102", "5200103"]
    # honour badge, helped count, user: counselor, counselor, user; an /expert/ link is checked in 101000002
    assert [a["author_role"] for a in item["answers"]] == ["counselor", "counselor", "user"]
    assert crawl_question(spider, "101000002")["answers"][0]["author_role"] == "counselor"


# ---------------------------------------------------------------------------------- parsing helpers
NOW = datetime(2026, 3, 20, 2, 0, tzinfo=timezone.utc)  # 10:00 in China


@pytest.mark.parametrize(
    "text, want",
    [
        ("34分钟前", "2026-03-20T09:26:00+08:00"),
        ("2小时前", "2026-03-20T08:00:00+08:00"),
        ("30秒前", "2026-03-20T09:59:30+08:00"),
        ("刚刚", "2026-03-20T10:00:00+08:00"),
        ("3天前", "2026-03-17T10:00:00+08:00"),
        ("昨天 12:30", "2026-03-19T12:30:00+08:00"),
        ("前天 08:05", "2026-03-18T08:05:00+08:00"),
        ("今天 09:15", "2026-03-20T09:15:00+08:00"),
        ("03-18 21:40", "2026-03-18T21:40:00+08:00"),
        ("12-30 10:00", "2025-12-30T10:00:00+08:00"),  # ahead of the crawl: last year
        ("2023-11-02 14:05", "2023-11-02T14:05:00+08:00"),
        ("2023-11-02 14:05:09", "2023-11-02T14:05:09+08:00"),
        ("2023-11-02", "2023-11-02T00:00:00+08:00"),
        ("2024/01/02 03:04", "2024-01-02T03:04:00+08:00"),
        ("2024年3月5日 08:00", "2024-03-05T08:00:00+08:00"),
        ("发布于 2024-03-05", "2024-03-05T00:00:00+08:00"),
        ("", None),
        (None, None),
        ("很久以前", None),
        ("2023-13-45", None),
    ],
)
def test_parse_time(text: str | None, want: str | None) -> None:
    assert parse_time(text, NOW) == want


@pytest.mark.parametrize(
    "text, want",
    [
        ("2381", 2381),
        ("1.2万", 12000),
        ("1,024次浏览", 1024),
        ("13个回答", 13),
        ("赞 (3)", 3),
        ("", None),
        ("无", None),
    ],
)
def test_parse_count(text: str, want: int | None) -> None:
    assert parse_count(text) == want


def test_html_to_text() -> None:
    fragment = '<p class="text">a &amp; b<br>\n c&nbsp;d</p><p> </p><p>&ldquo;e&rdquo; &lt;x&gt;<script>x()</script></p>'
    assert html_to_text(fragment) == "a & b\nc d\n“e” <x>"


# ---------------------------------------------------------------------------------- douban
def test_douban_topic_every_field() -> None:
    spider = make_spider(DoubanSpider, base_url=BASE, group="716290")
    site = renderer()
    topic = sample_data()["douban"]["topics"][0]
    out = list(
        spider.parse_topic(
            response(f"{BASE}/group/topic/{topic['id']}/", site.douban_topic(topic["id"], 0)),
            tid=topic["id"],
            listed_replies=7,
        )
    )
    assert len(out) == 1 and isinstance(out[0], Request)
    nxt = out[0]
    items = list(nxt.callback(response(nxt.url, site.douban_topic(topic["id"], 5)), **nxt.cb_kwargs))
    item = items[0]
    assert validate_raw_thread(item) == []
    assert item["title"] == topic["title"] and item["body"] == topic["body"]
    assert item["asker"] == {**topic["author"], "anonymous": False}
    assert item["asked_at"] == topic["created_at"].replace(" ", "T") + "+08:00"
    assert item["answer_count"] == 7
    assert [a["answer_id"] for a in item["answers"]] == [r["id"] for r in topic["replies"]]
    for got, want in zip(item["answers"], topic["replies"], strict=True):
        assert got["body"] == want["body"] and got["author"] == want["author"]
        assert got["author_role"] == "user" and got["likes"] == want["likes"]
        assert got["answered_at"] == want["replied_at"].replace(" ", "T") + "+08:00"


def test_douban_list() -> None:
    spider = make_spider(DoubanSpider, base_url=BASE, group="716290")
    out = list(spider.parse_list(response(spider.list_url(0), renderer().douban_list("716290", 0)), page=1))
    topics = [r for r in out if r.callback == spider.parse_topic]
    assert [r.cb_kwargs["tid"] for r in topics] == [
        "300000001",
        "300000002",
        "300000003",
        "300000004",
        "300000005",
    ]
    assert topics[3].cb_kwargs["listed_replies"] == 0  # an empty reply cell
    assert [r.url for r in out if r.callback == spider.parse_list] == [
        f"{BASE}/group/716290/discussion?start=5"
    ]


def test_douban_needs_group() -> None:
    with pytest.raises(ValueError, match="group"):
        make_spider(DoubanSpider, base_url=BASE)


# ---------------------------------------------------------------------------------- parquet feed
def test_parquet_exporter_writes_raw_thread_schema(tmp_path, spider: YixinliSpider) -> None:
    items = [crawl_question(spider, qid) for qid in ("101000001", "101000013", "101000009")]
    path = tmp_path / "out.parquet"
    with path.open("wb") as f:
        exporter = ParquetItemExporter(f)
        exporter.batch_size = 2  # two row groups
        exporter.start_exporting()
        for item in items:
            exporter.export_item(item)
        exporter.finish_exporting()
    table = pq.read_table(path)
    assert table.schema.equals(RAW_THREAD)
    assert table.to_pylist()[1]["answers"][12]["answer_id"] == items[1]["answers"][12]["answer_id"]
    assert table.num_rows == 3


# ---------------------------------------------------------------------------------- other sites, same reference
VARIANT_PAGE = """<html><body><div id="left"><div class="title"><h1> 一个 &amp; 标题 </h1>
<a href="javascript:void(0);">匿名</a><p class="read-capacity"><span>发布于 1个月前</span>
<span class="absoulte-img"><a>1.2万</a></span></p></div>
<div class="content"><p class="text">第一段&#x4E00;<br/>第二段<strong>加粗</strong></p></div>
<ul class="label detail-tag"><li> 焦虑 </li></ul>
<ul class="content-ans">
<li data-answer-id="77"><p class="user"><a href="/expert/9"><img></a><a href="/expert/9">某咨询师</a></p>
<div class="text">回答一<ul><li>要点</li></ul></div><p class="created_time">回答于 刚刚</p></li>
<li class="ad"><p>广告</p></li>
<li><p class="user"><a href="/user/5"><span class="username">用户</span></a></p><div class="text">回答二</div>
<div><a class="jumpA" href="https://m.xinli001.com/qa/answer-78?x=1">分享</a></div></li>
</ul></div></body></html>"""


def test_reference_variants_from_another_site(spider: YixinliSpider) -> None:
    url = f"{BASE}/qa/555"
    (item,) = list(spider.parse_question(response(url, VARIANT_PAGE), qid="555"))
    crawled = datetime.fromisoformat(item["crawled_at"]).astimezone(CST)
    assert item["source_id"] == "555"  # no data-question-id: the id from the URL
    assert item["title"] == "一个 & 标题"
    assert item["asker"] == {"id": None, "name": "匿名", "anonymous": True}
    assert item["asked_at"] == (crawled - timedelta(days=30)).isoformat()
    assert item["view_count"] == 12000 and item["answer_count"] is None
    assert item["body"] == "第一段一\n第二段加粗"
    assert item["tags"] == ["焦虑"]
    first, second = item["answers"]  # the advert row is not an answer
    assert first["answer_id"] == "77" and first["author"] == {"id": "9", "name": "某咨询师"}
    assert first["author_role"] == "counselor" and first["body"] == "回答一\n要点"
    assert first["answered_at"] == crawled.isoformat()
    assert first["likes"] is None and first["comment_count"] is None
    assert second["answer_id"] == "78" and second["author"] == {"id": "5", "name": "用户"}
    assert second["author_role"] == "user" and second["answered_at"] is None


def test_full_page_without_count_tries_next_page(spider: YixinliSpider) -> None:
    html = renderer().question_page("101000013", 1).replace("<strong>13个回答</strong>", "")
    out = list(
        spider.parse_question(
            response(f"{BASE}/qa/101000013", html.replace(">»</a>", "></a>")), qid="101000013"
        )
    )
    assert isinstance(out[-1], Request) and out[-1].url == f"{BASE}/qa/101000013?page=2"


# ---------------------------------------------------------------------------------- anti-bot detection
@pytest.mark.parametrize(
    "url, body, kind",
    [
        ("https://static.xinli001.com/503-error.html", b"", "redirect_503"),
        ("https://www.xinli001.com/qa/1?u_atoken=x&u_asession=y&u_asig=z", b"", "captcha"),
        ("https://www.xinli001.com/qa/1", b"<html><script>var arg1 = '3E40CC';</script></html>", "challenge"),
        ("https://www.xinli001.com/qa/1", b"<html><h1>title</h1></html>", None),
    ],
)
def test_block_kind(url: str, body: bytes, kind: str | None) -> None:
    from crawlers.middlewares import block_kind

    assert block_kind(url, body) == kind


def test_redirect_to_another_hosts_503_page_is_retried_not_followed() -> None:
    import asyncio

    from scrapy.http import Response
    from scrapy.utils.test import get_crawler

    from crawlers.middlewares import AntiBotRedirectMiddleware

    crawler = get_crawler(YixinliSpider, {"CHALLENGE_BACKOFF": 0, "CHALLENGE_MAX_RETRIES": 1})
    mw = AntiBotRedirectMiddleware.from_crawler(crawler)
    request = Request("https://www.xinli001.com/qa/1", cb_kwargs={"qid": "1"})
    redirect = Response(
        request.url,
        status=302,
        headers={"Location": "https://static.xinli001.com/503-error.html"},
        request=request,
    )
    retry = asyncio.run(mw.process_response(request, redirect))
    assert isinstance(retry, Request) and retry.url == request.url and retry.dont_filter
    assert retry.meta["antibot_retries"] == 1 and retry.cb_kwargs == {"qid": "1"}
    assert crawler.stats.get_value("antibot/redirect_503") == 1
    from scrapy.exceptions import IgnoreRequest

    with pytest.raises(IgnoreRequest):
        asyncio.run(mw.process_response(retry, redirect.replace(request=retry)))
    assert crawler.stats.get_value("antibot/gave_up") == 1


def test_title_only_question_has_empty_body(spider: YixinliSpider) -> None:
    html = VARIANT_PAGE.replace('<p class="text">第一段&#x4E00;<br/>第二段<strong>加粗</strong></p>', "")
    (item,) = list(spider.parse_question(response(f"{BASE}/qa/556", html), qid="556"))
    assert item["body"] == "" and validate_raw_thread(item) == []
    assert spider.health.filled["body"] == 1
