"""The real app in headless Chromium: search, add a reference to the pack, see it on the pack page.

The server is started with the README's command on a free port, on this test's own copy of the
collection; Debian's Chromium is driven by Playwright (never a downloaded browser).  Screenshots
of each step go to `test-artifacts/` at the repository root (git-ignored) and their paths are
printed and recorded with the test.
"""

from __future__ import annotations

import contextlib
import os
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


def app_command(port: int) -> list[str]:
    """The README's start command (scripts/start-app.sh) on `port`."""
    return [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
            "--server.port", str(port), "--browser.gatherUsageStats", "false"]


@contextlib.contextmanager
def running_app(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """A fresh server on a free port, on a copy of the shipped collection in `folder`; always stopped."""
    shutil.copytree(REPO / "references", folder / "references",
                    ignore=shutil.ignore_patterns(".library.lock", ".tmp-*"))
    port = free_port()
    log = folder / "streamlit.log"
    with log.open("wb") as output:
        process = subprocess.Popen(app_command(port), cwd=REPO, env={**env, "PYTHONUNBUFFERED": "1"},
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"The app stopped before it answered (exit {process.returncode}):\n{log_tail(log)}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"The app did not answer on {url} within {SERVER_START_SECONDS} s:\n{log_tail(log)}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The app as the README starts it, on this test's folders."""
    # The conftest has pointed every LIBRARY_* variable at tmp_path; the server inherits them.
    with running_app(tmp_path, dict(os.environ)) as url:
        yield url


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
                # The preview, downloads and saving come last: wait for them so the screenshot shows it all.
                expect(page.get_by_role("button", name="Save pack")).to_be_visible()
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
