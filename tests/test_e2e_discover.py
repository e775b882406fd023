"""Screening with the keyboard in the real app, in headless Chromium: the librarian signs in, searches
OpenAlex (a local server replaying its real recorded answer), switches the keyboard on, and excludes
the first work with one key press.  Streamlit's own button shortcuts do the work; this checks they do.
Then the browser reloads the page: the same list comes back at the same place."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from library import Library, Settings
from library.auth import hash_password
from library.discovery import Discovery
from tests.cassettes import interactions
from tests.replay_server import serving
from tests.shared_data import shared_path
from tests.test_e2e import ARTIFACTS, CHROMIUM_ARGS, STEP_TIMEOUT_MS, app_server, chromium, server  # noqa: F401

pytestmark = pytest.mark.e2e

PASSWORD = "a long test password"
FIRST = ("Patriotism as criterion of changes of transition political process: problems on the way to "
         "information society")


@pytest.fixture
def openalex_and_sign_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Set before the app starts (the server inherits the environment)."""
    sample = shared_path("testdata", "literature-apis", "openalex",
                         "commonmetapy__test_get_random_id_from_openalex.yaml")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("LIBRARY_LIBRARIAN_PASSWORD_HASH", hash_password(PASSWORD))
    with serving({"/works": [interactions(sample)[1].reply()]}) as replay:
        monkeypatch.setenv("LIBRARY_OPENALEX_URL", replay.url)
        yield replay.url


def test_one_key_press_excludes_the_work_shown(openalex_and_sign_in: str, chromium: Path,  # noqa: F811
                                                server: str, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(chromium), args=CHROMIUM_ARGS,
            headless=True, viewport={"width": 1400, "height": 1100})
        try:
            page = browser.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            expect.set_options(timeout=STEP_TIMEOUT_MS)
            page.goto(f"{server}/librarian")
            page.get_by_role("textbox", name="Your name").fill("Jo Librarian")
            page.get_by_label("Librarian password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("tab", name="Discover").click()
            page.get_by_role("textbox", name="Search for").fill("cancer")
            page.get_by_role("button", name="Search", exact=True).click()
            expect(page.get_by_role("heading", name=FIRST)).to_be_visible()
            page.get_by_text("Screen with the keyboard").click()
            # Once keyboard screening is on, the button names its shortcut ("Exclude Shortcut E").
            expect(page.get_by_role("button", name=re.compile(r"^Exclude Shortcut E$"))).to_be_visible()
            # The shortcut is bound once the rerun the toggle started has finished drawing the page.
            expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
            page.wait_for_timeout(1000)
            page.evaluate("document.activeElement.blur()")  # keys typed into a control are not shortcuts
            page.keyboard.press("e")
            expect(page.get_by_text(f"Excluded: “{FIRST}”")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "discover-keyboard.png"), full_page=True)
            place = page.get_by_text(re.compile(r"^Work 2 of \d+ · New"))
            expect(place).to_be_visible()
            second = page.locator("h4").first.inner_text()
            assert second and second != FIRST

            # A reload (signing in again: the password sign-in lives in the browser session) reopens
            # the same list at the same place, from the address.
            expect(page).to_have_url(re.compile(r"[?&]discover=[A-Za-z0-9_-]{22,64}"))
            address = page.url
            page.reload()
            page.get_by_role("textbox", name="Your name").fill("Jo Librarian")
            page.get_by_label("Librarian password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("tab", name="Discover").click()
            expect(page.get_by_role("heading", name=second)).to_be_visible()
            expect(page.get_by_text(re.compile(r"^Work 2 of \d+ · New"))).to_be_visible()
            assert page.url == address
        finally:
            browser.close()

    library = Library(Settings.from_env(index_dir=tmp_path / "expected-index"), sync=False)
    try:
        [decision] = Discovery(library).store.decisions()
    finally:
        library.close()
    assert (decision.decision, decision.title, decision.reason) == (
        "excluded", FIRST, "Not about trauma or trauma-informed care")
