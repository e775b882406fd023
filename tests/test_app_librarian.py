"""The librarian's page driven through AppTest, for the paths test_app.py does not walk:
a DOI look-up against the local replay server, an upload with a duplicate among new references,
editing, deleting and restoring, and looking after the vocabulary."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from library import Library, Settings
from tests.replay_server import serving
from tests.shared_data import shared_path
from tests.test_app import (_fresh_resources, collection, librarian, librarian_session,  # noqa: F401
                            open_app, search, shown_keys, sign_in, texts)
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


def test_a_reference_is_edited_deleted_and_restored(collection: Path) -> None:
    key = "maslach2016understanding"
    at = librarian_session(edit=key)
    labelled(at.multiselect, "Themes").set_value(["burnout", "leadership"])
    labelled(at.checkbox, "The key finding has been checked against the full text").check()
    at.button(key="edit-save").click().run()
    assert not at.exception and not texts(at, "error")
    assert texts(at, "success") == ["Saved: Themes; Key finding checked. Search shows the change now."]
    text = (collection / f"{key}.bib").read_text(encoding="utf-8")
    assert "themes = {burnout, leadership}" in text and "finding-checked = {yes}" in text

    at.checkbox(key="confirm-delete").check().run()
    at.button(key="delete-ref").click().run()
    assert not (collection / f"{key}.bib").exists()
    assert at.query_params.get("edit") is None  # back to the librarian page's tabs
    assert any(s.replace("\\", "").startswith(f"Moved '{key}' to the trash.") for s in texts(at, "success"))
    assert key not in shown_keys(search(open_app(), "burnout experience"))

    at = librarian_session()
    at.button(key="restore-0").click().run()
    assert (collection / f"{key}.bib").exists() is False  # not until it is confirmed
    assert any("back into the collection?" in m for m in texts(at, "markdown"))
    at.button(key="restore-yes-0").click().run()
    assert not at.exception
    assert any(s.replace("\\", "").startswith(f"Restored '{key}'.") for s in texts(at, "success"))
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
