"""The dashboard in a real browser: Debian's headless Chromium, driven by Selenium
through /usr/bin/chromedriver (nothing downloaded). It signs in, sees the spend of calls
made through the gateway, creates a key, uses it through the ``openai`` SDK, sees its
spend appear, and revokes it. Each page is screenshotted into .ci/logs/screenshots/."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _gateway_support import MASTER, GatewayProcess, openai_client, write_config

from plugbay.testing.server import FakeServer

openai = pytest.importorskip("openai")
webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = pytest.mark.timeout(180)

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SHOTS = Path(__file__).resolve().parents[3] / ".ci" / "logs" / "screenshots"
HI = [{"role": "user", "content": "hi"}]
BUDGETS = """
[budgets.team]
limit = 5.0
period = "monthly"
"""


def _browser_missing() -> str | None:
    missing = [p for p in (CHROMIUM, DRIVER) if not os.access(p, os.X_OK)]
    return f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver)" \
        if missing else None


@pytest.fixture(scope="module")
def gw(upstream: FakeServer, tmp_path_factory: pytest.TempPathFactory,
       ) -> Iterator[GatewayProcess]:
    home = tmp_path_factory.mktemp("browser")
    g = GatewayProcess(write_config(home / "plugbay.toml", upstream.url,
                                    f'[ledger]\npath = "{home / "ledger.db"}"\n{BUDGETS}'))
    yield g
    g.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    why = _browser_missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    # A click that submits a form returns before the next page has loaded: lookups wait
    # for their element (up to 10 s) instead of failing on the old page (a flaky CI run).
    driver.implicitly_wait(10)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def until(check: Callable[[], Any], what: str, driver: Any, tries: int = 60) -> Any:
    """``check()`` once it is truthy, reloading the page between tries (the ledger is
    written in the background)."""
    for _ in range(tries):
        out = check()
        if out:
            return out
        time.sleep(0.25)
        driver.refresh()
    raise AssertionError(f"{what}: not seen; page was:\n{driver.page_source[:3000]}")


def submit(driver: Any, button: Any, seconds: float = 30.0) -> None:
    """Click a button that submits a form, and return once the answer's page has
    replaced this one. ``click()`` returns before the browser has even sent the POST, so
    reading ``current_url`` straight after it may still see the old page (the 3.13 CI
    failure); the old ``<html>`` element going stale is the sign the new page is in."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    old = driver.find_element("tag name", "html")
    button.click()
    WebDriverWait(driver, seconds).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, seconds).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def admin_get(gw: GatewayProcess, path: str) -> Any:
    import json
    import urllib.request

    req = urllib.request.Request(gw.url + path, headers={"authorization": f"Bearer {MASTER}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def shot(driver: Any, name: str) -> None:
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def text(driver: Any) -> str:
    return str(driver.find_element("tag name", "main").text)


def cell(driver: Any, key_id: str, column: int) -> str:
    row = driver.find_element("id", f"key-{key_id}").find_element("xpath", "./../..")
    return str(row.find_elements("tag name", "td")[column].text)


def test_sign_in_see_spend_create_use_and_revoke_a_key(gw: GatewayProcess,
                                                       browser: Any) -> None:
    with openai_client(gw) as client:  # the master key: calls without a virtual key
        for _ in range(3):
            client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI)
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="openai/err-404", messages=HI)

    browser.get(gw.url + "/ui")
    assert browser.current_url.endswith("/ui/login")  # refused until signed in
    shot(browser, "login")
    browser.find_element("name", "key").send_keys(MASTER)
    submit(browser, browser.find_element("css selector", "#login button"))
    assert browser.current_url.endswith("/ui"), browser.page_source[:2000]

    def spent_today() -> bool:
        cards = browser.find_elements("class name", "card")
        today = next(c.text for c in cards if "Spend today" in c.text)
        return today.splitlines()[-1] not in ("$0", "unknown")
    until(spent_today, "today's spend of the SDK's calls", browser)
    assert "gpt-4o-mini" in text(browser)  # the top models by spend
    assert "team" in text(browser)  # the budget, against its limit
    shot(browser, "overview")

    browser.get(gw.url + "/ui/keys")
    browser.find_element("css selector", "#create input[name=name]").send_keys("browser-key")
    browser.find_element("css selector", "#create input[name=budget]").send_keys("2.5")
    submit(browser, browser.find_element("css selector", "#create button"))
    secret = browser.find_element("id", "secret").text
    assert secret.startswith("pb-")
    shot(browser, "keys-created")
    browser.get(gw.url + "/ui/keys")
    assert secret not in browser.page_source  # shown once only
    key_id = secret[3:].split("_")[0].split("-")[0]
    assert browser.find_elements("id", f"key-{key_id}"), browser.page_source[:2000]

    with openai_client(gw, key=secret) as client:
        for _ in range(2):
            client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI)
    until(lambda: cell(browser, key_id, 4) == "2", "the new key's 2 calls", browser)
    assert cell(browser, key_id, 3) not in ("$0", "unknown")
    shot(browser, "keys")

    browser.get(gw.url + f"/ui/calls?key={key_id}")
    rows = browser.find_elements("css selector", "main table tr")
    assert len(rows) == 3 and "browser-key" in rows[1].text  # header + the 2 calls
    browser.get(gw.url + "/ui/calls")
    assert "NotFoundError" in text(browser)
    assert "Prompts are hidden" in text(browser)
    shot(browser, "calls")

    browser.get(gw.url + "/ui/spend?by=key")
    assert "browser-key" in text(browser)
    assert browser.find_elements("css selector", "main svg polyline")
    shot(browser, "spend")
    browser.get(gw.url + "/ui/routes")
    body = text(browser)
    assert "smart" in body and "openai/gpt-4o-mini" in body and "closed" in body
    assert "NotFoundError" in body  # the recent error classes
    shot(browser, "routes")

    browser.get(gw.url + "/ui/keys")  # edit the limits: RPM 7, budget 4 a day
    row = browser.find_element("id", f"key-{key_id}").find_element("xpath", "./../..")
    for name, value in (("rpm", "7"), ("budget", "4")):
        box = row.find_element("css selector", f"input[name={name}]")
        box.clear()
        box.send_keys(value)
    row.find_element("xpath", ".//select[@name='period']/option[text()='daily']").click()
    submit(browser, row.find_element("xpath", ".//button[text()='Save']"))
    assert browser.current_url.endswith("/ui/keys")
    def limits() -> tuple[Any, ...]:
        stored = admin_get(gw, f"/admin/keys/{key_id}")
        return stored["rpm"], stored["budget"], stored["period"]
    assert limits() == (7, 4.0, "daily")  # stored before the answer's page came
    row = browser.find_element("id", f"key-{key_id}").find_element("xpath", "./../..")
    submit(browser, row.find_element("xpath", ".//form[contains(@action, '/revoke')]//button"))
    assert browser.current_url.endswith("/ui/keys")
    assert cell(browser, key_id, 5) == "revoked"
    with openai_client(gw, key=secret) as client, pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI)


def test_screenshots_are_kept_for_the_docs() -> None:
    """Copied into docs/img when PLUGBAY_DOCS_SCREENSHOTS=1 (how docs/gateway.md's
    were made)."""
    if os.environ.get("PLUGBAY_DOCS_SCREENSHOTS") != "1" or not SHOTS.is_dir():
        pytest.skip("set PLUGBAY_DOCS_SCREENSHOTS=1 to refresh docs/img")
    docs = SHOTS.parents[2] / "docs" / "img"
    docs.mkdir(exist_ok=True)
    copied = [shutil.copy(p, docs / f"dashboard-{p.name}") for p in SHOTS.glob("*.png")]
    assert copied
