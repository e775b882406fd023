"""What every page of the app shares: the library resource, the pack in progress, result cards.

Pages stay thin: they read widgets, call `library`, and render with these helpers.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from contextlib import contextmanager
from typing import Callable, Iterator

import streamlit as st

from library import Hit, Library, LibraryError, SearchRequest, Settings, drafts, signin
from library.auth import DatabaseAttemptStore, Signer, Throttle, is_configured, signer_name
from library.errors import AccessDenied, InvalidValue, PackAccessDenied, PackConflict, PackNotFound
from library.owners import Identity
from library.signin import SignedIn
from library.packs import Pack, Search
from library.browserpacks import MAX_PACKS, BrowserPacks, cookie_script
from library.packstore import StoredPack
from library.taxonomy import Vocabulary

REFRESH_SECONDS = 5.0  # how often a page load looks at the whole collection folder for changes


@st.cache_resource(show_spinner=False)
def _open_library() -> Library:
    # Opened once per server process; `refresh` below keeps it in step with the files.
    return Library(Settings.from_env(), sync=False)


def library() -> Library:
    """The shared library, brought up to date with the folder (first run builds the index)."""
    lib = _open_library()
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if total < 50:
            return
        if bar is None:
            bar = st.progress(0.0, text="Getting the library ready (this happens once)…")
        bar.progress(min(done / total, 1.0), text=f"Getting the library ready: {done:,} of {total:,} references")

    lib.refresh(progress=progress, wait=False, max_age=REFRESH_SECONDS)
    if bar is not None:
        bar.empty()
    problem = lib.take_index_problem()  # a full or read-only index disk: said once, searches go on
    if problem:
        st.warning(escape_markdown(problem), icon=":material/warning:")
    return lib


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Show a `LibraryError` as a readable message; anything else is a bug and surfaces."""
    try:
        yield
    except LibraryError as error:
        st.error(plain(str(error)), icon=":material/error:")


# ------------------------------------------------------------------ who is signed in
#
# Every sign-in question the pages ask is answered here: the organisation's account (Streamlit's
# `st.login`/`st.user`, set up by an [auth] section in .streamlit/secrets.toml) and the librarian
# password (LIBRARY_LIBRARIAN_PASSWORD_HASH).  What the ID token's claims mean (who someone is,
# whether LIBRARY_LIBRARIANS names them) is decided in library/signin.py, not here.

LIBRARIAN = "librarian"  # session state: the name typed, set only after a correct librarian password
SIGN_IN_SESSION = "sign_in_session"  # session state: this browser session's id for the throttle


def organisation_sign_in() -> bool:
    """Whether the organisation's sign-in is set up ([auth] in .streamlit/secrets.toml)."""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def _claims() -> dict[str, object]:
    """The ID token's claims as Streamlit keeps them for this session ({} when not signed in)."""
    # Streamlit sets is_logged_in only from its own signed cookie, after the provider's sign-in.
    if st.user.get("is_logged_in") is not True:
        return {}
    return dict(st.user.to_dict())


def session() -> SignedIn | None:
    """Who this browser session is signed in as, and whether they may change the collection."""
    return signin.signed_in(_claims(), librarians=_open_library().settings.librarians,
                            password_name=str(st.session_state.get(LIBRARIAN) or "") or None)


def signed_in() -> Identity | None:
    """Who owns the packs this session makes (see `library.owners`): the organisation's account
    first, else the librarian password sign-in; None when nobody is signed in."""
    current = session()
    return current.identity if current else None


def librarian() -> str | None:
    """The name the change log records for this session's changes, if it may change the collection."""
    current = session()
    return current.name if current and current.librarian else None


def password_hash() -> str:
    try:
        from_secrets = str(st.secrets.get("librarian_password_hash", "") or "") \
            if st.secrets.load_if_toml_exists() else ""
    except AttributeError:
        from_secrets = ""
    return _open_library().settings.librarian_password_hash or from_secrets


def sign_out() -> None:
    """Forget the password sign-in and, for the organisation's account, sign out there too."""
    st.session_state.pop(LIBRARIAN, None)
    if _claims():
        st.logout()  # also ends the session with the organisation's sign-in, where it allows
    else:
        st.rerun()


def account_panel() -> None:
    """In the sidebar of every page, when the organisation's sign-in is set up: who is signed in,
    with Sign out, or Sign in."""
    if not organisation_sign_in():
        return
    with st.sidebar:
        problem = signin.person_from_claims(_claims())
        current = session()
        if current is not None and current.via == "organisation":
            role = " (librarian)" if current.librarian else ""
            st.caption(f"Signed in as {escape_markdown(current.name)}{role}.")
            st.button("Sign out", key="account-sign-out", on_click=sign_out)
        else:
            if isinstance(problem, signin.SignInProblem):
                st.warning(problem.message, icon=":material/warning:")
            st.caption("Sign in to keep your evidence packs under your name.")
            st.button("Sign in with your organisation's account", key="account-sign-in", on_click=st.login)


def librarian_sign_in() -> str:
    """The librarian page's door: the name to record for this session's changes, or the ways to
    sign in shown and the page stopped."""
    name = librarian()
    if name is not None:
        return name
    settings = _open_library().settings
    password = is_configured(password_hash())
    organisation = organisation_sign_in() and bool(settings.librarians)
    if not password and not organisation:
        st.info("Editing is switched off, so the collection can only be searched. To let librarians add and "
                "edit references, whoever runs this app either sets a password hash (run "
                "`python -m library hash-password` and put the result in the environment variable "
                "`LIBRARY_LIBRARIAN_PASSWORD_HASH`, or `librarian_password_hash` in `.streamlit/secrets.toml`) "
                "or connects the organisation's sign-in and names the librarians in `LIBRARY_LIBRARIANS` "
                "(docs/deploy.md), then restarts the app.", icon=":material/lock:")
        st.stop()
    current = session()
    if current is not None and current.via == "organisation":
        st.warning(f"You are signed in as {escape_markdown(current.name)}, who is not one of this library's "
                   "librarians, so you can search and make packs but not change the collection. Ask whoever "
                   "runs this app to add you to LIBRARY\\_LIBRARIANS.", icon=":material/lock:")
    else:
        st.markdown("Searching and building packs are open to everyone. Changing the collection needs "
                    + ("a librarian's sign-in." if organisation else "the librarian password."))
    if organisation and (current is None or current.via != "organisation"):
        problem = signin.person_from_claims(_claims())
        if isinstance(problem, signin.SignInProblem):
            st.warning(problem.message, icon=":material/warning:")
        st.button("Sign in with your organisation's account", key="librarian-sign-in", type="primary",
                  on_click=st.login)
    if password:
        with st.form("sign-in"):
            name = st.text_input("Your name", key="signin_name", autocomplete="name",
                                 help="The change log records it with every change you make.")
            typed = st.text_input("Librarian password", type="password", key="password",
                                  autocomplete="current-password")
            if st.form_submit_button("Sign in", type="primary" if not organisation else "secondary"):
                try:
                    sign_in_with_password(name, typed)
                except (AccessDenied, InvalidValue) as error:
                    st.error(str(error))  # our own messages; none quotes what was typed
                else:
                    st.rerun()
    st.stop()
    raise AssertionError("unreachable")  # st.stop() ends the run


def signer(name: str) -> Signer:
    """This browser session, its address and the name typed, for the sign-in throttle."""
    session = st.session_state.setdefault(SIGN_IN_SESSION, secrets.token_urlsafe(16))
    address = st.context.ip_address or ""  # None when the browser is on this machine
    return Signer(session=session, address=address, name=name)


def sign_in_with_password(name: str, password: str) -> str:
    """Sign in as `name`, or raise `AccessDenied` / `InvalidValue` with a plain reason. Wrong guesses
    slow down this browser session, its address and that name (library/auth.py), in the shared
    database, so every app server counts them alike."""
    who = signer_name(name)
    Throttle(DatabaseAttemptStore(_open_library().database)).sign_in(password, password_hash(), signer(who))
    st.session_state[LIBRARIAN] = who
    return who


# ------------------------------------------------------------------ the pack in progress
#
# The pack in progress is a saved pack (library/packstore.py): every change is saved at once,
# through `library.drafts`.  The session remembers which pack is in progress and every edit
# link this browser has used ("My packs" for someone not signed in), and keeps both in this
# browser's `evidence_packs` cookie (library/browserpacks.py; ends when the browser closes), so a
# reload or a new tab, on any page, brings the same pack back without the edit link ever being
# in a search or reference address.  The pack page also keeps the edit link in its own address,
# so a bookmark, the browser's history or a server restart brings the pack back.  Widgets only
# show the saved pack.

EDIT_PARAM = "edit"  # ?edit=<edit link> on the pack page
SHARE_PARAM = "share"  # ?share=<share link>; the older ?pack=<share link> still works
_CURRENT = "pack_current"  # the StoredPack in progress, as last read or saved
_BROWSER = "pack_browser"  # BrowserPacks: the edit links this browser holds, most recent first
_DROPPED = "pack_dropped"  # edit links this session took off the browser's list (deleted, closed)
_COOKIE_READ = "pack_cookie_read"  # the cookie was read at the start of this browser session
_COOKIE_WRITTEN = "pack_cookie_written"  # the cookie's value as this session last read or wrote it
_TOUCHED = "pack_touched"  # edit links this tab opened, started or changed since it last wrote the cookie
_LEFT = "pack_left"  # the pack this tab stopped working on since it last wrote the cookie
_LOCKED = "pack_locked"  # the cookie's pack in progress, kept but not opened: its owner must sign in first
_NOTICE = "pack_notice"  # a plain sentence for the next page: what happened to the pack in progress
RESEED = "pack_reseed"  # the pack page must refill its widgets from the saved pack


def browser_packs() -> BrowserPacks:
    return st.session_state.get(_BROWSER) or BrowserPacks()


def pack_links() -> list[str]:
    """The edit links this browser has used, most recent first ("My packs" when not signed in)."""
    return list(browser_packs().tokens)


def current_pack() -> StoredPack | None:
    """The pack in progress in this session, as last read or saved (None: no pack yet)."""
    return st.session_state.get(_CURRENT)


def remember_pack(stored: StoredPack, *, switched: bool = True, worked_on: bool = True) -> StoredPack:
    """Make `stored` the pack in progress (`switched`: the page refills its widgets from it;
    `worked_on`: opened, started or changed here, so the cookie's pack in progress again; not when
    it was only read again)."""
    previous = current_pack()
    st.session_state[_CURRENT] = stored
    st.session_state[_BROWSER] = browser_packs().opened(stored.edit_token)
    st.session_state.pop(_LOCKED, None)
    if worked_on:
        _touch(stored.edit_token)
    if switched or previous is None or previous.edit_token != stored.edit_token:
        st.session_state[RESEED] = True
    return stored


def _touch(edit_token: str) -> None:
    """This tab worked on `edit_token`'s pack: the next cookie write makes it the pack in progress."""
    touched = st.session_state.get(_TOUCHED, [])
    st.session_state[_TOUCHED] = [edit_token, *(t for t in touched if t != edit_token)][:MAX_PACKS]


def _drop(edit_token: str) -> None:
    """Take `edit_token` off this browser's list (and the cookie, at the next write)."""
    st.session_state[_BROWSER] = browser_packs().forgotten(edit_token)
    st.session_state[_TOUCHED] = [t for t in st.session_state.get(_TOUCHED, []) if t != edit_token]
    st.session_state[_DROPPED] = [edit_token, *(t for t in st.session_state.get(_DROPPED, [])
                                                if t != edit_token)][:MAX_PACKS]


def forget_pack(*, from_browser: bool = False) -> None:
    """Stop working on the pack in progress (it stays saved, and listed under "My packs");
    `from_browser`: also take it off this browser's list (deleted, or closed on a shared computer).
    With no pack open in this tab, the browser's list is left as it is."""
    stored = st.session_state.pop(_CURRENT, None)
    st.session_state[RESEED] = True
    st.session_state[_BROWSER] = browser_packs()
    if stored is None:
        return
    st.session_state[_BROWSER] = browser_packs().closed()
    st.session_state[_LEFT] = stored.edit_token
    if from_browser:
        _drop(stored.edit_token)


def _lock(stored: StoredPack) -> None:
    """Signed out with `stored` open: stop showing it, but keep it (and the cookie's pack in progress)
    for when its owner signs in again."""
    st.session_state.pop(_CURRENT, None)
    st.session_state[_LOCKED] = stored.edit_token
    st.session_state[RESEED] = True


def waiting_for_sign_in() -> bool:
    """Whether this browser's pack in progress is kept but closed until its owner signs in again."""
    return current_pack() is None and bool(st.session_state.get(_LOCKED))


def take_notice() -> str | None:
    """What happened to the pack in progress that the person did not ask for (said once)."""
    return st.session_state.pop(_NOTICE, None)


def _secure_page() -> bool:
    return (st.context.url or "").startswith("https:")


def keep_browser_packs() -> None:
    """Run on every page before it is drawn (and by the pack page once it has read its address).

    On a browser session's first run, with no pack open yet, the packs this browser's cookie names
    come back: each edit link is checked with the pack store (a deleted one, or one that never was,
    is dropped without a word) and the first, if it was in progress, is opened again.  A pack only
    its owner may change, signed in (a librarian signed in with the password, which a reload
    forgets), is kept in the cookie but not opened until they sign in again.  Then, whenever this
    tab changed its pack in progress or its list, a script writes the cookie
    (library/browserpacks.py: only edit links go into it; it merges with what other tabs wrote)."""
    if _COOKIE_READ not in st.session_state:
        st.session_state[_COOKIE_READ] = True
        held = BrowserPacks.from_cookies(st.context.cookies, secure=_secure_page())
        st.session_state[_COOKIE_WRITTEN] = held.value()
        if held.tokens and current_pack() is None and not pack_links():
            _bring_back(held)
    locked = st.session_state.get(_LOCKED)
    if locked and current_pack() is None and signed_in() is not None:
        try:  # signed in since: the pack the cookie held comes back
            opened = _open_library().packs.open(locked, signed_in())
        except PackAccessDenied:
            pass  # someone else's: it stays waiting for its owner
        except PackNotFound:
            st.session_state.pop(_LOCKED, None)
            _drop(locked)
        else:
            remember_pack(opened, switched=True)
    wanted, touched, left = browser_packs(), st.session_state.get(_TOUCHED, []), st.session_state.get(_LEFT)
    if touched or left or wanted.value() != st.session_state.get(_COOKIE_WRITTEN):
        st.html(cookie_script(wanted, touched=touched, dropped=st.session_state.get(_DROPPED, []), left=left,
                              secure=_secure_page()), unsafe_allow_javascript=True)
        st.session_state[_COOKIE_WRITTEN] = wanted.value()
        st.session_state[_TOUCHED] = []
        st.session_state.pop(_LEFT, None)


def _bring_back(held: BrowserPacks) -> None:
    store, who = _open_library().packs, signed_in()
    packs = held.keeping(store.existing(held.tokens))
    for token in held.tokens:
        if token not in packs.tokens:  # deleted: off the cookie at the next write
            st.session_state[_DROPPED] = [token, *st.session_state.get(_DROPPED, [])][:MAX_PACKS]
    current = None
    if packs.current is not None:
        try:
            current = store.open(packs.current, who)
        except PackAccessDenied:  # its owner must sign in first: kept, not opened
            st.session_state[_LOCKED] = packs.current
        except PackNotFound:  # deleted in the moment between
            st.session_state[_DROPPED] = [packs.current, *st.session_state.get(_DROPPED, [])][:MAX_PACKS]
            packs = packs.forgotten(packs.current)
    st.session_state[_BROWSER] = packs
    if current is not None:
        st.session_state[_CURRENT] = current
        st.session_state[RESEED] = True


def open_pack(edit_token: str) -> StoredPack:
    """Make the pack this edit link opens the pack in progress (`PackError` if it cannot be)."""
    return remember_pack(library().packs.open(edit_token, signed_in()), switched=True)


def refresh_pack() -> StoredPack | None:
    """The pack in progress re-read from the database: another window may have changed or deleted it."""
    stored = current_pack()
    if stored is None:
        return None
    try:
        fresh = library().packs.open(stored.edit_token, signed_in())
    except PackNotFound:
        forget_pack(from_browser=True)
        raise
    except PackAccessDenied:
        _lock(stored)
        raise
    if fresh.revision != stored.revision:
        st.session_state[RESEED] = True
    return remember_pack(fresh, switched=False, worked_on=False)


def start_pack(pack: Pack, style: str = "apa") -> StoredPack:
    """Save `pack` as a new pack, owned by whoever is signed in, and make it the pack in progress."""
    lib = library()
    pack = pack.with_snapshots(lib.get_many(pack.keys))
    return remember_pack(lib.packs.create(pack, owner=signed_in(), style=style), switched=True)


def change_pack(edit: Callable[[Pack], Pack], *, style: str | None = None) -> StoredPack:
    """Apply one edit to the pack in progress and save it at once (a new pack if there is none).

    Each edit changes only what the advocate just changed, so when another window saved the
    pack in between, the edit is applied again to that newer version rather than refused.
    """
    lib = library()
    stored = current_pack()
    if stored is None:
        return start_pack(edit(drafts.new_pack()), style or "apa")
    who = signed_in()
    for attempt in (1, 2):
        pack = edit(stored.pack)
        if pack == stored.pack and style in (None, stored.style):
            return stored
        pack = pack.with_snapshots(lib.get_many(pack.keys))
        try:
            return remember_pack(lib.packs.save(stored.edit_token, pack, who=who, style=style,
                                            revision=stored.revision), switched=False)
        except PackNotFound:
            forget_pack(from_browser=True)  # deleted in another window: off this browser's list too
            raise
        except PackAccessDenied:
            _lock(stored)
            raise
        except PackConflict:
            if attempt == 2:
                raise
            stored = lib.packs.open(stored.edit_token, who)
            st.session_state[RESEED] = True
    raise AssertionError("unreachable")


def pack_size() -> int:
    stored = current_pack()
    return len(stored.pack.references) if stored else 0


def in_pack(key: str) -> bool:
    stored = current_pack()
    return stored is not None and key in stored.pack.keys


PACK_DELETED = "Your pack was deleted in another window, so a new pack was started with this reference."
PACK_NEEDS_SIGN_IN = ("Your pack in progress can only be changed once you sign in again (on the Librarian page), "
                      "so a new pack was started with this reference. Sign in to carry on with the earlier one.")


def add_to_pack(key: str, *, note: str = "", search: Search | None = None) -> None:
    """Add a reference found by `search` (None: chosen one by one, from its own page).

    When the pack in progress was deleted in another window, or needs its owner to sign in again,
    the reference goes into a new pack and the next page says so (`take_notice`)."""
    def edit(pack: Pack) -> Pack:
        return drafts.add_reference(pack, key, note=note, search=search, one_by_one=search is None)

    if waiting_for_sign_in():
        start_pack(edit(drafts.new_pack()))
        st.session_state[_NOTICE] = PACK_NEEDS_SIGN_IN
        return
    try:
        change_pack(edit)
    except PackNotFound:
        start_pack(edit(drafts.new_pack()))
        st.session_state[_NOTICE] = PACK_DELETED
    except PackAccessDenied:
        start_pack(edit(drafts.new_pack()))
        st.session_state[_NOTICE] = PACK_NEEDS_SIGN_IN


def remove_from_pack(key: str) -> None:
    if in_pack(key):
        change_pack(lambda pack: drafts.remove_reference(pack, key))
        st.session_state[RESEED] = True


def describe_request(request: SearchRequest, vocabulary: Vocabulary) -> str:
    """A search's words and filters as the search page names them: 'a search for “burnout”, evidence type: ...'
    (a pack records the search as data, `drafts.search_of`)."""
    parts = []
    if request.text:
        parts.append(f'a search for “{request.text}”')
    if request.themes:
        joiner = " and " if request.theme_mode == "all" else " or "
        parts.append("themes: " + joiner.join(vocabulary.label(t) for t in request.themes))
    if request.evidence_types:
        parts.append("evidence type: " + " or ".join(vocabulary.label(t) for t in request.evidence_types))
    if request.settings:
        parts.append("setting: " + " or ".join(vocabulary.label(s) for s in request.settings))
    if request.year_from or request.year_to:
        parts.append(f"years {request.year_from or '…'} to {request.year_to or '…'}")
    return ", ".join(parts) or "browsing the whole library"


# ------------------------------------------------------------------ result cards

CARD_CSS = """
<style>
.evl-meta {color: #3d3d3d; margin: 0 0 .25rem 0;}
.evl-chip {display: inline-block; border: 1px solid #6b6b6b; border-radius: .8rem; padding: 0 .55rem;
           margin: 0 .25rem .25rem 0; font-size: .82rem; background: #f4f4f4; color: #1f1f1f;}
.evl-chip-type {border-color: #004c99; background: #e8f0fa;}
.evl-snippet {color: #2b2b2b; font-size: .92rem; border-left: 3px solid #b0b0b0; padding-left: .6rem;}
.evl-snippet mark {background: #ffe08a; color: #000; padding: 0 .1rem;}
</style>
"""


def card_css() -> None:
    st.html(CARD_CSS)


# The brief in the app: the exporter's own web page, its <main> shown in the page (so it is never
# cropped, and Streamlit's sanitiser runs over it too) with these styles in place of the page's.
BRIEF_CSS = """
<style>
.evl-brief {border: 1px solid #c8c8c8; border-radius: .4rem; padding: 1.2rem 1.4rem; background: #fff;
            color: #111; font-size: .95rem; line-height: 1.45;}
.evl-brief h1 {font-size: 1.45rem; line-height: 1.25; margin: 0 0 .3rem; padding: 0; color: #123;}
.evl-brief h2 {font-size: 1.05rem; margin: .9rem 0 .3rem; padding: 0; color: #123;}
.evl-brief p, .evl-brief li {margin: 0 0 .35rem;}
.evl-brief ul, .evl-brief ol {margin: 0; padding-left: 1.4em;}
.evl-brief .audience {font-style: italic;}
.evl-brief .ask {border-left: 4px solid #2a5d8f; padding: .3rem .8rem; background: #f1f5fa;}
.evl-brief .cites {font-weight: bold; white-space: nowrap;}
.evl-brief ol.numbered {list-style: none; padding-left: 0;}
.evl-brief ol.numbered li {padding-left: 2.2em; text-indent: -2.2em;}
.evl-brief .num {display: inline-block; min-width: 2.2em; text-indent: 0; font-weight: bold;}
.evl-brief .kind {font-style: italic;}
.evl-brief .references {font-size: .9rem;}
.evl-brief a {color: #1a4d80; overflow-wrap: anywhere;}
.evl-brief footer {margin-top: 1rem; border-top: 1px solid #999; padding-top: .4rem; font-size: .85rem;
                   color: #333;}
</style>
"""
_MAIN = re.compile(r"<main>(.*)</main>", re.DOTALL)


def show_brief(page: str) -> None:
    """Show the brief from the HTML export (`page`, every value escaped by the exporter) in full."""
    found = _MAIN.search(page)
    if found is None:  # an exporter that changed shape is a bug to see, not to hide
        raise AssertionError("the HTML export has no <main> element")
    st.html(BRIEF_CSS + f'<div class="evl-brief">{found.group(1)}</div>')


def hit_meta_html(hit: Hit, vocabulary: Vocabulary) -> str:
    """Authors, year, venue, chips, snippet and DOI as HTML; every value is escaped."""
    e = html.escape
    meta = " · ".join(x for x in (e(hit.authors), e(str(hit.year or "n.d.")), f"<i>{e(hit.venue)}</i>" if hit.venue else "") if x)
    chips = []
    if hit.evidence_type:
        chips.append(f'<span class="evl-chip evl-chip-type">{e(vocabulary.label(hit.evidence_type))}</span>')
    chips += [f'<span class="evl-chip">{e(vocabulary.label(t))}</span>' for t in hit.themes]
    parts = [f'<p class="evl-meta">{meta}</p>', "<div>" + "".join(chips) + "</div>"]
    if hit.key_finding:
        checked = "" if hit.finding_checked else " <small>(summary not yet checked against the full text)</small>"
        # finding_html is escaped by the library, with only <mark> added around matched words.
        parts.append(f"<p><b>Key finding:</b> {hit.finding_html or e(hit.key_finding)}{checked}</p>")
    if hit.snippet_html:
        # The snippet is already escaped by the library, with only <mark> added.
        parts.append(f'<p class="evl-snippet">…{hit.snippet_html}…</p>')
    if hit.doi_url:
        parts.append(f'<p><a href="{e(hit.doi_url, quote=True)}" target="_blank" rel="noopener">{e(hit.doi_url)}</a></p>')
    elif hit.url.startswith(("https://", "http://")):
        parts.append(f'<p><a href="{e(hit.url, quote=True)}" target="_blank" rel="noopener">{e(hit.url)}</a></p>')
    return "\n".join(parts)


def render_hit(hit: Hit, vocabulary: Vocabulary, *, search: Search | None = None, number: int | None = None) -> None:
    with st.container(border=True):
        prefix = f"{number}. " if number else ""
        st.markdown(f"#### {prefix}{escape_markdown(hit.title)}")
        st.markdown(hit_meta_html(hit, vocabulary), unsafe_allow_html=True)
        # A row that sizes each control to its label and wraps on a narrow screen: nothing is cut short.
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            pack_button(hit.key, note=hit.key_finding, search=search, add_key=f"add-{hit.key}",
                        remove_key=f"remove-{hit.key}")
            st.page_link("views/reference.py", label="Details and citation", icon=":material/article:",
                         query_params={"key": hit.key}, width="content")
            edit_link(hit.key)


def pack_button(key: str, *, note: str, search: Search | None, add_key: str, remove_key: str) -> None:
    """'Add to pack', or 'Remove from pack' once it is in; the page shows the pack's new count.
    `search`: the search it was found by, recorded with the pack (None: chosen one by one)."""
    if in_pack(key):
        if st.button("Remove from pack", key=remove_key, icon=":material/remove:"):
            with friendly_errors():
                remove_from_pack(key)
                st.session_state[REFOCUS] = add_key
                st.rerun()
    elif st.button("Add to pack", key=add_key, icon=":material/add:"):
        with friendly_errors():
            add_to_pack(key, note=note, search=search)
            st.session_state[REFOCUS] = remove_key
            st.rerun()
    if st.session_state.get(REFOCUS) in (add_key, remove_key):
        focus_button(st.session_state.pop(REFOCUS))


REFOCUS = "refocus_button"  # session state: the button that takes the keyboard focus after a rerun
_WIDGET_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


def focus_button(widget_key: str) -> None:
    """Give the keyboard focus back to the button that replaced the one just pressed ("Add to
    pack" becomes "Remove from pack"): the rerun redraws it, and focus fell back to the page, so a
    keyboard user had to tab through everything again."""
    if not _WIDGET_KEY.fullmatch(widget_key):
        return  # only keys the app made (citation keys) go into the script
    st.html(f"""<script>/* {widget_key} */
(() => {{
  let tries = 0;
  const focus = () => {{
    const button = document.querySelector('.st-key-' + CSS.escape({json.dumps(widget_key)}) + ' button');
    if (button) button.focus();
    else if (tries++ < 20) setTimeout(focus, 50);
  }};
  focus();
}})();
</script>""", unsafe_allow_javascript=True)


def edit_link(key: str) -> None:
    """For a signed-in librarian only: the reference's edit form on the librarian page."""
    if librarian() is not None:
        st.page_link("views/librarian.py", label="Edit", icon=":material/edit:", query_params={"edit": key},
                     width="content", help="Change this reference (librarians only)")


def pack_link() -> None:
    """'Your pack: 2 references', in the page itself (not only the sidebar, which a phone hides)."""
    said = take_notice()
    if said:
        st.info(said, icon=":material/info:")  # fixed text, never what a person typed
    count = pack_size()
    if count:
        st.page_link("views/pack.py", label=f"Your pack: {count} reference{'s' if count != 1 else ''}",
                     icon=":material/description:", width="content")


# ------------------------------------------------------------------ every page

# Streamlit fades captions (60% opacity over grey text), which fails WCAG's 4.5:1 contrast on white;
# these are a solid, darker grey instead (8.9:1 on white, 8:1 on the sidebar's grey).
PAGE_CSS = """
<style>
/* An element that only runs a script (this browser's pack cookie, back to the top) takes no room. */
[data-testid="stElementContainer"]:has(> [data-testid="stHtml"] > script:only-child) { display: none; }
[data-testid="stCaptionContainer"] { opacity: 1; color: #4a4a4a; }
[data-testid="stCaptionContainer"] p { color: #4a4a4a; }
/* Long values (a web address, a DOI) wrap inside a table cell instead of making it scroll sideways. */
[data-testid="stTable"] td [data-testid="stMarkdownContainer"],
[data-testid="stTable"] td p { overflow-wrap: anywhere !important; word-break: normal !important; }
/* A multiselect shows every choice made, on as many lines as it needs: Streamlit keeps them on one
   line and hides the rest, so a key message citing six references showed two. */
[data-testid="stMultiSelect"] div:has(> [data-testid="stMultiSelectTagsContainer"]) {
  max-height: none !important; height: auto !important; }
[data-testid="stMultiSelectTagsContainer"] {
  flex-wrap: wrap !important; overflow: visible !important; height: auto !important; }
/* No "Link to heading" beside each heading: every search result's title added a tab stop that a
   screen reader announced as "Link to heading"; the app's addresses already lead to each page. */
[data-testid="stHeaderActionElements"] { display: none !important; }
</style>
"""


def page_style() -> None:
    st.html(PAGE_CSS)


def scroll_to_top(reason: str) -> None:
    """After a new page of results: back to the top of the page, with the keyboard focus on the count
    of results, as after following a link.  `reason` changes each time, so the script runs again."""
    st.html(f"""<script>/* {html.escape(reason)} */
(() => {{
  const main = document.querySelector('[data-testid="stMain"]');
  if (main) main.scrollTo({{top: 0}});
  window.scrollTo({{top: 0}});
  const count = [...document.querySelectorAll('[data-testid="stMarkdownContainer"] p')]
    .find(p => /references? found/.test(p.textContent));
  if (count) {{ count.setAttribute('tabindex', '-1'); count.focus({{preventScroll: true}}); }}
}})();
</script>""", unsafe_allow_javascript=True)


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+-.!|<>~$:"})
# GitHub-flavoured Markdown (which Streamlit renders) also turns bare addresses into links, after
# escapes are undone: "https://…", "www.…" and "name@host.org".  An invisible word joiner (U+2060)
# after "https:", "www" and "@" stops that without changing what the reader sees.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?i:(?<=www))(?=\.)|(?<=@)")
WORD_JOINER = "\u2060"


def escape_markdown(text: str) -> str:
    """Text shown through st.markdown as itself: no links, HTML or formatting from the data."""
    return _AUTOLINK.sub(WORD_JOINER, text).translate(_MD_SPECIAL)


def code(text: str) -> str:
    """`text` as inline code for a Markdown-rendering call, shown exactly as it is spelt (a key, a
    slug).  Inside code Markdown undoes no escapes, so `escape_markdown` there would show its
    backslashes ('walk\\_2024'); instead the fence is one backtick longer than any run in the text."""
    text = " ".join(text.splitlines())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plain(text: str) -> str:
    """Text for a Markdown-rendering call (`st.error`, `st.info`, labels...) shown as itself,
    its line breaks kept: for messages that quote what someone typed, uploaded or put in a URL."""
    return "  \n".join(escape_markdown(line) for line in text.splitlines())
