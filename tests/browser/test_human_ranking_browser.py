"""The human ranking round on the real Label Studio page: an annotator drags answers into order on
each dimension, cannot submit before ranking all four, and `human pull` reflects the order."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import pytest
from _ls_page import dismiss_warning, log_in, open_stream, submit_with_hotkey, warning_text
from selenium.webdriver import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluate"))
from _evaluate_helpers import write_generation  # noqa: E402

from training.evaluate.human import DIMENSION_NAMES  # noqa: E402
from training.evaluate.ranking import DIMENSIONS  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.labelstudio, pytest.mark.slow]

ANSWERS = {
    "alpha": "听起来你这段时间一直在硬撑，失眠本身就很折磨人。可以先试着把睡前的担心写下来，告诉自己明天再处理。",
    "beta": "多运动，少想事情，早点睡就好了。",
    "gamma": "你的感受很正常。很多人在压力大的时候都会睡不好，这不代表你做得不够好。",
}
# The order the annotator gives on each dimension (best first): a different one per dimension.
WANTED = {
    "fluency": ["gamma", "alpha", "beta"],
    "recognition": ["alpha", "gamma", "beta"],
    "comfort": ["beta", "gamma", "alpha"],
    "suggestions": ["alpha", "beta", "gamma"],
}


def _columns(page, dimension: str):
    """The left (to rank) and right (ranked) columns of one dimension's ranker."""
    columns = page.driver.find_elements(By.CSS_SELECTOR, ".htx-ranker-column")
    i = DIMENSIONS.index(dimension)
    return columns[2 * i], columns[2 * i + 1]


def _ranked(page, dimension: str) -> list[str]:
    return [
        e.get_attribute("data-ranker-id")
        for e in _columns(page, dimension)[1].find_elements(By.CSS_SELECTOR, "[data-ranker-id]")
    ]


def _drag_to_bottom_of_ranked(page, dimension: str, label: str) -> None:
    """Keyboard dragging, as the page's drag-and-drop library offers it: focus the card, Space lifts
    it, Right moves it to the ranked column, Down moves it below the cards already there, Space drops."""
    left, _ = _columns(page, dimension)
    card = left.find_element(By.CSS_SELECTOR, f"[data-ranker-id='{label}']")
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus()", card)
    time.sleep(0.3)
    keys = [Keys.SPACE, Keys.ARROW_RIGHT] + [Keys.ARROW_DOWN] * len(_ranked(page, dimension)) + [Keys.SPACE]
    for key in keys:
        ActionChains(page.driver).send_keys(key).perform()
        time.sleep(0.4)  # the library animates each move and ignores keys meanwhile
    page.wait_for(
        lambda: label in _ranked(page, dimension), f"{label} to land in the ranked {dimension} column"
    )


def test_annotator_drags_answers_into_order_and_pull_reflects_it(label_studio, page, tmp_path, cli):
    for system, text in ANSWERS.items():
        write_generation(tmp_path / "gen", system, {"q1": text})
    state_path = tmp_path / "human_round.json"
    env = label_studio.env()
    pushed = cli(
        "training.evaluate",
        [
            "human",
            "push",
            str(tmp_path / "gen"),
            "--state",
            str(state_path),
            "--title",
            f"rank-{uuid.uuid4().hex[:6]}",
        ],
        env=env,
    )
    assert pushed.returncode == 0, pushed.stderr
    state = json.loads(state_path.read_text())
    (entry,) = state["tasks"].values()
    label_of = {system: label for label, system in entry["labels"].items()}
    annotator = label_studio.create_user(f"ranker-{uuid.uuid4().hex[:6]}@example.com")

    log_in(page, label_studio.url, annotator.email, annotator.password)
    instructions = open_stream(page, label_studio.url, state["project_id"])
    assert "拖到右栏" in instructions
    page.wait_for(
        lambda: len(page.driver.find_elements(By.CSS_SELECTOR, ".htx-ranker-column")) == 8, "the rankers"
    )
    page.step("rankers")
    body = page.driver.find_element(By.TAG_NAME, "body").text
    for dimension in DIMENSIONS:
        assert dimension not in body  # no internal ids on the page
    card_lines = page.driver.find_element(By.CSS_SELECTOR, ".htx-ranker-item").text.splitlines()
    assert len(card_lines) == 2 and card_lines[0].startswith("回答"), card_lines  # title, preview; no "A"

    submit_with_hotkey(page)  # nothing ranked yet: refused
    warning = warning_text(page)
    page.step("submit-unranked-refused")
    assert warning and "还没有排好" in warning, warning
    dismiss_warning(page)

    for dimension in DIMENSIONS:
        for system in WANTED[dimension]:
            _drag_to_bottom_of_ranked(page, dimension, label_of[system])
        assert _ranked(page, dimension) == [label_of[s] for s in WANTED[dimension]]
        tick = page.driver.find_element(
            By.XPATH, f"//label[.//input[@name='{DIMENSION_NAMES[dimension]}已排好']]"
        )
        page.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", tick)
        tick.click()
        page.step(f"ranked-{dimension}")
    submit_with_hotkey(page)
    admin = label_studio.client()
    page.wait_for(
        lambda: [
            a
            for t in admin.tasks.list(project=state["project_id"], fields="all")
            for a in t.annotations or []
        ],
        "the submitted annotation",
        timeout=90,
    )
    page.step("submitted")

    out = tmp_path / "human"
    pulled = cli(
        "training.evaluate",
        ["human", "pull", "--state", str(state_path), "--out", str(out), "--bootstrap", "50"],
        env=env,
    )
    assert pulled.returncode == 0, pulled.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["counts"] == {
        "annotations": 1,
        "cancelled": 0,
        "incomplete_rankings": 0,
        "unranked_dimensions": 0,
        "unknown_tasks": 0,
    }
    for dimension, order in WANTED.items():
        systems = report["table"][dimension]["systems"]
        assert [systems[s]["mean_rank"]["value"] for s in order] == [1.0, 2.0, 3.0], dimension
