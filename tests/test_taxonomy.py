"""Theme synonyms in the vocabulary (library.taxonomy): read, checked, written back, searched.

The librarian edits `synonyms = [...]` in themes.toml; a problem names the file, the
theme and what to fix, and nothing half-checked is used.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from library import Library, SearchRequest, Settings
from library.errors import VocabularyError
from library.index import topics_text
from library.taxonomy import Theme, load_vocabulary, vocabulary_from_dict, vocabulary_text, vocabulary_to_dict

from .conftest import REPO

SHIPPED = REPO / "references" / "themes.toml"


def _vocabulary(**theme: object) -> dict:
    return {"theme": [{"slug": "staff", "label": "Staff"},
                      {"slug": "peer-support", "label": "Peer support", "parent": "staff", **theme}]}


def test_synonyms_are_read_tidied_and_kept_in_order() -> None:
    vocabulary = vocabulary_from_dict(_vocabulary(synonyms=["lived  experience", " peer worker "]), "themes.toml")
    assert vocabulary.theme_by_slug["peer-support"].synonyms == ("lived experience", "peer worker")
    assert vocabulary.theme_by_slug["staff"].synonyms == ()


@pytest.mark.parametrize(("synonyms", "problem"), [
    ("lived experience", "'synonyms' must be a list of words or phrases"),
    ([3], "each synonym must be a word or phrase in quotes, not 3"),
    (["  "], "each synonym must be a word or phrase in quotes, not '  '"),
    (["Peer worker", "peer worker"], "the synonym 'peer worker' is listed twice"),
    (["x" * 101], "is longer than 100 characters"),
])
def test_a_bad_synonym_is_an_error_naming_the_theme(synonyms: object, problem: str) -> None:
    with pytest.raises(VocabularyError) as raised:
        vocabulary_from_dict(_vocabulary(synonyms=synonyms), "references/themes.toml")
    message = str(raised.value)
    assert message.startswith("references/themes.toml: the vocabulary has problems")
    assert "theme 'peer-support'" in message and problem in message


def test_synonyms_are_written_back_and_read_again_the_same() -> None:
    vocabulary = load_vocabulary(SHIPPED)
    assert any(theme.synonyms for theme in vocabulary.themes)
    data = vocabulary_to_dict(vocabulary)
    again = vocabulary_from_dict(tomllib.loads(vocabulary_text(vocabulary, None)), "again")
    assert [t.synonyms for t in again.themes] == [t.synonyms for t in vocabulary.themes]
    assert all("synonyms" not in item for item, theme in zip(data["theme"], vocabulary.themes) if not theme.synonyms)


def test_the_shipped_synonyms_are_checked_like_the_rest() -> None:
    vocabulary = load_vocabulary(SHIPPED)
    peer = vocabulary.theme_by_slug["peer-support"]
    assert "lived experience" in peer.synonyms


def test_topics_hold_labels_and_synonyms_of_a_reference_themes_and_broader_ones() -> None:
    vocabulary = load_vocabulary(SHIPPED)
    text = topics_text(["burnout"], vocabulary)
    # burnout, under staff wellbeing, under the heading "What managers ask" (a heading: no label).
    assert text.split(" ; ") == ["Burnout", "emotional exhaustion", "burned out", "Staff wellbeing", "staff welfare",
                                 "workforce wellbeing"]
    assert "What managers ask" in topics_text(["what-managers-ask"], vocabulary)  # its own references: label too
    assert "SAMHSA" in topics_text(["safety"], vocabulary)  # a heading's synonyms are lent


def test_topics_hold_the_labels_of_a_reference_settings_and_evidence_type() -> None:
    vocabulary = load_vocabulary(SHIPPED)
    text = topics_text(["burnout"], vocabulary, settings=["inpatient", "community-mental-health"],
                       evidence_type="grey-literature")
    assert text.split(" ; ")[-3:] == ["Inpatient wards", "Community mental health", "Thesis or other grey literature"]
    # A slug the vocabulary does not know (the check reports it) adds nothing.
    assert topics_text([], vocabulary, settings=["nowhere"], evidence_type="rumour") == ""


def test_editing_the_vocabulary_keeps_synonyms_and_searches_them(tmp_path: Path) -> None:
    references = tmp_path / "references"
    shutil.copytree(REPO / "references", references)
    library = Library(Settings.from_env(references_dir=references, index_dir=tmp_path / "index",
                                        data_dir=tmp_path / "data"))
    before = library.search("restrictive practice", per_page=100).total
    library.add_theme(Theme("de-escalation", "De-escalation", "Calming a crisis without force.",
                            "restraint-seclusion", ("talking down",)))
    saved = load_vocabulary(references / "themes.toml")
    assert saved.theme_by_slug["de-escalation"].synonyms == ("talking down",)
    assert saved.theme_by_slug["peer-support"].synonyms == load_vocabulary(SHIPPED).theme_by_slug[
        "peer-support"].synonyms
    assert library.search("restrictive practice", per_page=100).total == before
    assert library.search(SearchRequest(text="lived experience")).total > 0
    library.close()


def test_the_cli_adds_a_theme_with_synonyms_that_search_finds(tmp_path: Path) -> None:
    from tests.security_support import cli

    shutil.copytree(REPO / "references", tmp_path / "references")
    done = cli(tmp_path, "themes", "add", "de-escalation", "De-escalation", "--parent", "restraint-seclusion",
               "--synonym", "talking down", "--synonym", "calming")
    assert done.returncode == 0, done.stderr.decode()
    saved = load_vocabulary(tmp_path / "references" / "themes.toml")
    assert saved.theme_by_slug["de-escalation"].synonyms == ("talking down", "calming")
    refused = cli(tmp_path, "themes", "add", "other-theme", "Other", "--synonym", "x" * 500)
    assert refused.returncode != 0 and "synonym" in refused.stderr.decode().lower()
    assert "other-theme" not in load_vocabulary(tmp_path / "references" / "themes.toml").theme_by_slug
