"""The review batch is data, not widgets (issue 11, items 3 and 5).

A batch (library.review) is saved in the data folder under a random id, edited one field at a
time, and saved by one verb that the command line's `add` also uses.  Duplicates inside a batch
(same key, same DOI, same title + year + first author) are found and decided exactly as those
against the collection, and after any add `check` passes.  The app's review pages are driven
through AppTest: 45 entries on three pages, edited on each, saved from each page in turn.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from library import Library
from library.bibtex import Entry, ParseResult, parse_file, parse_text
from library.errors import DuplicateReference, EntryProblems
from library.review import ReviewBatch, ReviewNotFound, ReviewStore
from tests.security_support import REPO, assert_sound, bib_files, cli, entry_text, seed_collection, settings_for
from tests.test_app import librarian, librarian_session, texts  # noqa: F401 (fixture)

THEMES = ("burnout", "leadership", "training", "staff-wellbeing", "aces")
TYPES = ("trial", "qualitative", "quantitative", "mixed-methods", "guidance")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    seed_collection(tmp_path, 6)
    return tmp_path


@pytest.fixture
def library(root: Path) -> Library:
    lib = Library(settings_for(root))
    yield lib
    lib.close()


def article(key: str, title: str, *, doi: str = "", author: str = "Author, Given", year: str = "2021") -> Entry:
    fields = {"title": title, "journal": "Journal of Tests", "year": year}
    if doi:
        fields["doi"] = doi
    return Entry(key, "article", fields, {"author": (author,)}, "batch.bib", None)


# ---------------------------------------------------------------- the batch as data


def test_a_batch_is_kept_in_the_data_folder_and_comes_back(library: Library, root: Path) -> None:
    parsed = parse_text(entry_text("one2021", 1) + entry_text("two2021", 2), "pasted text")
    batch = library.start_review(parsed, source="pasted text")

    assert (root / "data" / "reviews" / f"{batch.id}.json").exists()
    again = library.reviews.load(batch.id)
    assert again == batch
    edited = again.with_item(1, themes=("burnout", "burnout", "aces"), key_finding="It's {new}.", decision="skip")
    library.reviews.save(edited)
    back = library.reviews.load(batch.id)
    assert back.items[1].themes == ("burnout", "aces") and back.items[1].key_finding == "It's {new}."
    assert back.items[0] == batch.items[0]


@pytest.mark.parametrize("review_id", ["../../etc/passwd", "short", "a" * 65, "has space in it....", ""])
def test_review_ids_from_an_address_never_become_paths(tmp_path: Path, review_id: str) -> None:
    with pytest.raises(ReviewNotFound):
        ReviewStore(tmp_path).load(review_id)


def test_duplicates_inside_a_batch_are_found_as_in_the_collection(library: Library) -> None:
    first = article("first2021", "Calm wards and staff burnout: a study", doi="10.5555/batch.1")
    entries = [
        first,
        article("samedoi2021", "Another title entirely", doi="10.5555/BATCH.1"),
        article("likely2021", "Calm wards and staff burnout: a study!"),
        article("possible2021", "Calm wards and staff burnout: a study", year="2019"),
        article("First2021", "A different work with the same key in another case"),
        article("fresh2021", "Nothing like the others"),
    ]
    batch = library.start_review(ParseResult(tuple(entries), ()))

    found = {item.entry.key: [(d.key, d.certainty, d.in_batch) for d in item.duplicates] for item in batch.items}
    assert found["first2021"] == []
    assert found["samedoi2021"] == [("first2021", "same DOI", 0)]
    assert ("first2021", "likely", 0) in found["likely2021"]
    assert ("first2021", "possible", 0) in found["possible2021"]
    assert found["First2021"][0] == ("first2021", "same key", 0)
    assert found["fresh2021"] == []
    decisions = {item.entry.key: (item.decision, item.options()) for item in batch.items}
    assert decisions["samedoi2021"] == ("skip", ("skip", "replace", "merge"))
    assert decisions["likely2021"][0] == "skip" and "both" in decisions["likely2021"][1]
    assert decisions["possible2021"][0] == "new"
    assert decisions["fresh2021"] == ("new", ("new", "skip"))


@pytest.mark.parametrize("author", ["van der Kolk, Bessel A.", "de Souza, Ana", "Kolk, Bessel van der"])
def test_a_family_name_with_a_particle_is_the_same_first_author(library: Library, author: str) -> None:
    """The collection's card keeps 'van der Kolk'; the entry under review must be compared whole."""
    held = article("held2014", "The body keeps the score in mental health services", author=author)
    saved = library.save_batch(library.start_review(ParseResult((held,), ())).items, who="test")
    assert saved.added == ("held2014",), saved
    again = article("again2014", "The body keeps the score in mental health services!", author=author)
    batch = library.start_review(ParseResult((again,), ()))
    assert [(d.key, d.certainty) for d in batch.items[0].duplicates] == [("held2014", "likely")]
    assert batch.items[0].decision == "skip"


def test_a_file_with_the_same_doi_twice_is_refused_whole_and_check_passes(root: Path, tmp_path: Path) -> None:
    text = (entry_text("twin2021a", 1, extra=",\n  doi = {10.5555/twin.1}")
            + entry_text("twin2021b", 2, extra=",\n  doi = {10.5555/TWIN.1}"))
    (tmp_path / "twins.bib").write_text(text, encoding="utf-8")
    before = bib_files(root / "references")

    result = cli(root, "add", str(tmp_path / "twins.bib"))

    assert result.returncode == 1
    message = result.stderr.decode()
    assert "twins.bib, line 8: 'twin2021b' looks like 'twin2021a' (line 1), earlier in what you are adding" in message
    assert "same DOI" in message and "Nothing was saved" in message
    assert bib_files(root / "references") == before
    assert cli(root, "check").returncode == 0


def test_likely_duplicates_in_one_file_need_keep_both(root: Path, tmp_path: Path) -> None:
    one = entry_text("pair2021a", 1)
    text = one + one.replace("pair2021a", "pair2021b")
    (tmp_path / "pair.bib").write_text(text, encoding="utf-8")

    refused = cli(root, "add", str(tmp_path / "pair.bib"))
    assert refused.returncode == 1 and b"same title, year and first author" in refused.stderr
    kept = cli(root, "add", str(tmp_path / "pair.bib"), "--keep-both")
    assert kept.returncode == 0, kept.stderr
    assert {"pair2021a.bib", "pair2021b.bib"} <= set(bib_files(root / "references"))
    assert cli(root, "check").returncode == 0


@pytest.mark.parametrize("decision", ["skip", "replace", "merge"])
def test_a_batch_duplicate_is_decided_as_a_collection_one(library: Library, root: Path, decision: str) -> None:
    first = article("first2021", "Calm wards and staff burnout", doi="10.5555/batch.2")
    second = Entry("second2021", "article", {**first.fields, "title": "Calm wards and staff burnout (revised)",
                                             "note": "only in the second"}, first.persons, "batch.bib", None)
    batch = library.start_review(ParseResult((first, second), ()))
    batch = batch.with_item(1, decision=decision)

    result = library.save_review(batch, who="alice")

    files = bib_files(root / "references")
    assert "second2021.bib" not in files
    saved = parse_file(root / "references" / "first2021.bib").entries[0]
    if decision == "skip":
        assert "note" not in saved.fields and saved.fields["title"] == first.fields["title"]
    elif decision == "replace":
        assert saved.fields["title"] == second.fields["title"] and saved.fields["note"] == "only in the second"
    else:
        assert saved.fields["title"] == first.fields["title"] and saved.fields["note"] == "only in the second"
    assert result.added == ("first2021",)
    with pytest.raises(ReviewNotFound):
        library.reviews.load(batch.id)  # saved: the review is gone
    assert_sound(root)


def test_keep_both_with_the_same_key_gives_the_second_another_key(library: Library, root: Path) -> None:
    existing = sorted(bib_files(root / "references"))[0][:-4]
    entry = article(existing, "A different work that happens to share the key")
    batch = library.start_review(ParseResult((entry,), ()))
    assert batch.items[0].primary.certainty == "same key" and batch.items[0].decision == "skip"

    result = library.save_review(batch.with_item(0, decision="both"))

    [added] = result.added
    assert added == existing + "b"
    assert_sound(root)


def test_duplicates_are_looked_for_again_when_saving(library: Library, root: Path) -> None:
    entry = article("late2021", "Late arrival", doi="10.5555/late.1")
    batch = library.start_review(ParseResult((entry,), ()))
    assert batch.items[0].decision == "new"
    library.add_entries([article("early2021", "Early arrival", doi="10.5555/LATE.1")])  # someone else, meanwhile
    before = bib_files(root / "references")

    with pytest.raises(DuplicateReference, match="same DOI"):
        library.save_review(batch)

    assert bib_files(root / "references") == before
    assert library.reviews.load(batch.id) == batch  # kept, to decide again
    assert_sound(root)


def test_bad_tags_in_a_batch_save_nothing(library: Library, root: Path) -> None:
    batch = library.start_review(parse_text(entry_text("one2021", 1) + entry_text("two2021", 2)))
    batch = batch.with_item(1, themes=("no-such-theme",), key_finding="fine")
    before = bib_files(root / "references")
    with pytest.raises(EntryProblems, match="unknown theme 'no-such-theme'"):
        library.save_review(batch)
    assert bib_files(root / "references") == before


# ---------------------------------------------------------------- the app's review pages


@pytest.fixture
def app_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    references = tmp_path / "references"
    shutil.copytree(REPO / "references", references, ignore=shutil.ignore_patterns(".*"))
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()


def signed_in(**query: str) -> AppTest:
    return librarian_session(**query)


def batch_text(count: int) -> str:
    return "\n".join(entry_text(f"page{n:02d}ref", 200 + n) for n in range(count))


def tags_for(n: int) -> tuple[list[str], str, str]:
    return [THEMES[n % 5], THEMES[(n + 2) % 5]], TYPES[n % 5], f"Finding {n}: {{braces}} and 50% -- kept."


def edit_page(at: AppTest, first: int, last: int) -> AppTest:
    for n in range(first, last):
        themes, kind, finding = tags_for(n)
        at.multiselect(key=f"themes-{n}").set_value(themes)
        at.selectbox(key=f"type-{n}").set_value(kind)
        at.text_area(key=f"finding-{n}").input(finding)
    at.run()
    assert not at.exception, at.exception
    return at


def go_to_page(at: AppTest, page: int) -> AppTest:
    at.number_input(key="review_page").set_value(page).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
@pytest.mark.usefixtures("librarian", "app_root")
@pytest.mark.parametrize("save_from", [1, 2, 3])
def test_45_entries_on_three_pages_keep_every_field_wherever_they_are_saved(app_root: Path, save_from: int) -> None:
    at = signed_in()
    at.text_area(key="paste_text").input(batch_text(45))
    at.button(key="read-input").click().run()
    assert texts(at, "subheader")[0] == "Review 45 references before saving"
    for page, (first, last) in enumerate(((0, 20), (20, 40), (40, 45)), start=1):
        if page > 1:
            go_to_page(at, page)
        edit_page(at, first, last)
    go_to_page(at, save_from)
    at.button(key="save-review").click().run()

    assert not at.exception, at.exception
    assert texts(at, "success") == ["Saved 45 references. They can be found in search now."]
    for n in range(45):
        themes, kind, finding = tags_for(n)
        entry = parse_file(app_root / "references" / f"page{n:02d}ref.bib").entries[0]
        assert entry.fields["themes"] == ", ".join(themes), n
        assert entry.fields["evidence-type"] == kind, n
        record = Library(settings_for(app_root), sync=False).get(f"page{n:02d}ref")
        assert record.key_finding == finding, n
    assert not list((app_root / "data" / "reviews").glob("*.json"))
    assert_sound(app_root)


@pytest.mark.usefixtures("librarian", "app_root")
def test_a_reload_brings_the_review_back_with_its_edits(app_root: Path) -> None:
    at = signed_in()
    at.text_area(key="paste_text").input(batch_text(25))
    at.button(key="read-input").click().run()
    go_to_page(at, 2)
    edit_page(at, 20, 25)
    review_id = at.query_params["review"]
    review_id = review_id[0] if isinstance(review_id, list) else review_id

    reloaded = signed_in(review=review_id)  # a new browser session: the widgets are gone, the batch is not

    assert texts(reloaded, "subheader")[0] == "Review 25 references before saving"
    assert reloaded.number_input(key="review_page").value == 2
    themes, kind, finding = tags_for(22)
    assert reloaded.multiselect(key="themes-22").value == themes
    assert reloaded.text_area(key="finding-22").value == finding
    reloaded.button(key="save-review").click().run()
    assert texts(reloaded, "success") == ["Saved 25 references. They can be found in search now."]
    assert Library(settings_for(app_root), sync=False).get("page22ref").key_finding == finding

    gone = signed_in(review=review_id)  # saved: the address no longer brings it back
    assert any("could not be found" in text for text in texts(gone, "info"))
    assert [b for b in gone.button if b.key == "read-input"]


@pytest.mark.usefixtures("librarian", "app_root")
def test_a_pasted_batch_with_the_same_doi_twice_offers_the_choices(app_root: Path) -> None:
    text = (entry_text("twin2021a", 1, extra=",\n  doi = {10.5555/twin.9}")
            + entry_text("twin2021b", 2, extra=",\n  doi = {10.5555/twin.9}"))
    at = signed_in()
    at.text_area(key="paste_text").input(text)
    at.button(key="read-input").click().run()

    assert any("repeats another entry in what you are adding" in w for w in texts(at, "warning"))
    assert any(m.startswith("**Earlier in what you are adding** (`twin2021a`") for m in texts(at, "markdown"))
    assert at.radio(key="decision-1").value == "skip"
    at.radio(key="decision-1").set_value("merge")
    at.button(key="save-review").click().run()
    assert texts(at, "success") == ["Saved 1 reference. It can be found in search now."]
    assert not (app_root / "references" / "twin2021b.bib").exists()
    assert_sound(app_root)


def test_the_batch_json_round_trips(tmp_path: Path) -> None:
    batch = ReviewBatch("x" * 24, ())
    assert ReviewBatch.from_json(batch.to_json()) == batch


@pytest.mark.usefixtures("librarian", "app_root")
def test_the_add_form_saves_what_was_typed_exactly(app_root: Path) -> None:
    from library.records import Name

    title = "Staff found the {pilot useful} -- it's 50% better \\o/"
    at = signed_in()
    at.radio(key="add_method").set_value("form").run()
    at.text_input(key="form_key").input("form2024pilot")
    at.text_input(key="form_title").input(title)
    at.text_area(key="form_authors").input("van der Berg, Jan\nDepartment of Health and Social Care\n")
    at.text_input(key="form_year").input("2024")
    at.text_input(key="form_container").input("Journal of {Braces} & Co")
    at.text_input(key="form_pages").input("12-19")
    at.text_input(key="form_doi").input("10.5555/form.1")
    at.button(key="read-input").click().run()
    assert not at.exception, at.exception
    assert texts(at, "subheader")[0] == "Review 1 reference before saving"
    at.button(key="save-review").click().run()

    assert texts(at, "success") == ["Saved 1 reference. It can be found in search now."]
    record = Library(settings_for(app_root), sync=False).get("form2024pilot")
    assert record.title == title and record.venue == "Journal of {Braces} & Co"
    assert record.fields["pages"] == "12-19" and record.doi == "10.5555/form.1"
    assert record.authors == (Name("Berg", "Jan", "van der"),
                              Name("Department of Health and Social Care", literal=True))
    assert_sound(app_root)


@pytest.mark.usefixtures("librarian", "app_root")
def test_the_add_form_refuses_a_link_that_is_not_a_web_address(app_root: Path) -> None:
    before = bib_files(app_root / "references")
    at = signed_in()
    at.radio(key="add_method").set_value("form").run()
    at.text_input(key="form_title").input("A title")
    at.text_input(key="form_url").input("javascript:alert(1)")
    at.button(key="read-input").click().run()
    assert not at.exception, at.exception
    assert any("starting with https://" in e.replace("\\", "").replace("\u2060", "") for e in texts(at, "error"))  # shown escaped
    assert bib_files(app_root / "references") == before


def test_two_tabs_editing_one_review_keep_both_changes(library: Library) -> None:
    import threading

    batch = library.start_review(parse_text("\n".join(entry_text(f"tab{n}ref", 300 + n) for n in range(20))))
    barrier = threading.Barrier(20)

    def edit(index: int) -> None:
        barrier.wait()
        library.reviews.update(batch.id, lambda b: b.with_item(index, key_finding=f"finding {index}"))

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [item.key_finding for item in library.reviews.load(batch.id).items] == [f"finding {n}" for n in range(20)]
