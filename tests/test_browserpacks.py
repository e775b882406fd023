"""The packs a browser holds, as its cookie keeps them (library/browserpacks.py): what a cookie
value means, what each change does to the list, which links the pack store still opens, and the
script that writes the cookie, run in headless Chromium against cookies another tab left."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from library.browserpacks import (COOKIE, MAX_PACKS, SECURE_COOKIE, BrowserPacks, cookie_name, cookie_script,
                                  is_edit_token)
from library.database import Database
from library.owners import Identity
from library.packs import Pack, PackReference
from library.packstore import PackStore

A, B, C, D = ("A" * 32, "b-" * 16, "c_" * 16, "0123456789" * 3 + "_-")
tokens = st.text(alphabet="ABCabc012_-", min_size=32, max_size=32)

PARSED = [
    (None, None, ()),
    ("", None, ()),
    (f"{A}|{A}.{B}", A, (A, B)),
    (f"|{A}.{B}", None, (A, B)),
    (f"{A}.{B}", None, (A, B)),  # no mark: a list, none open
    (f"{B}|{A}", B, (B, A)),  # the current one missing from the list is put first
    (f"{A}|{B}.{A}.{C}", A, (A, B, C)),  # and never twice
    (f"{A}|{A}.{A}.{B}.{B}", A, (A, B)),
    (f"nonsense|{A}.<script>.{'x' * 31}.{'y' * 33}.{B}", None, (A, B)),  # what is not an edit link is left out
    (f"{A[:-1]}!|{A}", None, (A,)),
    (f'"{A}|{A}"', None, ()),  # quoted by something on the way: nothing to trust
    ("|||...", None, ()),
    (f"{A}|" + ".".join(f"{n:032d}" for n in range(80)), A, (A, *(f"{n:032d}" for n in range(MAX_PACKS - 1)))),
]


@pytest.mark.parametrize(("value", "current", "held"), PARSED)
def test_a_cookie_value_names_only_edit_links(value: str | None, current: str | None, held: tuple[str, ...]) -> None:
    packs = BrowserPacks.parse(value)
    assert (packs.current, packs.tokens) == (current, held)
    assert len(packs.tokens) <= MAX_PACKS


@given(st.one_of(st.none(), tokens), st.lists(tokens, max_size=60))
def test_the_value_reads_back_as_written(current: str | None, held: list[str]) -> None:
    packs = BrowserPacks()
    for token in reversed(held):
        packs = packs.opened(token)
    if current is None:
        packs = packs.closed()
    else:
        packs = packs.opened(current)
    assert BrowserPacks.parse(packs.value()) == packs
    assert len(packs.value()) <= 33 * MAX_PACKS + 32  # far under a browser's 4 kB per cookie


CHANGES = [
    # start, change, expected (current, tokens)
    (BrowserPacks(), ("opened", A), (A, (A,))),
    (BrowserPacks(A, (A, B)), ("opened", B), (B, (B, A))),
    (BrowserPacks(A, (A, B)), ("opened", C), (C, (C, A, B))),
    (BrowserPacks(A, (A, B)), ("closed",), (None, (A, B))),
    (BrowserPacks(A, (A, B)), ("forgotten", A), (None, (B,))),
    (BrowserPacks(A, (A, B)), ("forgotten", B), (A, (A,))),
    (BrowserPacks(None, (A, B)), ("forgotten", C), (None, (A, B))),
    (BrowserPacks(A, (A, B, C)), ("keeping", {B, C}), (None, (B, C))),
    (BrowserPacks(A, (A, B, C)), ("keeping", {A, C, D}), (A, (A, C))),
    (BrowserPacks(A, (A, B)), ("keeping", set()), (None, ())),
]


@pytest.mark.parametrize(("start", "change", "expected"), CHANGES)
def test_each_change_to_the_list(start: BrowserPacks, change: tuple[object, ...], expected: tuple[object, ...]) -> None:
    name, *args = change
    after = getattr(start, str(name))(*args)
    assert (after.current, after.tokens) == expected


def test_the_oldest_link_drops_off_at_the_limit() -> None:
    packs = BrowserPacks()
    made = [f"{n:032d}" for n in range(MAX_PACKS + 5)]
    for token in made:
        packs = packs.opened(token)
    assert packs.tokens == tuple(reversed(made))[:MAX_PACKS]
    assert packs.opened(made[0]).tokens[:2] == (made[0], made[-1])  # an old one opened again comes first


@pytest.mark.parametrize("bad", [
    dict(current=None, tokens=("short",)),
    dict(current=A, tokens=(B, A)),  # the current one not first
    dict(current=A, tokens=()),
    dict(current=None, tokens=(A, A)),
    dict(current=None, tokens=tuple(f"{n:032d}" for n in range(MAX_PACKS + 1))),
])
def test_a_list_that_breaks_the_rules_cannot_be_made(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BrowserPacks(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BrowserPacks().opened("</script><script>alert(1)</script>")


def test_https_pages_read_only_the_host_only_cookie() -> None:
    assert cookie_name(secure=True) == SECURE_COOKIE == "__Host-evidence_packs" and cookie_name(secure=False) == COOKIE
    cookies = {COOKIE: f"{A}|{A}", SECURE_COOKIE: f"{B}|{B}"}
    assert BrowserPacks.from_cookies(cookies, secure=True).current == B
    assert BrowserPacks.from_cookies(cookies, secure=False).current == A
    assert BrowserPacks.from_cookies({COOKIE: f"{A}|{A}"}, secure=True) == BrowserPacks()  # planted by a sibling


def test_the_store_decides_what_each_link_still_opens(database: Database) -> None:
    store = PackStore(database)
    pack = Pack(title="Ours", references=(PackReference("felitti1998relationship", "Common."),))
    kept, deleted, owned = (store.create(pack, owner=None), store.create(pack, owner=None),
                            store.create(pack, owner=Identity.oidc("jo@example.org")))
    assert all(is_edit_token(s.edit_token) for s in (kept, deleted, owned))  # the shape the cookie accepts
    store.delete(deleted.edit_token, None)
    unknown = "Z" * 32
    held = BrowserPacks.parse(f"{deleted.edit_token}|" + ".".join(
        (deleted.edit_token, owned.edit_token, unknown, kept.edit_token)))

    def still_open(who: Identity | None) -> BrowserPacks:
        return held.keeping(s.edit_token for s in store.held(held.tokens, who))

    assert still_open(None) == BrowserPacks(None, (kept.edit_token,))
    assert still_open(Identity.oidc("jo@example.org")) == BrowserPacks(None, (owned.edit_token, kept.edit_token))
    assert still_open(Identity.oidc("sam@example.org")) == BrowserPacks(None, (kept.edit_token,))
    # What stays in the cookie: every pack still saved, even one only its owner may change, signed in
    # (a librarian whose password sign-in a reload forgot); a deleted or unknown link goes.
    assert store.existing([*held.tokens, "", unknown]) == {owned.edit_token, kept.edit_token}
    assert held.keeping(store.existing(held.tokens)) == BrowserPacks(None, (owned.edit_token, kept.edit_token))
    assert store.existing([]) == set()


def test_the_script_holds_only_the_fixed_code_and_edit_links() -> None:
    script = cookie_script(BrowserPacks(A, (A, B)), touched=[A, B], dropped=[C, "</script><b>x</b>"], left=D,
                           secure=False)
    assert script.count("<script>") == 1 and script.count("</script>") == 1
    assert "<b>" not in script and f'"{A}"' in script and f'"{A}.{B}"' in script and f'"{C}"' in script
    assert f'"{D}"' in script
    assert not re.search(r"@[A-Z]+@", script)
    assert '"__Host-evidence_packs"' in cookie_script(BrowserPacks(), secure=True)
    for bad in (dict(touched=["</script>"]), dict(left="<b>")):
        with pytest.raises(ValueError):
            cookie_script(BrowserPacks(), secure=False, **bad)  # type: ignore[arg-type]


# --- the script itself, in the browser: what it leaves in the cookie, from what another tab left there

SITE = "http://evidence.test/search"
SCRIPT_CASES = [
    # cookie before, what this tab holds, touched here, dropped here, left here, cookie after (None: removed)
    (None, BrowserPacks(A, (A,)), (A,), (), None, f"{A}|{A}"),
    (f"{A}|{A}", BrowserPacks(None, (A,)), (), (), A, f"|{A}"),  # "New pack": none in progress, still listed
    (f"{B}|{B}.{A}", BrowserPacks(A, (A,)), (A,), (), None, f"{A}|{A}.{B}"),  # another tab's pack is kept, after ours
    (f"{B}|{B}.{A}", BrowserPacks(None, ()), (), (A,), None, f"{B}|{B}"),  # but not one deleted or closed here
    (f"{A}|{A}", BrowserPacks(None, ()), (), (A,), None, None),  # nothing left: the cookie goes
    (f"junk|<x>.{C}", BrowserPacks(A, (A,)), (A,), (), None, f"{A}|{A}.{C}"),  # junk from elsewhere is not copied
    # 1. Tab A works on A again after tab B started B: a reload brings back A, the pack last worked on.
    (f"{B}|{B}.{A}", BrowserPacks(A, (A,)), (A,), (), None, f"{A}|{A}.{B}"),
    # ... and tab A stopping work on A leaves tab B's pack in progress alone.
    (f"{B}|{B}.{A}", BrowserPacks(None, (A,)), (), (), A, f"{B}|{B}.{A}"),
    # 2. Tab B still remembers A, which tab A closed (the cookie went); B's "New pack" does not bring A back.
    (None, BrowserPacks(None, (A,)), (), (), A, None),
    # ... nor does B starting another pack: only what B worked on goes in.
    (None, BrowserPacks(C, (C, A)), (C,), (), None, f"{C}|{C}"),
    (f"|{B}", BrowserPacks(None, (A, B)), (), (), A, f"|{B}"),
    # A write with nothing new from this tab keeps the cookie's pack in progress.
    (f"{B}|{B}.{A}", BrowserPacks(A, (A, B)), (), (C,), None, f"{B}|{B}.{A}"),
]


@pytest.mark.e2e
def test_the_script_writes_the_cookie_in_a_real_browser(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from .test_e2e import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.fail(f"Debian's Chromium is missing ({CHROMIUM}).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for before, wanted, touched, dropped, left, after in SCRIPT_CASES:
                context = browser.new_context()
                page = context.new_page()
                page.route("http://evidence.test/**", lambda route: route.fulfill(
                    status=200, content_type="text/html", body="<!doctype html><title>t</title>"))
                page.goto(SITE)
                if before is not None:
                    page.evaluate("value => { document.cookie = value + '; path=/'; }", f"{COOKIE}={before}")
                page.set_content(cookie_script(wanted, touched=touched, dropped=dropped, left=left, secure=False))
                cookies = {c["name"]: c for c in context.cookies()}
                if after is None:
                    assert COOKIE not in cookies, (before, wanted)
                else:
                    cookie = cookies[COOKIE]
                    assert cookie["value"] == after, (before, wanted)
                    assert (cookie["path"], cookie["sameSite"], cookie["expires"]) == ("/", "Strict", -1)
                context.close()
        finally:
            browser.close()
