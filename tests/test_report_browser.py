"""The experiments report of a real smoke study opened in headless Chromium: figures load, tables render and sort,
links and the table of contents resolve, and the page logs no errors."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from analysis import load_study
from analysis.writeup.report import build_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.is_file():
            return f"{path} not found (apt-get install {package}; `make setup` does it as root)"
    return None


@pytest.fixture
def driver(tmp_path):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield d
    d.quit()


def number(text: str) -> float | None:
    """The JavaScript sorter's reading of a cell: its leading number, None for a missing one."""
    m = re.match(r"[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?", re.sub(r"[\s,]", "", text), re.I)
    return float(m.group(0)) if m else None


def column(table, index: int) -> list[str]:
    return [r.find_elements("css selector", "td")[index].text.strip()
            for r in table.find_elements("css selector", "tbody tr")]


def test_report_in_browser(driver, request, tmp_path):
    from selenium.webdriver.common.by import By

    db, _ = request.getfixturevalue("smoke_study")  # only once the browser is known to be there
    out = tmp_path / "report"
    rep = build_report(load_study(db), out)
    driver.set_window_size(1280, 800)
    driver.get(rep.html.as_uri())
    assert driver.title.startswith("Experiments: smoke")
    # the findings come first, whole in the first screen of a 1280 x 800 window, before the table of contents
    first = driver.execute_script(
        "var h = document.querySelector('h2'); var list = h.nextElementSibling;"
        "var toc = document.querySelector('nav.toc');"
        "return [h.id, list.tagName, list.children.length, list.getBoundingClientRect().bottom, window.innerHeight,"
        " toc ? toc.getBoundingClientRect().top : -1, window.scrollY];")
    heading, tag, bullets, bottom, height, toc_top, scrolled = first
    assert (heading, tag, scrolled) == ("findings", "UL", 0) and 1 <= bullets <= 6, first
    assert bottom <= min(800, height) and toc_top >= bottom, first

    images = driver.execute_script("return Array.from(document.images).map("
                                   "i => [i.getAttribute('src'), i.complete, i.naturalWidth]);")
    assert len(images) >= 3 and len(images) == len(rep.figures)
    assert all(complete and width > 0 for _, complete, width in images), images

    tables = driver.find_elements(By.CSS_SELECTOR, "table")
    assert len(tables) >= 3
    for t in tables:
        assert t.find_elements(By.CSS_SELECTOR, "tbody tr") and t.size["width"] > 0 and t.size["height"] > 0

    ids = set(driver.execute_script("return Array.from(document.querySelectorAll('[id]')).map(e => e.id);"))
    hrefs = driver.execute_script("return Array.from(document.links).map(a => a.getAttribute('href'));")
    for href in hrefs:
        if href.startswith("#"):
            assert href[1:] in ids, f"link {href} has no target on the page"
        elif not urlparse(href).scheme:
            assert (out / unquote(href.split("#")[0])).is_file(), f"link {href} points at no file"

    toc = driver.find_elements(By.CSS_SELECTOR, "nav.toc a")
    headings = driver.find_elements(By.CSS_SELECTOR, "h2, h3, h4")
    assert len(toc) == len(headings) >= 4
    assert [a.get_attribute("href").split("#")[1] for a in toc] == [h.get_attribute("id") for h in headings]

    # sort the leaderboard (ranked best first) by validation accuracy, then by test accuracy (filled for the
    # final-evaluated trial only: the dashes stay last both ways)
    board = driver.find_element(By.XPATH, "//h3[@id='leaderboard']/following::table[1]")
    headers = [th.text.strip(" ↕↑↓") for th in board.find_elements(By.CSS_SELECTOR, "thead th")]
    val, test = headers.index("val acc (%)"), headers.index("test acc (%)")
    before = column(board, val)
    assert len({number(v) for v in before}) > 1, before
    board.find_elements(By.CSS_SELECTOR, "thead th")[val].click()
    after = column(board, val)
    assert after != before and sorted(after) == sorted(before)
    assert [number(v) for v in after] == sorted(number(v) for v in before)
    board.find_elements(By.CSS_SELECTOR, "thead th")[val].click()
    assert [number(v) for v in column(board, val)] == sorted((number(v) for v in before), reverse=True)
    for _ in range(2):
        board.find_elements(By.CSS_SELECTOR, "thead th")[test].click()
        cells = column(board, test)
        filled = [c for c in cells if c != "—"]
        assert filled and cells[:len(filled)] == filled, cells

    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe

    height = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.set_window_size(1280, min(height + 100, 16000))
    assert driver.save_screenshot(str(out / "experiments.png"))
    assert (out / "experiments.png").stat().st_size > 10_000
