"""A crawl that fails keeps the previous output; a dead host is a failed crawl, not an empty success."""

from __future__ import annotations

import json

from _crawl_helpers import crawl, finish_reason, read_jsonl, sample_site, stat

from crawlers.health import EXIT_NO_PAGES

FAST = ("-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CHALLENGE_BACKOFF=0.2")
ONE_PAGE = (*FAST, "-a", "max_list_pages=1")
PREVIOUS = '{"source_id": "q-previous", "title": "上一次抓到的帖子：失眠一个月了怎么办"}\n'


def test_dead_host_ends_with_its_own_reason_and_keeps_the_previous_output(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(PREVIOUS, encoding="utf-8")
    result = crawl(
        tmp_path,
        "yixinli",
        "-a",
        "base_url=http://127.0.0.1:1",
        "-O",
        "good.jsonl",
        *FAST,
        "-s",
        "RETRY_TIMES=0",
    )
    assert result.returncode == EXIT_NO_PAGES, result.stderr[-2000:]
    assert finish_reason(result) == "no_pages_fetched"
    assert "No page of http://127.0.0.1:1 could be fetched" in result.stderr
    assert good.read_text(encoding="utf-8") == PREVIOUS  # not emptied
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.health.json", "good.jsonl"]  # no leftovers
    health = json.loads((tmp_path / "good.health.json").read_text(encoding="utf-8"))
    assert health["finish_reason"] == "no_pages_fetched"


def test_a_crawl_that_ends_well_replaces_the_output(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(PREVIOUS, encoding="utf-8")
    with sample_site(tmp_path) as (base, _):
        result = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", "-O", "good.jsonl", *ONE_PAGE)
    assert result.returncode == 0, result.stderr[-2000:]
    assert finish_reason(result) == "finished"
    rows = read_jsonl(good)
    assert len(rows) == stat(result, "item_scraped_count") > 0
    assert "q-previous" not in {r["source_id"] for r in rows}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".partial", ".incomplete"))]


def test_a_blocked_crawl_keeps_the_previous_output_and_sets_its_items_aside(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(PREVIOUS, encoding="utf-8")
    with sample_site(tmp_path, "--block", "always") as (base, _):
        result = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", "-O", "good.jsonl", *FAST)
    assert finish_reason(result) == "blocked", result.stderr[-2000:]
    assert good.read_text(encoding="utf-8") == PREVIOUS
    set_aside = read_jsonl(tmp_path / "good.jsonl.incomplete")  # what was scraped before the block
    assert len(set_aside) == stat(result, "item_scraped_count") > 0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
