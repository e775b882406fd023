"""The app writes this browser's pack cookie (AppTest): whenever this tab changes its pack in progress
or its list (each change re-asserts the pack as the cookie's pack in progress), and only then, with
only the edit links in it, and takes a pack off it when it is closed or deleted.

AppTest cannot send cookies, so reading the cookie back after a reload or in a new tab is tested
in headless Chromium (tests/test_e2e_browserpacks.py).
"""

from __future__ import annotations

import re

import pytest

from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from library.browserpacks import BrowserPacks

from .test_app import _fresh_resources, collection, goto, open_app, search, shown_keys  # noqa: F401


def cookie_writes(at: AppTest) -> list[tuple[str, str, str]]:
    """(current, list, dropped) of each cookie script on the page, as the script would write them."""
    found = []
    for element in at.get("html"):
        body = str(element.value)
        if "document.cookie" in body:
            words = dict(re.findall(r'const (current|ours|gone) = "([^"]*)"', body.replace(", ", ";const ")))
            found.append((words["current"], words["ours"], words["gone"]))
    return found


def open_buttons(at: AppTest) -> list[Button]:
    """The "Open" buttons under My packs (one for each listed pack but the one open now)."""
    return [b for b in at.button if b.label == "Open"]


def test_the_cookie_is_written_when_the_list_changes_and_only_then() -> None:
    at = open_app()
    assert cookie_writes(at) == []  # nothing held, nothing written
    search(at, "burnout")
    assert cookie_writes(at) == []
    first, second = shown_keys(at)[:2]
    at.button(key=f"add-{first}").click().run()
    token = at.session_state["pack_current"].edit_token
    assert cookie_writes(at) == [(token, token, "")]
    assert BrowserPacks.parse(at.session_state["pack_cookie_written"]) == BrowserPacks(token, (token,))
    at.button(key=f"add-{second}").click().run()
    # The same pack, worked on again: written again, so it is the cookie's pack in progress even if
    # another tab started one in between (a reload brings back the pack last worked on).
    assert cookie_writes(at) == [(token, token, "")]
    assert "Your pack: 2 references" in [link.label for link in at.get("page_link")]
    search(at, "trauma")
    assert cookie_writes(at) == []
    # The address of a search never carries the edit link (it is copied to colleagues).
    assert token not in str(dict(at.query_params))

    goto(at, "views/pack.py")
    assert at.query_params["edit"] == token  # the pack page keeps it in its own address, as before
    assert cookie_writes(at) == []
    at.button(key="new-pack").click().run()
    # None open; the script keeps it listed (it is in the cookie) and no longer in progress.
    assert cookie_writes(at) == [("", "", "")]
    assert f'left = "{token}"' in "".join(str(e.value) for e in at.get("html"))
    assert len(open_buttons(at)) == 1


def test_closing_or_deleting_a_pack_takes_it_off_the_browsers_list() -> None:
    at = open_app()
    search(at, "burnout")
    keys = shown_keys(at)
    at.button(key=f"add-{keys[0]}").click().run()
    kept = at.session_state["pack_current"].edit_token
    goto(at, "views/pack.py")
    at.button(key="new-pack").click().run()
    goto(at, "views/search.py")
    search(at, "burnout")
    at.button(key=f"add-{keys[1]}").click().run()
    closed = at.session_state["pack_current"].edit_token
    assert cookie_writes(at) == [(closed, closed, "")]  # only what this tab worked on; the cookie keeps the rest

    goto(at, "views/pack.py")
    at.button(key="close-pack").click().run()
    assert not at.exception, at.exception
    assert cookie_writes(at) == [("", "", closed)]
    assert any("took it off this browser's list" in str(info.value) for info in at.info)
    assert "You have no pack open" in " ".join(str(info.value) for info in at.info)
    assert len(open_buttons(at)) == 1  # only the other

    [reopen] = open_buttons(at)
    reopen.click().run()
    assert at.session_state["pack_current"].edit_token == kept
    assert cookie_writes(at) == [(kept, kept, closed)]
    at.button(key="delete-pack").click().run()
    at.button(key="confirm-delete").click().run()
    assert not at.exception, at.exception
    assert cookie_writes(at) == [("", "", f"{kept}.{closed}")]  # nothing left: the script removes the cookie


def test_a_signed_in_persons_pack_is_kept_too_and_a_refused_link_never_enters_the_cookie() -> None:
    jo = open_app()
    jo.user = {"is_logged_in": True, "email": "jo@example.org"}
    search(jo, "burnout")
    jo.button(key=f"add-{shown_keys(jo)[0]}").click().run()
    stored = jo.session_state["pack_current"]
    assert stored.owner == "oidc:jo@example.org"
    assert cookie_writes(jo) == [(stored.edit_token, stored.edit_token, "")]
    goto(jo, "views/pack.py")
    assert jo.query_params["edit"] == stored.edit_token  # the pack page opens Jo's pack in progress

    sam = open_app()
    sam.user = {"is_logged_in": True, "email": "sam@example.org"}
    goto(sam, "views/pack.py", edit=stored.edit_token)  # Jo's link, pasted by Sam: refused
    assert any("can only be changed by the person who made it" in str(w.value).replace("\\", "")
               for w in sam.warning)
    assert cookie_writes(sam) == [] and "pack_current" not in sam.session_state
    assert sam.session_state["pack_browser"] == BrowserPacks()


def test_adding_after_the_pack_was_deleted_elsewhere_starts_a_new_pack_and_says_so() -> None:
    from library import Settings
    from library.database import Database
    from library.packstore import PackStore

    at = open_app()
    search(at, "burnout")
    first, second = shown_keys(at)[:2]
    at.button(key=f"add-{first}").click().run()
    deleted = at.session_state["pack_current"].edit_token
    PackStore(Database(Settings.from_env().database)).delete(deleted, None)  # "Delete" in another tab

    at.button(key=f"add-{second}").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]  # no "This edit link does not open a pack…"
    assert "Your pack was deleted in another window, so a new pack was started with this reference." in [
        str(i.value) for i in at.info]
    started = at.session_state["pack_current"]
    assert started.edit_token != deleted and started.pack.keys == (second,)
    assert [link.label for link in at.get("page_link") if link.label.startswith("Your pack")] == [
        "Your pack: 1 reference"]
    assert cookie_writes(at) == [(started.edit_token, started.edit_token, deleted)]
    assert at.session_state["pack_browser"] == BrowserPacks(started.edit_token, (started.edit_token,))
    at.run()
    assert not at.info  # said once


def test_a_librarian_signed_out_keeps_the_pack_for_when_they_sign_in_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from library.auth import hash_password

    from .test_app import PASSWORD, sign_in

    monkeypatch.setenv("LIBRARY_LIBRARIAN_PASSWORD_HASH", hash_password(PASSWORD))
    at = open_app()
    sign_in(at)
    goto(at, "views/search.py")
    search(at, "burnout")
    first, second = shown_keys(at)[:2]
    at.button(key=f"add-{first}").click().run()
    owned = at.session_state["pack_current"]
    assert owned.owner is not None

    goto(at, "views/librarian.py")
    at.button(key="sign-out").click().run()  # as a reload does: the password sign-in is forgotten
    goto(at, "views/pack.py", edit=owned.edit_token)
    assert any("can only be changed by the person who made it" in str(w.value).replace("\\", "")
               for w in at.warning)
    assert [link.label for link in at.get("page_link") if "Sign in" in link.label]
    assert cookie_writes(at) == []  # the cookie still holds it as the pack in progress
    assert at.session_state["pack_browser"].current == owned.edit_token

    sign_in(at)  # signing in again brings the pack back, and it is this browser's pack in progress again
    assert at.session_state["pack_current"].edit_token == owned.edit_token
    assert cookie_writes(at) == [(owned.edit_token, owned.edit_token, "")]
    goto(at, "views/search.py")
    assert "Your pack: 1 reference" in [link.label for link in at.get("page_link")]

    goto(at, "views/librarian.py")
    at.button(key="sign-out").click().run()
    goto(at, "views/search.py")
    search(at, "burnout")
    at.button(key=f"add-{second}").click().run()  # not silently into a second pack: it says so
    assert not at.exception, at.exception
    assert any(str(i.value).startswith("Your pack in progress can only be changed once you sign in again")
               for i in at.info)
    other = at.session_state["pack_current"]
    assert other.edit_token != owned.edit_token and other.pack.keys == (second,)
