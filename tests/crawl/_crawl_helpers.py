"""Fixtures for the crawler tests: the sample site as a subprocess, `scrapy crawl` as a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawlers.sample_site.render import DATA_FILE, Renderer, load_data

REPO = Path(__file__).resolve().parents[2]
SCRAPY = str(Path(sys.executable).with_name("scrapy"))
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CHALLENGE_BACKOFF=0.2"]


def sample_data() -> dict[str, Any]:
    return load_data(str(DATA_FILE))


def questions() -> dict[str, dict[str, Any]]:
    return {q["id"]: q for q in sample_data()["yixinli"]["questions"]}


@contextmanager
def sample_site(tmp_path: Path, *args: str) -> Iterator[tuple[str, Path]]:
    """Serve the sample site on a free port; yields (base_url, access_log)."""
    log = tmp_path / f"access-{len(list(tmp_path.glob('access-*')))}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawlers.sample_site", "--port", "0", "--access-log", str(log), *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        m = re.search(r"http://127\.0\.0\.1:\d+", line)
        if not m:
            raise RuntimeError(
                f"sample site did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
            )
        yield m.group(0), log
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def crawl(tmp_path: Path, spider: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`scrapy crawl` in tmp_path (so default outputs land there), with the project settings."""
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawlers.settings", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [SCRAPY, "crawl", spider, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def finish_reason(result: subprocess.CompletedProcess[str]) -> str | None:
    m = re.search(r"'finish_reason': '(\w+)'", result.stderr)
    return m.group(1) if m else None


def stat(result: subprocess.CompletedProcess[str], name: str) -> int:
    m = re.search(rf"'{re.escape(name)}': (\d+)", result.stderr)
    return int(m.group(1)) if m else 0


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def fetched_paths(access_log: Path) -> list[str]:
    if not access_log.exists():
        return []
    return [line.split("\t")[1] for line in access_log.read_text(encoding="utf-8").splitlines()]


def make_spider(spidercls: type, failed_pages_dir: Path | None = None, **kwargs: Any) -> Any:
    """A spider for callback tests; pages it saves as failing go to a temporary folder."""
    failed = failed_pages_dir or Path(tempfile.mkdtemp(prefix="failed-pages-"))
    settings = {"INCREMENTAL": False, "SPIDER_ARG_ERRORS_RAISE": True, "FAILED_PAGES_DIR": str(failed)}
    crawler = get_crawler(spidercls, settings)
    spider = spidercls.from_crawler(crawler, **kwargs)
    crawler.spider = spider
    return spider


def response(url: str, html: str) -> HtmlResponse:
    return HtmlResponse(url=url, body=html.encode("utf-8"), encoding="utf-8", request=Request(url))


def renderer(layout: str = "standard", broken_pages: bool = False) -> Renderer:
    return Renderer(sample_data(), layout=layout, broken_pages=broken_pages)
