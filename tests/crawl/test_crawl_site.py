"""Integration: `scrapy crawl` in a subprocess against the sample site served over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from _crawl_helpers import (
    FAST,
    crawl,
    fetched_paths,
    finish_reason,
    questions,
    read_jsonl,
    sample_data,
    sample_site,
    stat,
)

from empathyqa.schema import RAW_THREAD

CRAWLABLE = {q for q, v in questions().items() if v["site_behaviour"] != "robots_disallowed"}


def test_full_crawl_threads_robots_and_one_time_blocks(tmp_path: Path) -> None:
    with sample_site(tmp_path) as (base, access_log):
        result = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", "-O", "out.jsonl", *FAST)
        paths = fetched_paths(access_log)
    assert result.returncode == 0, result.stderr[-2000:]
    assert finish_reason(result) == "finished"
    rows = read_jsonl(tmp_path / "out.jsonl")
    by_id = {r["source_id"]: r for r in rows}
    assert len(rows) == len(by_id) == len(CRAWLABLE) and set(by_id) == CRAWLABLE
    assert len(by_id["101000013"]["answers"]) == 13  # assembled across two answer pages
    assert "/qa/101000013?page=2" in paths
    # robots.txt read first and obeyed: the disallowed question was never fetched
    assert paths[0] == "/robots.txt"
    assert not [p for p in paths if p.startswith("/qa/101000030")]
    assert stat(result, "robotstxt/forbidden") == 1
    # the WAF challenge and the 503 redirect were counted, backed off from, and survived
    assert stat(result, "antibot/challenge") == 1 and stat(result, "antibot/redirect_503") == 1
    assert by_id["101000017"]["title"] and by_id["101000019"]["title"]
    assert paths.count("/qa/101000017") == 2
    assert "/503-error.html" not in paths  # detected on the redirect, not followed
    assert not (tmp_path / "data").exists()  # -O replaces the default store output
    # an honest user agent
    assert "EmpathyQA" in access_log.read_text(encoding="utf-8").splitlines()[0]


def test_persistent_block_closes_as_blocked_and_keeps_items(tmp_path: Path) -> None:
    with sample_site(tmp_path, "--block", "always") as (base, _):
        result = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", "-O", "out.jsonl", *FAST)
    assert finish_reason(result) == "blocked"
    assert "Closing the spider with reason 'blocked'" in result.stderr
    assert stat(result, "antibot/gave_up") >= 1
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert rows and all(r["title"] for r in rows)  # what was scraped before the block is saved


def test_jobdir_resume_no_duplicate_no_missing(tmp_path: Path) -> None:
    args = ["-o", "out.jsonl", "-s", "JOBDIR=job", *FAST]
    with sample_site(tmp_path) as (base, _):
        first = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", *args, "-s", "CLOSESPIDER_ITEMCOUNT=8")
        assert finish_reason(first) == "closespider_itemcount"
        partial = len(read_jsonl(tmp_path / "out.jsonl"))
        assert 8 <= partial < len(CRAWLABLE)
        second = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", *args)
    assert finish_reason(second) == "finished", second.stderr[-2000:]
    ids = [r["source_id"] for r in read_jsonl(tmp_path / "out.jsonl")]
    assert len(ids) == len(set(ids)), "duplicate thread after resume"
    assert set(ids) == CRAWLABLE, f"missing: {CRAWLABLE - set(ids)}"


def test_malformed_and_empty_pages_are_dropped_not_fatal(tmp_path: Path) -> None:
    with sample_site(tmp_path, "--broken-pages") as (base, _):
        result = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", "-O", "out.jsonl", *FAST)
    assert finish_reason(result) == "finished"
    assert stat(result, "validation/dropped") == 2
    assert "invalid raw thread" in result.stderr
    assert {r["source_id"] for r in read_jsonl(tmp_path / "out.jsonl")} == CRAWLABLE


def test_parquet_feed_and_max_list_pages(tmp_path: Path) -> None:
    with sample_site(tmp_path) as (base, access_log):
        result = crawl(
            tmp_path,
            "yixinli",
            "-a",
            f"base_url={base}",
            "-a",
            "max_list_pages=1",
            "-O",
            "out.parquet",
            *FAST,
        )
        paths = fetched_paths(access_log)
    assert result.returncode == 0, result.stderr[-2000:]
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.equals(RAW_THREAD)
    assert table.num_rows == 9  # page 1 lists 10 questions, one of them disallowed by robots.txt
    assert not [p for p in paths if p.startswith("/qa?") and "page=2" in p]


def test_default_store_and_incremental_recrawl(tmp_path: Path) -> None:
    grown = sample_data()
    grown = json.loads(json.dumps(grown))
    target = next(q for q in grown["yixinli"]["questions"] if q["id"] == "101000029")
    target["answers"].append(
        {**target["answers"][0], "id": "5299999", "role": "user", "counselor_signal": None}
    )
    data_file = tmp_path / "grown.json"
    data_file.write_text(json.dumps(grown, ensure_ascii=False), encoding="utf-8")
    with sample_site(tmp_path) as (base, _):
        first = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", *FAST)
        second = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", *FAST)
    with sample_site(tmp_path, "--data", str(data_file)) as (base, _):
        third = crawl(tmp_path, "yixinli", "-a", f"base_url={base}", *FAST)
    store = tmp_path / "data" / "raw" / "yixinli"
    files = sorted(store.glob("yixinli-*.jsonl"))
    assert len(files) == 3, "one JSON Lines file per run"
    assert stat(first, "item_scraped_count") == len(CRAWLABLE)
    assert stat(second, "incremental/skipped") == len(CRAWLABLE) and stat(second, "item_scraped_count") == 0
    assert stat(third, "item_scraped_count") == 1  # only the question whose answer count grew
    assert [r["source_id"] for r in read_jsonl(files[-1])] == ["101000029"]


def test_douban_crawl(tmp_path: Path) -> None:
    with sample_site(tmp_path) as (base, _):
        result = crawl(
            tmp_path, "douban", "-a", "group=716290", "-a", f"base_url={base}", "-O", "d.jsonl", *FAST
        )
    assert finish_reason(result) == "finished", result.stderr[-2000:]
    rows = {r["source_id"]: r for r in read_jsonl(tmp_path / "d.jsonl")}
    assert set(rows) == {t["id"] for t in sample_data()["douban"]["topics"]}
    assert len(rows["300000001"]["answers"]) == 7  # two reply pages
    assert all(a["author_role"] == "user" for r in rows.values() for a in r["answers"])


def test_bad_spider_argument_fails_clearly(tmp_path: Path) -> None:
    result = crawl(tmp_path, "yixinli", "-a", "list=hot", "-O", "x.jsonl", timeout=60)
    assert result.returncode != 0
    assert "error: scrapy crawl yixinli: list must be one of" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_crawls_sample_site(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "crawlers.demo", "--out-dir", str(tmp_path / "raw")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "yixinli: threads" in result.stdout and "written to" in result.stdout
    assert len(read_jsonl(tmp_path / "raw" / "yixinli" / "sample.jsonl")) == len(CRAWLABLE)
    assert len(read_jsonl(tmp_path / "raw" / "douban" / "sample.jsonl")) == 8
