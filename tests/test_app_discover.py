"""The librarian page's Discover tab through AppTest, against a local server replaying Europe PMC's real
recorded answer: search, screen (exclude with a reason, include with themes, maybe), save the search,
download the screening record, and the reference page showing the publisher's abstract."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from library import Library, Settings
from library.bibtex import parse_file
from library.records import Record
from tests.replay_server import Reply, ReplayServer, serving
from tests.shared_data import shared_path
from tests.test_app import (_fresh_resources, collection, enter_credentials, goto, librarian,  # noqa: F401
                            open_app, sign_in, texts)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[MemoryMediaFileStorage]:
    """The in-memory file storage of each AppTest run, so a download button's real bytes can be read.

    AppTest makes a fresh MemoryMediaFileStorage for every run and drops it afterwards; this keeps
    a reference to each.  (It relies on AppTest's module importing that class by name.)
    """
    stores: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            stores.append(self)

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recording)
    return stores


def download(at: AppTest, stores: list[MemoryMediaFileStorage], key: str) -> tuple[bytes, bool]:
    """The bytes behind the download button `key` in the last run, and whether it is disabled."""
    button = next(b for b in at.get("download_button") if b.key == key)
    name = button.proto.url.rsplit("/", 1)[1]
    return stores[-1].get_file(name).content, button.proto.disabled


pytestmark = pytest.mark.usefixtures("librarian")

SEARCH = "FormSubmitter:discover-form-Search"
ABSCOPAL = "Abscopal response in a patient with fibrolamellar hepatocellular carcinoma following radiotherapy"
DEPARTMENT = "Department of Error"


@pytest.fixture
def europepmc(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    core = shared_path("testdata", "literature-apis", "europepmc", "pyeuropepmc__search_cancer_core.json")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with serving({"/search": [Reply(200, core.read_bytes(), (("Content-Type", "application/json"),))]}) as server:
        monkeypatch.setenv("LIBRARY_EUROPEPMC_URL", server.url)
        yield server


def plain(values: list[str]) -> list[str]:
    """What a reader sees: without Markdown's escapes and the invisible joiners that stop autolinks."""
    return [v.replace("\\", "").replace("\u2060", "") for v in values]


def search(at: AppTest, words: str = "cancer") -> AppTest:
    at.text_input(key="discover_query").input(words)
    at.selectbox(key="discover_source").select("europepmc")
    at.button(key=SEARCH).click().run()
    assert not at.exception, at.exception
    return at


def shown_title(at: AppTest) -> str:
    return next(m for m in plain(texts(at, "markdown")) if m.startswith("#### "))[5:]


def test_search_screen_and_record(europepmc: ReplayServer, collection: Path,
                                  downloads: list[MemoryMediaFileStorage]) -> None:
    at = sign_in(open_app())
    assert "Discover" in [t.label for t in at.tabs]
    search(at)
    assert "What the search found" in texts(at, "subheader")
    assert any(m.startswith("Europe PMC search for “cancer”: 5,059,039 found; showing 25. (25 new)")
               for m in plain(texts(at, "markdown")))
    assert europepmc.query_of(europepmc.requests_to("/search")[0])["resultType"] == "core"
    assert shown_title(at) == ABSCOPAL
    assert any(c.startswith("Work 1 of 25 · New") for c in plain(texts(at, "caption")))
    assert any(c == "The service gave no abstract for this work." for c in texts(at, "caption"))

    # Exclude the first with a reason: the next work to screen comes up.
    at.selectbox(key="discover_reason").select("Wrong population or setting")
    at.button(key="discover-exclude").click().run()
    assert not at.exception
    assert plain(texts(at, "success")) == [f"Excluded: “{ABSCOPAL}” (Wrong population or setting)."]
    assert shown_title(at) == DEPARTMENT

    # "Department of Error" has no authors: including it is refused with the reason, nothing written.
    before = sorted(p.name for p in collection.iterdir())
    at.button(key="discover-include").click().run()
    assert not at.exception
    [error] = plain(texts(at, "error"))
    assert "the required field 'author' is missing for @article" in error
    assert sorted(p.name for p in collection.iterdir()) == before
    at.button(key="discover-maybe").click().run()
    assert plain(texts(at, "success")) == [f"Maybe: “{DEPARTMENT}”."]

    # Include the third with its themes and evidence type chosen on the same screen.
    title = shown_title(at)
    assert title.startswith("The role of psychological flexibility")
    abstract = [m for m in plain(texts(at, "markdown")) if m.startswith("Objective: This study investigated")]
    assert abstract, "the abstract is in view, section labels kept"
    at.multiselect(key="discover_themes").select("health-impact").select("staff-wellbeing")
    at.selectbox(key="discover_type").select("quantitative")
    at.button(key="discover-include").click().run()
    assert not at.exception
    [done] = plain(texts(at, "success"))
    assert done.startswith(f"Included “{title}” and added it to the collection as alabbadey2025role.")
    (entry,) = parse_file(collection / "alabbadey2025role.bib").entries
    record = Record.from_entry(entry)
    assert (record.themes, record.evidence_type, record.finding_checked, record.added_by) == (
        ("health-impact", "staff-wellbeing"), "quantitative", False, "Jo Librarian")
    assert record.abstract.startswith("Objective: This study investigated whether psychological flexibility")
    assert record.provenance.startswith("Europe PMC search for “cancer”, ")
    assert at.multiselect(key="discover_themes").value == []  # the tags start afresh for the next work

    # Save the search; it is listed with no new works yet.
    at.text_input(key="discover_save_name").input("Cancer watch")
    at.button(key="discover-save").click().run()
    assert not at.exception
    assert plain(texts(at, "success")) == ["Saved as “Cancer watch”. Its new works will show under Saved searches."]
    assert any(m.startswith("**Cancer watch** · 0 new, checked just now") for m in plain(texts(at, "markdown")))

    # The screening record, as downloaded.
    data, disabled = download(at, downloads, "discover-export")
    assert not disabled
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [(r["Decision"], r["Title"][:20]) for r in rows] == [
        ("Excluded", ABSCOPAL[:20]), ("Maybe", DEPARTMENT), ("Included", title[:20])]
    assert rows[0]["Reason for exclusion"] == "Wrong population or setting"
    assert rows[2]["Reference key"] == "alabbadey2025role" and rows[2]["Decided by"] == "Jo Librarian"

    # Search again: the excluded work stays out, the included one is now in the collection.
    search(at)
    assert shown_title(at) != ABSCOPAL
    assert at.checkbox(key="discover_show_excluded").label == "Show the 1 work(s) excluded earlier"
    assert any("24 works in this list" in e.label for e in at.expander)


def test_showing_new_works_of_a_saved_search_and_the_tab_count(europepmc: ReplayServer) -> None:
    at = sign_in(open_app())
    search(at)
    at.text_input(key="discover_save_name").input("Cancer watch")
    at.button(key="discover-save").click().run()
    # Everything the search showed counts as seen: re-running shows nothing new.
    run = next(b for b in at.button if b.key and b.key.startswith("discover-run-"))
    run.click().run()
    assert not at.exception
    assert plain(texts(at, "success")) == ["Nothing new for “Cancer watch” since it last ran."]
    # A check that finds new works shows the count on the tab.
    library = Library(Settings.from_env(), sync=False)
    from library.discovery import Discovery

    discovery = Discovery(library)
    discovery.store.record_check("Cancer watch", 4)
    library.close()
    goto(at, "views/librarian.py")
    assert "Discover (4 new)" in [t.label for t in at.tabs]
    assert any(e.label == "Saved searches (4 new works)" for e in at.expander)


def test_keyboard_shortcuts_are_there_only_when_asked_for(europepmc: ReplayServer) -> None:
    at = search(sign_in(open_app()))
    shortcuts = {b.key: b.proto.shortcut for b in at.button if b.key and b.key.startswith("discover-")}
    assert not any(shortcuts.get(k) for k in ("discover-include", "discover-exclude", "discover-maybe"))
    at.toggle(key="discover_keyboard").set_value(True).run()
    shortcuts = {b.key: b.proto.shortcut for b in at.button if b.key and b.key.startswith("discover-")}
    assert [shortcuts[k] for k in ("discover-include", "discover-exclude", "discover-maybe", "discover-next")] == [
        "i", "e", "m", "n"]  # as Streamlit keeps them


def test_a_search_that_cannot_be_run_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("LIBRARY_OPENALEX_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("LIBRARY_HTTP_TIMEOUT", "2")
    at = sign_in(open_app())
    at.text_input(key="discover_query").input("trauma-informed care")
    at.button(key=SEARCH).click().run()
    assert not at.exception
    assert plain(texts(at, "error")) == [f"Could not reach OpenAlex at http://127.0.0.1:{port}. Check the internet "
                                         "connection, or try another source."]


def test_the_reference_page_shows_the_publishers_abstract_apart_from_the_key_finding(collection: Path) -> None:
    (collection / "example2024abstract.bib").write_text("""@article{example2024abstract,
  author = {Example, Ann},
  title = {An example with an abstract},
  journal = {Journal of Examples},
  year = {2024},
  abstract = {BACKGROUND: What the publisher wrote. RESULTS: *Not* markdown.},
  key-finding = {The library's own plain summary.},
  finding-checked = {no}
}
""", encoding="utf-8")
    at = goto(open_app(), "views/reference.py", key="example2024abstract")
    [expander] = [e for e in at.expander if e.label == "Publisher's abstract"]
    assert plain([c.value for c in expander.caption])[0].startswith("The abstract as published with the work, "
                                                                    "not the library's own summary")
    assert plain([m.value for m in expander.markdown]) == ["BACKGROUND: What the publisher wrote. RESULTS: *Not* "
                                                           "markdown."]
    assert "The library’s own plain summary." in plain(texts(at, "markdown"))  # LaTeX quotes become typographic


def test_more_results_come_by_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = shared_path("testdata", "literature-apis", "europepmc")
    pages = [Reply(200, (folder / name).read_bytes(), (("Content-Type", "application/json"),))
             for name in ("pyeuropepmc__search_cancer_core.json",
                          # another recorded answer stands in for the next page: its works are not on the first
                          "pyeuropepmc__Europe_PMC_results_20251022T155445.json")]
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with serving({"/search": pages}) as server:
        monkeypatch.setenv("LIBRARY_EUROPEPMC_URL", server.url)
        at = search(sign_in(open_app()))
        assert any(e.label == "All 25 works in this list" for e in at.expander)
        at.button(key="discover-more").click().run()
        assert not at.exception
        cursors = [server.query_of(r)["cursorMark"] for r in server.requests_to("/search")]
    # The second page (of 5) says more follow, so it is asked for; the replay server sends the same page
    # again, which brings nothing new and ends the paging.
    assert cursors == ["*", "AoIIP4ZawSg1MzEyODI1MA==", "AoIIQGrGfyg1NDA0NDEzNQ=="]
    assert any(e.label == "All 30 works in this list" for e in at.expander)


def test_hostile_values_from_a_service_are_shown_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # A made-up OpenAlex answer (the shape of the recorded ones) whose values try markup and links.
    work = {"id": "https://openalex.org/W1", "doi": None, "publication_year": 2024, "type": "article",
            "title": "**Bold** [click](javascript:alert(1)) <script>alert(2)</script>",
            "authorships": [{"author": {"display_name": "Eve <img src=x onerror=alert(3)> Attacker"}}],
            "primary_location": {"source": {"display_name": "<b>Journal</b> of *Tests*", "type": "journal"}},
            "open_access": {"oa_url": "javascript:alert(4)"}, "cited_by_count": 1,
            "abstract_inverted_index": {"<a": [0], "href='javascript:alert(5)'>see</a>": [1], "#": [2],
                                        "Heading": [3]}}
    body = json.dumps({"meta": {"count": 1, "next_cursor": None}, "results": [work]}).encode()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with serving({"/works": [Reply(200, body, (("Content-Type", "application/json"),))]}) as server:
        monkeypatch.setenv("LIBRARY_OPENALEX_URL", server.url)
        at = sign_in(open_app())
        at.text_input(key="discover_query").input("anything")
        at.button(key=SEARCH).click().run()
    assert not at.exception
    heading = next(m for m in texts(at, "markdown") if m.startswith("#### "))
    assert heading == "#### \\*\\*Bold\\*\\* \\[click\\]\\(javascript\\:alert\\(1\\)\\) alert\\(2\\)"
    meta = next(m for m in texts(at, "markdown") if 'class="evl-meta"' in m)
    assert "<img" not in meta and "&lt;img" not in meta  # the tag was removed, not merely escaped
    assert "javascript:" not in meta and "not known to be free to read" in meta
    assert "<b>" not in meta and "Journal of *Tests*" in meta
    assert not [m for m in texts(at, "markdown") if "href=" in m and "evl-meta" not in m]


# ------------------------------------------------------------------ the list survives a reload


def restart_and_reload(**query: str) -> AppTest:
    """A restarted server (no cached library, no open database), then a new browser session on the
    librarian page with this address; signing in again, as a password sign-in lives in the session."""
    import streamlit as st

    from library.database import _OPEN

    st.cache_resource.clear()
    for url in list(_OPEN):
        _OPEN.pop(url).close()
    return sign_in(open_app(), **query)


def caption_of_work(at: AppTest) -> str:
    return next(c for c in plain(texts(at, "caption")) if c.startswith("Work "))


def test_a_reload_reopens_the_same_list_at_the_same_place(europepmc: ReplayServer) -> None:
    at = search(sign_in(open_app()))
    list_id = at.query_params["discover"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,64}", list_id)
    at.selectbox(key="discover_reason").select("Wrong population or setting")
    at.button(key="discover-exclude").click().run()
    at.button(key="discover-maybe").click().run()
    at.button(key="discover-next").click().run()
    assert not at.exception
    title, caption = shown_title(at), caption_of_work(at)
    assert caption == "Work 4 of 25 · New"
    searches = len(europepmc.requests_to("/search"))

    again = restart_and_reload(discover=list_id)
    assert again.query_params["discover"] == list_id
    assert (shown_title(again), caption_of_work(again)) == (title, caption)
    assert len(europepmc.requests_to("/search")) == searches  # the list came from the database, not a new search
    assert any(m.startswith("Europe PMC search for “cancer”: 5,059,039 found; showing 25. (23 new, 1 maybe)")
               for m in plain(texts(again, "markdown")))
    # The search form shows the search the list came from.
    assert again.text_input(key="discover_query").value == "cancer"
    assert again.selectbox(key="discover_source").value == "europepmc"
    # The decisions made before the reload are there, on the works they were made on.
    again.button(key="discover-previous").click().run()
    assert caption_of_work(again) == "Work 3 of 25 · New"
    again.button(key="discover-previous").click().run()
    assert (shown_title(again), caption_of_work(again)) == (DEPARTMENT, "Work 2 of 25 · Maybe")
    again.button(key="discover-previous").click().run()
    assert (shown_title(again), caption_of_work(again)) == (
        ABSCOPAL, "Work 1 of 25 · Excluded: Wrong population or setting")
    assert again.button(key="discover-previous").disabled

    # The place moved in the reloaded tab is the list's place: the first tab, rerun, follows it.
    at.run()
    assert caption_of_work(at) == "Work 1 of 25 · Excluded: Wrong population or setting"


def test_new_search_starts_a_new_list_and_the_old_one_can_be_reopened(europepmc: ReplayServer) -> None:
    at = search(sign_in(open_app()))
    first = at.query_params["discover"]
    at.selectbox(key="discover_reason").select("Not in English")
    at.button(key="discover-exclude").click().run()
    assert caption_of_work(at) == "Work 2 of 25 · New"

    at.button(key="discover-new").click().run()
    assert not at.exception
    assert "discover" not in at.query_params
    assert "What the search found" not in texts(at, "subheader")
    assert at.text_input(key="discover_query").value == ""
    [others] = [e for e in at.expander if e.label.startswith("Your other screening lists")]
    assert others.label == "Your other screening lists (1)"
    assert plain([m.value for m in others.markdown])[0].startswith(
        "Europe PMC search for “cancer” · 25 works, at work 2 · used just now")

    # A new search is a new list, in which the work excluded earlier is left out unless asked for.
    search(at)
    second = at.query_params["discover"]
    assert second != first
    assert caption_of_work(at) == "Work 1 of 24 · New"
    at.checkbox(key="discover_show_excluded").check().run()
    assert any(e.label == "All 25 works in this list" for e in at.expander)
    again = restart_and_reload(discover=second)
    assert again.checkbox(key="discover_show_excluded").value is True
    assert any(e.label == "All 25 works in this list" for e in again.expander)

    # The first list, opened again from the list of lists, is where it was left.
    again.button(key="discover-open-0").click().run()
    assert not again.exception
    assert again.query_params["discover"] == first
    assert caption_of_work(again) == "Work 2 of 25 · New"


@pytest.mark.parametrize("address", ["../../data/library.sqlite3", "x' OR '1'='1", "A" * 200,
                                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
def test_an_address_with_no_list_of_yours_says_so(europepmc: ReplayServer, address: str) -> None:
    at = restart_and_reload(discover=address)
    assert not at.exception
    assert [i for i in plain(texts(at, "info")) if i.startswith("That screening list is not open any more")]
    assert "discover" not in at.query_params
    assert "What the search found" not in texts(at, "subheader")


def test_another_librarian_cannot_open_your_list(europepmc: ReplayServer) -> None:
    at = search(sign_in(open_app()))
    list_id = at.query_params["discover"]
    other = goto(open_app(), "views/librarian.py", discover=list_id)
    enter_credentials(other, name="Sam Librarian")
    assert [i for i in plain(texts(other, "info")) if i.startswith("That screening list is not open any more")]
    assert "What the search found" not in texts(other, "subheader")
    assert not [e for e in other.expander if e.label.startswith("Your other screening lists")]
    # Its owner still can, in another case (a name typed again at sign-in).
    mine = goto(open_app(), "views/librarian.py", discover=list_id)
    enter_credentials(mine, name="jo librarian")
    assert shown_title(mine) == ABSCOPAL
