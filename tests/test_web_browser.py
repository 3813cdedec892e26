"""`minichat web` driven in headless Chromium, as a person would use it.

A real `minichat web --model echo` subprocess on a loopback port, Debian's
chromium through its chromedriver (Selenium is pointed at both, so nothing is
downloaded): send a message, change the temperature, reload, try a model that
does not exist, answer from a folder picked as documents (sources under the
answer), swap to the default model, watch its reply stream in, then Stop, Undo,
Retry and Clear.
Set MINICHAT_WEB_SCREENSHOT=docs/web.png to refresh the README's screenshot.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a browser, a server and the default model: seconds, not ms

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = "apt-get install chromium chromium-driver (make test does it when run as root)"
WAIT = 180  # seconds; the default model's first load converts it (about 15 s, more when busy)


def _require_browser() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if not missing:
        return
    reason = f"no {' or '.join(missing)}: {INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test; {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server() -> Iterator[str]:
    """`minichat web --model echo` on a free loopback port; yields its URL once it serves."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "minichat", "web", "--model", "echo", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:  # keep the pipe drained for the server's whole life
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if f"http://127.0.0.1:{port}" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(WAIT):
            pytest.fail(f"minichat web did not start:\n{''.join(lines)}")
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in "".join(lines), "".join(lines)


@pytest.fixture
def browser() -> Iterator[object]:
    _require_browser()
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1280,860",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_chat_in_the_browser(server: str, browser: object, tmp_path: Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    page = browser

    def text(element_id: str) -> str:
        return str(page.find_element(By.ID, element_id).text)

    def wait_until(what: str, check: Callable[[], object], timeout: float = 30) -> None:
        try:  # an element the page redraws between two looks is looked at again
            WebDriverWait(
                page,
                timeout,
                poll_frequency=0.1,
                ignored_exceptions=[StaleElementReferenceException],
            ).until(lambda _: check())
        except Exception:
            page.save_screenshot(str(tmp_path / "failed.png"))
            raise AssertionError(
                f"{what}; status: {text('status')!r}, notice: {text('notice')!r}"
            ) from None

    def replies() -> list[str]:
        return [e.text for e in page.find_elements(By.CSS_SELECTOR, "#chat [data-testid=bot]")]

    def send(message: str) -> None:
        box = page.find_element(By.CSS_SELECTOR, "#message textarea")
        box.send_keys(message, Keys.ENTER)

    page.get(server)
    wait_until("the page shows the model", lambda: "echo · 0 / 4096" in text("status"))

    # a message, and its reply with the stats line
    send("Hello there")
    wait_until("the echo reply", lambda: replies() == ["You said: Hello there"])
    wait_until("the stats line", lambda: "tok/s" in text("status"))
    assert "/ 4096 context tokens used" in text("status")

    # documents: a folder typed into the picker is indexed; sources show under the answer
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "lighthouse.md").write_text("# Lighthouse\n\nThe keeper's cat is Quorvane-17.\n")
    docs = page.find_element(By.CSS_SELECTOR, "#docs input")
    docs.click()
    docs.send_keys(Keys.CONTROL, "a")
    docs.send_keys(str(notes), Keys.ENTER)
    wait_until("the folder indexed", lambda: "replies read" in text("notice"), timeout=WAIT)
    send("What is the cat called?")
    wait_until("the grounded reply", lambda: len(replies()) == 2 and "Sources:" in replies()[1])
    assert "Quorvane-17" in replies()[1]  # echo repeats what the model read
    assert " ".join(replies()[1].split()).endswith("Sources: [1] lighthouse.md:3 (Lighthouse)")
    docs.click()
    docs.send_keys(Keys.CONTROL, "a")
    docs.send_keys("off", Keys.ENTER)
    wait_until("documents off", lambda: "no longer read documents" in text("notice"))
    page.find_element(By.ID, "undo").click()
    wait_until("the grounded exchange undone", lambda: len(replies()) == 1)

    # the temperature, typed into the slider's box: applied when the box is left
    box = page.find_element(By.CSS_SELECTOR, "#temperature input[type=number]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("0", Keys.TAB)
    wait_until("the temperature note", lambda: text("notice") == "temperature = 0.0")

    # a reload shows the same chat and settings: they live in the server's session
    page.refresh()
    temperature = "#temperature input[type=number]"
    wait_until(
        "the reloaded temperature",
        lambda: page.find_element(By.CSS_SELECTOR, temperature).get_attribute("value") == "0",
    )
    wait_until("the reloaded chat", lambda: replies() == ["You said: Hello there"])

    # a model that does not exist: said in the page, the old one stays
    model = page.find_element(By.CSS_SELECTOR, "#model input")
    model.click()
    model.send_keys(Keys.CONTROL, "a")
    model.send_keys("nosuch", Keys.ENTER)
    wait_until("the unknown-model error", lambda: "unknown model 'nosuch'" in text("notice"))
    assert text("notice").endswith("(still on echo)")
    wait_until("the dropdown back on echo", lambda: model.get_attribute("value") == "echo")

    # swap to the default model from the dropdown; the conversation stays
    model.click()
    page.find_element(By.CSS_SELECTOR, "[role=option][aria-label=smollm2]").click()
    wait_until("the model swap", lambda: "now smollm2" in text("notice"), timeout=WAIT)
    assert "2 messages kept" in text("notice") and replies() == ["You said: Hello there"]

    # its reply streams: record every state of the newest reply as the page draws it
    page.execute_script(
        """
        window.seen = [];
        new MutationObserver(() => {
          const bots = document.querySelectorAll('#chat [data-testid=bot]');
          if (bots.length > 1) window.seen.push(bots[bots.length - 1].innerText);
        }).observe(document.getElementById('chat'),
                   {childList: true, subtree: true, characterData: true});
        """
    )
    send("What is the capital of Germany?")
    wait_until("the smollm2 reply", lambda: "tok/s" in text("status"), timeout=WAIT)
    final = replies()[-1]
    assert "Berlin" in final  # temperature 0: greedy, the answer the README shows
    seen = [s.strip() for s in page.execute_script("return window.seen") if s.strip()]
    partial = [s for s in seen if len(s) < len(final.strip())]
    assert partial and all(final.startswith(s) for s in partial), (seen, final)
    status = text("status")
    assert status.startswith("smollm2 · ") and status.endswith("/ 8192 context tokens used")

    shot = os.environ.get("MINICHAT_WEB_SCREENSHOT")
    page.save_screenshot(str(tmp_path / "web.png"))
    if shot:
        page.save_screenshot(shot)

    # Stop keeps what came, marked; Undo takes the exchange away; Retry asks again; Clear
    send("Tell me a long story about a brave little dragon.")
    wait_until("a long reply under way", lambda: len(replies()) == 3 and len(replies()[2]) > 20)
    page.find_element(By.ID, "stop-reply").click()
    wait_until("the reply stopped", lambda: "cut off" in text("status"), timeout=WAIT)
    assert replies()[-1].endswith("[cut off]")
    page.find_element(By.ID, "undo").click()
    wait_until("the undo", lambda: len(replies()) == 2)
    page.find_element(By.ID, "retry").click()
    wait_until("the retried answer", lambda: "tok/s" in text("status"), timeout=WAIT)
    assert len(replies()) == 2 and "Berlin" in replies()[-1]
    page.find_element(By.ID, "clear").click()
    wait_until("the cleared chat", lambda: replies() == [] and "new conversation" in text("notice"))


def test_a_reply_cannot_make_the_browser_fetch_an_address(server: str, browser: object) -> None:
    """An image or tag in a reply (echo repeats the message) is drawn as text: the page
    never requests what it names, so a reply cannot send the chat anywhere."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    requested: list[str] = []

    class Pixel(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "image/gif")
            self.end_headers()
            self.wfile.write(b"GIF89a")

        def log_message(self, *_: object) -> None:
            pass

    listener = ThreadingHTTPServer(("127.0.0.1", 0), Pixel)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{listener.server_address[1]}"
    try:
        browser.get(server)
        WebDriverWait(browser, WAIT).until(  # the page is live: its status came from the server
            lambda page: "echo · 0 / 4096" in page.find_element(By.ID, "status").text
        )
        box = browser.find_element(By.CSS_SELECTOR, "#message textarea")
        box.send_keys(
            f"look ![chat]({base}/markdown.gif?q=secret) and <img src='{base}/tag.gif'> "
            f"and \\<img src='{base}/backslash.gif'> and \\`<img src='{base}/backtick.gif'>`",
            Keys.ENTER,
        )
        WebDriverWait(browser, 60).until(
            lambda page: any(
                "You said" in e.text
                for e in page.find_elements(By.CSS_SELECTOR, "#chat [data-testid=bot]")
            )
        )
        bot = browser.find_elements(By.CSS_SELECTOR, "#chat [data-testid=bot]")[-1]
        assert "look !chat and <img src=" in bot.text  # the image a link, the tag text
        images = browser.find_elements(By.CSS_SELECTOR, "#chat img")
        assert not [i for i in images if base in (i.get_attribute("src") or "")]
        browser.execute_script("return document.readyState")  # let any fetch go out
        assert requested == []
        # and the second wall: the browser itself loads images from the page's server only
        import httpx

        policy = httpx.get(server, timeout=30).headers["content-security-policy"]
        assert "img-src 'self' data: blob:" in policy
    finally:
        listener.shutdown()
