"""The pack in progress survives a reload and a new tab, on every page, in headless Chromium.

Someone not signed in adds two references on the search page; a reload, a new tab (the same
browser) and the reference page all keep adding to that same pack (its edit link unchanged, read
from the database, not from the page), while its edit link never enters a search or reference
address.  Another browser (a fresh profile) does not see it; "Close this pack" takes it off this
browser.  Screenshots go to `test-artifacts/`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from library import Settings
from library.browserpacks import COOKIE, BrowserPacks
from library.database import Database
from library.packstore import PackStore

from .test_e2e import AppServer, app_server, browser_page, chromium, idle  # noqa: F401

pytestmark = pytest.mark.e2e


def held(page) -> BrowserPacks:  # type: ignore[no-untyped-def]
    """What this browser's pack cookie says (as the app will read it on the next reload)."""
    values = [c["value"] for c in page.context.cookies() if c["name"] == COOKIE]
    return BrowserPacks.parse(values[0] if values else None)


def your_pack(page, count: int):  # type: ignore[no-untyped-def]
    return page.get_by_role("link", name=f"Your pack: {count} reference{'s' if count != 1 else ''}")


def my_packs(page):  # type: ignore[no-untyped-def]
    """The packs listed under "My packs" on the pack page (each says when it was changed)."""
    return page.get_by_text(re.compile(r"^Changed \d"))


def add_first_not_in_pack(page) -> None:  # type: ignore[no-untyped-def]
    idle(page)
    page.get_by_role("button", name="Add to pack").first.click()


def test_the_pack_survives_a_reload_and_a_new_tab_but_not_another_browser(
        chromium: Path, app_server: AppServer, tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    from playwright.sync_api import expect

    store = PackStore(Database(Settings.from_env().database))
    search = f"{app_server.url}/search?q=restraint"
    shots: list[Path] = []
    try:
        with browser_page(chromium, tmp_path, "packs-kept", shots) as (page, shot):
            page.goto(search)
            expect(page.get_by_text("references found")).to_be_visible()
            for count in (1, 2):
                add_first_not_in_pack(page)
                expect(your_pack(page, count)).to_be_visible()
            idle(page)
            token = held(page).current
            assert token is not None and held(page).tokens == (token,)
            pack = store.open(token, None)
            assert len(pack.pack.references) == 2
            assert token not in page.url
            shot("1-two-added")

            page.reload()
            expect(your_pack(page, 2)).to_be_visible()
            shot("2-reloaded")
            add_first_not_in_pack(page)
            expect(your_pack(page, 3)).to_be_visible()
            idle(page)
            assert held(page).current == token
            again = store.open(token, None)
            assert (again.id, len(again.pack.references)) == (pack.id, 3)  # the same pack, not a new one

            # A new tab in the same browser: a reference's page, opened from its address.
            tab = page.context.new_page()
            key = again.pack.keys[0]
            other = next(k for k in store.open(token, None).pack.keys if k != key)
            tab.goto(f"{app_server.url}/search?q=burnout")
            expect(your_pack(tab, 3)).to_be_visible()
            add_first_not_in_pack(tab)
            expect(your_pack(tab, 4)).to_be_visible()
            idle(tab)
            tab.goto(f"{app_server.url}/reference?key={other}")
            expect(your_pack(tab, 4)).to_be_visible()
            assert token not in tab.url
            assert (store.open(token, None).id, len(store.open(token, None).pack.keys)) == (pack.id, 4)
            assert held(tab).current == token
            shot("3-new-tab")

            tab.get_by_test_id("stSidebarNav").get_by_role("link", name="Evidence pack").click()
            expect(tab).to_have_url(re.compile(re.escape(f"/pack?edit={token}") + "$"))
            idle(tab)
            tab.close()

        # Another browser (a fresh profile): nothing of that pack.
        with browser_page(chromium, tmp_path, "packs-other-browser", shots) as (page, shot):
            page.goto(search)
            expect(page.get_by_text("references found")).to_be_visible()
            idle(page)
            expect(page.get_by_role("link", name=re.compile("^Your pack"))).to_have_count(0)
            page.goto(f"{app_server.url}/pack")
            expect(page.get_by_text("You have no pack open")).to_be_visible()
            idle(page)
            expect(my_packs(page)).to_have_count(0)
            assert held(page) == BrowserPacks()
            shot("4-other-browser")
    finally:
        listing = "\n".join(str(p) for p in shots)
        record_property("screenshots", listing)
        print(f"Screenshots:\n{listing}")


def test_new_pack_keeps_it_listed_and_close_takes_it_off_this_browser(
        chromium: Path, app_server: AppServer, tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    from playwright.sync_api import expect

    store = PackStore(Database(Settings.from_env().database))
    shots: list[Path] = []
    try:
        with browser_page(chromium, tmp_path, "packs-closed", shots) as (page, shot):
            page.goto(f"{app_server.url}/search?q=restraint")
            add_first_not_in_pack(page)
            expect(your_pack(page, 1)).to_be_visible()
            idle(page)
            first = held(page).current
            assert first is not None

            page.goto(f"{app_server.url}/pack")  # no edit link in the address: the cookie brings it back
            expect(page).to_have_url(re.compile(re.escape(f"/pack?edit={first}") + "$"))
            idle(page)
            page.get_by_role("button", name="New pack").click()
            expect(page.get_by_text("You have no pack open")).to_be_visible()
            idle(page)
            page.reload()
            expect(page.get_by_text("You have no pack open")).to_be_visible()
            idle(page)
            expect(my_packs(page)).to_have_count(1)  # still under My packs
            assert held(page) == BrowserPacks(None, (first,))

            page.get_by_test_id("stMain").locator("button").filter(has_text=re.compile(r"^Open$")).click()
            expect(page.get_by_role("button", name="Close this pack")).to_be_visible()
            idle(page)
            page.get_by_role("button", name="Close this pack").click()
            expect(page.get_by_text("took it off this browser's list")).to_be_visible()
            idle(page)
            shot("1-closed")
            page.reload()
            expect(page.get_by_text("You have no pack open")).to_be_visible()
            idle(page)
            expect(my_packs(page)).to_have_count(0)
            assert COOKIE not in {c["name"] for c in page.context.cookies()}
            assert store.open(first, None).pack.references  # closed, not deleted
            page.goto(f"{app_server.url}/search?q=restraint")
            expect(page.get_by_text("references found")).to_be_visible()
            idle(page)
            expect(page.get_by_role("link", name=re.compile("^Your pack"))).to_have_count(0)
            shot("2-after-reload")
    finally:
        listing = "\n".join(str(p) for p in shots)
        record_property("screenshots", listing)
        print(f"Screenshots:\n{listing}")


def test_a_reload_brings_back_the_pack_last_worked_on_in_any_tab(
        chromium: Path, app_server: AppServer, tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    """Tab A builds a pack, tab B starts another, tab A adds again: reloading tab A keeps tab A's pack."""
    from playwright.sync_api import expect

    store = PackStore(Database(Settings.from_env().database))
    shots: list[Path] = []
    try:
        with browser_page(chromium, tmp_path, "packs-two-tabs", shots) as (page, shot):
            page.goto(f"{app_server.url}/search?q=burnout")
            for count in (1, 2):
                add_first_not_in_pack(page)
                expect(your_pack(page, count)).to_be_visible()
            idle(page)
            first = held(page).current
            assert first is not None

            tab = page.context.new_page()
            tab.goto(f"{app_server.url}/pack")
            expect(tab.get_by_role("button", name="New pack")).to_be_visible()
            idle(tab)
            tab.get_by_role("button", name="New pack").click()
            expect(tab.get_by_text("You have no pack open")).to_be_visible()
            idle(tab)
            tab.goto(f"{app_server.url}/search?q=seclusion")
            add_first_not_in_pack(tab)
            expect(your_pack(tab, 1)).to_be_visible()
            idle(tab)
            second = held(tab).current
            assert second not in (None, first)

            add_first_not_in_pack(page)  # tab A again
            expect(your_pack(page, 3)).to_be_visible()
            idle(page)
            assert held(page).current == first and set(held(page).tokens) == {first, second}
            page.reload()
            expect(your_pack(page, 3)).to_be_visible()
            shot("1-reloaded")
            add_first_not_in_pack(page)
            expect(your_pack(page, 4)).to_be_visible()
            idle(page)
            assert len(store.open(first, None).pack.keys) == 4
            assert len(store.open(second, None).pack.keys) == 1  # nothing went into tab B's pack
    finally:
        record_property("screenshots", "\n".join(str(p) for p in shots))


def test_a_pack_closed_in_one_tab_is_not_brought_back_by_another(
        chromium: Path, app_server: AppServer, tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    """Tab B still remembers the pack tab A closed; pressing "New pack" in tab B does not list it again."""
    from playwright.sync_api import expect

    shots: list[Path] = []
    try:
        with browser_page(chromium, tmp_path, "packs-closed-elsewhere", shots) as (page, shot):
            page.goto(f"{app_server.url}/search?q=burnout")
            add_first_not_in_pack(page)
            expect(your_pack(page, 1)).to_be_visible()
            idle(page)
            closed = held(page).current
            assert closed is not None

            tab = page.context.new_page()
            tab.goto(f"{app_server.url}/search?q=burnout")
            expect(your_pack(tab, 1)).to_be_visible()  # tab B's session holds the pack too
            idle(tab)

            page.goto(f"{app_server.url}/pack")
            expect(page.get_by_role("button", name="Close this pack")).to_be_visible()
            idle(page)
            page.get_by_role("button", name="Close this pack").click()
            expect(page.get_by_text("took it off this browser's list")).to_be_visible()
            idle(page)
            assert COOKIE not in {c["name"] for c in page.context.cookies()}

            tab.get_by_test_id("stSidebarNav").get_by_role("link", name="Evidence pack").click()
            expect(tab.get_by_role("button", name="New pack")).to_be_visible()
            idle(tab)
            tab.get_by_role("button", name="New pack").click()
            expect(tab.get_by_text("You have no pack open")).to_be_visible()
            idle(tab)
            assert held(tab) == BrowserPacks()

            fresh = page.context.new_page()
            fresh.goto(f"{app_server.url}/pack")
            expect(fresh.get_by_text("You have no pack open")).to_be_visible()
            idle(fresh)
            expect(my_packs(fresh)).to_have_count(0)
            shot("1-fresh-tab")
    finally:
        record_property("screenshots", "\n".join(str(p) for p in shots))
