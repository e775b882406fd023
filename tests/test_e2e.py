"""The real app in headless Chromium: search, add a reference to the pack, see it on the pack page.

The server is started with the README's command on a free port, on this test's own copy of the
collection; Debian's Chromium is driven by Playwright (never a downloaded browser).  Screenshots
of each step go to `test-artifacts/` at the repository root (git-ignored) and their paths are
printed and recorded with the test.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from library import Library, SearchRequest, Settings

from .conftest import REPO

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"
SERVER_START_SECONDS = 30
STEP_TIMEOUT_MS = 20_000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; CI installs it, so its absence is a failure, never a skip."""
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's Chromium is missing ({CHROMIUM}). `bash .ci/run` (scripts/run-tests.sh) "
                    "installs it; or, as root, apt-get install chromium.")
    return CHROMIUM


class AppServer:
    """`streamlit run app.py` as the README starts it, on this test's folders; can be restarted."""

    def __init__(self, tmp_path: Path, env: dict[str, str] | None = None) -> None:
        self.env = env
        shutil.copytree(REPO / "references", tmp_path / "references",
                        ignore=shutil.ignore_patterns(".library.lock", ".tmp-*"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "streamlit.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        # The conftest has pointed every LIBRARY_* variable at tmp_path; the server inherits them
        # (unless it was given an environment of its own).
        env = {**(self.env if self.env is not None else os.environ), "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                 "--server.port", str(self.port), "--browser.gatherUsageStats", "false"],
                cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"The app stopped before it answered (exit {self.process.returncode}):\n"
                            f"{log_tail(self.log)}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self.url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"The app did not answer on {self.url} within {SERVER_START_SECONDS} s:\n"
                            f"{log_tail(self.log)}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@contextlib.contextmanager
def running_app(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """A fresh server on a copy of the shipped collection in `folder`, with `env`; always stopped."""
    app = AppServer(folder, env)
    app.start()
    try:
        yield app.url
    finally:
        app.stop()


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[AppServer]:
    app = AppServer(tmp_path)
    app.start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture
def server(app_server: AppServer) -> str:
    return app_server.url


@contextlib.contextmanager
def browser_page(chromium: Path, tmp_path: Path, name: str, shots: list[Path]) -> Iterator[tuple[object, object]]:
    """A page in Debian's Chromium (a fresh profile), and a function that screenshots it."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / f"chromium-{name}"), executable_path=str(chromium), args=CHROMIUM_ARGS,
            headless=True, viewport={"width": 1400, "height": 1000})
        try:
            page = browser.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            expect.set_options(timeout=STEP_TIMEOUT_MS)

            def shot(step: str) -> None:
                path = ARTIFACTS / f"e2e-{name}-{step}.png"
                page.screenshot(path=str(path))
                shots.append(path)

            try:
                yield page, shot
            except Exception:
                with contextlib.suppress(Exception):  # keep the original error if even this fails
                    shot("failure")
                raise
        finally:
            browser.close()


def test_search_add_to_pack_and_see_it_in_the_pack(chromium: Path, server: str, tmp_path: Path,
                                                   record_property: pytest.RecordProperty) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Its own index, so the test never writes into the server's while the server builds it.
    library = Library(Settings.from_env(index_dir=tmp_path / "expected-index"))
    try:
        first = library.search(SearchRequest(text="burnout")).hits[0]
    finally:
        library.close()

    ARTIFACTS.mkdir(exist_ok=True)
    shots: list[Path] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(chromium), args=CHROMIUM_ARGS,
            headless=True, viewport={"width": 1400, "height": 1000})
        try:
            page = browser.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            expect.set_options(timeout=STEP_TIMEOUT_MS)

            def shot(name: str) -> None:
                path = ARTIFACTS / f"e2e-{name}.png"
                page.screenshot(path=str(path))
                shots.append(path)

            try:
                page.goto(server)
                box = page.get_by_role("textbox", name="Search words", exact=True)
                box.fill("burnout")
                box.press("Enter")
                expect(page.get_by_text("references found")).to_be_visible()
                expect(page.get_by_role("heading", name=f"1. {first.title}")).to_be_visible()
                shot("1-search")

                page.get_by_role("button", name="Add to pack").first.click()
                expect(page.get_by_role("link", name="Your pack: 1 reference")).to_be_visible()
                shot("2-added")

                page.get_by_test_id("stSidebarNav").get_by_role("link", name="Evidence pack").click()
                expect(page.get_by_role("heading", name="Evidence pack", exact=True)).to_be_visible()
                expect(page.get_by_text(f"[1] {first.title}")).to_be_visible()
                expect(page.get_by_role("textbox", name="Why this matters here")).to_have_value(first.key_finding)
                # The preview, downloads and sharing come last: wait for them so the screenshot shows it all.
                expect(page.get_by_role("button", name="Make a read-only link")).to_be_visible()
                shot("3-pack")
            except Exception:
                with contextlib.suppress(Exception):  # keep the original error if even this fails
                    shot("failure")
                raise
        finally:
            browser.close()
            listing = "\n".join(str(p) for p in shots)
            record_property("screenshots", listing)
            print(f"Screenshots:\n{listing}")


def idle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app's script has finished its run (a click during a run can be lost)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


def start_a_pack(page, url: str, references: int = 2) -> None:  # type: ignore[no-untyped-def]
    """Search, add the first references to the pack, and open the pack page."""
    from playwright.sync_api import expect

    page.goto(url)
    box = page.get_by_role("textbox", name="Search words", exact=True)
    box.fill("burnout")
    box.press("Enter")
    expect(page.get_by_text("references found")).to_be_visible()
    for number in range(1, references + 1):
        idle(page)
        page.get_by_role("button", name="Add to pack").first.click()
        expect(page.get_by_role("link", name=f"Your pack: {number} reference")).to_be_visible()
    idle(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Evidence pack").click()
    expect(page.get_by_role("heading", name="Evidence pack", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/pack\?edit=[A-Za-z0-9_-]{32}$"))
    idle(page)


def set_title(page, title: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    box = page.get_by_role("textbox", name=re.compile(r"^Title"))
    box.fill(title)
    box.press("Enter")
    expect(page.locator(".evl-brief h1")).to_have_text(title)  # saved, and the preview redrawn
    idle(page)


def test_a_pack_survives_a_reload_and_a_server_restart(chromium: Path, app_server: AppServer, tmp_path: Path,
                                                       record_property: pytest.RecordProperty) -> None:
    from playwright.sync_api import expect

    shots: list[Path] = []
    title = "Reload and restart: is it still here?"
    note = "A note typed in the browser, never saved by hand."
    try:
        with browser_page(chromium, tmp_path, "never-lost", shots) as (page, shot):
            start_a_pack(page, app_server.url)
            link = page.url
            set_title(page, title)
            box = page.get_by_role("textbox", name="Why this matters here").first
            box.fill(note)
            box.press("Control+Enter")
            expect(page.locator(".evl-brief")).to_contain_text(note)
            idle(page)
            shot("1-built")

            page.reload()
            expect(page.get_by_role("textbox", name=re.compile(r"^Title"))).to_have_value(title)
            expect(page.get_by_role("textbox", name="Why this matters here").first).to_have_value(note)
            assert page.url == link
            shot("2-reloaded")

        app_server.stop()
        app_server.start()
        with browser_page(chromium, tmp_path, "never-lost-restarted", shots) as (page, shot):
            page.goto(link)  # a new browser, the address from a bookmark or the history
            expect(page.get_by_role("textbox", name=re.compile(r"^Title"))).to_have_value(title)
            expect(page.get_by_role("textbox", name="Why this matters here").first).to_have_value(note)
            expect(page.locator(".evl-brief h1")).to_have_text(title)
            shot("3-after-restart")
    finally:
        listing = "\n".join(str(p) for p in shots)
        record_property("screenshots", listing)
        print(f"Screenshots:\n{listing}")


EVIL = ("[Urgent: re-enter your password here](https://evil.example/phish) ![beacon](https://evil.example/b.png) "
        "www.evil.example phish@evil.example")


def assert_nothing_live_from(page, requests: list[str]) -> None:  # type: ignore[no-untyped-def]
    for frame in page.frames:
        links = frame.locator('a[href*="evil.example"]')
        assert links.count() == 0, [links.nth(i).evaluate("e => e.outerHTML") for i in range(links.count())]
        assert frame.locator('img[src*="evil.example"]').count() == 0, frame.url
    assert requests == [], requests


def test_a_hostile_pack_title_is_text_in_the_real_browser(chromium: Path, server: str, tmp_path: Path,
                                                          record_property: pytest.RecordProperty) -> None:
    from urllib.parse import quote, urlsplit

    from playwright.sync_api import expect

    shots: list[Path] = []
    try:
        with browser_page(chromium, tmp_path, "reader-text", shots) as (page, shot):
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url)
                    if "evil" in (urlsplit(request.url).hostname or "") else None)
            start_a_pack(page, server, references=1)
            set_title(page, EVIL)
            assert_nothing_live_from(page, requests)
            page.get_by_role("button", name="Make a read-only link").click()
            link = page.locator("code").filter(has_text="share=")
            idle(page)
            expect(link).to_be_visible()
            share = link.inner_text().strip()
            assert re.fullmatch(re.escape(server) + r"/pack\?share=[A-Za-z0-9_-]{32}", share), share  # in full
            shot("1-pack")

            page.goto(share)
            expect(page.get_by_role("button", name="Download as PDF")).to_be_visible()
            idle(page)
            # The brief's heading: the words as typed.
            expect(page.locator(".evl-brief h1")).to_have_text(EVIL)
            with page.expect_download() as pdf:
                page.get_by_role("button", name="Download as PDF").click()
            assert pdf.value.suggested_filename.endswith(".pdf")
            assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF-")
            assert_nothing_live_from(page, requests)
            shot("2-shared")

            page.goto(f"{server}/reference?key={quote('[Session expired: sign in again](https://evil.example/phish)')}")
            typed = "[Session expired: sign in again](https://evil.example/phish)"
            # As typed, but for the invisible word joiners that keep Markdown from linking the address.
            expect(page.get_by_text(re.compile("\u2060?".join(re.escape(c) for c in typed)))).to_be_visible()
            assert_nothing_live_from(page, requests)
            shot("3-reference")
    finally:
        listing = "\n".join(str(p) for p in shots)
        record_property("screenshots", listing)
        print(f"Screenshots:\n{listing}")
