"""Scrapy settings for the Empathy-QA crawlers: polite by default; override with -s NAME=VALUE."""

BOT_NAME = "empathyqa"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

# An honest user agent that names the project and why it is here.
USER_AGENT = "EmpathyQA-ResearchCrawler/0.1 (academic counseling-dataset research; polite, obeys robots.txt)"

# Politeness.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 2.0
DOWNLOAD_DELAY_JITTER = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
DOWNLOAD_TIMEOUT = 30
COOKIES_ENABLED = True

# Anti-bot pages are detected, never solved (crawlers/middlewares.py).
CHALLENGE_BACKOFF = 60.0  # seconds to wait after a challenge / 503 page / captcha redirect
CHALLENGE_MAX_RETRIES = 3  # retries of one request before the spider closes as `blocked`

DOWNLOADER_MIDDLEWARES = {
    # before RedirectMiddleware (600): sees the redirect to the 503 page before it is followed
    "crawlers.middlewares.AntiBotRedirectMiddleware": 610,
    # after HttpCompression (590): reads decoded bodies for the `arg1=` challenge script
    "crawlers.middlewares.AntiBotPageMiddleware": 585,
}

ITEM_PIPELINES = {
    "crawlers.pipelines.ValidateRawThreadPipeline": 100,
}

# Default output when no -o/-O/FEEDS is given: one JSON Lines file per run in RAW_STORE_DIR
# (added by the spiders' update_settings, so that -O out.jsonl writes only out.jsonl).
RAW_STORE_DIR = "data/raw/%(name)s"
FEED_EXPORT_ENCODING = "utf-8"
FEED_EXPORTERS = {"parquet": "crawlers.exporters.ParquetItemExporter"}
# -O OUT is written beside OUT and renamed into place at the end: a failed crawl keeps the old file.
FEED_STORAGES = {
    "": "crawlers.exporters.AtomicFileFeedStorage",
    "file": "crawlers.exporters.AtomicFileFeedStorage",
}

# Incremental re-crawl: skip stored questions unless their answer count grew (see crawlers/store.py).
INCREMENTAL = True

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = "INFO"
# No listening consoles: a crawl opens no ports of its own.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
# A bad -a argument ends the crawl with one error line; True raises instead (callback tests).
SPIDER_ARG_ERRORS_RAISE = False

# Crawl health (crawlers/health.py): coverage of required fields, checked once COVERAGE_MIN_PAGES
# pages of a kind were parsed; a loud warning under the first line, a `layout_changed` close under
# the second. Failing pages (HTML + URL, time, failed fields) go beside the output, at most this many.
COVERAGE_WARN_BELOW = 0.8
COVERAGE_CLOSE_BELOW = 0.3
COVERAGE_MIN_PAGES = 10
FAILED_PAGES_MAX = 50
FAILED_PAGES_DIR = None  # default: <output dir>/failed_pages/<output name>/
