"""What an annotator does on Label Studio 1.23's labeling page, as Selenium steps."""

from __future__ import annotations

import time
from collections.abc import Callable

from selenium.webdriver import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


class Page:
    def __init__(self, driver, shots: list[tuple[str, bytes]]):
        self.driver = driver
        self.shots = shots

    def step(self, name: str) -> None:
        self.shots.append((name, self.driver.get_screenshot_as_png()))

    def wait_for(self, condition: Callable[[], object], what: str, timeout: float = 60.0):
        """Poll `condition` until it returns something truthy (Label Studio renders asynchronously)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = condition()
                if value:
                    return value
            except Exception as exc:  # an element not there yet, or re-rendered under us
                last = exc
            time.sleep(0.3)
        self.step(f"timeout-{what}")
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last!r})")


def log_in(page: Page, url: str, email: str, password: str) -> None:
    driver = page.driver
    driver.get(f"{url}/user/login/")
    page.wait_for(lambda: driver.find_element(By.NAME, "email"), "the login form")
    driver.find_element(By.NAME, "email").send_keys(email)
    driver.find_element(By.NAME, "password").send_keys(password)
    page.step("login-form")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()
    page.wait_for(lambda: "/user/login" not in driver.current_url, "the login to go through")


def open_stream(page: Page, url: str, project_id: int) -> str:
    """'Label All Tasks': the first task of the annotator's queue; returns the instructions' text."""
    driver = page.driver
    driver.get(f"{url}/projects/{project_id}/data?labeling=1")
    text = page.wait_for(
        lambda: driver.find_element(
            By.CSS_SELECTOR, ".lsf-modal-ls_visible .lsf-modal-ls__content"
        ).text.strip(),
        "the instructions shown at the start",
        timeout=120,
    )
    page.step("instructions")
    driver.find_element(By.CSS_SELECTOR, ".lsf-modal-ls_visible [aria-label='Close modal']").click()
    page.wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, ".lsf-modal-ls_visible"), "it to close")
    return text


def region(page: Page, name: str):
    """The text box of a pre-filled TextArea (L1..L4): `name` is the tag's name."""
    return page.wait_for(
        lambda: page.driver.find_element(
            By.CSS_SELECTOR, f"[data-testid='htx-textbox-content'][name^='{name}:']"
        ),
        f"the {name} draft",
    )


def edit_region(page: Page, name: str, text: str) -> None:
    """Hover the draft, click its pencil, replace the text, click the check mark (as GUIDELINES.md says)."""
    driver = page.driver
    box = region(page, name)
    ActionChains(driver).move_to_element(box).pause(0.3).perform()
    row = box.find_element(By.XPATH, "./ancestor::*[@data-testid='textarea-region'][1]")
    row.find_element(By.CSS_SELECTOR, "[data-testid='htx-textbox-edit-button']").click()
    editor = page.wait_for(lambda: row.find_element(By.TAG_NAME, "textarea"), f"the {name} editor")
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    editor.send_keys(text)
    page.step(f"editing-{name}")
    # Enter inserts a line break in this box; the check mark beside it saves the edit
    row.find_element(By.CSS_SELECTOR, "[data-testid='htx-textbox-save']").click()
    page.wait_for(lambda: not row.find_elements(By.TAG_NAME, "textarea"), f"the {name} edit to be saved")


def choose(page: Page, value: str) -> None:
    """Tick a choice (radio or checkbox) by its shown value."""
    page.driver.find_element(By.XPATH, f"//label[.//input[@name='{value}']]").click()


def rate(page: Page, stars: int) -> None:
    star = page.driver.find_elements(By.CSS_SELECTOR, "ul.ant-rate li.ant-rate-star")[stars - 1]
    star.find_element(By.CSS_SELECTOR, "[role='radio']").click()


def submit_with_hotkey(page: Page) -> None:
    page.driver.find_element(By.TAG_NAME, "body").click()  # out of any text box
    ActionChains(page.driver).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()


def warning_text(page: Page, timeout: float = 10.0) -> str | None:
    """The text of a warning dialog the editor opened (a required field left empty), if one appears."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for dialog in page.driver.find_elements(By.CSS_SELECTOR, ".ant-modal-content, .lsf-modal-ls_visible"):
            if dialog.is_displayed() and dialog.text.strip():
                return dialog.text
        time.sleep(0.3)
    return None


def dismiss_warning(page: Page) -> None:
    for button in page.driver.find_elements(
        By.CSS_SELECTOR, ".ant-modal-content button, .lsf-modal-ls_visible button"
    ):
        if button.is_displayed() and button.text.strip().upper() in ("OK", "确定"):
            button.click()
            return
    ActionChains(page.driver).send_keys(Keys.ESCAPE).perform()
