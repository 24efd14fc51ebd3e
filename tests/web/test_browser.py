"""End to end in headless Chromium (Selenium): log in, open a demo patient, scroll the viewer, change a lesion
match and see the response update; screenshots are saved and checked not to be blank.

Chromium and chromedriver come from the Debian packages (``.ci/install-chromium.sh``). Without them the test is
skipped locally, but fails when ``CI`` is set. Screenshots go to ``$IMAGEBIO_SCREENSHOT_DIR`` when set (CI
artefacts), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _require_browser():
    if CHROMIUM and CHROMEDRIVER:
        return
    message = "headless Chromium test needs the chromium and chromium-driver packages (.ci/install-chromium.sh)"
    if os.environ.get("CI"):
        pytest.fail(message + " — they are missing in CI")
    pytest.skip(message)


@pytest.fixture(scope="module")
def live_server(app):
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    folder = Path(os.environ.get("IMAGEBIO_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _screenshot(driver, folder: Path, name: str) -> np.ndarray:
    """Save a screenshot and check it is not blank: several colours, and not one flat colour."""
    from matplotlib.image import imread

    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path))
    image = imread(path)[..., :3]
    colours = np.unique((image.reshape(-1, 3) * 255).round().astype(np.uint8), axis=0)
    assert image.std() > 0.05 and len(colours) > 50, f"screenshot {path} looks blank"
    return image


def _wait(driver, condition, timeout=30):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # A form post reloads the page: elements found before may go stale while waiting.
    ignored = (StaleElementReferenceException, NoSuchElementException)
    return WebDriverWait(driver, timeout, ignored_exceptions=ignored).until(condition)


def test_review_in_the_browser(live_server, browser, screenshot_dir, ids):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver = browser
    # Log in (analyst of project "other", where DP000-002 is).
    driver.get(live_server + "/")
    _wait(driver, lambda d: d.current_url.endswith("/login"))
    driver.find_element(By.ID, "username").send_keys("oth")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "a.patient-link"))
    links = driver.find_elements(By.CSS_SELECTOR, "a.patient-link")
    assert [a.text for a in links] == ["DP000-002"]
    assert "DP000" not in links[0].get_attribute("href")
    _screenshot(driver, screenshot_dir, "01_cohort")

    # Open the patient: the computed follow-up response is SD.
    links[0].click()
    _wait(driver, lambda d: d.find_elements(By.ID, "response-volumetric"))
    categories = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#response-volumetric .tp-category")]
    assert categories == ["baseline", "SD"]
    _screenshot(driver, screenshot_dir, "02_patient_before")

    # The viewer: baseline and follow-up side by side; scroll and check both panels follow.
    driver.find_element(By.ID, "open-viewer").click()
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".panel[data-ready='1']")) == 2)
    panels = driver.find_elements(By.CSS_SELECTOR, ".panel")

    def loaded(d):
        return d.execute_script("return Array.from(document.querySelectorAll('img.slice')).every("
                                "i => i.complete && i.naturalWidth > 1 && i.src.indexOf('/api/series/') >= 0)")

    _wait(driver, loaded)
    z_before = [p.find_element(By.CSS_SELECTOR, ".z").text for p in panels]
    src_before = panels[0].find_element(By.CSS_SELECTOR, "img.slice").get_attribute("src")
    body = driver.find_element(By.TAG_NAME, "body")
    for _ in range(3):
        body.send_keys(Keys.ARROW_DOWN)
    _wait(driver, lambda d: panels[0].find_element(By.CSS_SELECTOR, ".z").text != z_before[0])
    z_after = [p.find_element(By.CSS_SELECTOR, ".z").text for p in panels]
    assert int(z_after[0]) == int(z_before[0]) + 3
    assert z_after[1] != z_before[1]  # the follow-up panel is synchronised
    assert panels[0].find_element(By.CSS_SELECTOR, "img.slice").get_attribute("src") != src_before
    Select(driver.find_element(By.ID, "overlay")).select_by_value("pet")
    Select(driver.find_element(By.ID, "window-preset")).select_by_value("soft_tissue")
    _wait(driver, lambda d: "overlay=pet" in panels[1].find_element(By.CSS_SELECTOR, "img.slice").get_attribute("src"))
    _wait(driver, loaded)
    viewer = _screenshot(driver, screenshot_dir, "03_viewer_fused")
    assert (np.abs(viewer[..., 0] - viewer[..., 2]) > 0.3).sum() > 500  # the fused PET shows in colour

    # Change the follow-up lesion's match to "new lesion": the response becomes PD, marked as a reader's match.
    driver.get(f"{live_server}/patients/{ids['other']['subject']}")
    row = driver.find_element(By.CSS_SELECTOR, f"#lesions tr[data-roi='{ids['other']['follow_roi']}']")
    Select(row.find_element(By.CSS_SELECTOR, ".match-select")).select_by_value("__new__")
    row.find_element(By.CSS_SELECTOR, ".match-reason").send_keys("different anatomical site on review")
    row.find_element(By.CSS_SELECTOR, ".match-submit").click()
    _wait(driver, lambda d: "matched by oth" in d.find_element(By.ID, "lesions").text)
    categories = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#response-volumetric .tp-category")]
    assert categories == ["baseline", "PD"]
    assert "different anatomical site on review" in driver.find_element(By.ID, "overrides").text
    _screenshot(driver, screenshot_dir, "04_patient_after_match")
