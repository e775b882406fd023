"""The Streamlit app: a router over thin pages; all the work happens in `library/`.

Start it with `bash scripts/start-app.sh` (or `streamlit run app.py`).
"""

import streamlit as st

from views import ui

st.set_page_config(page_title="Trauma-informed evidence library", page_icon=":material/local_library:",
                   layout="wide")

navigation = st.navigation({
    "Find evidence": [
        st.Page("views/search.py", title="Search", icon=":material/search:", url_path="search", default=True),
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
})
ui.account_panel()  # who is signed in with the organisation's account, when that sign-in is set up
navigation.run()
