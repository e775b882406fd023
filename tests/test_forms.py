"""The edit form as data (library/forms.py) and readable times (library/dates.py): table-driven, on real
references from the shipped collection."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from library.bibtex import parse_file
from library.dates import readable
from library.forms import AuthorRow, field_label, form_changes, form_from_entry, venue_field_for
from library.records import Name
from library.taxonomy import load_vocabulary
from library.values import apply_changes

from .conftest import REPO

VOCABULARY = load_vocabulary(REPO / "references" / "themes.toml")


def entry(key: str):  # type: ignore[no-untyped-def]
    (found,) = parse_file(REPO / "references" / f"{key}.bib").entries
    return found


@pytest.mark.parametrize("key", sorted(p.stem for p in (REPO / "references").glob("*.bib")))
def test_an_untouched_form_sends_nothing_for_any_shipped_reference(key: str) -> None:
    form = form_from_entry(entry(key), VOCABULARY)
    assert not form_changes(form, form)
    # and the form's rows, saved, read back as the same people ("and others" included)
    original = entry(key)
    names = tuple(row.to_name() for row in form.authors)
    saved = apply_changes(original, {"author": names}).persons.get("author", ())
    assert [Name.parse(n) for n in saved] == [Name.parse(n) for n in original.persons.get("author", ())]


CHANGES = [
    ({"title": "A new title"}, {"title": "A new title"}),
    ({"year": "1999"}, {"year": "1999"}),
    ({"venue": "Another Journal"}, {"journal": "Another Journal"}),
    ({"volume": "15", "number": "2", "pages": "1–9"}, {"volume": "15", "number": "2", "pages": "1–9"}),
    ({"doi": ""}, {"doi": ""}),
    ({"url": "https://example.org/a"}, {"url": "https://example.org/a"}),
    ({"abstract": "Plain words."}, {"abstract": "Plain words."}),
    ({"themes": ("burnout", "leadership")}, {"themes": "burnout, leadership"}),
    ({"evidence_type": "trial"}, {"evidence-type": "trial"}),
    ({"settings": ("inpatient",)}, {"setting": "inpatient"}),
    ({"country": "Wales"}, {"country": "Wales"}),
    ({"key_finding": "What it shows."}, {"key-finding": "What it shows."}),
    ({"finding_checked": True}, {"finding-checked": "yes"}),
    ({"title": "  Relationship of Childhood Abuse  "}, {"title": "  Relationship of Childhood Abuse  "}),
]


@pytest.mark.parametrize(("edited", "sent"), CHANGES, ids=[",".join(c[0]) for c in CHANGES])
def test_only_what_was_changed_is_sent_as_typed_values(edited: dict, sent: dict) -> None:
    base = form_from_entry(entry("felitti1998relationship"), VOCABULARY)
    changes = form_changes(base, replace(base, **edited))
    assert dict(changes.changes) == sent
    assert changes.new_key is None and changes.entry_type is None


def test_whitespace_alone_is_no_change() -> None:
    base = form_from_entry(entry("felitti1998relationship"), VOCABULARY)
    assert not form_changes(base, replace(base, title=f"  {base.title}  ", volume=f"{base.volume} "))


def test_authors_added_removed_and_reordered_are_sent_as_names() -> None:
    base = form_from_entry(entry("felitti1998relationship"), VOCABULARY)
    first, second, *rest = base.authors
    edited = replace(base, authors=(second, first, *rest[:-1], AuthorRow("van der Berg", "Anna"),
                                    AuthorRow("World Health Organization"), AuthorRow("", "")))
    sent = form_changes(base, edited).changes["author"]
    assert sent[:2] == (second.to_name(), first.to_name())
    assert sent[-2:] == (Name(family="Berg", given="Anna", particle="van der"),
                         Name(family="World Health Organization", literal=True))
    assert len(sent) == len(base.authors) + 1  # one removed, two added, the blank row left out
    assert not form_changes(base, replace(base, authors=(*base.authors, AuthorRow(" ", ""))))


def test_a_new_key_and_type_are_sent_apart_from_the_fields() -> None:
    base = form_from_entry(entry("felitti1998relationship"), VOCABULARY)
    changes = form_changes(base, replace(base, key="felitti1998aces", entry_type="misc"))
    assert (dict(changes.changes), changes.new_key, changes.entry_type) == ({}, "felitti1998aces", "misc")


def test_tags_the_vocabulary_does_not_know_are_shown_not_kept_in_the_lists() -> None:
    found = entry("felitti1998relationship")
    odd = found.with_fields(themes="burnout, no-such-theme", **{"evidence-type": "made-up"})
    form = form_from_entry(odd, VOCABULARY)
    assert form.themes == ("burnout",) and form.evidence_type == ""
    assert form.unknown_tags == ("theme 'no-such-theme'", "evidence type 'made-up'")
    assert not form_changes(form, form)  # an untouched form leaves them in the file for the librarian


@pytest.mark.parametrize(("fields", "entry_type", "venue"), [
    ({"journal": "J"}, "article", "journal"), ({"booktitle": "B"}, "incollection", "booktitle"),
    ({}, "phdthesis", "school"), ({}, "techreport", "institution"), ({}, "book", "publisher"),
    ({"publisher": "P"}, "misc", "publisher")])
def test_published_in_edits_the_field_the_reference_uses(fields: dict, entry_type: str, venue: str) -> None:
    from library.bibtex import Entry

    assert venue_field_for(Entry("k", entry_type, fields, {})) == venue


@pytest.mark.parametrize(("name", "label"), [("key-finding", "Key finding"), ("number", "Issue"),
                                             ("url", "Web address"), ("x-custom_field", "X custom field")])
def test_field_labels_read_as_words(name: str, label: str) -> None:
    assert field_label(name) == label


NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)
TIMES = [
    ("2026-11-29T09:05:00+00:00", "Europe/London", "Today, 09:05"),
    ("2026-11-28T23:30:00+00:00", "Europe/London", "Yesterday, 23:30"),
    ("2026-07-01T09:05:00+00:00", "Europe/London", "1 Jul 2026, 10:05"),  # British Summer Time
    ("2026-07-01T09:05:00+00:00", "Asia/Kolkata", "1 Jul 2026, 14:35"),
    ("2026-07-01T09:05:00+00:00", "Not/AZone", "1 Jul 2026, 10:05"),  # unknown: the UK's
    ("2026-07-01T09:05:00+00:00", None, "1 Jul 2026, 10:05"),
    ("20260315T101500123456Z", "Europe/London", "15 Mar 2026, 10:15"),  # a trash file's stamp
    ("not a time", "Europe/London", "not a time"),
]


@pytest.mark.parametrize(("stamp", "zone", "shown"), TIMES)
def test_times_read_in_the_readers_zone_the_uk_way(stamp: str, zone: str | None, shown: str) -> None:
    assert readable(stamp, zone, now=NOW) == shown
