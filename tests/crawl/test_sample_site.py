"""The sample site itself: CLI, routes, anti-bot behaviour, content contract."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from _crawl_helpers import REPO, questions, renderer, sample_data, sample_site


def get(url: str) -> tuple[int, str, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as r:
            return r.status, r.read().decode("utf-8"), r.headers.get("Location", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), e.headers.get("Location", "")


def test_content_contract() -> None:
    qs = questions()
    assert len(qs) == 30 and len(set(qs)) == 30
    answers = [a for q in qs.values() for a in q["answers"]]
    assert len({a["id"] for a in answers}) == len(answers)
    assert all(len(a["body"]) >= 100 for a in answers if a["role"] == "counselor")
    assert max(len(q["answers"]) for q in qs.values()) >= 12
    assert sum(1 for q in qs.values() if not q["answers"]) >= 2
    assert sum(1 for q in qs.values() if q["asker"] is None) >= 3
    assert any(q["view_count"] is None for q in qs.values())
    assert {q["site_behaviour"] for q in qs.values()} >= {
        "waf_challenge_once",
        "redirect_503_once",
        "robots_disallowed",
    }
    assert "138 1234 5678" in qs["101000003"]["body"] and "不想自杀了" in qs["101000021"]["body"]
    assert len(sample_data()["douban"]["topics"]) == 8


def test_serves_reference_structure_and_anti_bot(tmp_path: Path) -> None:
    with sample_site(tmp_path) as (base, log):
        status, robots, _ = get(f"{base}/robots.txt")
        assert status == 200 and "Disallow: /qa/101000030" in robots
        status, page, _ = get(f"{base}/qa?page=1&type=question&object_name=last&title=&level2_tag=0&sort=id")
        assert status == 200 and '<ul class="content">' in page and "»" in page
        assert get(f"{base}/qa?page=4&object_name=last")[0] == 404
        first, second = get(f"{base}/qa/101000017"), get(f"{base}/qa/101000017")
        assert "var arg1='" in first[1] and 'data-question-id="101000017"' in second[1]
        status, _, location = get(f"{base}/qa/101000019")
        assert status == 302 and location == "/503-error.html"
        assert get(f"{base}/503-error.html")[0] == 503
        assert get(f"{base}/qa/101000019")[0] == 200
        assert get(f"{base}/qa/101000013?page=2")[0] == 200 and get(f"{base}/qa/101000013?page=3")[0] == 404
        assert get(f"{base}/group/716290/discussion?start=5")[0] == 200
        assert len(log.read_text().splitlines()) == 11


def test_changed_layout_renames_classes() -> None:
    html = renderer("changed").question_page("101000001", 1)
    assert "content-ans" not in html and "answer-list" in html


def test_cli_rejects_bad_port() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crawlers.sample_site", "--port", "70000"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "--port must be" in result.stderr
