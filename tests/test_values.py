"""Typed values (library.values): whatever a person types reads back exactly from the saved file.

The round trip goes through the real writer and parser: encode -> format_entry -> parse_text ->
decode, for any text (Hypothesis), and for people's names through `Name.parse`.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from library import latex
from library.bibtex import Entry, format_entry, parse_text
from library.errors import InvalidValue
from library.records import Name, Record
from library.values import (apply_changes, canonical, canonical_name, decoded_value, encode_name, encode_value,
                            format_names, names_from_text)

EXAMPLES = int(os.environ.get("LIBRARY_PROPERTY_EXAMPLES", "300"))

# Text as people type or paste it: any character at all, biased towards the ones BibTeX and
# LaTeX give a meaning to.
SPECIALS = "{}\\%#@\"'`~^$&_-,=() \n\t\r"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
ANY_TEXT = st.text(st.one_of(st.characters(), st.sampled_from(list(SPECIALS))), max_size=60)
# Typeable: not refused by `canonical` (control characters, half surrogates, direction overrides).
TYPEABLE = st.text(st.one_of(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=BIDI),
                             st.sampled_from(list(SPECIALS + "\u00ad\u200b"))), max_size=60)
HOSTILE = [
    "Staff found the {pilot useful.",
    "Reduced burnout.}, doi = {10.9999/forged.doi}, url = {https://evil.example/x",
    "x}\n}\n@article{forged2020x, title = {Forged}}",
    "}}}}{{{{",
    "\\", "\\}", "{\\}", "a\\", "%", "50% of staff % comment?",
    "--", "---", "a--b", "''quoted''", "``quoted''", "it's", "~", "^", "$x$", "#1", "@",
    "\\textbf{bold}", "\\'e", "\\\"o", "\\\\", "\\newline", "\\input{/etc/passwd}",
    "Ünïcödé ✓ 中文 עברית 😀", "\u200b\u200d\ufeff", "  leading and trailing  ", "many\n\n\nlines\tand\ttabs",
    "\u00a0non-breaking\u2028line\u2029separators",
]


def read_back(field: str, value: str) -> tuple[Entry, Entry]:
    entry = Entry("k2020x", "misc", {field: value} if value else {}, {})
    text = format_entry(entry)
    result = parse_text(text, "<round trip>")
    assert not result.problems, [p.describe() for p in result.problems]
    [back] = result.entries
    return entry, back


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_reads_back_exactly_and_adds_nothing(text: str) -> None:
    entry, back = read_back("note", encode_value("note", text))
    assert back.fields == entry.fields, "a field was added, lost or changed"
    assert decoded_value("note", back.fields.get("note", "")) == canonical(text)


@settings(max_examples=EXAMPLES, deadline=None)
@given(TYPEABLE)
@example("a--b'c`d~e")
@example("\\textquotesingle")
def test_any_text_reads_back_exactly(text: str) -> None:
    encoded = encode_value("title", text)
    entry, back = read_back("title", encoded)
    assert (back.key, back.type, back.fields, back.persons) == (entry.key, entry.type, entry.fields, entry.persons)
    assert Record.from_entry(back).title == canonical(text)
    assert latex.decode(encoded) == canonical(text)


@settings(max_examples=EXAMPLES, deadline=None)
@given(ANY_TEXT)
@example("a\u202eb")
@example("trau\u00admatic\u200b")
def test_control_characters_are_refused_with_their_code_and_nothing_else_is(text: str) -> None:
    controls = [c for c in text if ((c < " " or "\x7f" <= c <= "\x9f") and not c.isspace())
                or "\ud800" <= c <= "\udfff" or c in BIDI]
    if controls:
        with pytest.raises(InvalidValue, match=f"U\\+{ord(controls[0]):04X}"):
            canonical(text, field="title")
    else:
        assert canonical(text) == " ".join("".join(c for c in text if c not in "\u00ad\u200b\u2060\ufeff").split())


@pytest.mark.parametrize(("field", "typed", "stored"), [
    ("doi", " 10.1016/S0749-3797(98)00017-8 ", "10.1016/S0749-3797(98)00017-8"),
    ("doi", "https://doi.org/10.1000/abc", "https://doi.org/10.1000/abc"),
    ("url", "https://example.org/a_b?c=%7B", "https://example.org/a_b?c=%7B"),
    ("url", "HTTP://EXAMPLE.ORG", "HTTP://EXAMPLE.ORG"),
    ("themes", "burnout,  leadership;burnout", "burnout, leadership"),
    ("setting", "inpatient", "inpatient"),
    ("evidence-type", " trial ", "trial"),
    ("finding-checked", "YES", "yes"),
    ("added", "2026-01-02", "2026-01-02"),
    ("title", "", ""),
    ("title", " \n ", ""),
])
def test_raw_and_vocabulary_fields_are_validated_not_encoded(field: str, typed: str, stored: str) -> None:
    assert encode_value(field, typed) == stored


@pytest.mark.parametrize(("field", "typed", "message"), [
    ("doi", "10.9999/forged}", "braces or spaces"),
    ("doi", "10.1000/a b", "braces or spaces"),
    ("doi", "not-a-doi", "not well formed"),
    ("doi", "10.1000/x\n", None),  # trailing whitespace is trimmed, as BibTeX would
    ("url", "javascript:alert(1)", "https://"),
    ("url", "data:text/html,<b>x</b>", "https://"),
    ("url", "https://evil.example/x}", "braces or spaces"),
    ("url", "https://a.example/\x07", "U\\+0007"),
    ("themes", "burnout, Not A Slug", "not a slug"),
    ("themes", "burnout}", "not a slug"),
    ("evidence-type", "trial\nx", "not a slug"),
    ("finding-checked", "maybe", "must be one of yes, no"),
    ("added", "yesterday", "YYYY-MM-DD"),
    ("added", "2026-1-2", "YYYY-MM-DD"),
    ("title", "bell\x07", "U\\+0007"),
    ("title", "nul\x00", "U\\+0000"),
    ("title", "escape\x1b[31m", "U\\+001B"),
    ("title", "invoice\u202eexe.pdf", "U\\+202E.*changes the order"),
    ("key-finding", "\u2066isolated\u2069", "U\\+2066"),
])
def test_values_that_cannot_be_saved_are_refused_with_the_field_and_reason(field: str, typed: str,
                                                                          message: str | None) -> None:
    if message is None:
        assert encode_value(field, typed) == typed.strip()
        return
    with pytest.raises(InvalidValue, match=message) as caught:
        encode_value(field, typed)
    assert field in str(caught.value) or "link" in str(caught.value) or "DOI" in str(caught.value)


@pytest.mark.parametrize("name", ["Title", "key-finding", "x_y", "a" * 40])
def test_field_names_that_are_allowed(name: str) -> None:
    assert apply_changes(Entry("k1", "misc", {}, {}), {name: "v"}).fields == {name.lower(): "v"}


@pytest.mark.parametrize("name", ["", "1abc", "a b", "a=b", "a}", "a,b", "title\n", "a" * 41, "crossref"])
def test_field_names_that_are_refused(name: str) -> None:
    with pytest.raises(InvalidValue):
        apply_changes(Entry("k1", "misc", {}, {}), {name: "v"})


def test_unchanged_fields_keep_their_raw_latex() -> None:
    entry = Entry("k1", "article", {"title": "The {PTSD} study of {\\\"o}", "journal": "J"}, {"author": ("M{\\\"u}ller, K.",)})
    changed = apply_changes(entry, {"key-finding": "It's {new}."})
    assert changed.fields["title"] == entry.fields["title"]
    assert changed.persons == entry.persons
    assert latex.decode(changed.fields["key-finding"]) == "It's {new}."


# ---------------------------------------------------------------- names

NAME_TEXT = st.text(st.one_of(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=BIDI),
                              st.sampled_from(list(SPECIALS))),
                    max_size=20)
NAMES = st.one_of(
    st.builds(lambda f, g, p, s: Name(family=f, given=g, particle=p, suffix=s),
              NAME_TEXT, NAME_TEXT, st.one_of(st.just(""), st.sampled_from(["van", "van der", "de la", "d'", "Van", "von und zu"]), NAME_TEXT),
              st.one_of(st.just(""), st.sampled_from(["Jr", "III"]), NAME_TEXT)),
    st.builds(lambda f: Name(family=f, literal=True), NAME_TEXT),
).filter(lambda n: canonical(n.family))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(NAMES, min_size=1, max_size=4))
@example([Name("Smith", "x and")])
@example([Name("Smith", "and")])
@example([Name("and", "x")])
@example([Name("{", "}")])
def test_any_names_read_back_exactly(names: list[Name]) -> None:
    raw = tuple(encode_name(n) for n in names)
    entry = Entry("k2020x", "misc", {"title": "T"}, {"author": raw})
    [back] = parse_text(format_entry(entry)).entries
    assert back.persons == entry.persons, "a name was split, joined or changed"
    assert Record.from_entry(back).authors == tuple(canonical_name(n) for n in names)


@pytest.mark.parametrize(("typed", "names"), [
    ("Smith, Jane and Doe, J.", (Name("Smith", "Jane"), Name("Doe", "J."))),
    ("Jane Smith", (Name("Smith", "Jane"),)),
    ("Vincent van Gogh", (Name("Gogh", "Vincent", "van"),)),
    ("van der Berg, Jan", (Name("Berg", "Jan", "van der"),)),
    ("Smith, Jr, John", (Name("Smith", "John", suffix="Jr"),)),
    ("{World Health Organization}", (Name("World Health Organization", literal=True),)),
    ("Müller, Zoë", (Name("Müller", "Zoë"),)),
])
def test_names_typed_on_one_line(typed: str, names: tuple[Name, ...]) -> None:
    assert names_from_text(typed) == names
    assert names_from_text(format_names(names)) == names


@pytest.mark.parametrize(("typed", "names"), [
    ("{Substance Abuse and Mental Health Services Administration}",
     (Name("Substance Abuse and Mental Health Services Administration", literal=True),)),
    ("{Department of Health and Social Care} and Smith, Jane",
     (Name("Department of Health and Social Care", literal=True), Name("Smith", "Jane"))),
    ("Smith, Jane and {Royal College of Nursing; Scotland}",
     (Name("Smith", "Jane"), Name("Royal College of Nursing; Scotland", literal=True))),
])
def test_an_organisation_in_braces_keeps_its_and(typed: str, names: tuple[Name, ...]) -> None:
    """' and ' inside braces is part of the name; the saved entry reads back as those names."""
    assert names_from_text(typed) == names
    assert names_from_text(format_names(names)) == names
    entry = apply_changes(Entry("k2014x", "misc", {"title": "T"}, {}), {"author": typed})
    [back] = parse_text(format_entry(entry)).entries
    assert Record.from_entry(back).authors == names


@pytest.mark.parametrize(("typed", "message"), [
    ("Smith, J.; Jones, K.", "separated by ';'.*' and '"),
    ("Smith, J.;Jones", "separated by ';'"),
    ("{Barnes and Noble", "a '{' without its '}'"),
    ("Barnes and Noble}", "a '{' without its '}'"),
    ("Doe, Jane and  and Roe, R", "an 'and' with no name"),
    ("Doe, Jane and", "an 'and' with no name"),
    ("and Doe, Jane", "an 'and' with no name"),
    ("Doe, Jane, Jr., Extra", "3 commas"),
    ("Doe, {Jane and Jim}", "braces inside a person's name"),
    ("{NHS} England", "braces inside a person's name"),
    ("{A}{B}", "braces inside a person's name"),
])
def test_names_that_would_save_as_someone_else_are_refused(typed: str, message: str) -> None:
    """Each of these was saved as invented or garbled people, with "Saved" and exit 0."""
    with pytest.raises(InvalidValue, match=message):
        apply_changes(Entry("k1", "misc", {}, {}), {"author": typed})


@pytest.mark.parametrize(("typed", "names"), [
    ("Doe, Jane AND Roe, Rick", (Name("Doe", "Jane"), Name("Roe", "Rick"))),  # BibTeX's 'and' in any case
    ("King, Martin Luther, Jr.", (Name("King", "Martin Luther", suffix="Jr."),)),  # as RIS writes it
    ("King, Jr., Martin Luther", (Name("King", "Martin Luther", suffix="Jr."),)),  # as BibTeX writes it
    ("Anderson, Sandra and Andrews, Jo", (Name("Anderson", "Sandra"), Name("Andrews", "Jo"))),
])
def test_names_read_as_people_write_them(typed: str, names: tuple[Name, ...]) -> None:
    assert names_from_text(typed) == names


@pytest.mark.parametrize(("typed", "kept"), [
    ("Secondary trau\u00admatic stress", "Secondary traumatic stress"),
    ("psy\u200bchiatric \ufeffwards\u2060", "psychiatric wards"),
    ("\u200d\u200c kept joiners", "\u200d\u200c kept joiners"),
])
def test_invisible_characters_inside_words_are_dropped(typed: str, kept: str) -> None:
    assert canonical(typed) == kept
    entry = apply_changes(Entry("k1", "misc", {}, {}), {"title": typed})
    [back] = parse_text(format_entry(entry)).entries
    assert Record.from_entry(back).title == kept


def test_a_name_without_a_family_name_is_refused() -> None:
    with pytest.raises(InvalidValue, match="no family name"):
        encode_name(Name("", "Jane"))
