"""The web page in a real headless Chromium (Debian's, through chromium-driver and Selenium):
it loads on a phone-sized screen, shows a live call placed by baresip with its quality, the
open-door button (after its confirmation) pulses the simulated relay, today's history and the
door log fill in, and the configuration is shown with its secrets masked. Screenshots are
saved in the test's directory (``page-*.png``)."""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.integration.web import api_door, request
from tests.interop.peers import Baresip

pytestmark = [pytest.mark.interop, pytest.mark.chromium]


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=412,915"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()


def until(what: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "the page did not get there in time"
        time.sleep(0.1)


def test_the_page_shows_a_live_call_and_opens_the_door(
    tmp_path: Path, browser: webdriver.Chrome, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    flat = Baresip(tmp_path / "flat", user="flat", tone_hz=1000).start()
    door, port, token = api_door(tmp_path / "door")
    text = lambda element_id: browser.find_element(By.ID, element_id).text  # noqa: E731
    try:
        browser.get(f"http://127.0.0.1:{port}/#token={token}")
        until(lambda: "Peer-to-peer" in text("registration"))
        assert token not in browser.current_url  # the token leaves the address bar
        browser.save_screenshot(str(tmp_path / "page-idle.png"))

        flat.ctrl.command("dial", door.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        until(lambda: "MOS" in text("call"))
        live = text("call")
        assert "Call in sip:flat@127.0.0.1" in live and "PCMU" in live and "confirmed" in live
        browser.save_screenshot(str(tmp_path / "page-call.png"))

        browser.find_element(By.ID, "open-door").click()
        until(lambda: browser.find_element(By.ID, "confirm").is_displayed())
        assert text("confirm-text") == "Open the door now?"
        _, status, _ = request(port, "GET", "/api/status", token)
        assert status["hardware"]["relays"]["door"] == "idle"  # type: ignore[index]
        browser.save_screenshot(str(tmp_path / "page-confirm.png"))
        browser.find_element(By.ID, "confirm-yes").click()
        until(lambda: text("message") == "Door opened")
        _, status, _ = request(port, "GET", "/api/status", token)
        assert status["hardware"]["relays"]["door"] == "energised"  # type: ignore[index]

        flat.ctrl.command("hangup")
        flat.ctrl.wait_event("CALL_CLOSED", 10)
        until(lambda: "hung up by the caller" in text("calls"))
        until(lambda: "opened" in text("door"))
        until(lambda: text("call") == "No call")
        browser.save_screenshot(str(tmp_path / "page-history.png"))
        config = json.loads(text("config"))
        source = browser.page_source
        width = browser.execute_script("return document.documentElement.scrollWidth")
        screen = browser.execute_script("return window.innerWidth")
    finally:
        door.stop()
        flat.stop()
    assert config["http"]["token"] == "********" and token not in source
    assert config["door"]["relay_pin"] == 27
    assert width <= screen <= 520  # a phone-sized screen, and nothing wider than it
    for name in ("idle", "call", "confirm", "history"):
        assert (tmp_path / f"page-{name}.png").stat().st_size > 1000
