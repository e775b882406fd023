"""What every page of the app shares: the library resource, the pack in progress, result cards.

Pages stay thin: they read widgets, call `library`, and render with these helpers.
"""

from __future__ import annotations

import html
import secrets
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from library import Hit, Library, LibraryError, SearchRequest, Settings
from library.auth import DatabaseAttemptStore, Signer, Throttle, is_configured, signer_name
from library.packs import Pack
from library.taxonomy import Vocabulary

PACK_STATE = "pack_draft"
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
        st.error(str(error), icon=":material/error:")


# ------------------------------------------------------------------ who is signed in
# The one place that says who is signed in and whether they are a librarian: the password
# sign-in below (a name and the shared librarian password), or an organisation account on the
# allow-list in `.streamlit/secrets.toml` (`librarian_emails`, with an `[auth]` section).

LIBRARIAN = "librarian"  # session state: the name a librarian signed in with the password
SIGN_IN_SESSION = "sign_in_session"  # session state: this browser session's id for the throttle


def _secrets() -> dict:
    try:
        return dict(st.secrets)
    except FileNotFoundError:  # no secrets file at all is the normal, unconfigured case
        return {}


def password_hash(lib: Library) -> str:
    return lib.settings.librarian_password_hash or str(_secrets().get("librarian_password_hash", "") or "")


def password_sign_in_configured(lib: Library) -> bool:
    return is_configured(password_hash(lib))


def organisation_librarians() -> set[str]:
    """The e-mail addresses allowed to edit through the organisation's sign-in (OIDC), if set up."""
    found = _secrets()
    if "auth" not in found:
        return set()
    return {str(e).lower() for e in found.get("librarian_emails", [])}


def librarian_name() -> str | None:
    """Who is signed in as a librarian (the name for the change log), or None for a reader."""
    name = st.session_state.get(LIBRARIAN)
    if name:
        return str(name)
    allowed = organisation_librarians()
    if allowed and getattr(st.user, "is_logged_in", False):
        email = str(st.user.get("email", "")).lower()
        if email in allowed:
            return email
    return None


def signer(name: str) -> Signer:
    """This browser session, its address and the name typed, for the sign-in throttle."""
    session = st.session_state.setdefault(SIGN_IN_SESSION, secrets.token_urlsafe(16))
    address = st.context.ip_address or ""  # None when the browser is on this machine
    return Signer(session=session, address=address, name=name)


def sign_in_with_password(lib: Library, name: str, password: str) -> str:
    """Sign in as `name`, or raise `AccessDenied` / `InvalidValue` with a plain reason."""
    who = signer_name(name)
    Throttle(DatabaseAttemptStore(lib.database)).sign_in(password, password_hash(lib), signer(who))
    st.session_state[LIBRARIAN] = who
    return who


def sign_out() -> None:
    st.session_state.pop(LIBRARIAN, None)


# ------------------------------------------------------------------ the pack in progress


def pack_draft() -> dict:
    """The advocate's pack being built in this browser session."""
    if PACK_STATE not in st.session_state:
        st.session_state[PACK_STATE] = {"keys": [], "notes": {}, "searches": [], "concern": ""}
    return st.session_state[PACK_STATE]


def in_pack(key: str) -> bool:
    return key in pack_draft()["keys"]


def add_to_pack(key: str, *, note: str = "", how: str = "") -> None:
    draft = pack_draft()
    if key not in draft["keys"]:
        draft["keys"].append(key)
        if note:
            draft["notes"][key] = note
    if how and how not in draft["searches"]:
        draft["searches"].append(how)


def remove_from_pack(key: str) -> None:
    draft = pack_draft()
    if key in draft["keys"]:
        draft["keys"].remove(key)
    draft["notes"].pop(key, None)


def load_into_draft(pack: Pack, pack_id: str | None = None) -> None:
    """Put a saved or uploaded pack into the builder's widgets."""
    keys = list(pack.keys)
    st.session_state[PACK_STATE] = {
        "keys": keys, "notes": {r.key: r.note for r in pack.references},
        "searches": [*pack.selection.searches, *pack.selection.filters,
                     *([pack.selection.note] if pack.selection.note else [])],
        "concern": pack.concern, "pack_id": pack_id, "snapshots": {r.key: r for r in pack.references},
        "messages": [{"text": m.text, "cites": [keys[n - 1] for n in m.cites if 0 < n <= len(keys)]}
                     for m in pack.key_messages],
    }
    for name, value in (("pack_title", pack.title), ("pack_ask", pack.ask), ("pack_audience", pack.audience),
                        ("pack_by", pack.prepared_by)):
        st.session_state[name] = value
    for key in keys:
        st.session_state.pop(f"note-{key}", None)
    for index in range(10):
        st.session_state.pop(f"message-{index}", None)
        st.session_state.pop(f"cites-{index}", None)


def describe_request(request: SearchRequest, vocabulary: Vocabulary) -> str:
    """How a search reads in a pack's footer: 'a search for “burnout”, evidence type: ...'."""
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


def render_hit(hit: Hit, vocabulary: Vocabulary, *, how: str = "", number: int | None = None) -> None:
    with st.container(border=True):
        prefix = f"{number}. " if number else ""
        st.markdown(f"#### {prefix}{escape_markdown(hit.title)}")
        st.markdown(hit_meta_html(hit, vocabulary), unsafe_allow_html=True)
        # A row that sizes each control to its label and wraps on a narrow screen: nothing is cut short.
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            pack_button(hit.key, note=hit.key_finding, how=how, key_prefix="")
            st.page_link("views/reference.py", label="Details and citation", icon=":material/article:",
                         query_params={"key": hit.key}, width="content")
            edit_link(hit.key)


def pack_button(key: str, *, note: str, how: str, key_prefix: str) -> None:
    """'Add to pack', or 'Remove from pack' once it is in; the page shows the pack's new count."""
    if in_pack(key):
        if st.button("Remove from pack", key=f"{key_prefix}remove-{key}", icon=":material/remove:"):
            remove_from_pack(key)
            st.rerun()
    elif st.button("Add to pack", key=f"{key_prefix}add-{key}", icon=":material/add:"):
        add_to_pack(key, note=note, how=how)
        st.rerun()


def edit_link(key: str) -> None:
    """For a signed-in librarian only: the reference's edit form on the librarian page."""
    if librarian_name() is not None:
        st.page_link("views/librarian.py", label="Edit", icon=":material/edit:", query_params={"edit": key},
                     width="content", help="Change this reference (librarians only)")


def pack_link() -> None:
    """'Your pack: 2 references', in the page itself (not only the sidebar, which a phone hides)."""
    count = len(pack_draft()["keys"])
    if count:
        st.page_link("views/pack.py", label=f"Your pack: {count} reference{'s' if count != 1 else ''}",
                     icon=":material/description:", width="content")


# ------------------------------------------------------------------ every page

# Streamlit fades captions (60% opacity over grey text), which fails WCAG's 4.5:1 contrast on white;
# these are a solid, darker grey instead (8.9:1 on white, 8:1 on the sidebar's grey).
PAGE_CSS = """
<style>
[data-testid="stCaptionContainer"] { opacity: 1; color: #4a4a4a; }
[data-testid="stCaptionContainer"] p { color: #4a4a4a; }
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


def escape_markdown(text: str) -> str:
    """Text shown through st.markdown as itself: no links, HTML or formatting from the data."""
    return text.translate(_MD_SPECIAL)
