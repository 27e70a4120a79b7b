"""`python -m crawlers.demo`: serve the sample site on a free port and crawl it with both spiders.

Writes data/raw/yixinli/sample.jsonl and data/raw/douban/sample.jsonl (overwritten each run, so
later stages always find the same input) and prints where the threads went.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from crawlers.sample_site import SampleSite, load_data
from empathyqa.progress import print_summary

REPO = Path(__file__).resolve().parents[1]
SAMPLE_GROUP = "716290"
DEMO_SETTINGS = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CHALLENGE_BACKOFF=1"]


def crawl(spider: str, base_url: str, out: Path, extra: list[str]) -> dict[str, int | str]:
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawlers.settings"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider, "-a", f"base_url={base_url}", *extra]
    cmd += ["-O", str(out), *DEMO_SETTINGS, "-s", "LOG_LEVEL=INFO"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    stats = {
        name: int(m.group(1)) if (m := re.search(rf"'{re.escape(name)}': (\d+)", result.stderr)) else 0
        for name in (
            "item_scraped_count",
            "antibot/blocked_responses",
            "robotstxt/forbidden",
            "validation/dropped",
        )
    }
    reason = re.search(r"'finish_reason': '(\w+)'", result.stderr)
    if result.returncode != 0 or not reason:
        sys.stderr.write(result.stderr[-3000:])
        raise SystemExit(f"error: scrapy crawl {spider} failed (exit {result.returncode})")
    return {**stats, "finish_reason": reason.group(1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.demo", description=__doc__)
    parser.add_argument(
        "--out-dir", default="data/raw", help="where <spider>/sample.<ext> go (default data/raw)"
    )
    parser.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl", help="output format")
    args = parser.parse_args(argv)
    server = SampleSite(0, load_data())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.port}"
    print(f"Sample site on {base}", flush=True)
    rows: dict[str, object] = {}
    try:
        for spider, extra in (("yixinli", []), ("douban", ["-a", f"group={SAMPLE_GROUP}"])):
            out = Path(args.out_dir) / spider / f"sample.{args.format}"
            print(f"Crawling {spider} ...", flush=True)
            stats = crawl(spider, base, out, extra)
            answers = _count_answers(out) if args.format == "jsonl" else None
            rows[f"{spider}: threads"] = stats["item_scraped_count"]
            if answers is not None:
                rows[f"{spider}: answers"] = answers
            rows[f"{spider}: anti-bot pages backed off"] = stats["antibot/blocked_responses"]
            rows[f"{spider}: forbidden by robots.txt"] = stats["robotstxt/forbidden"]
            rows[f"{spider}: dropped as invalid"] = stats["validation/dropped"]
            rows[f"{spider}: finish reason"] = stats["finish_reason"]
            rows[f"{spider}: written to"] = str(out)
    finally:
        server.shutdown()
        server.server_close()
    print_summary("crawl demo", rows, file=sys.stdout)
    return 0


def _count_answers(path: Path) -> int:
    with path.open(encoding="utf-8") as f:
        return sum(len(json.loads(line)["answers"]) for line in f if line.strip())


if __name__ == "__main__":
    sys.exit(main())
