"""Journeys walked in the real browser after the merges, each a defect a user met:

- a librarian opens a reference from "Find the reference to change" and can edit and save it
  (the form stayed only until the first keystroke: the same-page link lost its ?edit=).

The server is the README's command on a copy of the shipped collection (tests/test_e2e.py); the
browser is Debian's Chromium; the helpers are those of tests/test_e2e_pages.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest

from library import Library, Settings
from library.values import decoded_value

from .test_e2e import chromium, running_app  # noqa: F401 (fixture)
from .test_e2e_pages import browser_page, server_env, settle, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def walk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One server for these journeys, and its folder (to read what was saved)."""
    folder = tmp_path_factory.mktemp("e2e-walk")
    with running_app(folder, server_env(folder)) as url:
        yield url, folder


def saved(folder: Path, key: str):  # type: ignore[no-untyped-def]
    library = Library(Settings.from_env(references_dir=folder / "references", index_dir=folder / "check-index",
                                        data_dir=folder / "data"))
    try:
        return library.get(key)
    finally:
        library.close()


def test_a_reference_found_on_the_librarian_page_is_edited_and_saved(walk_server: tuple[str, Path],
                                                                     chromium: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, folder = walk_server
    key = "maslach2016understanding"
    with sync_playwright() as playwright, browser_page(playwright, chromium, 1400, 1000, tmp_path / "profile") as page:
        page.goto(url + "/librarian")
        sign_in(page)
        page.get_by_role("tab", name="Edit, delete or restore").click()
        find = page.get_by_role("textbox", name="Find the reference to change")
        find.fill("burnout experience")
        find.press("Enter")
        settle(page)
        page.get_by_role("tabpanel").get_by_role("button", name=re.compile(r"Edit$")).first.click()
        expect(page.get_by_role("heading", name=re.compile("^Edit: Understanding the burnout"))).to_be_visible()
        settle(page)
        assert page.url.endswith(f"/librarian?edit={key}")
        pages = page.get_by_role("textbox", name="Pages")
        pages.fill("103–112")
        pages.press("Tab")
        settle(page)
        page.get_by_role("button", name=re.compile("Save changes")).click()
        expect(page.get_by_text("Saved. Changed: Pages. Search shows the change now.")).to_be_visible()
    assert decoded_value("pages", saved(folder, key).entry.fields["pages"]) == "103–112"
