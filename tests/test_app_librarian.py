"""The librarian's page driven through AppTest, for the paths test_app.py does not walk:
a DOI look-up against the local replay server, an upload with a duplicate among new references,
editing, deleting and restoring, and looking after the vocabulary."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import pytest

from library import Library, Settings
from library.config import SETTINGS
from library.values import decoded_value
from tests.replay_server import serving
from tests.shared_data import shared_path
from tests.test_app import (_fresh_resources, collection, enter_credentials, goto, librarian,  # noqa: F401
                            librarian_session, open_app, search, shown_keys, sign_in, texts)
from tests.conftest import REPO
from tests.test_crossref import PLOS, recorded

pytestmark = pytest.mark.usefixtures("librarian")

UPLOAD = b"""% Exported by JabRef: two new references of our own making and one already in the library.
@article{example2024wards,
  author = {Example, Ann and M{\\"u}ller, Kurt},
  title = {Calmer wards after trauma-informed team meetings: an example study},
  journal = {Journal of Examples},
  year = {2024},
  doi = {10.5555/example.2024.1}
}
@techreport{example2023guide,
  author = {{Example Health Board}},
  title = {An example guide to trauma-informed supervision},
  institution = {Example Health Board},
  year = {2023}
}
@article{acecopy1998,
  author = {Felitti, Vincent J.},
  title = {Relationship of Childhood Abuse and Household Dysfunction to Many of the Leading Causes of Death in Adults},
  journal = {American Journal of Preventive Medicine},
  year = {1998},
  doi = {10.1016/s0749-3797(98)00017-8}
}
"""


def labelled(elements, label: str):  # type: ignore[no-untyped-def]
    return next(e for e in elements if e.label == label)


def references(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.bib")}


def vocabulary_slugs(folder: Path) -> list[str]:
    data = tomllib.loads((folder / "themes.toml").read_text(encoding="utf-8"))
    return [theme["slug"] for theme in data["theme"]]


def test_a_doi_looked_up_through_the_page_is_saved_and_found(collection: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    crossref = shared_path("testdata", "crossref")
    plos = recorded(crossref, f"habanero_works_{PLOS.replace('/', '_')}.json",
                    f"habanero_works_{PLOS.replace('/', '_')}.meta.json")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    before = references(collection)
    with serving({f"/works/{PLOS}": [plos]}) as server:
        monkeypatch.setenv("LIBRARY_CROSSREF_URL", server.url)
        at = sign_in(open_app())
        at.radio(key="add_method").set_value("doi").run()
        at.text_input(key="doi_text").input(PLOS)
        at.button(key="read-input").click().run()
        assert not at.exception and not texts(at, "error")
        assert texts(at, "subheader")[0] == "Review 1 reference before saving"
        at.button(key="save-review").click().run()
        assert len(server.requests_for(f"/works/{PLOS}")) == 1
    assert not at.exception
    added = references(collection) - before
    assert len(added) == 1
    text = (collection / added.pop()).read_text(encoding="utf-8")
    assert f"doi = {{{PLOS}}}" in text and "provenance = {Crossref REST API" in text
    key = text.split("{", 1)[1].split(",", 1)[0]
    record = Library(Settings.from_env()).get(key)
    assert record.doi == PLOS
    # Found by search at once, by words of the title Crossref gave.
    title_words = " ".join(record.title.split()[:4])
    assert key in shown_keys(search(open_app(), title_words))


def test_an_upload_saves_the_new_references_and_skips_the_duplicate(collection: Path) -> None:
    before = references(collection)
    at = sign_in(open_app())
    at.radio(key="add_method").set_value("upload").run()
    at.file_uploader(key="upload_file").upload("jabref-export.bib", UPLOAD, "application/x-bibtex").run()
    at.button(key="read-input").click().run()
    assert not at.exception
    assert texts(at, "subheader")[0] == "Review 3 references before saving"
    duplicate = [e.label for e in at.expander if e.label.startswith("⚠ possible duplicate")]
    assert duplicate == ["⚠ possible duplicate · Relationship of Childhood Abuse and Household Dysfunction to Many "
                         "of the Leading Causes of Death in Adults (1998)"]
    # Tag them all at once, then save.
    at.multiselect(key="bulk_themes").set_value(["leadership"])
    at.button(key="bulk_apply").click().run()
    at.button(key="save-review").click().run()
    assert not at.exception
    assert texts(at, "success") == ["Saved 2 references; left out 1 already in the collection. "
                                    "They can be found in search now."]
    assert references(collection) - before == {"example2024wards.bib", "example2023guide.bib"}
    assert "themes = {leadership}" in (collection / "example2024wards.bib").read_text(encoding="utf-8")
    found = search(open_app(), "calmer wards")
    assert shown_keys(found) == ["example2024wards"]


def test_an_edit_survives_a_visit_to_another_page(collection: Path) -> None:
    """Streamlit forgets widget values while another page is open: the form came back empty,
    and saving it removed volume, pages, DOI, themes and the key finding while saying "Saved"."""
    key = "figley2002compassion"
    before = (collection / f"{key}.bib").read_text(encoding="utf-8")
    at = librarian_session(edit=key)
    saved_title = labelled(at.text_area, "Title").value
    assert saved_title and labelled(at.text_input, "Volume").value
    labelled(at.text_area, "Key finding").input("Staff who care for traumatised people can be harmed by it.").run()
    goto(at, "views/reference.py", key=key)
    goto(at, "views/librarian.py", edit=key)
    assert labelled(at.text_area, "Title").value == saved_title
    assert labelled(at.text_input, "Volume").value and labelled(at.text_input, "DOI").value
    assert labelled(at.multiselect, "Themes").value
    assert labelled(at.text_area, "Key finding").value == "Staff who care for traumatised people can be harmed by it."
    at.button(key="edit-save").click().run()
    assert not at.exception and not texts(at, "error")
    assert texts(at, "success") == ["Saved. Changed: Key finding. Search shows the change now."]
    after = (collection / f"{key}.bib").read_text(encoding="utf-8")
    changed = set(before.splitlines()) ^ set(after.splitlines())
    assert all("key-finding" in line for line in changed), changed


def test_opening_another_reference_keeps_the_first_edit(collection: Path) -> None:
    """One edit state for the whole session: opening B's form threw away what was typed in A's."""
    first, second = "figley2002compassion", "felitti1998relationship"
    at = librarian_session(edit=first)
    labelled(at.text_input, "Country or region").input("USA").run()
    goto(at, "views/librarian.py", edit=second)
    labelled(at.text_input, "Country or region").input("England").run()
    goto(at, "views/search.py")
    goto(at, "views/librarian.py", edit=first)
    assert labelled(at.text_input, "Country or region").value == "USA"
    at.button(key="edit-save").click().run()
    assert texts(at, "success") == ["Saved. Added: Country or region. Search shows the change now."]
    goto(at, "views/librarian.py", edit=second)
    assert labelled(at.text_input, "Country or region").value == "England"


def test_a_save_names_the_fields_it_removed(collection: Path) -> None:
    key = "figley2002compassion"
    at = librarian_session(edit=key)
    labelled(at.text_input, "Volume").input("")
    labelled(at.text_input, "Country or region").input("England")
    labelled(at.text_area, "Title").input("Compassion fatigue: psychotherapists’ chronic lack of self-care")
    at.button(key="edit-save").click().run()
    assert texts(at, "success") == ["Saved. Changed: Title; Added: Country or region; Removed: Volume. "
                                    "Search shows the change now."]


def test_a_reference_is_edited_deleted_and_restored(collection: Path) -> None:
    key = "maslach2016understanding"
    at = librarian_session(edit=key)
    labelled(at.multiselect, "Themes").set_value(["burnout", "leadership"])
    labelled(at.checkbox, "The key finding has been checked against the full text").check()
    at.button(key="edit-save").click().run()
    assert not at.exception and not texts(at, "error")
    assert texts(at, "success") == ["Saved. Changed: Themes, Key finding checked. Search shows the change now."]
    text = (collection / f"{key}.bib").read_text(encoding="utf-8")
    assert "themes = {burnout, leadership}" in text and "finding-checked = {yes}" in text

    at.checkbox(key="confirm-delete").check().run()
    at.button(key="delete-ref").click().run()
    assert not (collection / f"{key}.bib").exists()
    assert at.query_params.get("edit") is None  # back to the librarian page's tabs
    assert any(s.replace("\\", "").replace("\u2060", "").startswith(f"Moved '{key}' to the trash.") for s in texts(at, "success"))
    assert key not in shown_keys(search(open_app(), "burnout experience"))

    at = librarian_session()
    at.button(key="restore-0").click().run()
    assert (collection / f"{key}.bib").exists() is False  # not until it is confirmed
    assert any("back into the collection?" in m for m in texts(at, "markdown"))
    at.button(key="restore-yes-0").click().run()
    assert not at.exception
    assert any(s.replace("\\", "").replace("\u2060", "").startswith(f"Restored '{key}'.") for s in texts(at, "success"))
    assert (collection / f"{key}.bib").read_text(encoding="utf-8") == text
    assert key in shown_keys(search(open_app(), "burnout experience"))


def test_themes_are_added_renamed_and_only_unused_ones_deleted(collection: Path) -> None:
    at = sign_in(open_app())
    labelled(at.text_input, "Slug (lower-case-with-hyphens)").input("supervision")
    labelled(at.text_input, "Label").input("Clinical supervision")
    labelled(at.selectbox, "Under").set_value("implementation")
    at.button(key="FormSubmitter:add-theme-Add theme").click().run()
    assert not at.exception and not texts(at, "error")
    slugs = vocabulary_slugs(collection)
    assert slugs.index("supervision") > slugs.index("implementation")

    # A theme in use is never deleted: the message says why and nothing changes.
    vocabulary_before = (collection / "themes.toml").read_bytes()
    at.selectbox(key="doomed").set_value("burnout")
    at.button(key="FormSubmitter:delete-theme-Delete theme").click().run()
    assert any("is used by" in e for e in texts(at, "error"))
    assert (collection / "themes.toml").read_bytes() == vocabulary_before

    # Renaming updates every reference that uses it.
    users = [p.name for p in collection.glob("*.bib") if "burnout" in p.read_text(encoding="utf-8").split(
        "themes = {", 1)[-1].split("}", 1)[0].split(", ")]
    assert users
    labelled(at.selectbox, "Theme").set_value("burnout")
    labelled(at.text_input, "New slug (leave empty to keep)").input("burnout-at-work")
    at.button(key="FormSubmitter:rename-theme-Rename").click().run()
    assert not at.exception and not texts(at, "error")
    assert "burnout" not in vocabulary_slugs(collection) and "burnout-at-work" in vocabulary_slugs(collection)
    for name in users:
        assert "burnout-at-work" in (collection / name).read_text(encoding="utf-8")

    at.selectbox(key="doomed").set_value("supervision")
    at.button(key="FormSubmitter:delete-theme-Delete theme").click().run()
    assert not texts(at, "error")
    assert "supervision" not in vocabulary_slugs(collection)


# ------------------------------------------------------------------ the complete edit form

EDITED = {  # widget suffix: (kind, typed text)
    "title": ("text_area", "Childhood abuse and household dysfunction: {a} 50% test -- title"),
    "year": ("text_input", "1999"),
    "venue": ("text_input", "American Journal of Preventive Medicine & Health"),
    "volume": ("text_input", "15"),
    "number": ("text_input", "5"),
    "pages": ("text_input", "246–259"),
    "doi": ("text_input", "10.5555/example.felitti"),
    "url": ("text_input", "https://example.org/aces?x=1&y=2"),
    "abstract": ("text_area", "An abstract typed by hand, with $ and # and _ in it."),
    "country": ("text_input", "United States"),
    "key_finding": ("text_area", "A plain finding, in our own words."),
}


def test_every_bibliographic_field_is_edited_through_the_form_and_logged(collection: Path) -> None:
    key = "felitti1998relationship"
    at = librarian_session(edit=key)
    for suffix, (kind, text) in EDITED.items():
        getattr(at, kind)(key=f"edit-{key}-{suffix}").input(text)
    at.selectbox(key=f"edit-{key}-evidence_type").set_value("trial")
    at.multiselect(key=f"edit-{key}-settings").set_value(["primary-care"])
    at.checkbox(key=f"edit-{key}-finding_checked").check()
    # Authors: the second moves up, the last is removed, one is added (typed in the new row).
    rows = [b.key for b in at.button if b.key and b.key.startswith(f"edit-{key}-author-") and b.key.endswith("-up")]
    at.button(key=rows[1]).click().run()
    removes = [b.key for b in at.button if b.key and b.key.endswith("-remove")]
    at.button(key=removes[-1]).click().run()
    at.button(key=f"edit-{key}-author-add").click().run()
    families = [t for t in at.text_input if t.key and t.key.endswith("-family")]
    givens = [t for t in at.text_input if t.key and t.key.endswith("-given")]
    families[-1].input("van der Berg")
    givens[-1].input("Anna")
    at.button(key="edit-save").click().run()
    assert not at.exception and not texts(at, "error"), texts(at, "error")
    [saved] = texts(at, "success")
    assert saved.startswith("Saved. Changed: ") and "Authors" in saved and "Title" in saved

    record = Library(Settings.from_env()).get(key)
    assert (record.title, record.year, record.venue, record.abstract, record.key_finding) == (
        EDITED["title"][1], 1999, EDITED["venue"][1], EDITED["abstract"][1], EDITED["key_finding"][1])
    entry = record.entry
    assert entry is not None
    assert (entry.fields["volume"], entry.fields["number"], decoded_value("pages", entry.fields["pages"]), record.doi,
            record.url) == ("15", "5", "246–259", "10.5555/example.felitti", "https://example.org/aces?x=1&y=2")
    assert (record.evidence_type, record.settings, record.countries, record.finding_checked) == (
        "trial", ("primary-care",), ("United States",), True)
    families = [n.full_family for n in record.authors]
    assert families[:2] == ["Anda", "Felitti"] and families[-1] == "van der Berg" and "Marks" not in families

    # The change log says what changed, field by field, with a readable time.
    log = librarian_session()
    entries = [m for m in texts(log, "markdown") if "Edited" in m and key.replace("_", "\\_") in m.replace("\\", "").replace("\u2060", "")
               or "Edited" in m]
    assert entries and re.match(r"\*\*(Today|Yesterday), \d\d:\d\d\*\* · Edited", entries[0])
    assert "by Jo Librarian" in entries[0]
    described = " ".join(m.replace("\\", "").replace("\u2060", "") for m in texts(log, "markdown"))
    assert "Year: “1998” → “1999”" in described and "Evidence type: “" in described and "→ “trial”" in described


@pytest.mark.parametrize(("suffix", "kind", "typed", "message"), [
    ("url", "text_input", "javascript:alert(1)", "must be a web address starting with https:// or http://"),
    ("doi", "text_input", "11.1234/not-a-doi", "is not well formed"),
    ("year", "text_input", "19x9", "is not a four-digit year"),
])
def test_the_form_refuses_what_the_command_line_refuses_and_changes_nothing(
        collection: Path, suffix: str, kind: str, typed: str, message: str) -> None:
    key = "felitti1998relationship"
    before = (collection / f"{key}.bib").read_bytes()
    at = librarian_session(edit=key)
    getattr(at, kind)(key=f"edit-{key}-{suffix}").input(typed)
    at.button(key="edit-save").click().run()
    assert not at.exception
    [error] = texts(at, "error")
    assert message in error.replace("\\", "").replace("\u2060", "")
    assert (collection / f"{key}.bib").read_bytes() == before
    assert getattr(at, kind)(key=f"edit-{key}-{suffix}").value == typed  # the text is kept to correct


def page_links(at):  # type: ignore[no-untyped-def]
    return [(p.proto.label, p.proto.page) for p in at.get("page_link")]


def test_the_edit_link_is_on_the_reference_page_and_search_results_for_librarians_only() -> None:
    key = "felitti1998relationship"
    reader = goto(open_app(), "views/reference.py", key=key)
    assert "Edit" not in [label for label, _ in page_links(reader)]
    assert "Edit" not in [label for label, _ in page_links(search(goto(reader, "views/search.py"), "felitti"))]

    at = librarian_session()
    goto(at, "views/reference.py", key=key)
    [edit] = [p for p in at.get("page_link") if p.proto.label == "Edit"]
    assert edit.proto.page.endswith("librarian") and edit.proto.query_string == f"edit={key}"
    labels = [p.proto.label for p in at.get("page_link")]
    assert labels.index("Edit") >= 0
    # "Add to pack" comes before the citations and the BibTeX.
    assert at.button(key="detail-add").label == "Add to pack"
    search(goto(at, "views/search.py"), "felitti")
    assert any(p.proto.label == "Edit" and p.proto.query_string == f"edit={key}" for p in at.get("page_link"))


FLAGGED = """@misc{flagged2024,
  title = {A report with problems to fix},
  year = {2024},
  themes = {burnout, no-such-theme},
  evidence-type = {made-up-type},
  setting = {nowhere}
}
@article{badlink2024,
  author = {Example, Ann},
  title = {An article whose link is not a web address},
  journal = {Journal of Examples},
  year = {2024},
  themes = {burnout},
  evidence-type = {trial},
  url = {javascript:alert(1)}
}
"""


def test_review_flags_unknown_tags_missing_details_and_bad_links_with_what_to_fix(collection: Path) -> None:
    before = references(collection)
    at = librarian_session()
    at.text_area(key="paste_text").input(FLAGGED)
    at.button(key="read-input").click().run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert any(label.startswith("⚠ needs attention · A report with problems to fix") for label in labels)
    assert any(label.startswith("⛔ cannot be saved as it is · An article whose link") for label in labels)
    shown = [w.replace("\\", "").replace("\u2060", "") for w in texts(at, "warning") + texts(at, "error")]
    for expected in ("The entry names the theme 'no-such-theme', which the vocabulary does not have",
                     "The entry names the evidence type 'made-up-type'", "The entry names the setting 'nowhere'",
                     "No evidence type: choose one under Evidence type", "No authors: check the source",
                     "The link 'javascript:alert(1)' is not a web address",
                     "1 of these cannot be saved as it is"):
        assert any(expected in text for text in shown), (expected, shown)
    assert at.multiselect(key="themes-0").value == ["burnout"]  # the known theme is kept
    at.button(key="save-review").click().run()
    assert references(collection) == before  # all or nothing: the bad link stops the batch
    assert any("not a web address" in e.replace("\\", "").replace("\u2060", "") for e in texts(at, "error"))
    at.radio(key="decision-1").set_value("skip").run()
    at.button(key="save-review").click().run()
    assert references(collection) - before == {"flagged2024.bib"}
    saved = (collection / "flagged2024.bib").read_text(encoding="utf-8")
    assert "themes = {burnout}" in saved and "no-such-theme" not in saved and "made-up-type" not in saved


def test_keeping_the_existing_one_is_offered_only_for_a_duplicate() -> None:
    at = librarian_session()
    at.text_area(key="paste_text").input(FLAGGED.split("@article")[0])
    at.button(key="read-input").click().run()
    options = at.radio(key="decision-0").options
    assert "Keep the existing one (don't add)" not in options and "Don't add it" in options


def test_the_add_method_is_remembered_after_a_save(collection: Path) -> None:
    at = librarian_session()
    at.radio(key="add_method").set_value("upload").run()
    at.file_uploader(key="upload_file").upload("one.bib", UPLOAD.split(b"@techreport")[0], "application/x-bibtex").run()
    at.button(key="read-input").click().run()
    at.button(key="save-review").click().run()
    assert not at.exception
    assert at.radio(key="add_method").value == "upload"


def test_the_uploader_states_the_library_limit_and_streamlit_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBRARY_MAX_UPLOAD_MB", "3")
    at = librarian_session()
    at.radio(key="add_method").set_value("upload").run()
    [uploader] = at.get("file_uploader")
    assert uploader.proto.max_upload_size_mb == 3
    assert uploader.proto.help.startswith("Up to 3 MB")
    # Streamlit's server-wide default agrees with the library's default limit.
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    default = next(s.default for s in SETTINGS if s.env == "LIBRARY_MAX_UPLOAD_MB")
    assert config["server"]["maxUploadSize"] == math.ceil(float(default))
    assert '--server.maxUploadSize' in (REPO / "scripts" / "start-app.sh").read_text(encoding="utf-8")


def test_trash_shows_a_readable_time(collection: Path) -> None:
    key = "maslach2016understanding"
    Library(Settings.from_env()).delete(key, who="Jo Librarian")
    at = librarian_session()
    [line] = [m for m in texts(at, "markdown") if m.startswith(f"`{key}` · deleted")]
    assert re.search(r"deleted (Today|Yesterday), \d\d:\d\d$", line), line


UNDERSCORED = """@article{walk_2024_second,
  author = {Walker, Anna},
  title = {A second walk through the library},
  journal = {Journal of Walking},
  year = {2023},
  themes = {burnout},
  evidence-type = {qualitative}
}
"""


def test_a_key_shows_as_it_is_spelt_in_review_trash_and_change_log(collection: Path) -> None:
    """Keys are shown as code: Markdown escapes do not apply inside code, so an escaped key would
    read 'walk\\_2024\\_second'."""
    key = "walk_2024_second"
    at = librarian_session()
    at.text_area(key="paste_text").input(UNDERSCORED)
    at.button(key="read-input").click().run()
    assert not at.exception
    [line] = [m for m in texts(at, "markdown") if "Walker" in m and "Journal" in m]
    assert line.startswith(f"`{key}` · "), line
    at.button(key="save-review").click().run()
    assert (collection / f"{key}.bib").exists()
    Library(Settings.from_env()).delete(key, who="Jo Librarian")
    at = librarian_session()
    assert [m for m in texts(at, "markdown") if m.startswith(f"`{key}` · deleted")], texts(at, "markdown")
    logged = [m for m in texts(at, "markdown") if f"`{key}` · by" in m]
    assert len(logged) == 2 and all("\\_" not in m for m in logged), logged  # added, then moved to the trash


def test_a_librarian_named_everyone_can_still_be_chosen_in_the_change_log(collection: Path) -> None:
    """'Everyone' is the filter's label for all changes, not a value a person's name can collide with."""
    at = goto(open_app(), "views/librarian.py")
    enter_credentials(at, name="Everyone")
    Library(Settings.from_env()).delete(shown_keys(search(open_app(), "burnout"))[0], who="Everyone")
    Library(Settings.from_env()).delete(shown_keys(search(open_app(), "trauma"))[0], who="Someone Else")
    at = goto(at, "views/librarian.py")
    box = at.selectbox(key="log_who")
    assert box.options == ["Everyone", "Everyone", "Someone Else"]  # all changes, then the two people
    assert len([m for m in texts(at, "markdown") if " · by " in m]) == 2
    box.set_value("Everyone").run()
    [entry] = [m for m in texts(at, "markdown") if " · by " in m]
    assert entry.endswith("by Everyone"), entry
