"""Themes: the vocabulary with counts, the evidence map (theme × evidence type) and years."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from library.coverage import TOTAL
from views import ui

lib = ui.library()
vocabulary = lib.vocabulary

st.title("Themes and evidence map")
st.markdown("How the library's references spread across themes and kinds of evidence. "
            "A broad theme counts the references of the narrower themes under it. "
            "**Gaps** are themes with no references yet.")

with ui.friendly_errors():
    frame = lib.coverage()
    labels = {t.slug: ("\u2003" * d) + t.label for t, d in vocabulary.walk()}
    type_labels = {t.slug: t.label for t in vocabulary.evidence_types}

    map_tab, list_tab, years_tab = st.tabs(["Evidence map", "All themes", "Publications per year"])

    with map_tab:
        shown = frame.rename(index=labels, columns={**type_labels, TOTAL: "All types"})
        # Numbers in every cell, and the word "gap" where there is nothing: never colour alone.
        text = shown.apply(lambda column: column.map(lambda n: f"{n}" if n else "0 · gap"))

        def shade(value: str) -> str:
            count = int(value.split(" ")[0])
            if count == 0:
                return "background-color: #ffffff; color: #6b6b6b; font-style: italic"
            # A light-to-dark blue scale, readable with every common colour-vision difference.
            steps = ["#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"]
            colour = steps[min(len(steps) - 1, (count - 1) // 2)]
            ink = "#ffffff" if colour in ("#3182bd", "#08519c") else "#000000"
            return f"background-color: {colour}; color: {ink}"

        st.caption("Choose a cell to open its references in search (or use the menus below the table).")
        event = st.dataframe(text.style.map(shade), width="stretch", height=min(38 * (len(text) + 1), 900),
                             on_select="rerun", selection_mode="single-cell", key="evidence-map")
        cells = getattr(getattr(event, "selection", None), "cells", None) or []
        if cells:
            row, column = cells[0]
            theme_slug = frame.index[row]
            type_slug = [*type_labels, TOTAL][list(shown.columns).index(column)] if column in shown.columns else TOTAL
            params = {"theme": theme_slug}
            if type_slug != TOTAL:
                params["type"] = type_slug
            st.switch_page("views/search.py", query_params=params)

        st.subheader("Open a cell")
        theme_col, type_col, go_col = st.columns([3, 3, 1], vertical_alignment="bottom")
        theme_choice = theme_col.selectbox("Theme", list(frame.index), format_func=lambda s: vocabulary.label(s),
                                           key="map-theme")
        type_choice = type_col.selectbox("Evidence type", [TOTAL, *type_labels],
                                         format_func=lambda s: "All types" if s == TOTAL else type_labels[s],
                                         key="map-type")
        count = int(frame.loc[theme_choice, type_choice])
        if go_col.button(f"Show {count}", key="map-open", disabled=count == 0, type="primary"):
            params = {"theme": theme_choice}
            if type_choice != TOTAL:
                params["type"] = type_choice
            st.switch_page("views/search.py", query_params=params)

    with list_tab:
        for theme, depth in vocabulary.walk():
            total = int(frame.loc[theme.slug, TOTAL])
            indent = "\u2003" * depth
            left, right = st.columns([5, 1], vertical_alignment="center")
            heading = f"{indent}**{ui.escape_markdown(theme.label)}**"
            status = f"{total} reference{'s' if total != 1 else ''}" if total else "gap: no references yet"
            left.markdown(f"{heading} — {status}  \n{indent}{ui.escape_markdown(theme.description)}")
            if total:
                right.page_link("views/search.py", label="Show", query_params={"theme": theme.slug},
                                icon=":material/search:")

    with years_tab:
        years = lib.overview().years
        if years:
            chart = pd.DataFrame({"Year": [str(y) for y in years], "References": list(years.values())})
            st.bar_chart(chart, x="Year", y="References", color="#08519c")
            st.caption(f"{sum(years.values())} references with a year, from {min(years)} to {max(years)}.")
        else:
            st.info("No references have a year yet.")
