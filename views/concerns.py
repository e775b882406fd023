"""Answer a concern: the barriers advocates meet, each with the references that address it."""

from __future__ import annotations

import streamlit as st

from library import LibraryError, SearchRequest, SearchResult
from library.urlstate import params_from_request
from views import ui

lib = ui.library()
vocabulary = lib.vocabulary

st.title("Answer a concern")
st.markdown("Advocates often meet the same objections. Choose one to see what the library holds on it, "
            "then start an evidence pack from those references in one click.")


def start_pack(concern_slug: str) -> None:
    # A new pack of its own: the pack in progress, if any, stays saved under "My packs".
    try:
        ui.start_pack(lib.concern_pack(concern_slug))
    except LibraryError as error:
        st.session_state["concern_error"] = str(error)
    else:
        st.session_state["pack_from_concern"] = True


def compact_list(request: SearchRequest, result: SearchResult, limit: int = 8) -> list[str]:
    for hit in result.hits[:limit]:
        with st.container(border=True):
            st.markdown(f"**{ui.escape_markdown(hit.title)}** ({hit.year or 'n.d.'}) · "
                        f"{ui.escape_markdown(vocabulary.label(hit.evidence_type)) if hit.evidence_type else ''}")
            st.markdown(ui.escape_markdown(hit.key_finding))
            st.page_link("views/reference.py", label="Details", query_params={"key": hit.key},
                         icon=":material/article:")
    if result.total > limit:
        st.page_link("views/search.py", label=f"See all {result.total} in search",
                     query_params=params_from_request(request), icon=":material/search:")
    return [h.key for h in result.hits[:limit]]


if "concern_error" in st.session_state:
    st.error(ui.plain(st.session_state.pop("concern_error")), icon=":material/error:")

with ui.friendly_errors():
    concerns_tab, advice_tab = st.tabs(["Common concerns", "The study's eight pieces of advice"])
    with concerns_tab:
        if not vocabulary.concerns:
            st.info("The vocabulary lists no concerns yet; a librarian can add them to themes.toml.")
        for concern in vocabulary.concerns:
            request = SearchRequest(themes=concern.themes, per_page=20)
            result = lib.search(request)
            total = result.total
            with st.expander(f"“{ui.escape_markdown(concern.label)}” — {total} reference{'s' if total != 1 else ''}"):
                st.markdown(ui.escape_markdown(concern.response))
                st.caption("Themes: " + ui.escape_markdown(", ".join(vocabulary.label(t) for t in concern.themes)))
                keys = compact_list(request, result, limit=6)
                if keys:
                    st.button(f"Start a pack from these {len(keys)}", key=f"concern-{concern.slug}",
                              type="primary", icon=":material/description:", on_click=start_pack,
                              args=(concern.slug,))
                else:
                    st.info("No references address this yet: a gap for the librarian.")
    with advice_tab:
        st.markdown("**The study's eight pieces of advice (our one-line summaries)**")
        st.markdown("The founding study (Clark, 2021) gave eight pieces of advice to staff pushing for "
                    "trauma-informed change. Each heading is one of them; the line under it is our own "
                    "one-line summary, not the study's words, followed by the references tagged with it.")
        for number, theme in enumerate(vocabulary.children("advice"), 1):
            request = SearchRequest(themes=(theme.slug,), per_page=20)
            total = lib.overview().themes.get(theme.slug, 0)
            st.subheader(f"{number}. {ui.escape_markdown(theme.label)}")
            st.caption("Our summary: " + ui.escape_markdown(theme.description))
            if total:
                compact_list(request, lib.search(request), limit=4)
            else:
                st.caption("No references are tagged with this piece of advice yet (a gap); "
                           "the founding study itself is the source of the advice.")

if st.session_state.pop("pack_from_concern", False):
    st.switch_page("views/pack.py")
