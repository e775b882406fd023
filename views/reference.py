"""One reference in full: every field, its citation in APA 7 and Harvard, and the BibTeX to copy."""

from __future__ import annotations

import streamlit as st

from library.bibtex import format_entry
from library.citations import STYLES, format_reference
from library.errors import ReferenceNotFound
from library.records import names_line
from views import ui

lib = ui.library()
vocabulary = lib.vocabulary
key = st.query_params.get("key", "")

with st.container(horizontal=True, gap="small", vertical_alignment="center"):
    st.page_link("views/search.py", label="Back to search", icon=":material/arrow_back:")
    ui.pack_link()
with ui.friendly_errors():
    if not key:
        st.info("Choose a reference from the search results to see it in full.")
        st.stop()
    try:
        record = lib.get(key)
    except ReferenceNotFound as error:
        st.warning(ui.plain(str(error)))  # it quotes the key from the address
        st.stop()
    # The browser tab and its history name the work, not just "Reference".
    st.set_page_config(page_title=f"{(record.title or record.key)[:80]} · Trauma-informed evidence library")
    st.title(ui.escape_markdown(record.title) or record.key)
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        ui.pack_button(record.key, note=record.key_finding, search=None,  # chosen one by one
                       add_key="detail-add", remove_key="detail-remove")
        ui.edit_link(record.key)
    rows = [
        ("Authors", names_line(record.authors)),
        ("Editors", names_line(record.editors)),
        ("Year", str(record.year or "")),
        ("Published in", record.venue),
        ("Evidence type", vocabulary.label(record.evidence_type) if record.evidence_type else ""),
        ("Themes", ", ".join(vocabulary.label(t) for t in record.themes)),
        ("Setting", ", ".join(vocabulary.label(s) for s in record.settings)),
        ("Country", ", ".join(record.countries)),
        ("DOI", record.doi_url),
        ("Web page", record.url),
        ("Where the details came from", record.provenance),
        ("Added", " by ".join(x for x in (record.added, record.added_by) if x)),
        ("Citation key", record.key),
    ]
    st.subheader("Key finding")
    st.markdown(ui.escape_markdown(record.key_finding) or "_No key finding written yet._")
    if not record.finding_checked:
        st.caption("This plain-language summary has not yet been checked against the full text.")
    if record.abstract:
        with st.expander("Publisher's abstract"):
            st.caption("The abstract as published with the work, not the library's own summary: the key finding "
                       "above is written in plain language by the library.")
            st.markdown(ui.escape_markdown(record.abstract))
    st.subheader("Details")
    # st.table renders Markdown in its cells: every value is escaped to show as written.
    st.table({"Field": [r[0] for r in rows if r[1]], "Value": [ui.escape_markdown(r[1]) for r in rows if r[1]]})
    st.subheader("Cite it")
    for name, style in STYLES.items():
        citation = format_reference(record, name)
        st.markdown(f"**{style.label}**")
        # st.html, not st.markdown: Markdown would turn the DOI inside the link into a second link,
        # leaving the first one empty (no name for a screen reader).  Escaped by the citations module.
        st.html(f'<p class="evl-citation">{citation.html}</p>')
        st.code(citation.text, language=None, wrap_lines=True)
    st.subheader("BibTeX")
    assert record.entry is not None
    st.code(format_entry(record.entry), language="bibtex", wrap_lines=True)
