"""The app writes this browser's pack cookie (AppTest): when the pack list changes and only then,
with only the edit links in it, and takes a pack off it when it is closed or deleted.

AppTest cannot send cookies, so reading the cookie back after a reload or in a new tab is tested
in headless Chromium (tests/test_e2e_browserpacks.py).
"""

from __future__ import annotations

import re

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
    assert cookie_writes(at) == []  # the same pack: the cookie already says so
    assert "Your pack: 2 references" in [link.label for link in at.get("page_link")]
    search(at, "trauma")
    assert cookie_writes(at) == []
    # The address of a search never carries the edit link (it is copied to colleagues).
    assert token not in str(dict(at.query_params))

    goto(at, "views/pack.py")
    assert at.query_params["edit"] == token  # the pack page keeps it in its own address, as before
    assert cookie_writes(at) == []
    at.button(key="new-pack").click().run()
    assert cookie_writes(at) == [("", token, "")]  # none open, still listed under My packs
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
    assert cookie_writes(at) == [(closed, f"{closed}.{kept}", "")]

    goto(at, "views/pack.py")
    at.button(key="close-pack").click().run()
    assert not at.exception, at.exception
    assert cookie_writes(at) == [("", kept, closed)]
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
