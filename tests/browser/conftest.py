"""Headless Chromium driving the real Label Studio page, as an annotator would.

`page` gives a `Page`: a Selenium driver plus `step(name)`, which keeps a screenshot of each step.
When a test fails, every step's screenshot is written to `<pytest tmp dir>/screenshots/` and the
folder is printed (EMPATHYQA_SCREENSHOTS=always writes them for passing tests too).

Chromium and its driver come from Debian (`make install-browser`: chromium chromium-driver
fonts-noto-cjk); Selenium from PyPI (the dev extra).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from _ls_page import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
    "--lang=zh-CN",
)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash.setdefault(FAILED, report.failed)
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(request, tmp_path_factory):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver: run `make install-browser`")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = Options()
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(180)
    shots: list[tuple[str, bytes]] = []
    page = Page(driver, shots)
    try:
        yield page
    finally:
        failed = request.node.stash.get(FAILED, True)
        if failed:
            try:
                page.step("at-failure")
            except Exception:
                pass
        if failed or os.environ.get("EMPATHYQA_SCREENSHOTS") == "always":
            folder = tmp_path_factory.mktemp(f"screenshots-{request.node.name[:40]}")
            for i, (name, png) in enumerate(shots, 1):
                (folder / f"{i:02d}-{name}.png").write_bytes(png)
            print(f"\nscreenshots of {request.node.name}: {folder}")
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
