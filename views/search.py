"""Search: one box, filters with counts under it, result cards, pages, state in the URL."""

from __future__ import annotations

import streamlit as st

from library import SearchRequest, drafts
from library.search import SORTS
from library.urlstate import params_from_request, request_from_params, unknown_in_params
from views import ui

SORT_LABELS = {"relevance": "Best match", "newest": "Newest first", "oldest": "Oldest first"}
SYNTAX_HELP = """
- Words: `trauma training` finds references with **both** words.
- A phrase: `"medical model"`. Either word: `restraint OR seclusion`. Leave out: `burnout NOT nurses`.
- A field: `title:leadership`, `author:bellis`, `theme:aces`, `type:systematic-review`.
- Years: `year:[2015 TO 2020]` or `year:>2018`.
- The start of a word: `trainin*`. Spelling-tolerant: `traning~`.
- UK and US spellings find each other (organisation, organization), and so do forms of a word
  (reduce, reduction) and words written joined, apart or hyphenated (burnout, burn out, burn-out).
- Theme, setting and evidence type names are searched too: `staff wellbeing`, `inpatient wards` and
  `grey literature` find the references tagged with them.
- `PTSD` finds post-traumatic stress, `TIC` (in capitals) trauma-informed care, and `US` (in capitals)
  the United States.
- When no reference has all your words, those with most of them are shown, and the page says so.
"""

lib = ui.library()
vocabulary = lib.vocabulary
ui.card_css()

# The widgets take their values from the address when it holds a search other than the one this page
# last showed (a shared link, a cell of the evidence map, a theme, a concern's "see all"); otherwise,
# after a visit to another page, from that last search, because Streamlit forgets a page's widget
# values while another page is open and "Back to search" would start empty.
url_params = {k: st.query_params.get_all(k) for k in st.query_params}
last_params = st.session_state.get("search_url", {})
from_url = bool(url_params) and (request_from_params(url_params, vocabulary)
                                 != request_from_params(last_params, vocabulary))
# A link naming a theme, evidence type or setting the library does not have: said, not searched
# without it as if nothing were wrong (the filters themselves are chosen from lists).
unknown_filters = unknown_in_params(url_params, vocabulary) if url_params and url_params != last_params else ()
if from_url or "q" not in st.session_state:
    start = request_from_params(url_params if from_url else last_params, vocabulary)
    if from_url:
        st.session_state.pop("search_signature", None)  # keep the link's page number
    st.session_state.update({
        "q": start.text, "themes": list(start.themes), "theme_mode": start.theme_mode,
        "types": list(start.evidence_types), "settings": list(start.settings),
        "sort": start.sort, "page": start.page,
        "years": (start.year_from, start.year_to),
    })

st.title("Search the evidence")
with st.form("search-form", border=False, enter_to_submit=True):
    text_col, button_col = st.columns([6, 1], vertical_alignment="bottom")
    text_col.text_input("Search words", key="q", placeholder='e.g. burnout, "medical model", restraint',
                    help="Search titles, authors, key findings and abstracts.")
    button_col.form_submit_button("Search", type="primary", width="stretch")
with st.container(horizontal=True, gap="small", vertical_alignment="center"):
    ui.pack_link()
filters_box = st.expander("Filter and sort", icon=":material/filter_list:")
with st.expander("How to search", icon=":material/help:"):
    st.markdown(SYNTAX_HELP)

def current_request(page: int | None = None) -> SearchRequest:
    years = st.session_state.get("years") or (None, None)
    return SearchRequest(
        text=st.session_state.get("q", ""), themes=tuple(st.session_state.get("themes", ())),
        theme_mode=st.session_state.get("theme_mode", "any"),
        evidence_types=tuple(st.session_state.get("types", ())), settings=tuple(st.session_state.get("settings", ())),
        year_from=years[0], year_to=years[1], sort=st.session_state.get("sort", "relevance"),
        page=page or st.session_state.get("page", 1)).normalised()


def clear_filters() -> None:
    for name, value in (("themes", []), ("types", []), ("settings", []), ("years", (None, None)),
                        ("theme_mode", "any"), ("page", 1)):
        st.session_state[name] = value


def use_suggestion(text: str) -> None:
    st.session_state["q"] = text
    st.session_state["page"] = 1


with ui.friendly_errors():
    # Values from the address or an earlier visit are checked against the vocabulary and the years held.
    theme_options = [t.slug for t, _ in vocabulary.walk()]
    depth = {t.slug: d for t, d in vocabulary.walk()}
    st.session_state["themes"] = [t for t in st.session_state.get("themes", []) if t in theme_options]
    all_years = sorted(lib.overview().years)
    if len(all_years) >= 2:
        chosen = st.session_state.get("years") or (None, None)
        st.session_state["years"] = (max(all_years[0], chosen[0] or all_years[0]),
                                     min(all_years[-1], chosen[1] or all_years[-1]))

    # A new search or filter starts again at page 1.
    signature = (st.session_state.get("q"), tuple(st.session_state.get("themes", ())),
                 st.session_state.get("theme_mode"), tuple(st.session_state.get("types", ())),
                 tuple(st.session_state.get("settings", ())), tuple(st.session_state.get("years") or ()),
                 st.session_state.get("sort"))
    if st.session_state.get("search_signature") not in (None, signature):
        st.session_state["page"] = 1
    st.session_state["search_signature"] = signature
    request = current_request()
    # An end of the year range left at the library's first or latest year is no filter: keep
    # it out of the URL and the footer ("from 2015", not "2015 to 2024").
    request = drafts.open_years(request, all_years)
    result = lib.search(request)
    if request.page > result.pages:
        request = SearchRequest(**{**request.__dict__, "page": result.pages})
        st.session_state["page"] = result.pages
        result = lib.search(request)
    # Each option's count is what choosing it finds: the library counts every facet with the
    # other filters applied but not its own.
    facets = result.facets
    filtered = request.themes or request.evidence_types or request.settings or request.year_from or request.year_to

    # The filters sit on the page, under the search box, where a phone shows them too (Streamlit's
    # sidebar is folded away on a small screen); the expander keeps them out of the way until wanted.
    with filters_box:
        st.multiselect(
            "Themes", theme_options, key="themes",
            format_func=lambda s: f"{'· ' * depth[s]}{vocabulary.label(s)} ({facets.themes.get(s, 0)})",
            help="A broad theme includes the narrower themes under it.")
        st.radio("Match", ("any", "all"), key="theme_mode", horizontal=True,
                 format_func=lambda m: "any chosen theme" if m == "any" else "all chosen themes")
        type_col, setting_col = st.columns(2)
        type_options = [t.slug for t in vocabulary.evidence_types]
        type_col.multiselect("Evidence type", type_options, key="types",
                             format_func=lambda s: f"{vocabulary.label(s)} ({facets.evidence_types.get(s, 0)})")
        setting_options = [s.slug for s in vocabulary.settings]
        setting_col.multiselect("Setting", setting_options, key="settings",
                                format_func=lambda s: f"{vocabulary.label(s)} ({facets.settings.get(s, 0)})")
        years_col, sort_col = st.columns(2)
        if len(all_years) >= 2:
            years_col.slider("Years", min_value=all_years[0], max_value=all_years[-1], key="years")
        sort_col.selectbox("Sort by", SORTS, key="sort", format_func=SORT_LABELS.get)
        st.button("Clear filters", icon=":material/filter_alt_off:", on_click=clear_filters)

    st.session_state["search_url"] = params_from_request(request)
    st.query_params.from_dict(st.session_state["search_url"])

    # Notices and suggestions quote the words typed: shown as text, never as Markdown.
    for unknown in unknown_filters:
        st.warning(ui.plain(f"This link asks for a filter the library does not have. {unknown.message()} "
                            "The search below is without it: choose from the lists under “Filter and sort”."),
                   icon=":material/filter_alt_off:")
    if result.notice:
        st.info(ui.plain(result.notice), icon=":material/info:")
    if result.suggestion:
        st.button(f"Search for “{ui.escape_markdown(result.suggestion)}” instead", key="suggestion",
                  on_click=use_suggestion, args=(result.suggestion,))
    if result.total == 0:
        st.warning("No references match this search.", icon=":material/search_off:")
        st.markdown("Try fewer words, a broader theme, or remove a filter.")
    else:
        first = (request.page - 1) * request.per_page
        if filtered:
            only_filters = SearchRequest(**{**request.__dict__, "text": ""})
            st.caption(f"Filters on: {ui.escape_markdown(ui.describe_request(only_filters, vocabulary))}. "
                       "Change or clear them under “Filter and sort”.")
        st.markdown(f"**{result.total:,}** reference{'s' if result.total != 1 else ''} found"
                    + (f" · showing {first + 1}–{first + len(result.hits)}" if result.pages > 1 else ""))
        found_by = drafts.search_of(request, vocabulary)
        for number, hit in enumerate(result.hits, first + 1):
            ui.render_hit(hit, vocabulary, search=found_by, number=number)
        if result.pages > 1:
            with st.container(horizontal=True, gap="medium", vertical_alignment="center"):
                if st.button("Previous page", disabled=request.page <= 1, key="prev", icon=":material/arrow_back:"):
                    st.session_state["page"] = request.page - 1
                    st.session_state["scroll_to_top"] = True
                    st.rerun()
                st.markdown(f"Page {request.page} of {result.pages}", width="content")
                if st.button("Next page", disabled=request.page >= result.pages, key="next",
                             icon=":material/arrow_forward:"):
                    st.session_state["page"] = request.page + 1
                    st.session_state["scroll_to_top"] = True
                    st.rerun()
        if st.session_state.pop("scroll_to_top", False):
            ui.scroll_to_top(f"page {request.page}")
