"""The Streamlit app: a router over thin pages; all the work happens in `library/`.

Start it with `bash scripts/start-app.sh` (or `streamlit run app.py`).

Every page has its own address, which works as the first page opened after a restart:
`/search?q=…`, `/themes`, `/concerns`, `/reference?key=…`, `/pack`, `/librarian`.  The app's
root address and any address the app does not know open search, keeping the query, without
Streamlit's "Page not found" dialog.
"""

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from views import ui

APP_TITLE = "Trauma-informed evidence library"

SEARCH = st.Page("views/search.py", title="Search", icon=":material/search:", url_path="search")
PAGES = {
    "Find evidence": [
        SEARCH,
        st.Page("views/themes.py", title="Themes and evidence map", icon=":material/grid_view:", url_path="themes"),
        st.Page("views/concerns.py", title="Answer a concern", icon=":material/forum:", url_path="concerns"),
        st.Page("views/reference.py", title="Reference", icon=":material/article:", url_path="reference",
                visibility="hidden"),
    ],
    "Brief your manager": [
        st.Page("views/pack.py", title="Evidence pack", icon=":material/description:", url_path="pack"),
    ],
    "Librarian": [
        st.Page("views/librarian.py", title="Add and edit references", icon=":material/edit_note:",
                url_path="librarian"),
    ],
}


def open_search() -> None:
    """The root address, and any unknown one: search, with whatever query the address held."""
    st.switch_page(SEARCH, query_params={name: st.query_params.get_all(name) for name in st.query_params})


def requested_path() -> str:
    """The page name the browser asked for on this run ('' for the root or a rerun of a known page).

    Streamlit answers a name no page has with its "Page not found" dialog before any page runs, so
    the router has to know the name first; only the script-run context holds it."""
    context = get_script_run_ctx()
    return (context.pages_manager.intended_page_name or "") if context is not None else ""


def routes() -> dict[str, list[st.Page]]:
    known = {page.url_path for section in PAGES.values() for page in section}
    hidden = [st.Page(open_search, title="Search", url_path="start", default=True, visibility="hidden")]
    unknown = requested_path().strip("/")
    if unknown and unknown not in known and unknown != "start" and "/" not in unknown and len(unknown) <= 200:
        hidden.append(st.Page(open_search, title="Search", url_path=unknown, visibility="hidden"))
    return {**PAGES, "": hidden}


page = st.navigation(routes())
st.set_page_config(page_title=f"{page.title} · {APP_TITLE}", page_icon=":material/local_library:", layout="wide")
ui.page_style()
ui.account_panel()  # who is signed in with the organisation's account, when that sign-in is set up
if page.url_path in {p.url_path for section in PAGES.values() for p in section}:  # not the redirects
    ui.keep_browser_packs()  # the pack in progress survives a reload or a new tab (its cookie)
page.run()
