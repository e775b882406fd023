"""The organisation's sign-in for real: a complete OpenID Connect provider (the `oidc-provider-mock`
package, on localhost), the app started as in production with an [auth] section in its secrets file,
and Debian's Chromium signing in, becoming a librarian by LIBRARY_LIBRARIANS (and not when not
listed), making a change recorded under their e-mail address, and signing out.

Screenshots of each step go to `test-artifacts/` (git-ignored)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from .conftest import REPO
from .test_e2e import (ARTIFACTS, CHROMIUM_ARGS, SERVER_START_SECONDS, STEP_TIMEOUT_MS, chromium, free_port,  # noqa: F401
                       idle, log_tail)

pytestmark = pytest.mark.e2e

LIBRARIAN = {"sub": "jo", "email": "Jo.Bloggs@nhs.net", "email_verified": True, "name": "Jo Bloggs"}
ADVOCATE = {"sub": "sam", "email": "sam.smith@nhs.net", "email_verified": True, "name": "Sam Smith"}
BIB = """@article{jones2022signin,
  author = {Jones, Amir},
  title = {Signing in at an organisation: a zebrafinch study},
  journal = {Journal of Tests},
  year = {2022}
}"""


def shown(text: str) -> re.Pattern[str]:
    """Text as the page shows it: an e-mail address carries an invisible word joiner after '@'
    (views/ui.escape_markdown, so that it is never turned into a link)."""
    return re.compile("^" + re.escape(text).replace("@", "@\u2060?") + "$")


def wait_for(url: str, process: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} stopped before it answered (exit {process.returncode}):\n{log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer on {url} within {SERVER_START_SECONDS} s:\n{log_tail(log)}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[str]:
    """The OpenID Connect provider, in its own process, knowing two people."""
    port = free_port()
    log = tmp_path / "provider.log"
    with log.open("ab") as output:
        process = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1",
                                    "--port", str(port), "--user-claims", json.dumps(LIBRARIAN),
                                    "--user-claims", json.dumps(ADVOCATE)],
                                   cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        wait_for(f"{url}/.well-known/openid-configuration", process, log, "The OpenID Connect provider")
        yield url
    finally:
        stop(process)


@pytest.fixture
def app(tmp_path: Path, provider: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app as an organisation runs it: its sign-in in a secrets file, librarians named by setting."""
    import shutil

    shutil.copytree(REPO / "references", tmp_path / "references",
                    ignore=shutil.ignore_patterns(".library.lock", ".tmp-*"))
    port = free_port()
    url = f"http://localhost:{port}"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f"""[auth]
redirect_uri = "{url}/oauth2callback"
cookie_secret = "an end-to-end test cookie secret of some length"
client_id = "evidence-library"
client_secret = "a client secret"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""", encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LIBRARY_LIBRARIANS": "jo.bloggs@nhs.net"}
    log = tmp_path / "streamlit.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--secrets.files", str(secrets)],
            cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for(f"{url}/_stcore/health", process, log, "The app")
        yield url
    finally:
        stop(process)
        assert "Traceback" not in log.read_text(encoding="utf-8", errors="replace"), log_tail(log, 80)


def test_sign_in_become_a_librarian_by_the_setting_and_sign_out(chromium: Path, app: str, tmp_path: Path,
                                                                record_property: pytest.RecordProperty) -> None:
    from playwright.sync_api import expect, sync_playwright

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
                path = ARTIFACTS / f"e2e-signin-{name}.png"
                page.screenshot(path=str(path))
                shots.append(path)

            def sign_in_as(sub: str) -> None:
                page.goto(f"{app}/librarian")
                button = page.get_by_test_id("stMain").get_by_role(
                    "button", name="Sign in with your organisation's account")
                expect(button).to_be_visible()
                idle(page)
                button.click()
                expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
                shot(f"provider-{sub}")
                page.get_by_role("button", name=sub, exact=True).click()  # the provider's one-click user
                page.wait_for_url(f"{app}/**")
                page.goto(f"{app}/librarian")

            def sign_out() -> None:
                idle(page)
                page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
                # The provider's end-session page (Streamlit follows its end_session_endpoint)...
                expect(page.get_by_role("button", name="End session")).to_be_visible()
                page.get_by_role("button", name="End session").click()
                page.wait_for_url(f"{app}/**")  # ...and back to the app

            try:
                # 1. Jo is named in LIBRARY_LIBRARIANS: signed in, the librarian page opens for her.
                sign_in_as("jo")
                expect(page.get_by_text(shown("Signed in as jo.bloggs@nhs.net."))).to_be_visible()
                expect(page.get_by_text(shown("Signed in as jo.bloggs@nhs.net (librarian)."))).to_be_visible()
                expect(page.get_by_role("tab", name="Add references")).to_be_visible()
                shot("1-librarian")
                idle(page)
                page.get_by_role("textbox", name="BibTeX").fill(BIB)
                page.get_by_role("button", name="Read and check").click()
                expect(page.get_by_role("button", name="Save", exact=False).first).to_be_visible()
                idle(page)
                page.get_by_test_id("stMain").get_by_role("button", name="Save").first.click()
                expect(page.get_by_text("Saved 1 reference.")).to_be_visible()
                shot("2-saved")
                sign_out()
                page.goto(f"{app}/librarian")
                expect(page.get_by_test_id("stMain").get_by_role(
                    "button", name="Sign in with your organisation's account")).to_be_visible()
                expect(page.get_by_role("tab", name="Add references")).to_have_count(0)
                shot("3-signed-out")

                # 2. Sam is not listed: signed in (his packs are his), but not a librarian.
                sign_in_as("sam")
                expect(page.get_by_text(shown("Signed in as sam.smith@nhs.net."))).to_be_visible()
                expect(page.get_by_text("who is not one of this library's librarians")).to_be_visible()
                expect(page.get_by_role("tab", name="Add references")).to_have_count(0)
                shot("4-not-a-librarian")
                sign_out()
            except Exception:
                try:
                    shot("failure")
                except Exception:  # noqa: BLE001 - keep the original error
                    pass
                raise
        finally:
            browser.close()
            listing = "\n".join(str(p) for p in shots)
            record_property("screenshots", listing)
            print(f"Screenshots:\n{listing}")

    saved = (tmp_path / "references" / "jones2022signin.bib").read_text(encoding="utf-8")
    assert "added-by = {jo.bloggs@nhs.net}" in saved
    [line] = [json.loads(x) for x in (tmp_path / "data" / "changes.jsonl").read_text().splitlines()]
    assert (line["who"], line["action"], line["key"]) == ("jo.bloggs@nhs.net", "add", "jones2022signin")
