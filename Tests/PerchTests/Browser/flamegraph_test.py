#!/usr/bin/env python3
"""Drives a Perch flame graph in headless Chromium (selenium + chromedriver).

Usage: flamegraph_test.py SVG SEARCH_TERM EXPECTED_PERCENT TOLERANCE SCREENSHOT

Loads SVG, checks hover details, searches for SEARCH_TERM through the Ctrl-F prompt and reads
back the matched percentage, clicks the first frame named SEARCH_TERM and checks that it then
fills the width, resets the zoom, and saves a screenshot. Prints one line per check; exits 0
when all pass, 1 when one fails, 77 when the browser cannot be started (the caller skips).
"""
import sys

svg, term, expected, tolerance, screenshot = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
except ImportError as error:
    print(f"SKIP: selenium is not installed ({error})")
    sys.exit(77)

options = webdriver.ChromeOptions()
for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,900"):
    options.add_argument(argument)
options.binary_location = "/usr/bin/chromium"
try:
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
except Exception as error:  # no browser, no driver, or they do not match
    print(f"SKIP: cannot start headless Chromium: {error}")
    sys.exit(77)

failures = 0


def check(condition, message):
    global failures
    print(("ok: " if condition else "FAIL: ") + message)
    if not condition:
        failures += 1


try:
    driver.get("file://" + svg)
    frames = driver.find_elements(By.CSS_SELECTOR, "#frames > g")
    check(len(frames) > 0, f"{len(frames)} frames drawn")
    full_width = float(driver.execute_script("return fullWidth;"))

    def frame_named(name):
        for g in driver.find_elements(By.CSS_SELECTOR, "#frames > g"):
            title = g.find_element(By.TAG_NAME, "title").get_attribute("textContent")
            if title.startswith(name + " ("):
                return g
        return None

    target = frame_named(term)
    check(target is not None, f"a frame named {term}")

    # Hover shows the frame, samples and percentage.
    ActionChains(driver).move_to_element(target.find_element(By.TAG_NAME, "rect")).perform()
    details = driver.find_element(By.ID, "details").get_attribute("textContent")
    check(details.startswith(term + " (") and "samples" in details and "%" in details, f"hover details: {details!r}")

    # Ctrl-F opens the search prompt; the matched percentage is shown.
    driver.find_element(By.TAG_NAME, "svg").click() if False else None
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("f").key_up(Keys.CONTROL).perform()
    alert = driver.switch_to.alert
    alert.send_keys("^" + term + "$")
    alert.accept()
    matched = driver.find_element(By.ID, "matched").get_attribute("textContent")
    print(f"matched text: {matched!r}")
    value = float(matched.replace("Matched:", "").replace("%", "").strip())
    check(abs(value - expected) <= tolerance, f"search matched {value}% (expected {expected} ± {tolerance})")
    highlighted = [g for g in driver.find_elements(By.CSS_SELECTOR, "#frames > g rect") if g.get_attribute("fill") == "rgb(230,0,230)"]
    check(len(highlighted) >= 1, f"{len(highlighted)} frames highlighted")

    # Click zooms: the frame fills the width, and its label is drawn.
    target = frame_named(term)
    rect = target.find_element(By.TAG_NAME, "rect")
    before = float(rect.get_attribute("width"))
    ActionChains(driver).move_to_element(rect).click().perform()
    after = float(rect.get_attribute("width"))
    check(abs(after - full_width) < 0.5, f"zoomed frame width {after} of {full_width} (was {before})")
    unzoom = driver.find_element(By.ID, "unzoom")
    check("hide" not in (unzoom.get_attribute("class") or ""), "Reset Zoom is shown")
    hidden = driver.execute_script("return document.querySelectorAll('#frames > g.hide').length;")
    check(hidden > 0, f"{hidden} unrelated frames hidden")
    zoomed_match = driver.find_element(By.ID, "matched").get_attribute("textContent")
    check(zoomed_match == "Matched: 100%", f"within the zoomed frame the search covers everything: {zoomed_match!r}")

    # Reset restores the original layout.
    unzoom.click()
    restored = float(rect.get_attribute("width"))
    check(abs(restored - before) < 0.01, f"reset zoom restores the width {restored} (was {before})")
    check("hide" in (unzoom.get_attribute("class") or ""), "Reset Zoom is hidden again")
    again = driver.find_element(By.ID, "matched").get_attribute("textContent")
    check(again == matched, f"the search is kept after reset: {again!r}")

    driver.save_screenshot(screenshot)
    print(f"screenshot: {screenshot}")
finally:
    driver.quit()

print(f"{failures} failed")
sys.exit(1 if failures else 0)
