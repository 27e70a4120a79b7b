"""Crawl health: per-field coverage, a layout-drift alarm, saved failing pages, a probe verdict.

A spider declares its fields (FieldSpec: which selectors fill it, whether it is required) and
reports, for every parsed page, which of them it found. At the end the coverage table goes to the
log and to `<output>.health.json` beside the output; pages with required fields missing (or whose
callback raised) are saved, capped, to `failed_pages/` beside the output. Mid-crawl, a required
field whose coverage falls under COVERAGE_WARN_BELOW is warned about; under COVERAGE_CLOSE_BELOW
the spider closes with reason `layout_changed`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro
from w3lib.url import file_uri_to_path

logger = logging.getLogger(__name__)

EXIT_LAYOUT = 3  # exit status of a probe that found a required field missing, or a layout_changed close
EXIT_NO_PAGES = 4  # exit status of a crawl that fetched no page (close reason no_pages_fetched)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    page: str  # the kind of page it is read from: list, question, answer
    selectors: tuple[str, ...]
    required: bool = False
    min_pages: int | None = None  # pages seen before the alarm may fire (default COVERAGE_MIN_PAGES)


class CrawlHealth:
    def __init__(self, crawler: Crawler, specs: list[FieldSpec], probe: bool = False):
        self.crawler = crawler
        self.specs = {s.name: s for s in specs}
        self.probe = probe
        settings = crawler.settings
        self.warn_below = settings.getfloat("COVERAGE_WARN_BELOW", 0.8)
        self.close_below = settings.getfloat("COVERAGE_CLOSE_BELOW", 0.3)
        self.min_pages = settings.getint("COVERAGE_MIN_PAGES", 10)
        self.max_saved = settings.getint("FAILED_PAGES_MAX", 50)
        self.failed_dir_setting = settings.get("FAILED_PAGES_DIR")
        self.seen: Counter[str] = Counter()
        self.filled: Counter[str] = Counter()
        self.pages: Counter[str] = Counter()
        self.missing_example: dict[str, str] = {}
        self.warned: set[str] = set()
        self.saved = 0
        self.closing = False
        self.started = datetime.now(timezone.utc)
        crawler.signals.connect(self.spider_error, signal=signals.spider_error)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    # ------------------------------------------------------------------ recording
    def record(self, page: str, response: Response, found: dict[str, bool], label: str = "") -> None:
        self.pages[page] += 1
        for name, ok in found.items():
            self.seen[name] += 1
            if ok:
                self.filled[name] += 1
            else:
                self.missing_example.setdefault(name, response.url)
        missing = [n for n, ok in found.items() if not ok and self.specs[n].required]
        if missing:
            self.crawler.stats.inc_value("health/pages_missing_required")
            self.save_page(response, missing, label)
        if not self.probe:
            self._check(found)

    def coverage(self, name: str) -> float | None:
        return self.filled[name] / self.seen[name] if self.seen[name] else None

    def _check(self, found: dict[str, bool]) -> None:
        for name in found:
            spec = self.specs[name]
            cov = self.coverage(name)
            if not spec.required or cov is None or self.seen[name] < (spec.min_pages or self.min_pages):
                continue
            if self.closing:
                return
            if cov < self.close_below:
                self.closing = True
                self.crawler.stats.set_value("health/layout_changed_field", name)
                logger.error(
                    "LAYOUT CHANGED: required field %r filled on %d of %d %s pages (%.0f%% < %.0f%%); "
                    "selectors %s found nothing on e.g. %s. Closing with reason 'layout_changed'; "
                    "failing pages are saved in %s. Update the selectors in the spider's SELECTORS table.",
                    name,
                    self.filled[name],
                    self.seen[name],
                    spec.page,
                    100 * cov,
                    100 * self.close_below,
                    list(spec.selectors),
                    self.missing_example.get(name),
                    self.failed_dir(),
                )
                engine = _engine(self.crawler)
                if engine is not None:
                    deferred_from_coro(engine.close_spider_async(reason="layout_changed"))
            elif cov < self.warn_below and name not in self.warned:
                self.warned.add(name)
                logger.warning(
                    "!!! LAYOUT WARNING: required field %r filled on only %d of %d %s pages (%.0f%%); "
                    "selectors %s; e.g. %s",
                    name,
                    self.filled[name],
                    self.seen[name],
                    spec.page,
                    100 * cov,
                    list(spec.selectors),
                    self.missing_example.get(name),
                )

    # ------------------------------------------------------------------ failing pages
    def spider_error(self, failure: Any, response: Response, spider: Any) -> None:
        self.crawler.stats.inc_value("health/callback_errors")
        self.save_page(response, [f"exception: {failure.getErrorMessage()}"], "")

    def save_page(self, response: Response, failed: list[str], label: str) -> None:
        if self.saved >= self.max_saved:
            self.crawler.stats.inc_value("health/failed_pages_not_saved")
            return
        folder = self.failed_dir()
        folder.mkdir(parents=True, exist_ok=True)
        self.saved += 1
        stem = f"{self.saved:03d}-{re.sub(r'[^0-9A-Za-z_-]+', '_', label)[:40] or 'page'}"
        (folder / f"{stem}.html").write_bytes(response.body)
        meta = {
            "url": response.url,
            "status": response.status,
            "fetched_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "spider": self.crawler.spider.name if self.crawler.spider else None,
            "failed_fields": failed,
            "selectors": {f: list(self.specs[f].selectors) for f in failed if f in self.specs},
        }
        (folder / f"{stem}.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        self.crawler.stats.inc_value("health/failed_pages_saved")

    # ------------------------------------------------------------------ where things go
    def output_path(self) -> Path | None:
        """The first local file the crawl's feeds write to, if any."""
        from scrapy.extensions.feedexport import FeedExporter

        for ext in getattr(self.crawler.extensions, "middlewares", ()):
            if isinstance(ext, FeedExporter):
                for slot in ext.slots:
                    uri = slot.uri
                    if uri.startswith("file://"):
                        return Path(file_uri_to_path(uri))
                    if "://" not in uri and not uri.startswith("stdout:"):
                        return Path(uri)
        return None

    def failed_dir(self) -> Path:
        if self.failed_dir_setting:
            return Path(self.failed_dir_setting)
        out = self.output_path()
        if out is not None:
            return out.parent / "failed_pages" / out.stem
        name = self.crawler.spider.name if self.crawler.spider else "spider"
        run = f"{'probe' if self.probe else 'run'}-{self.started:%Y-%m-%dT%H-%M-%S}"
        return Path(self.crawler.settings.get("RAW_STORE_DIR", "data/raw/%(name)s") % {"name": name}) / (
            f"failed_pages/{run}"
        )

    # ------------------------------------------------------------------ the report
    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for spec in self.specs.values():
            cov = self.coverage(spec.name)
            rows.append(
                {
                    "field": spec.name,
                    "page": spec.page,
                    "required": spec.required,
                    "filled": self.filled[spec.name],
                    "seen": self.seen[spec.name],
                    "coverage": None if cov is None else round(cov, 4),
                    "selectors": list(spec.selectors),
                    "missing_on": self.missing_example.get(spec.name),
                }
            )
        return rows

    def broken(self) -> list[dict[str, Any]]:
        """Fields whose selectors found nothing on any page that was checked."""
        return [r for r in self.rows() if r["seen"] and not r["filled"]]

    def table(self) -> str:
        lines = [f"{'field':<18} {'page':<9} {'req':<4} {'filled':>7} / {'seen':<5} {'coverage':>8}"]
        for r in self.rows():
            cov = "n/a" if r["coverage"] is None else f"{100 * r['coverage']:.0f}%"
            lines.append(
                f"{r['field']:<18} {r['page']:<9} {'yes' if r['required'] else '':<4} "
                f"{r['filled']:>7} / {r['seen']:<5} {cov:>8}"
            )
        return "\n".join(lines)

    def verdict(self) -> tuple[bool, str]:
        broken = self.broken()
        required_broken = [r for r in broken if r["required"]]
        never_checked = [r["field"] for r in self.rows() if r["required"] and not r["seen"]]
        lines = []
        for r in broken:
            lines.append(
                f"  {'REQUIRED ' if r['required'] else ''}{r['field']}: selectors {r['selectors']} "
                f"found nothing, e.g. on {r['missing_on']}"
            )
        if never_checked:
            lines.append(f"  not reached (no such page parsed): {', '.join(never_checked)}")
        ok = not required_broken and self.pages.get("question", 0) + self.pages.get("topic", 0) > 0
        head = (
            "Layout as expected."
            if ok and not broken
            else (
                "Layout as expected for the required fields; some optional fields found nothing:"
                if ok
                else "LAYOUT CHANGED: required fields found nothing:"
            )
        )
        return ok, "\n".join([head, *lines])

    def spider_closed(self, spider: Any, reason: str) -> None:
        ok, verdict = self.verdict()
        report = f"Field coverage ({spider.name}, {reason}):\n{self.table()}\n{verdict}"
        logger.info("%s", report)
        if self.probe:
            print(report, flush=True)
        out = self.output_path()
        if out is not None:
            stats_file = out.with_name(f"{out.stem}.health.json")
            body = {
                "spider": spider.name,
                "finish_reason": reason,
                "started_at": self.started.replace(microsecond=0).isoformat(),
                "finished_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
                "pages": dict(self.pages),
                "fields": self.rows(),
                "layout_ok": ok,
                "verdict": verdict,
                "failed_pages_saved": self.saved,
                "failed_pages_dir": str(self.failed_dir()) if self.saved else None,
                "stats": self.crawler.stats.get_stats(),
            }
            stats_file.parent.mkdir(parents=True, exist_ok=True)
            stats_file.write_text(
                json.dumps(body, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
            )
            logger.info("Crawl health written to %s", stats_file)
        if (self.probe and not ok) or reason == "layout_changed":
            _exit_with(EXIT_LAYOUT)
        elif reason == "no_pages_fetched":
            _exit_with(EXIT_NO_PAGES)


def _engine(crawler: Crawler) -> Any:
    try:
        return crawler.engine
    except RuntimeError:  # not crawling (a callback test)
        return None


def _exit_with(code: int) -> None:
    """`scrapy crawl` exits 0 once the crawl ran; make this process end with `code` instead."""

    def _exit() -> None:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    atexit.register(_exit)
