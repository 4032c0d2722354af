"""The report as a reader sees it: headless Chromium at 1280x800 (Debian's ``chromium`` and
``chromium-driver`` through selenium).

A report of a study with the demo's shape (3 workloads, 2 software stacks, 3 emulated
machines; records written by the job's own writer, reported by the CLI) must show, without
scrolling, every workload's answer line and the overview figure, and no element may be
wider than the viewport. In CI (``CI`` set) a missing browser fails the test; locally it
skips.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from demo_like import WORKLOADS, write_demo_like

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def _missing() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium; it is in the dev extra)"
    if not CHROMIUM or not DRIVER:
        return "chromium / chromedriver not found (apt-get install chromium chromium-driver)"
    return ""


@pytest.fixture(scope="module")
def browser():
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--force-device-scale-factor=1", "--hide-scrollbars"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_window_size(1280, 800)
    inner = driver.execute_script("return window.innerHeight")
    driver.set_window_size(1280, 800 + (800 - inner))  # the viewport, not the window, is 1280x800
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    runs = write_demo_like(base / "runs")
    out = base / "report"
    done = subprocess.run([sys.executable, "-m", "reprogrid", "report", str(runs), "-o", str(out), "--quiet",
                           "--title", "reprogrid demo"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out / "report.html"


def _visible_without_scrolling(driver, element) -> bool:
    return driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0"
        " && r.bottom <= window.innerHeight && r.right <= window.innerWidth;", element)


def test_the_first_screen_holds_every_answer_and_the_figure(browser, report_page, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(report_page.as_uri())
    assert browser.execute_script("return [window.innerWidth, window.innerHeight]") == [1280, 800]
    assert browser.execute_script("return window.scrollY") == 0
    lines = browser.find_elements(By.CSS_SELECTOR, "li.answer")
    assert sorted(li.get_attribute("data-workload") for li in lines) == sorted(WORKLOADS)
    for li in lines:
        assert _visible_without_scrolling(browser, li), li.text
        assert li.find_element(By.CSS_SELECTOR, ".word").text  # the answer word
    figure = browser.find_element(By.CSS_SELECTOR, "#overview svg")
    assert browser.execute_script("const r = arguments[0].getBoundingClientRect(); return r.width > 600 && r.height > 100"
                                  " && arguments[0].querySelectorAll('use').length > 0", figure)
    assert _visible_without_scrolling(browser, figure)
    badges = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".badge > summary")]
    assert "SAMPLE DATA" in badges and "EMULATED 3 machines" in badges and "1 FAILED" in badges
    for badge in browser.find_elements(By.CSS_SELECTOR, ".badge > summary"):
        assert _visible_without_scrolling(browser, badge)
    browser.save_screenshot(str(tmp_path / "first-screen.png"))


def test_no_element_is_wider_than_the_viewport_even_with_every_section_open(browser, report_page):
    browser.get(report_page.as_uri())
    browser.execute_script("document.querySelectorAll('details:not(.badge)').forEach(d => d.open = true)")
    wide = browser.execute_script(
        "const w = document.documentElement.clientWidth; const out = [];"
        "document.querySelectorAll('body *').forEach(e => { const r = e.getBoundingClientRect();"
        " if (r.right > w + 0.5 || r.left < -0.5) out.push(e.tagName + '.' + e.className + ': '"
        " + e.textContent.slice(0, 60)); });"
        "return [w, document.documentElement.scrollWidth, out.slice(0, 10)];")
    assert wide[2] == [] and wide[1] <= wide[0], wide


def test_a_badge_opens_its_detail(browser, report_page):
    from selenium.webdriver.common.by import By

    browser.get(report_page.as_uri())
    badge = [b for b in browser.find_elements(By.CSS_SELECTOR, ".badge") if "EMULATED" in b.text][0]
    badge.find_element(By.TAG_NAME, "summary").click()
    assert "not executed on the requested hardware" in badge.text
