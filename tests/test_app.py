"""The app through Streamlit's AppTest: every page opens, and the journeys from the issues work.

Each test runs the real `app.py` router on its own copy of the shipped collection in tmp_path
(the conftest points every LIBRARY_* path there), so nothing writes the checkout.  Where the app
shows what the library found, the expected answer comes from a `Library` opened on the same
folders, plus a few literal anchors from the seed collection so the comparison is never circular.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from library import Library, SearchRequest, Settings
from library.auth import hash_password
from library.bibtex import format_entry
from library.citations import format_reference

from .conftest import REPO

APP = REPO / "app.py"
TIMEOUT = 60  # seconds per script run: the first run builds the index
PASSWORD = "a long test password"
LIBRARIAN_NAME = "Jo Librarian"  # the name a test librarian signs in as
SEARCH_BUTTON = "FormSubmitter:search-form-Search"
SIGN_IN_BUTTON = "FormSubmitter:sign-in-Sign in"
COUNT = re.compile(r"^\*\*([\d,]+)\*\* references? found")

XSS_KEY = "xss2020script"
XSS_BIB = """@article{xss2020script,
  author = {Doe, Jane},
  title = {<script>alert(1)</script> Burnout among ward staff},
  journal = {Journal of <b>Tests</b>},
  year = {2020},
  themes = {burnout},
  evidence-type = {quantitative},
  key-finding = {A finding with <img src=x onerror=alert(2)> in it.},
  finding-checked = {no}
}
"""

GOOD_AND_BROKEN_BIB = """@article{smith2021supervision,
  author = {Smith, Jane and Jones, Amir},
  title = {Trauma-informed supervision for ward nurses: a zebrafinch pilot},
  journal = {Journal of Psychiatric Nursing},
  year = {2021}
}

@article{broken2020,
  author = {Nobody, A.}
  title = {A comma is missing on the line above},
  year = {2020}
}
"""


# ------------------------------------------------------------------ fixtures and helpers


@pytest.fixture(autouse=True)
def collection(tmp_path: Path) -> Path:
    """This test's own copy of the shipped collection, where LIBRARY_REFERENCES_DIR points."""
    target = tmp_path / "references"
    shutil.copytree(REPO / "references", target, ignore=shutil.ignore_patterns(".library.lock", ".tmp-*"))
    return target


@pytest.fixture(autouse=True)
def _fresh_resources() -> Iterator[None]:
    # st.cache_resource lives as long as the process: without this the Library opened on one
    # test's folders, and the librarian sign-in throttle, would serve the next test.
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def library() -> Iterator[Library]:
    """The library on this test's folders, to say what the app should show."""
    lib = Library(Settings.from_env())
    yield lib
    lib.close()


def open_app(**query: str | list[str]) -> AppTest:
    """The app after its first run (the default page, search), with `query` in the address."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    # With any secret set, AppTest replaces st.secrets for each run, so a developer's own
    # ~/.streamlit/secrets.toml cannot switch librarian sign-in on or off behind a test's back.
    at.secrets["isolated"] = "yes"
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def goto(at: AppTest, page: str, **query: str) -> AppTest:
    """Open another page, as a link does: the address holds only `query`."""
    at.query_params = dict(query)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def follow(at: AppTest, page: str) -> AppTest:
    """Keep later runs on `page`, where the app's own st.switch_page went.

    A browser's address follows the app; AppTest reruns the page last given to its own
    `switch_page` until told otherwise.
    """
    at.switch_page(page)
    return at


def search(at: AppTest, text: str) -> AppTest:
    at.text_input(key="q").input(text)
    at.button(key=SEARCH_BUTTON).click().run()
    assert not at.exception, at.exception
    return at


def result_count(at: AppTest) -> int | None:
    for element in at.markdown:
        match = COUNT.match(element.value)
        if match:
            return int(match.group(1).replace(",", ""))
    return None


def shown_keys(at: AppTest) -> list[str]:
    """The keys of the result cards on the page, in order (each card has an add or remove button)."""
    return [b.key.split("-", 1)[1] for b in at.button
            if b.key and b.key.startswith(("add-", "remove-")) and b.key != "add-message"]


def texts(at: AppTest, kind: str) -> list[str]:
    return [str(element.value) for element in at.get(kind)]


def enter_credentials(at: AppTest, password: str = PASSWORD, name: str = LIBRARIAN_NAME) -> AppTest:
    """Fill in the sign-in form on the librarian page and submit it."""
    at.text_input(key="signin_name").input(name)
    at.text_input(key="password").input(password)
    at.button(key=SIGN_IN_BUTTON).click().run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, password: str = PASSWORD, **query: str) -> AppTest:
    goto(at, "views/librarian.py", **query)
    return enter_credentials(at, password)


def librarian_session(**query: str) -> AppTest:
    """A new session signed in as a librarian on the librarian page, with `query` in the address."""
    at = sign_in(open_app())
    if query:
        goto(at, "views/librarian.py", **query)
    return at


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ------------------------------------------------------------------ every page opens

PAGES = [
    pytest.param("views/search.py", {}, "title", "Search the evidence", id="search"),
    pytest.param("views/themes.py", {}, "title", "Themes and evidence map", id="themes"),
    pytest.param("views/concerns.py", {}, "title", "Answer a concern", id="concerns"),
    pytest.param("views/pack.py", {}, "info", "You have no pack open", id="pack-empty"),
    pytest.param("views/pack.py", {"pack": "not-a-share-token"}, "title", "This pack was withdrawn",
                 id="pack-bad-share-token"),
    pytest.param("views/pack.py", {"share": "not-a-share-token"}, "title", "This pack was withdrawn",
                 id="pack-bad-share-link"),
    pytest.param("views/pack.py", {"edit": "not-an-edit-link"}, "warning", "This edit link does not open a pack",
                 id="pack-bad-edit-link"),
    pytest.param("views/librarian.py", {}, "info", "Editing is switched off", id="librarian"),
    pytest.param("views/reference.py", {"key": "felitti1998relationship"}, "title",
                 "Relationship of Childhood Abuse and Household Dysfunction", id="reference"),
    pytest.param("views/reference.py", {"key": "nosuchkey1999"}, "warning",
                 "No reference with the key 'nosuchkey1999'", id="reference-unknown-key"),
    pytest.param("views/reference.py", {"key": "../../etc/passwd"}, "warning", "No reference with the key",
                 id="reference-path-as-key"),
    pytest.param("views/reference.py", {}, "info", "Choose a reference from the search results",
                 id="reference-no-key"),
]


@pytest.mark.parametrize(("page", "query", "kind", "expected"), PAGES)
def test_every_page_opens(page: str, query: dict[str, str], kind: str, expected: str) -> None:
    at = goto(open_app(), page, **query)
    shown = texts(at, kind)
    # Titles escape Markdown, so compare without the backslashes.
    assert any(expected in text.replace("\\", "") for text in shown), shown


# ------------------------------------------------------------------ search


def test_search_shows_the_count_and_the_cards(library: Library) -> None:
    at = search(open_app(), "burnout")
    expected = library.search(SearchRequest(text="burnout"))
    assert expected.total > 1
    assert result_count(at) == expected.total
    assert shown_keys(at) == [hit.key for hit in expected.hits]
    assert "oconnor2018burnout" in shown_keys(at)
    headings = [m.replace("\\", "") for m in texts(at, "markdown") if m.startswith("#### ")]
    assert headings == [f"#### {n}. {hit.title}" for n, hit in enumerate(expected.hits, 1)]


def test_a_facet_filter_narrows_the_results(library: Library) -> None:
    at = search(open_app(), "burnout")
    before = result_count(at)
    at.multiselect(key="types").select("systematic-review").run()
    assert not at.exception
    expected = library.search(SearchRequest(text="burnout", evidence_types=("systematic-review",)))
    assert result_count(at) == expected.total
    assert 0 < expected.total < (before or 0)
    assert shown_keys(at) == [hit.key for hit in expected.hits]
    assert "oconnor2018burnout" in shown_keys(at)  # a systematic review
    assert "maslach2016understanding" not in shown_keys(at)  # a narrative review: "book, opinion piece or narrative review"


@pytest.mark.parametrize("theme", ["staff-wellbeing", "implementation"])
def test_the_count_beside_a_filter_is_what_choosing_it_finds(theme: str, library: Library) -> None:
    """"Systematic review (11)" gives 11, with another filter chosen as well (issue 13)."""
    at = search(open_app(), "trauma")
    at.multiselect(key="themes").select(theme).run()
    for slug, label in (("systematic-review", "Systematic review"), ("qualitative", "Qualitative")):
        option = next(o for o in at.multiselect(key="types").options if o.startswith(label))
        shown = int(re.search(r"\((\d+)\)$", option).group(1))  # type: ignore[union-attr]
        assert shown == library.search(SearchRequest(text="trauma", themes=(theme,),
                                                     evidence_types=(slug,))).total
        at.multiselect(key="types").set_value([slug]).run()
        assert not at.exception
        assert (result_count(at) or 0) == shown
    assert any(option.startswith("Systematic review") for option in at.multiselect(key="types").options)


def test_when_no_reference_has_all_the_words_those_with_most_are_shown(library: Library) -> None:
    at = search(open_app(), "nurses burnout")
    expected = library.search(SearchRequest(text="nurses burnout"))
    assert expected.partial and expected.total > 0
    assert result_count(at) == expected.total
    assert shown_keys(at) == [hit.key for hit in expected.hits]
    notices = [text.replace("\\", "") for text in texts(at, "info")]
    assert "No reference has all of: nurses, burnout — showing those with most of them." in notices


def test_a_notice_quoting_the_search_shows_it_as_text() -> None:
    at = search(open_app(), '"[click](https://example.org)" burnout')
    notices = texts(at, "info")
    assert any("click" in text for text in notices), notices
    assert not any("[click](" in text for text in notices), notices  # no Markdown link


def test_a_search_round_trips_through_the_url() -> None:
    at = search(open_app(), "burnout")
    at.multiselect(key="types").select("systematic-review")
    at.multiselect(key="themes").select("staff-wellbeing")
    at.selectbox(key="sort").select("newest")
    at.run()
    assert not at.exception
    assert at.query_params == {"q": "burnout", "theme": "staff-wellbeing", "type": "systematic-review",
                               "sort": "newest"}

    shared = open_app(**at.query_params)
    assert shared.text_input(key="q").value == "burnout"
    assert shared.multiselect(key="types").value == ["systematic-review"]
    assert shared.multiselect(key="themes").value == ["staff-wellbeing"]
    assert shared.selectbox(key="sort").value == "newest"
    assert result_count(shared) == result_count(at)
    assert shown_keys(shared) == shown_keys(at)
    assert shared.query_params == at.query_params


def test_returning_to_search_without_a_search_in_the_address_keeps_the_last_one() -> None:
    at = search(open_app(), "burnout")
    at.multiselect(key="types").select("systematic-review").run()
    shown = shown_keys(at)
    goto(at, "views/reference.py", key=shown[0])
    goto(at, "views/search.py")  # "Back to search", or the sidebar
    assert at.text_input(key="q").value == "burnout"
    assert at.multiselect(key="types").value == ["systematic-review"]
    assert shown_keys(at) == shown
    assert at.query_params == {"q": "burnout", "type": "systematic-review"}


MALFORMED = [
    ({"q": '"burnout'}, "a closing quotation mark is missing"),
    ({"q": "burnout AND"}, "a search word is missing next to AND, OR or NOT"),
    ({"q": "burnout)"}, "the brackets ( ) do not match"),
    ({"q": "((("}, "Your search has no words we could look for"),
    ({"q": "the"}, "'the' is too common a word to search for: add a more specific word."),
    # A hyphenated word nothing has side by side falls back as its words typed apart do.
    ({"q": "peer-support"}, "No reference has all of: peer, support — showing those with most of them."),
]


@pytest.mark.parametrize(("query", "notice"), MALFORMED, ids=[q["q"] for q, _ in MALFORMED])
def test_a_malformed_query_shows_a_notice_not_an_exception(query: dict[str, str], notice: str,
                                                           library: Library) -> None:
    at = open_app(**query)
    shown = [text.replace("\\", "") for text in texts(at, "info")]  # shown as text: Markdown escaped
    assert any(notice in text for text in shown), shown
    expected = library.search(SearchRequest(text=query["q"]))
    assert (result_count(at) or 0) == expected.total
    assert shown_keys(at) == [hit.key for hit in expected.hits]


def test_malformed_url_parameters_are_dropped() -> None:
    at = open_app(q="burnout", page="abc", type=["not-a-type", "systematic-review"], theme="<script>",
                  sort="sideways", **{"from": "99999"})
    assert at.multiselect(key="types").value == ["systematic-review"]
    assert at.multiselect(key="themes").value == []
    assert at.query_params == {"q": "burnout", "type": "systematic-review"}
    assert (result_count(at) or 0) > 0


@pytest.mark.parametrize(("query", "said"), [
    ({"theme": "burnot", "q": "burnout"}, "There is no theme 'burnot': did you mean 'burnout'"),
    ({"type": "systematic_review"}, "There is no evidence type 'systematic_review': did you mean 'systematic-review'?"),
    ({"setting": "inpatients"}, "There is no setting 'inpatients': did you mean 'inpatient'?"),
])
def test_a_link_with_an_unknown_filter_says_so(query: dict[str, str], said: str) -> None:
    at = open_app(**query)
    warnings = [text.replace("\\", "") for text in texts(at, "warning")]  # shown escaped, as text
    assert any(said in text and "the library does not have" in text for text in warnings), warnings
    assert not any("No references match" in text for text in warnings)


def test_an_empty_result_offers_a_spelling_suggestion_that_works(library: Library) -> None:
    at = search(open_app(), "burnuot")
    assert any("No references match" in text for text in texts(at, "warning"))
    suggestion = at.button(key="suggestion")
    assert suggestion.label == "Search for “burnout” instead"
    suggestion.click().run()
    assert not at.exception
    assert at.text_input(key="q").value == "burnout"
    assert result_count(at) == library.search(SearchRequest(text="burnout")).total
    assert at.query_params == {"q": "burnout"}


# ------------------------------------------------------------------ reference detail


def test_a_reference_page_says_et_al_where_the_file_says_and_others() -> None:
    at = goto(open_app(), "views/reference.py", key="damschroder2009fostering")
    assert not at.exception
    [details] = [t for t in at.table if "Field" in t.value.columns]
    values = dict(zip(details.value["Field"], details.value["Value"]))
    assert values["Authors"] == "Damschroder, L\\. J\\.; Aron, D\\. C\\.; Keith, R\\. E\\. et al\\."


def test_a_reference_shows_its_citations_and_bibtex(library: Library) -> None:
    at = goto(open_app(), "views/reference.py", key="felitti1998relationship")
    record = library.get("felitti1998relationship")
    markdown = texts(at, "markdown")
    assert "**APA 7th edition**" in markdown
    assert "**Harvard, Cite Them Right**" in markdown
    citations = [c.value for c in at.code if c.language != "bibtex"]
    assert citations == [format_reference(record, "apa").text, format_reference(record, "harvard").text]
    assert citations[0].startswith("Felitti, V. J., Anda, R. F., Nordenberg, D.")
    assert "(1998)" in citations[0] and "https://doi.org/10.1016/S0749-3797(98)00017-8" in citations[0]
    assert citations[1].startswith("Felitti, V.J. et al. (1998) ‘Relationship of Childhood Abuse")
    html_citations = [h.proto.body for h in at.get("html") if "evl-citation" in h.proto.body]
    assert len(html_citations) == 2 and all("<i>American Journal of Preventive Medicine</i>" in h
                                            for h in html_citations)
    # The DOI is the link's own text, so the link has a name a screen reader can read.
    assert all('https://doi.org/10.1016/S0749-3797(98)00017-8">https://doi.org/10.1016/S0749-3797(98)00017-8</a>'
               in h for h in html_citations)
    [bibtex] = [c for c in at.code if c.language == "bibtex"]
    assert bibtex.value == format_entry(record.entry).rstrip("\n")
    assert bibtex.value.startswith("@article{felitti1998relationship,")
    assert "doi = {10.1016/S0749-3797(98)00017-8}" in bibtex.value


def assert_inert(at: AppTest) -> None:
    """No shown text carries a live <script> or <img> tag (code blocks show text and are left out).

    The app's own scripts (st.html with JavaScript allowed: the pack cookie, focus and scrolling)
    are fixed text with checked keys in them; they must never hold the hostile text either."""
    own_scripts = [e.proto.body for e in at.get("html") if e.proto.unsafe_allow_javascript]
    assert not any("alert(" in body for body in own_scripts), own_scripts
    shown = [(str(e.value), kind == "html" or bool(getattr(e.proto, "allow_html", False)))
             for kind in ("title", "markdown", "caption", "html") for e in at.get(kind)
             if not (kind == "html" and e.proto.unsafe_allow_javascript)]
    for text, allow_html in shown:
        if allow_html:
            assert not re.search(r"<(script|img)", text, re.IGNORECASE), text
        else:  # Markdown without HTML: the tag is escaped, so Markdown shows it as text
            assert not re.search(r"(?<!\\)<(script|img)", text, re.IGNORECASE), text
    rendered_html = [text for text, allow_html in shown if allow_html and "alert(1)" in text]
    assert all("&lt;script&gt;alert(1)&lt;/script&gt;" in text for text in rendered_html), rendered_html


def test_a_title_with_a_script_tag_is_shown_as_text(collection: Path) -> None:
    (collection / f"{XSS_KEY}.bib").write_text(XSS_BIB, encoding="utf-8")
    at = goto(open_app(), "views/reference.py", key=XSS_KEY)
    assert texts(at, "title") == [r"\<script\>alert\(1\)\</script\> Burnout among ward staff"]
    assert r"A finding with \<img src=x onerror=alert\(2\)\> in it\." in texts(at, "markdown")
    assert_inert(at)
    # The citations are rendered as HTML, so they carry the escaped form.
    assert sum("&lt;script&gt;alert(1)&lt;/script&gt;" in h.proto.body for h in at.get("html")) == 2

    results = search(goto(at, "views/search.py"), "alert")
    assert XSS_KEY in shown_keys(results)
    assert r"#### 1. \<script\>alert\(1\)\</script\> Burnout among ward staff" in texts(results, "markdown")
    assert any("A finding with &lt;img src=x onerror=<mark>alert</mark>(2)&gt; in it." in m.value
               for m in results.markdown if m.proto.allow_html)
    assert_inert(results)


# ------------------------------------------------------------------ into a pack


def test_add_to_pack_from_the_search_results(library: Library) -> None:
    at = search(open_app(), "burnout")
    first = shown_keys(at)[0]
    at.button(key=f"add-{first}").click().run()
    assert not at.exception
    assert at.session_state["pack_current"].pack.keys == (first,)
    assert at.button(key=f"remove-{first}").label == "Remove from pack"
    assert not at.toast  # no toast to cover the navigation: the button and the pack link say it
    assert [p.proto.label for p in at.get("page_link") if "Your pack" in p.proto.label] == [
        "Your pack: 1 reference"]
    goto(at, "views/pack.py")
    title = library.get(first).title
    assert f"**[1]** {title}" in [m.replace("\\", "") for m in texts(at, "markdown")]
    assert at.text_area(key=f"note-{first}").value == library.get(first).key_finding


MAP_CELLS = [
    ("staff-wellbeing", "systematic-review", {"theme": "staff-wellbeing", "type": "systematic-review"}),
    ("burnout", "All types", {"theme": "burnout"}),
]


@pytest.mark.parametrize(("theme", "evidence_type", "params"), MAP_CELLS, ids=["cell", "whole-row"])
def test_an_evidence_map_cell_opens_a_filtered_search(theme: str, evidence_type: str, params: dict[str, str],
                                                     library: Library) -> None:
    # An earlier search in the same session must not win over the cell's (a bug once).
    at = goto(search(open_app(), "restraint"), "views/themes.py")
    at.selectbox(key="map-theme").select(theme)
    at.selectbox(key="map-type").select(evidence_type)
    at.run()
    expected = library.search(SearchRequest(themes=(theme,), evidence_types=tuple(
        [evidence_type] if evidence_type != "All types" else [])))
    assert expected.total > 0
    assert at.button(key="map-open").label == f"Show {expected.total}"
    at.button(key="map-open").click().run()
    assert not at.exception
    assert texts(at, "title") == ["Search the evidence"]  # switch_page went to search
    assert at.query_params == params
    assert at.text_input(key="q").value == ""
    assert at.multiselect(key="themes").value == [theme]
    assert at.multiselect(key="types").value == ([evidence_type] if "type" in params else [])
    assert result_count(at) == expected.total
    assert shown_keys(at) == [hit.key for hit in expected.hits]


def test_a_concern_starts_a_pack_with_its_references(library: Library) -> None:
    at = goto(open_app(), "views/concerns.py")
    concern = library.vocabulary.concern_by_slug["staff-burnout"]
    expected = [hit.key for hit in library.search(SearchRequest(themes=concern.themes, per_page=20)).hits[:6]]
    assert at.button(key="concern-staff-burnout").label == f"Start a pack from these {len(expected)}"
    at.button(key="concern-staff-burnout").click().run()
    assert not at.exception
    assert texts(at, "title") == ["Evidence pack"]
    pack = at.session_state["pack_current"].pack
    assert list(pack.keys) == expected and pack.concern == concern.label
    assert at.text_input(key="pack_title").value == f"Answering the concern: “{concern.label}”"
    listed = [m for m in texts(at, "markdown") if re.match(r"\*\*\[\d+\]\*\* ", m)]
    assert len(listed) == len(expected)
    for number, key in enumerate(expected, 1):
        assert listed[number - 1].startswith(f"**[{number}]**")
        assert at.text_area(key=f"note-{key}").value == library.get(key).key_finding


# ------------------------------------------------------------------ the pack journey: tests/test_app_packs.py


# ------------------------------------------------------------------ librarian


@pytest.fixture
def librarian(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBRARY_LIBRARIAN_PASSWORD_HASH", hash_password(PASSWORD))


@pytest.mark.usefixtures("librarian")
def test_librarian_adds_a_pasted_reference_that_search_then_finds(collection: Path) -> None:
    at = sign_in(open_app())
    assert texts(at, "caption")[0].replace("\\", "") == "Signed in as Jo Librarian."  # escaped Markdown
    at.text_area(key="paste_text").input(GOOD_AND_BROKEN_BIB)
    at.button(key="read-input").click().run()
    assert not at.exception
    [problem] = texts(at, "error")
    assert problem.startswith("1 entry could not be read and will not be saved")
    assert "line 10, entry 'broken2020'" in problem
    assert texts(at, "subheader")[0] == "Review 1 reference before saving"
    # Labels are escaped Markdown: compare without the backslashes.
    [item] = [label for label in (e.label.replace("\\", "") for e in at.expander) if "Trauma-informed supervision" in label]
    assert item.startswith("⚠ needs attention · ")  # no themes and no evidence type yet, said with what to do
    assert [w.replace("\\", "")[:19] for w in texts(at, "warning") if w.startswith("No ")] == [
        "No themes: choose o", "No evidence type: c"]

    at.multiselect(key="themes-0").select("staff-wellbeing").select("training")
    at.selectbox(key="type-0").select("trial")
    at.text_area(key="finding-0").input("A small pilot of supervision groups for ward nurses.")
    at.button(key="save-review").click().run()
    assert not at.exception
    assert texts(at, "success") == ["Saved 1 reference. It can be found in search now."]
    assert not (collection / "broken2020.bib").exists()
    saved = (collection / "smith2021supervision.bib").read_text(encoding="utf-8")
    for line in ("themes = {staff-wellbeing, training}", "evidence-type = {trial}",
                 "key-finding = {A small pilot of supervision groups for ward nurses.}",
                 "added-by = {Jo Librarian}"):
        assert line in saved

    fresh = Library(Settings.from_env())
    try:
        [hit] = fresh.search(SearchRequest(text="zebrafinch")).hits
        assert (hit.key, hit.evidence_type, hit.themes) == ("smith2021supervision", "trial",
                                                           ("staff-wellbeing", "training"))
    finally:
        fresh.close()
    results = search(goto(at, "views/search.py"), "zebrafinch")
    assert shown_keys(results) == ["smith2021supervision"]


@pytest.mark.usefixtures("librarian")
def test_a_wrong_password_is_refused_and_repeated_failures_are_slowed() -> None:
    at = open_app()
    for _ in range(4):  # three free failures, then each further one locks for a while
        sign_in(at, "not the password at all")
        assert texts(at, "error") == ["That password is not right."]
    sign_in(at, PASSWORD)  # even the right password waits out the lock
    [message] = texts(at, "error")
    assert message.startswith("Too many wrong passwords from this browser. Try again in")
    assert "librarian" not in at.session_state
    assert not [b for b in at.button if b.key == "read-input"]


def test_without_a_password_hash_editing_is_switched_off(collection: Path) -> None:
    at = goto(open_app(), "views/librarian.py")
    assert any("Editing is switched off" in text for text in texts(at, "info"))
    assert not at.text_input and not at.text_area and not at.radio
    assert [b.key for b in at.button] == []


@pytest.mark.usefixtures("librarian")
def test_a_duplicate_doi_is_offered_the_choices_and_keeping_the_existing_writes_nothing(
        collection: Path, tmp_path: Path) -> None:
    existing = (collection / "felitti1998relationship.bib").read_text(encoding="utf-8")
    at = sign_in(open_app())
    before = snapshot(collection)
    at.text_area(key="paste_text").input(existing.replace("felitti1998relationship", "acestudy1998"))
    at.button(key="read-input").click().run()
    assert not at.exception
    assert any(e.label.startswith("⚠ possible duplicate · Relationship of Childhood Abuse") for e in at.expander)
    assert any(m.startswith("**Already in the collection** (`felitti1998relationship`, it has the same DOI")
               for m in texts(at, "markdown"))
    choice = at.radio(key="decision-0")
    # The same DOI is the same work: adding it or keeping both is not offered (the library refuses both).
    assert choice.options == ["Keep the existing one (don't add)", "Replace the existing one",
                              "Merge new details into the existing one"]
    assert choice.value == "skip"  # the same DOI: keeping the existing one is the default
    choice.set_value("skip")
    at.button(key="save-review").click().run()
    assert not at.exception
    assert texts(at, "success") == ["Nothing was saved; left out 1 already in the collection."]
    assert snapshot(collection) == before
    assert not (tmp_path / "data" / "changes.jsonl").exists()
