"""A threaded stdlib HTTP server for the sample site, with the site's anti-bot behaviour."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawlers.sample_site.render import (
    CHALLENGE_PAGE,
    ERROR_503_PAGE,
    ROBOTS_TXT,
    Renderer,
)


class SampleSite(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        port: int,
        data: dict[str, Any],
        layout: str = "standard",
        block: str = "once",
        broken_pages: bool = False,
        access_log: str | None = None,
    ):
        super().__init__(("127.0.0.1", port), _Handler)
        self.renderer = Renderer(data, layout=layout, broken_pages=broken_pages)
        self.block = block  # once: the anti-bot questions succeed on the second fetch; always: never
        self.access_log = access_log
        self._blocked_once: set[str] = set()
        self._lock = threading.Lock()
        self.behaviour = {q["id"]: q["site_behaviour"] for q in data["yixinli"]["questions"]}

    @property
    def port(self) -> int:
        return self.server_address[1]

    def log_access(self, status: int, path: str, user_agent: str) -> None:
        if self.access_log:
            with self._lock, open(self.access_log, "a", encoding="utf-8") as f:
                f.write(f"{status}\t{path}\t{user_agent}\n")

    def should_block(self, qid: str) -> str | None:
        behaviour = self.behaviour.get(qid)
        if behaviour not in ("waf_challenge_once", "redirect_503_once"):
            return None
        with self._lock:
            if self.block == "always" or qid not in self._blocked_once:
                self._blocked_once.add(qid)
                return behaviour
        return None


class _Handler(BaseHTTPRequestHandler):
    server: SampleSite
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stdout
        pass

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        status, body, headers = self._route(parts.path, query)
        self.server.log_access(status, self.path, self.headers.get("User-Agent", ""))
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", "text/html; charset=utf-8"))
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        r = self.server.renderer
        page = _int(query.get("page", "1"))
        if path == "/robots.txt":
            return 200, ROBOTS_TXT, {"Content-Type": "text/plain; charset=utf-8"}
        if path == "/503-error.html":
            return 503, ERROR_503_PAGE, {}
        if path == "/qa":
            html = r.list_page(page, query.get("object_name", "last"))
            return (200, html, {}) if html is not None else (404, "<html>404</html>", {})
        if path.startswith("/qa/"):
            qid = path[len("/qa/") :].strip("/")
            blocked = self.server.should_block(qid)
            if blocked == "waf_challenge_once":
                return (
                    200,
                    CHALLENGE_PAGE,
                    {"Set-Cookie": "acw_tc=2f6a1fd717000000000000000e; path=/; HttpOnly"},
                )
            if blocked == "redirect_503_once":
                return 302, "", {"Location": "/503-error.html"}
            html = r.question_page(qid, page)
            return (200, html, {}) if html is not None else (404, "<html>404</html>", {})
        if path.startswith("/group/topic/"):
            tid = path[len("/group/topic/") :].strip("/")
            html = r.douban_topic(tid, _int(query.get("start", "0")))
            return (200, html, {}) if html is not None else (404, "<html>404</html>", {})
        if path.startswith("/group/") and path.rstrip("/").endswith("/discussion"):
            gid = path.split("/")[2]
            html = r.douban_list(gid, _int(query.get("start", "0")))
            return (200, html, {}) if html is not None else (404, "<html>404</html>", {})
        return 404, "<html>404</html>", {}


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1
