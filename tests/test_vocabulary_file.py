"""A vocabulary change edits themes.toml in place: the librarian's notes survive, and only the
lines of what changed change (a diff a reviewer can read, as in a git workflow).

Each case starts from a copy of the real references/themes.toml, makes one change through the
library (the same calls the `themes` commands and the librarian page make), and compares the
file with the original text edited by hand: every other byte, comment and blank line is the
same.  The saved vocabulary then reads back as the intended one.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Callable

import pytest

from library import Library
from library.errors import VocabularyError
from library.taxonomy import Term, Theme, Vocabulary, load_vocabulary, vocabulary_text, vocabulary_to_dict
from tests.security_support import SEED, assert_sound, entry_text, seed_collection, settings_for

ORIGINAL = (SEED / "themes.toml").read_text(encoding="utf-8")
TAGGED = 4  # references tagged "burnout", so that a rename or merge rewrites them in the same journal


def block(slug: str, text: str = ORIGINAL, array: str = "theme") -> str:
    """One table of the file as written: its header, its keys and the blank line after them."""
    match = re.search(rf'^\[\[{array}\]\]\nslug = "{slug}"\n(?:[a-z_]+ = .*\n)*\n', text, re.M)
    assert match, slug
    return match.group(0)


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    references = seed_collection(tmp_path, 0)
    for n in range(TAGGED):
        (references / f"tagged{n}.bib").write_text(
            entry_text(f"tagged{n}", n, extra=",\n  themes = {burnout, training}"), encoding="utf-8")
    return tmp_path


@pytest.fixture
def library(root: Path) -> Library:
    lib = Library(settings_for(root))
    yield lib
    lib.close()


def themes_edited(vocabulary: Vocabulary, slug: str, **changes: object) -> Vocabulary:
    return replace(vocabulary, themes=tuple(replace(t, **changes) if t.slug == slug else t for t in vocabulary.themes))


def without(vocabulary: Vocabulary, slug: str) -> Vocabulary:
    return replace(vocabulary, themes=tuple(t for t in vocabulary.themes if t.slug != slug))


def inserted_after(vocabulary: Vocabulary, after: str, theme: Theme) -> Vocabulary:
    themes = list(vocabulary.themes)
    themes.insert([t.slug for t in themes].index(after) + 1, theme)
    return replace(vocabulary, themes=tuple(themes))


def renamed_everywhere(vocabulary: Vocabulary, old: str, new: str) -> Vocabulary:
    return replace(
        vocabulary,
        themes=tuple(replace(t, slug=new if t.slug == old else t.slug, parent=new if t.parent == old else t.parent)
                     for t in vocabulary.themes),
        concerns=tuple(replace(c, themes=tuple(new if s == old else s for s in c.themes)) for c in vocabulary.concerns))


NEW_TOP = ('[[theme]]\nslug = "new-theme"\nlabel = "New theme"\n'
           'description = "Something the librarian added."\n\n')
NEW_CHILD = ('[[theme]]\nslug = "barrier-stigma"\nlabel = "Stigma"\ndescription = "Stigma about trauma."\n'
             'parent = "barriers"\nsynonyms = ["shame", "labelling"]\n\n')
STAFF_BURNOUT_THEMES = 'themes = ["barrier-burnout", "staff-wellbeing"]\n'

# (what is done, how the text changes, how the vocabulary changes); `vocabulary` is the shipped one.
Case = tuple[Callable[[Library], object], Callable[[str], str], Callable[[Vocabulary], Vocabulary]]
CASES: dict[str, Case] = {
    # A new top-level theme goes last among the themes: before the evidence types' heading, not after it.
    "add a theme": (
        lambda lib: lib.add_theme(Theme("new-theme", "New theme", "Something the librarian added.")),
        lambda text: text.replace(block("research-methods"), block("research-methods") + NEW_TOP),
        lambda v: replace(v, themes=v.themes + (Theme("new-theme", "New theme", "Something the librarian added."),)),
    ),
    # A new narrower theme goes after its parent's family.
    "add a narrower theme with synonyms": (
        lambda lib: lib.add_theme(Theme("barrier-stigma", "Stigma", "Stigma about trauma.", "barriers",
                                        ("shame", "labelling"))),
        lambda text: text.replace(block("barrier-resources"), block("barrier-resources") + NEW_CHILD),
        lambda v: inserted_after(v, "barrier-resources", Theme("barrier-stigma", "Stigma", "Stigma about trauma.",
                                                               "barriers", ("shame", "labelling"))),
    ),
    "add a synonym to a theme that had none": (
        lambda lib: lib.save_vocabulary(themes_edited(lib.vocabulary, "advice-dont-give-up", synonyms=("quitting",))),
        lambda text: text.replace(block("advice-dont-give-up"),
                                  block("advice-dont-give-up")[:-1] + 'synonyms = ["quitting"]\n\n'),
        lambda v: themes_edited(v, "advice-dont-give-up", synonyms=("quitting",)),
    ),
    "add a synonym to a theme that had some": (
        lambda lib: lib.save_vocabulary(themes_edited(
            lib.vocabulary, "peer-support", synonyms=lib.vocabulary.theme_by_slug["peer-support"].synonyms
            + ("peer mentor",))),
        lambda text: text.replace('"experts by experience"]', '"experts by experience", "peer mentor"]'),
        lambda v: themes_edited(v, "peer-support", synonyms=v.theme_by_slug["peer-support"].synonyms
                                + ("peer mentor",)),
    ),
    # The advice heading's note sits in the file between this table and the next: it stays.
    "relabel a theme": (
        lambda lib: lib.rename_theme("advice", "advice", label="Advice for people pushing for change"),
        lambda text: text.replace('label = "Advice for change advocates"',
                                  'label = "Advice for people pushing for change"'),
        lambda v: themes_edited(v, "advice", label="Advice for people pushing for change"),
    ),
    # The slug, the narrower themes' parent lines and the concern that names it change; nothing else.
    "rename a theme's slug": (
        lambda lib: lib.rename_theme("staff-wellbeing", "staff-welfare"),
        lambda text: text.replace('slug = "staff-wellbeing"', 'slug = "staff-welfare"').replace(
            'parent = "staff-wellbeing"', 'parent = "staff-welfare"').replace(
            STAFF_BURNOUT_THEMES, STAFF_BURNOUT_THEMES.replace("staff-wellbeing", "staff-welfare")),
        lambda v: renamed_everywhere(v, "staff-wellbeing", "staff-welfare"),
    ),
    # A rename that retags references too: the .bib files and themes.toml change in one journal.
    "rename a theme used by references": (
        lambda lib: lib.rename_theme("burnout", "burnout-at-work", label="Burnout at work"),
        lambda text: text.replace('slug = "burnout"\nlabel = "Burnout"',
                                  'slug = "burnout-at-work"\nlabel = "Burnout at work"'),
        lambda v: themes_edited(renamed_everywhere(v, "burnout", "burnout-at-work"), "burnout-at-work",
                                label="Burnout at work"),
    ),
    # Merging: burnout's table goes; its narrower theme moves under leadership, after leadership's table.
    "merge a theme": (
        lambda lib: (lib.add_theme(Theme("burnout-subtype", "A kind of burnout", "", "burnout")),
                     lib.merge_theme("burnout", "leadership")),
        lambda text: text.replace(block("burnout"), "").replace(
            block("leadership"), block("leadership")
            + '[[theme]]\nslug = "burnout-subtype"\nlabel = "A kind of burnout"\nparent = "leadership"\n\n'),
        lambda v: inserted_after(without(v, "burnout"), "leadership",
                                 Theme("burnout-subtype", "A kind of burnout", "", "leadership")),
    ),
    # Deleting the last theme: its table goes, the headings before and after it stay.
    "delete the last theme": (
        lambda lib: lib.delete_theme("research-methods"),
        lambda text: text.replace(block("research-methods"), ""),
        lambda v: without(v, "research-methods"),
    ),
    # Deleting the first table after a note: the note stays, above the next table.
    "delete a theme after a note": (
        lambda lib: lib.delete_theme("advice-dont-give-up"),
        lambda text: text.replace(block("advice-dont-give-up"), ""),
        lambda v: without(v, "advice-dont-give-up"),
    ),
    "add and then delete a theme": (
        lambda lib: (lib.add_theme(Theme("short-lived", "Short-lived", "", "advice")),
                     lib.delete_theme("short-lived")),
        lambda text: text,
        lambda v: v,
    ),
    "add an evidence type": (
        lambda lib: lib.save_vocabulary(replace(lib.vocabulary, evidence_types=lib.vocabulary.evidence_types
                                                + (Term("case-study", "Case study", "One service, described."),))),
        lambda text: text.replace(block("grey-literature", array="evidence_type"),
                                  block("grey-literature", array="evidence_type")
                                  + '[[evidence_type]]\nslug = "case-study"\nlabel = "Case study"\n'
                                    'description = "One service, described."\n\n'),
        lambda v: replace(v, evidence_types=v.evidence_types + (Term("case-study", "Case study",
                                                                     "One service, described."),)),
    ),
    "relabel a setting": (
        lambda lib: lib.save_vocabulary(replace(lib.vocabulary, settings=tuple(
            replace(s, label="Hospital wards") if s.slug == "inpatient" else s for s in lib.vocabulary.settings))),
        lambda text: text.replace('label = "Inpatient wards"', 'label = "Hospital wards"'),
        lambda v: replace(v, settings=tuple(replace(s, label="Hospital wards") if s.slug == "inpatient" else s
                                            for s in v.settings)),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_change_changes_only_its_own_lines(case: str, root: Path, library: Library) -> None:
    change, expected_text, expected_vocabulary = CASES[case]
    path = root / "references" / "themes.toml"
    assert path.read_text(encoding="utf-8") == ORIGINAL
    shipped = library.vocabulary

    change(library)

    text = path.read_text(encoding="utf-8")
    expected = expected_text(ORIGINAL)
    assert expected != ORIGINAL or case == "add and then delete a theme"  # the hand edit did something
    assert text == expected
    assert comments(text) == comments(ORIGINAL)
    intended = vocabulary_to_dict(expected_vocabulary(shipped))
    assert vocabulary_to_dict(load_vocabulary(path)) == intended
    assert vocabulary_to_dict(library.vocabulary) == intended


def test_a_rename_rewrites_the_references_and_the_vocabulary_together(root: Path, library: Library) -> None:
    result = library.rename_theme("burnout", "burnout-at-work")
    assert len(result.keys) == TAGGED
    for n in range(TAGGED):
        assert "themes = {burnout-at-work, training}" in (root / "references" / f"tagged{n}.bib").read_text()
    assert not (root / "data" / "journal.json").exists()
    assert_sound(root)


def test_a_note_the_librarian_added_since_the_library_opened_is_kept(root: Path, library: Library) -> None:
    """The change edits the file as it is on disk when written, not as it was when first read."""
    path = root / "references" / "themes.toml"
    library.vocabulary  # read now
    edited = ORIGINAL.replace('[[theme]]\nslug = "burnout"', '# Burnout: see also compassion fatigue.\n'
                              '[[theme]]\nslug = "burnout"')
    path.write_text(edited, encoding="utf-8")

    library.add_theme(Theme("new-theme", "New theme", "Something the librarian added."))

    assert path.read_text(encoding="utf-8") == edited.replace(
        block("research-methods"), block("research-methods") + NEW_TOP)


SMALL = '''# Header note.
version = 1

[[theme]]  # the top
slug = "staff"
label = "Staff"   # the words people see
# a note inside the table
description = "Staff."

# A heading for the next one.

[[theme]]
slug = "peer-support"
label = "Peer support"
parent = "staff"
synonyms = [
    "lived experience",  # kept on its own line
    "peer worker",
]
extra = "a key the vocabulary does not know"

[[unknown]]
slug = "left-alone"
'''


def test_inline_comments_multi_line_arrays_and_unknown_keys_are_kept() -> None:
    vocabulary = load_vocabulary_text(SMALL)
    relabelled = themes_edited(vocabulary, "staff", label="All staff")
    text = vocabulary_text(relabelled, SMALL)
    assert text == SMALL.replace('label = "Staff"   # the words', 'label = "All staff"   # the words')
    assert vocabulary_text(vocabulary, SMALL) == SMALL


def test_without_a_file_the_vocabulary_is_written_from_scratch() -> None:
    vocabulary = load_vocabulary(SEED / "themes.toml")
    text = vocabulary_text(vocabulary, None)
    assert vocabulary_to_dict(load_vocabulary_text(text)) == vocabulary_to_dict(vocabulary)


def test_a_file_broken_on_disk_is_not_overwritten(root: Path, library: Library) -> None:
    path = root / "references" / "themes.toml"
    library.vocabulary
    path.write_text(ORIGINAL + "\n[[theme]\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="themes.toml: the file on disk is not valid TOML now"):
        library.add_theme(Theme("new-theme", "New theme"))
    assert path.read_text(encoding="utf-8") == ORIGINAL + "\n[[theme]\n"


def load_vocabulary_text(text: str) -> Vocabulary:
    import tomllib

    from library.taxonomy import vocabulary_from_dict

    return vocabulary_from_dict(tomllib.loads(text), "themes.toml")
