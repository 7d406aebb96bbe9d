"""The playground's page (GET /): one self-contained document, and in a real browser (Debian's
headless chromium, driven by selenium) a seeded generation streams in as chips that show their
alternatives, with the same text as the API gives without streaming."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

from shared.errors import CourseError
from shared.paths import REPO_ROOT
from week2_tokenizer import Tokenizer
from week6_optimizations.playground.app import Limits, create_app
from week6_optimizations.playground.cli import in_a_thread
from week6_optimizations.playground.page import inlined, page_response
from week6_optimizations.playground.store import ModelStore
from week6_optimizations.tests.test_playground import save_run

uvicorn = pytest.importorskip("uvicorn")

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = REPO_ROOT / "runs" / "playground.png"
PROMPT = "ROMEO: Hi"  # 9 byte tokens, one of them a space
SEED = 3  # with it, 20 tokens of varied probability and no end-of-text
IDS = ["model", "prompt", "max-tokens", "temperature", "top-p", "top-k", "seed", "mode",
       "generate", "stop", "output", "alternatives", "prompt-tokens", "error"]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The playground with its page, over one tiny random run ("plain"), on a free port."""
    runs = tmp_path_factory.mktemp("runs")
    save_run(runs, "plain", Tokenizer.bytes_only())
    store = ModelStore(runs, "plain", torch.device("cpu"))
    with in_a_thread(create_app(store, Limits(max_tokens=400), page=page_response)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless chromium at a laptop's size, or a skip that says what is missing."""
    for needed in (CHROMIUM, CHROMEDRIVER):
        if not needed.is_file():
            pytest.skip(f"{needed} is missing: apt-get install chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not importable: pip install -e '.[dev]'")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,900"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def test_the_page_is_one_document_that_needs_no_network(server):
    response = httpx.get(f"{server}/", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert re.search(r"https?://", page) is None  # no CDN, no font service, no URL at all
    assert "<link" not in page and "<script src" not in page  # style and script are inlined
    assert "<style>" in page and "<script>" in page
    for ident in IDS:
        assert page.count(f'id="{ident}"') == 1, ident


def test_inlining_puts_each_file_where_its_tag_was_and_refuses_what_would_break_it():
    html = '<head><link rel="stylesheet" href="style.css"></head><script src="app.js"></script>'
    assert inlined(html, "p {}\n", "go();\n") == (
        "<head><style>\np {}\n</style></head><script>\ngo();\n</script>"
    )
    with pytest.raises(CourseError, match="may not contain '</script'"):
        inlined(html, "", "x = '</SCRIPT>';")
    with pytest.raises(CourseError, match="exactly once"):
        inlined("<html></html>", "", "")


def open_page(browser, server: str):
    """Load the page and wait until the checkpoint picker holds the run."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server}/")
    wait = WebDriverWait(browser, 10)
    wait.until(lambda d: d.find_element(By.ID, "model").get_attribute("data-loaded") == "1")
    return wait, lambda ident: browser.find_element(By.ID, ident)


def type_into(field, text: str) -> None:
    field.clear()
    field.send_keys(text)


def test_an_api_error_is_shown_in_the_error_line(browser, server):
    wait, element = open_page(browser, server)
    assert element("error").is_displayed() is False
    type_into(element("max-tokens"), "401")  # the server allows 400
    element("generate").click()
    wait.until(lambda d: element("output").get_attribute("data-state") == "error")
    assert element("error").is_displayed()
    assert element("error").text == "max_tokens: at most 400, got 401"  # OpenAI's error message
    assert element("generate").is_enabled() and not element("stop").is_enabled()


@pytest.mark.task("6.4", "6.5")  # generation runs the KV cache
def test_a_seeded_generation_streams_chips_that_show_their_alternatives(browser, server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    wait, element = open_page(browser, server)
    type_into(element("prompt"), PROMPT)
    type_into(element("seed"), str(SEED))
    type_into(element("max-tokens"), "20")
    type_into(element("temperature"), "0.4")  # cooler: the random model's chips then vary
    element("generate").click()
    wait.until(lambda d: element("output").get_attribute("data-state") == "done")
    assert element("generate").is_enabled() and not element("stop").is_enabled()

    chips = browser.find_elements(By.CSS_SELECTOR, "#output .chip")
    assert len(chips) == 20
    assert all(0 < float(chip.get_attribute("data-prob")) <= 1 for chip in chips)
    streamed = browser.execute_script(
        "return [...document.querySelectorAll('#output .chip')].map(c => c.dataset.text).join('')"
    )
    settings = {
        "model": "plain",
        "prompt": PROMPT,
        "max_tokens": 20,
        "seed": SEED,
        "temperature": float(element("temperature").get_attribute("value")),
        "top_p": float(element("top-p").get_attribute("value")),
    }
    whole = httpx.post(f"{server}/v1/completions", json=settings, timeout=30).json()
    assert streamed == whole["choices"][0]["text"]
    assert len(chips) == whole["usage"]["completion_tokens"]

    def panel_after(action) -> str:
        before = element("alternatives").text
        action()
        wait.until(lambda d: element("alternatives").text != before)
        return element("alternatives").text

    # the mouse: hovering a chip lists its alternatives, the drawn one marked
    hovered = min(4, len(chips) - 1)
    text = panel_after(lambda: ActionChains(browser).move_to_element(chips[hovered]).perform())
    assert text.startswith(f"Token {hovered + 1} of {len(chips)}")
    rows = browser.find_elements(By.CSS_SELECTOR, "#alternatives .alt:not(.rest)")
    assert rows and all(re.search(r"\d%$", row.text) for row in rows)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#alternatives .alt.chosen")) == 1

    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#prompt-tokens .ptoken"))
    pieces = browser.find_elements(By.CSS_SELECTOR, "#prompt-tokens .ptoken")
    assert [p.text for p in pieces] == ["R", "O", "M", "E", "O", ":", "·", "H", "i"]

    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))

    # the keyboard: focus the first chip, then → moves to the second
    first = panel_after(lambda: browser.execute_script("arguments[0].focus()", chips[0]))
    assert first.startswith(f"Token 1 of {len(chips)}")
    if len(chips) > 1:
        second = panel_after(lambda: browser.switch_to.active_element.send_keys(Keys.ARROW_RIGHT))
        assert second.startswith(f"Token 2 of {len(chips)}")
