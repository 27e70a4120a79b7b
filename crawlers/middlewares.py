"""Anti-bot pages are detected, counted and backed off from, never solved.

Two hooks share one policy: a redirect to the 503 page or to a captcha is caught before
RedirectMiddleware follows it (it may point at another host); a challenge page (the Aliyun WAF
`arg1=` script) is caught on the decoded body. Either way the request is retried after
CHALLENGE_BACKOFF seconds, with the whole crawl paused meanwhile, at most CHALLENGE_MAX_RETRIES
times; then the spider closes with reason `blocked`. Items already scraped stay in the feed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import scrapy.downloadermiddlewares.cookies as cookies_middleware
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro
from tldextract import TLDExtract

logger = logging.getLogger(__name__)

CHALLENGE_SCRIPT = re.compile(rb"\barg1\s*=\s*['\"]")
BLOCK_PAGE_URL = re.compile(r"503-error|/waf/|punish", re.I)
CAPTCHA_PARAMS = re.compile(r"[?&](?:u_atoken|u_asession|u_asig)=", re.I)
# Scrapy's cookie handling asks tldextract for the public-suffix list, which it tries to download on
# first use (a traceback when offline). Use the snapshot bundled with tldextract instead.
cookies_middleware._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)

_REDIRECT_META = ("redirect_times", "redirect_ttl", "redirect_urls", "redirect_reasons")


def block_kind(url: str, body: bytes = b"") -> str | None:
    """Which anti-bot page this is (challenge, redirect_503, captcha), or None for a normal page."""
    if CAPTCHA_PARAMS.search(url):
        return "captcha"
    if BLOCK_PAGE_URL.search(url):
        return "redirect_503"
    if body and CHALLENGE_SCRIPT.search(body[:200_000]):
        return "challenge"
    return None


def _engine(crawler: Crawler) -> Any:
    try:
        return crawler.engine
    except RuntimeError:  # not crawling (a unit test)
        return None


class _AntiBotPolicy:
    _paused = 0  # back-offs in progress, shared by both hooks

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.backoff = crawler.settings.getfloat("CHALLENGE_BACKOFF", 60.0)
        self.max_retries = crawler.settings.getint("CHALLENGE_MAX_RETRIES", 3)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> _AntiBotPolicy:
        return cls(crawler)

    async def blocked(self, request: Request, kind: str, seen_at: str) -> Request:
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value(f"antibot/{kind}")
        stats.inc_value("antibot/blocked_responses")
        tries = request.meta.get("antibot_retries", 0)
        original_url = (request.meta.get("redirect_urls") or [request.url])[0]
        if tries >= self.max_retries:
            stats.inc_value("antibot/gave_up")
            logger.error(
                "Blocked: the site answered %s with an anti-bot page (%s at %s) %d times in a row, "
                "backing off %.0f s each time. Closing the spider with reason 'blocked'; the threads "
                "already scraped are in the output. Try later, slower (-s DOWNLOAD_DELAY=...), and "
                "resume with the same -s JOBDIR.",
                original_url,
                kind,
                seen_at,
                tries + 1,
                self.backoff,
            )
            engine = _engine(self.crawler)
            if engine is not None:
                deferred_from_coro(engine.close_spider_async(reason="blocked"))
            raise IgnoreRequest(f"blocked by anti-bot page ({kind})")
        logger.warning(
            "Anti-bot page (%s) for %s; backing off %.1f s, then retry %d/%d",
            kind,
            original_url,
            self.backoff,
            tries + 1,
            self.max_retries,
        )
        stats.inc_value("antibot/backoff_seconds", self.backoff)
        await self._pause(self.backoff)
        meta = {k: v for k, v in request.meta.items() if k not in _REDIRECT_META}
        meta["antibot_retries"] = tries + 1
        return request.replace(url=original_url, meta=meta, dont_filter=True)

    async def _pause(self, seconds: float) -> None:
        engine = _engine(self.crawler)
        _AntiBotPolicy._paused += 1
        if engine is not None:
            engine.pause()
        try:
            await asyncio.sleep(seconds)
        finally:
            _AntiBotPolicy._paused -= 1
            if engine is not None and _AntiBotPolicy._paused == 0:
                engine.unpause()


class AntiBotRedirectMiddleware(_AntiBotPolicy):
    """Catches 3xx redirects to the 503 page or a captcha before they are followed."""

    async def process_response(self, request: Request, response: Response, spider: Any = None) -> Any:
        if 300 <= response.status < 400:
            location = response.headers.get(b"Location", b"").decode("latin-1")
            kind = block_kind(location)
            if kind:
                return await self.blocked(request, kind, location)
        return response


class AntiBotPageMiddleware(_AntiBotPolicy):
    """Catches challenge pages and block pages reached some other way."""

    async def process_response(self, request: Request, response: Response, spider: Any = None) -> Any:
        kind = block_kind(response.url, response.body)
        if kind:
            return await self.blocked(request, kind, response.url)
        return response
