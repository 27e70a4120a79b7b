"""Crawler benchmark: callback parse throughput and a full crawl of the sample site, each vs a baseline.

    .venv/bin/python bench/crawl.py [--scale 10] [--repeats 5]

1. Parse: pages/s of YixinliSpider.parse_question on rendered sample pages, against a naive parse
   with document-wide `//` XPaths (the public-crawler pattern the reference warns about), with the
   fraction of answers each gets right.
2. Full crawl: `scrapy crawl yixinli` over HTTP against the sample site scaled up --scale times,
   politeness off (no delay, no AutoThrottle), pages/s and peak RSS; baseline: one request at a time
   per domain (the project default), against 16 at a time.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crawlers.sample_site.render import Renderer, load_data  # noqa: E402
from crawlers.spiders.yixinli import YixinliSpider  # noqa: E402
from empathyqa.progress import print_summary  # noqa: E402

BASE = "http://bench.test"


def scaled_data(scale: int) -> dict:
    data = load_data()
    out = copy.deepcopy(data)
    questions = []
    for copy_no in range(scale):
        for q in data["yixinli"]["questions"]:
            q2 = copy.deepcopy(q)
            q2["id"] = str(int(q["id"]) + copy_no * 1000)
            for a in q2["answers"]:
                a["id"] = str(int(a["id"]) + copy_no * 100_000)
            if copy_no:
                q2["site_behaviour"] = None
            questions.append(q2)
    out["yixinli"]["questions"] = questions
    return out


def naive_parse(response: HtmlResponse) -> dict:
    """Baseline: document-wide XPaths inside the answer loop (every answer reads the first one)."""
    answers = []
    for _li in response.xpath("//ul[@class='content-ans']/li"):
        answers.append(
            {
                "answer_id": _li.xpath("//span[@class='answer_zan']/@data-answer-id").get(),
                "body": "\n".join(_li.xpath("//div[@class='text']//text()").getall()).strip(),
                "author": _li.xpath("//p[@class='user']/span[@class='username']/text()").get(),
            }
        )
    return {
        "title": response.xpath("//div[@id='left']//h1/text()").get(),
        "body": "\n".join(response.xpath("//p[@class='text']/text()").getall()),
        "answers": answers,
    }


def bench_parse(repeats: int) -> list[tuple[str, str]]:
    data = load_data()
    site = Renderer(data)
    pages = []
    for q in data["yixinli"]["questions"]:
        html = site.question_page(q["id"], 1)
        url = f"{BASE}/qa/{q['id']}"
        pages.append((q, url, html.encode()))
    crawler = get_crawler(YixinliSpider, {"INCREMENTAL": False})
    spider = YixinliSpider.from_crawler(crawler, base_url=BASE)

    def run(parse) -> tuple[float, float]:
        right = total = 0
        start = time.perf_counter()
        for _ in range(repeats):
            for q, url, body in pages:  # a fresh response each time: HTML parsing is part of the cost
                resp = HtmlResponse(url=url, body=body, encoding="utf-8", request=Request(url))
                out = parse(resp, q)
                for got, want in zip(out["answers"], q["answers"][:10], strict=False):
                    total += 1
                    right += got["answer_id"] == want["id"] and got["body"] == want["body"]
        elapsed = time.perf_counter() - start
        return len(pages) * repeats / elapsed, right / max(total, 1)

    def ours(resp, q):
        out = list(spider.parse_question(resp, qid=q["id"]))
        return out[-1].cb_kwargs["thread"] if isinstance(out[-1], Request) else out[-1]

    ours_rate, ours_ok = run(ours)
    naive_rate, naive_ok = run(lambda resp, q: naive_parse(resp))
    return [
        ("parse pages/s: spider callbacks", f"{ours_rate:,.0f}  (answers right: {ours_ok:.0%})"),
        ("parse pages/s: naive // XPaths (baseline)", f"{naive_rate:,.0f}  (answers right: {naive_ok:.0%})"),
    ]


def crawl_once(base: str, workdir: Path, per_domain: int) -> tuple[float, int, float]:
    cmd = [
        str(Path(sys.executable).with_name("scrapy")),
        "crawl",
        "yixinli",
        "-a",
        f"base_url={base}",
        "-O",
        str(workdir / f"out-{per_domain}.jsonl"),
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
        "-s",
        "CHALLENGE_BACKOFF=0",
        "-s",
        f"CONCURRENT_REQUESTS_PER_DOMAIN={per_domain}",
        "-s",
        f"CONCURRENT_REQUESTS={max(per_domain, 8)}",
    ]
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawlers.settings", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    watcher = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, watcher.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.02)
    log = proc.stderr.read() if proc.stderr else ""
    pages = int(re.search(r"'response_received_count': (\d+)", log).group(1))
    elapsed = float(re.search(r"'elapsed_time_seconds': ([\d.]+)", log).group(1))
    items = int(re.search(r"'item_scraped_count': (\d+)", log).group(1))
    return pages / elapsed, items, peak / 2**20


def bench_crawl(scale: int) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        data_file = workdir / "data.json"
        data_file.write_text(json.dumps(scaled_data(scale), ensure_ascii=False), encoding="utf-8")
        site = subprocess.Popen(
            [sys.executable, "-m", "crawlers.sample_site", "--port", "0", "--data", str(data_file)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            base = re.search(r"http://[\d.:]+", site.stdout.readline()).group(0)
            rows = []
            for label, per_domain in (("1 per domain, project default (baseline)", 1), ("16 per domain", 16)):
                rate, items, peak = crawl_once(base, workdir, per_domain)
                rows.append(
                    (
                        f"full crawl pages/s: {label}",
                        f"{rate:,.1f}  ({items} threads, peak RSS {peak:.0f} MiB)",
                    )
                )
            return rows
        finally:
            site.terminate()
            site.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=int, default=10, help="copies of the 30 sample questions to crawl")
    parser.add_argument("--repeats", type=int, default=5, help="passes over the pages in the parse benchmark")
    args = parser.parse_args()
    if args.scale < 1 or args.repeats < 1:
        parser.error("--scale and --repeats must be at least 1")
    rows = bench_parse(args.repeats) + bench_crawl(args.scale)
    print_summary("crawl benchmark", dict(rows), file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
