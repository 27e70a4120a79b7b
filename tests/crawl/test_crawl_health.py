"""Crawl health (issue 10): probe mode, coverage table + JSON stats, layout_changed close, saved pages."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from _crawl_helpers import (
    FAST,
    crawl,
    finish_reason,
    make_spider,
    response,
    sample_site,  # noqa: I001  (kept apart: the fixture that serves pages)
    stat,
)

from crawlers.spiders.yixinli import YixinliSpider


def saved_pages(folder: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.rglob("*.json"))]


def test_probe_clean_on_sample_site(tmp_path: Path) -> None:
    with sample_site(tmp_path) as (base, access_log):
        result = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", "-a", "probe=1", *FAST)
        fetched = access_log.read_text(encoding="utf-8").splitlines()
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Layout as expected." in result.stdout
    assert "title              question  yes        4 / 4         100%" in result.stdout
    assert len([line for line in fetched if "\t/qa/" in line]) <= 6  # a handful of question pages
    assert not list(tmp_path.rglob("*.jsonl"))  # a probe writes no threads


def test_probe_names_broken_fields_and_exits_non_zero(tmp_path: Path) -> None:
    with sample_site(tmp_path, "--layout", "changed") as (base, _):
        result = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", "-a", "probe=1", *FAST)
    assert result.returncode == 3
    assert "LAYOUT CHANGED" in result.stdout
    for field, selector in (
        ("title", "#left div.title h1"),
        ("body", "div.content > p.text"),
        ("answers", "ul.content-ans > li"),
    ):
        line = next(x for x in result.stdout.splitlines() if x.startswith(f"  REQUIRED {field}:"))
        assert selector in line and f"{base}/qa/" in line
    pages = saved_pages(tmp_path / "data" / "raw" / "yixinli" / "failed_pages")
    assert pages and {"title", "body"} <= set(pages[0]["failed_fields"])
    assert pages[0]["url"].startswith(f"{base}/qa/") and pages[0]["fetched_at"]
    html_files = list((tmp_path / "data" / "raw" / "yixinli" / "failed_pages").rglob("*.html"))
    assert len(html_files) == len(pages) and "answer-list" in html_files[0].read_text(encoding="utf-8")


def test_probe_changed_list_page(tmp_path: Path) -> None:
    with sample_site(tmp_path, "--layout", "changed-list") as (base, _):
        result = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", "-a", "probe=1", *FAST)
    assert result.returncode == 3
    assert "REQUIRED list_rows: selectors ['ul.content > li'] found nothing" in result.stdout


def test_full_crawl_closes_layout_changed_and_saves_capped_pages(tmp_path: Path) -> None:
    with sample_site(tmp_path, "--layout", "changed") as (base, _):
        result = crawl(
            tmp_path, "yixinli", "-a", f"base_url={base}", "-O", "out/threads.jsonl", *FAST,
            "-s", "COVERAGE_MIN_PAGES=5", "-s", "FAILED_PAGES_MAX=4",
        )  # fmt: skip
    assert result.returncode == 3
    assert finish_reason(result) == "layout_changed"
    assert "LAYOUT CHANGED: required field 'title'" in result.stderr
    health = json.loads((tmp_path / "out" / "threads.health.json").read_text(encoding="utf-8"))
    assert health["finish_reason"] == "layout_changed" and health["layout_ok"] is False
    title = next(f for f in health["fields"] if f["field"] == "title")
    assert title["filled"] == 0 and title["seen"] >= 5 and title["required"]
    saved = saved_pages(tmp_path / "out" / "failed_pages")
    assert len(saved) == 4 and stat(result, "health/failed_pages_not_saved") > 0
    assert stat(result, "item_scraped_count") == 0


def test_normal_crawl_writes_coverage_beside_output(tmp_path: Path) -> None:
    with sample_site(tmp_path) as (base, _):
        result = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", "-O", "t.jsonl", *FAST)
    assert result.returncode == 0 and finish_reason(result) == "finished"
    assert "Field coverage (yixinli, finished)" in result.stderr
    health = json.loads((tmp_path / "t.health.json").read_text(encoding="utf-8"))
    fields = {f["field"]: f for f in health["fields"]}
    assert health["layout_ok"] and fields["title"]["coverage"] == 1.0 and fields["title"]["seen"] == 29
    assert fields["view_count"]["filled"] == 28  # one question shows no view count
    assert not (tmp_path / "failed_pages").exists()


@pytest.mark.parametrize("layout, code", [("standard", 0), ("changed", 3)])
def test_douban_probe(tmp_path: Path, layout: str, code: int) -> None:
    with sample_site(tmp_path, "--layout", layout) as (base, _):
        result = crawl(
            tmp_path, "douban", "-a", "group=716290", "-a", f"base_url={base}", "-a", "probe=1", *FAST
        )
    assert result.returncode == code, result.stderr[-2000:]
    if code:
        assert "REQUIRED body: selectors ['#link-report .topic-content']" in result.stdout
    else:
        assert "Layout as expected." in result.stdout


def test_coverage_warns_before_it_closes(caplog: pytest.LogCaptureFixture) -> None:
    spider = make_spider(YixinliSpider, base_url="http://x.test")
    page = response("http://x.test/qa/1", "<html></html>")
    with caplog.at_level(logging.WARNING):
        for i in range(10):
            spider.health.record("question", page, {"title": i % 3 != 0, "body": True})
    assert "LAYOUT WARNING: required field 'title'" in caplog.text
    assert not spider.health.closing  # 60% is under the warning line, above the closing one
    for _ in range(20):
        spider.health.record("question", page, {"title": False, "body": True})
    assert spider.health.closing
