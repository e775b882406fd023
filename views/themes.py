"""Themes: the vocabulary with counts, the evidence map (theme × evidence type) and years."""

from __future__ import annotations

import html

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

# A light-to-dark blue scale, readable with every common colour-vision difference, each shade with
# an ink that keeps WCAG's 4.5:1 contrast.  Never colour alone: every cell has its number.
SHADES = [("#deebf7", "#000000"), ("#c6dbef", "#000000"), ("#9ecae1", "#000000"), ("#6baed6", "#000000"),
          ("#2171b5", "#ffffff"), ("#08519c", "#ffffff")]
MAP_CSS = """
<style>
.evl-map-wrap {overflow-x: auto; max-width: 100%;}
.evl-map {border-collapse: collapse; width: 100%; font-size: .85rem;}
.evl-map th, .evl-map td {border: 1px solid #d0d0d0; padding: .25rem .3rem; vertical-align: middle;}
.evl-map thead th {font-weight: 600; font-size: .75rem; text-align: center; line-height: 1.15;
                   word-break: normal; overflow-wrap: normal; hyphens: manual;
                   background: #f4f4f4; color: #1f1f1f;}
.evl-map thead th.evl-theme-col {text-align: left; font-size: .85rem; min-width: 9rem;}
.evl-map tbody th {font-weight: 400; text-align: left; color: #1f1f1f; background: #ffffff; min-width: 9rem;}
.evl-map tbody th .evl-gap-word {font-style: italic; color: #4a4a4a;}
.evl-map td {text-align: center; font-variant-numeric: tabular-nums; min-width: 2rem;}
.evl-map td.evl-zero {color: #4a4a4a; font-style: italic; background: #ffffff;}
.evl-map td.evl-total, .evl-map th.evl-total {font-weight: 600;}
</style>
"""


def evidence_map_html(frame: "pd.DataFrame", labels: dict[str, tuple[str, int]], type_labels: dict[str, str]) -> str:
    """The evidence map as a real table (headers a screen reader announces for each cell), every label
    escaped; column headings wrap, so the map fits a laptop screen without scrolling sideways."""
    e = html.escape
    columns = [*type_labels, TOTAL]
    head = "".join(f'<th scope="col" class="{"evl-total" if c == TOTAL else ""}">'
                   f'{e(type_labels.get(c, "All types"))}</th>' for c in columns)
    rows = []
    for slug in frame.index:
        label, depth = labels[slug]
        total = int(frame.loc[slug, TOTAL])
        gap = ' <span class="evl-gap-word">(gap)</span>' if total == 0 else ""
        cells = []
        for column in columns:
            count = int(frame.loc[slug, column])
            extra = " evl-total" if column == TOTAL else ""
            if count == 0:
                cells.append(f'<td class="evl-zero{extra}">0</td>')
            else:
                background, ink = SHADES[min(len(SHADES) - 1, (count - 1) // 2)]
                cells.append(f'<td class="{extra.strip()}" style="background:{background};color:{ink}">{count}</td>')
        rows.append(f'<tr><th scope="row" style="padding-left:{0.3 + 1.1 * depth:.1f}rem">{e(label)}{gap}</th>'
                    + "".join(cells) + "</tr>")
    return (MAP_CSS + '<div class="evl-map-wrap" role="region" aria-label="Evidence map" tabindex="0">'
            '<table class="evl-map" lang="en"><caption class="sr-only" style="position:absolute;left:-9999px">'
            'References by theme (rows) and evidence type (columns)</caption>'
            f'<thead><tr><th scope="col" class="evl-theme-col">Theme</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


with ui.friendly_errors():
    frame = lib.coverage()
    labels = {t.slug: (t.label, d) for t, d in vocabulary.walk()}
    type_labels = {t.slug: t.label for t in vocabulary.evidence_types}

    map_tab, list_tab, years_tab = st.tabs(["Evidence map", "All themes", "Publications per year"])

    with map_tab:
        st.caption("Each number is how many references have that theme and kind of evidence; 0 marks a gap. "
                   "To see the references behind a number, choose its theme and evidence type under "
                   "“Open a cell”, below the map.")
        st.html(evidence_map_html(frame, labels, type_labels))

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
