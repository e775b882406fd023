"""The librarian's edit form as data: what each field shows, and what a save sends.

`form_from_entry` turns a saved reference into plain text for the form (every
bibliographic field, the people as rows, the vocabulary's tags); `form_changes`
compares the form as the librarian left it with the form as it started and returns
only what they changed, as the typed values `Library.edit` takes (the same values
and checks as the command line's `edit --set`).  Fields the form does not show are
never sent, so they keep their raw BibTeX exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Mapping

from .bibtex import Entry
from .records import Name, Record
from .taxonomy import Vocabulary
from .validation import KNOWN_TYPES, REQUIRED
from .values import ET_AL, TypedValue, canonical, canonical_name, decoded_value

# Where a work appeared, by entry type; a reference that already names one keeps that field.
VENUE_FIELDS = ("journal", "journaltitle", "booktitle", "school", "institution", "publisher")
VENUE_BY_TYPE = {"article": "journal", "incollection": "booktitle", "inproceedings": "booktitle",
                 "conference": "booktitle", "inbook": "booktitle", "phdthesis": "school",
                 "mastersthesis": "school", "thesis": "school", "techreport": "institution",
                 "report": "institution"}
VENUE_LABELS = {"journal": "Journal", "journaltitle": "Journal", "booktitle": "Book or proceedings title",
                "school": "University", "institution": "Organisation that published it",
                "publisher": "Publisher"}
# Entry types offered in the form, commonest first; a reference of another type keeps its own.
ENTRY_TYPES = ("article", "book", "incollection", "inproceedings", "techreport", "report", "phdthesis",
               "mastersthesis", "online", "misc", "unpublished")
TYPE_LABELS = {"article": "Journal article", "book": "Book", "incollection": "Chapter in a book",
               "inproceedings": "Conference paper", "techreport": "Report (technical)",
               "report": "Report", "phdthesis": "Doctoral thesis", "mastersthesis": "Master's thesis",
               "online": "Web page", "misc": "Other", "unpublished": "Unpublished work"}
MAX_THEMES = 5

# The form's text fields: attribute → (BibTeX field, label).  `venue` is resolved per reference.
TEXT_FIELDS = {
    "title": ("title", "Title"),
    "year": ("year", "Year"),
    "venue": ("", "Published in"),
    "volume": ("volume", "Volume"),
    "number": ("number", "Issue"),
    "pages": ("pages", "Pages"),
    "doi": ("doi", "DOI"),
    "url": ("url", "Web address"),
    "abstract": ("abstract", "Publisher's abstract"),
    "country": ("country", "Country or region"),
    "key_finding": ("key-finding", "Key finding"),
}
FIELD_LABELS = {bibtex: label for bibtex, label in TEXT_FIELDS.values() if bibtex} | {
    "author": "Authors", "editor": "Editors", "themes": "Themes", "evidence-type": "Evidence type",
    "setting": "Setting", "finding-checked": "Key finding checked", "type": "Type", "key": "Citation key",
    "journal": "Journal", "journaltitle": "Journal", "booktitle": "Book or proceedings title",
    "school": "University", "institution": "Organisation", "publisher": "Publisher", "note": "Note",
    "provenance": "Where the details came from", "added": "Added", "added-by": "Added by",
}


def field_label(name: str) -> str:
    """A BibTeX field as people read it: 'key-finding' → 'Key finding'."""
    return FIELD_LABELS.get(name, name.replace("-", " ").replace("_", " ").capitalize())


@dataclass(frozen=True)
class AuthorRow:
    """One author as the form shows it: family name (with any 'van', 'de'...) and given names, or an
    organisation's full name.  A suffix ('Jr') is carried through unchanged."""

    family: str
    given: str = ""
    organisation: bool = False
    suffix: str = ""

    @classmethod
    def from_name(cls, name: Name) -> "AuthorRow":
        if name.literal:
            return cls(name.family, organisation=True)
        return cls(name.full_family, name.given, False, name.suffix)

    def to_name(self) -> Name:
        """The row as a `Name`; a row without given names is an organisation (or a single name) taken
        whole, as the add form reads a line without a comma."""
        family = canonical(self.family, field="author")
        given = canonical(self.given, field="author")
        if family == "others" and not given:
            return ET_AL  # "and others": the source lists more authors than are given
        if self.organisation or not given:
            return canonical_name(Name(family=family, literal=True))
        words = family.split(" ")
        particle = []
        while len(words) > 1 and words[0][:1].islower():
            particle.append(words.pop(0))
        return canonical_name(Name(family=" ".join(words), given=given, particle=" ".join(particle),
                                   suffix=self.suffix))

    @property
    def blank(self) -> bool:
        return not self.family.strip() and not self.given.strip()


@dataclass(frozen=True)
class ReferenceForm:
    """Everything the edit form shows, as plain text (tags as slugs)."""

    key: str
    entry_type: str
    venue_field: str
    title: str = ""
    authors: tuple[AuthorRow, ...] = ()
    year: str = ""
    venue: str = ""
    volume: str = ""
    number: str = ""
    pages: str = ""
    doi: str = ""
    url: str = ""
    abstract: str = ""
    themes: tuple[str, ...] = ()
    evidence_type: str = ""
    settings: tuple[str, ...] = ()
    country: str = ""
    key_finding: str = ""
    finding_checked: bool = False
    # Tags on the reference that the vocabulary does not know (shown, never sent back silently).
    unknown_tags: tuple[str, ...] = field(default=(), compare=False)

    def bibtex_field(self, attribute: str) -> str:
        return self.venue_field if attribute == "venue" else TEXT_FIELDS[attribute][0]


def venue_field_for(entry: Entry) -> str:
    for name in VENUE_FIELDS:
        if entry.fields.get(name, "").strip():
            return name
    return VENUE_BY_TYPE.get(entry.type, "publisher")


def entry_types_for(current: str) -> tuple[str, ...]:
    """The types the form offers: the usual ones, plus the reference's own if it is another."""
    return ENTRY_TYPES if current in ENTRY_TYPES else (*ENTRY_TYPES, current)


def type_label(entry_type: str) -> str:
    return TYPE_LABELS.get(entry_type, f"@{entry_type}" + ("" if entry_type in KNOWN_TYPES else " (unknown type)"))


def form_from_entry(entry: Entry, vocabulary: Vocabulary) -> ReferenceForm:
    """The form for one saved reference."""
    record = Record.from_entry(entry)
    venue_field = venue_field_for(entry)
    text = {attribute: decoded_value(bibtex or venue_field, entry.fields.get(bibtex or venue_field, ""))
            for attribute, (bibtex, _label) in TEXT_FIELDS.items()}
    unknown = tuple([f"theme '{t}'" for t in record.themes if t not in vocabulary.theme_by_slug]
                    + ([f"evidence type '{record.evidence_type}'"] if record.evidence_type
                       and record.evidence_type not in vocabulary.evidence_type_by_slug else [])
                    + [f"setting '{s}'" for s in record.settings if s not in vocabulary.setting_by_slug])
    return ReferenceForm(
        key=entry.key, entry_type=entry.type, venue_field=venue_field,
        authors=tuple(AuthorRow.from_name(name) for name in record.authors),
        themes=tuple(t for t in record.themes if t in vocabulary.theme_by_slug),
        evidence_type=record.evidence_type if record.evidence_type in vocabulary.evidence_type_by_slug else "",
        settings=tuple(s for s in record.settings if s in vocabulary.setting_by_slug),
        finding_checked=record.finding_checked, unknown_tags=unknown, **text)


@dataclass(frozen=True)
class FormChanges:
    """What a save sends to `Library.edit`."""

    changes: Mapping[str, TypedValue]
    new_key: str | None = None
    entry_type: str | None = None

    def __bool__(self) -> bool:
        return bool(self.changes) or self.new_key is not None or self.entry_type is not None


def form_changes(base: ReferenceForm, edited: ReferenceForm) -> FormChanges:
    """Only what the librarian changed: plain text per field ('' removes it), the authors as names
    (blank rows left out), themes and settings as comma-separated slugs, the check as yes/no."""
    changes: dict[str, TypedValue] = {}
    for attribute in TEXT_FIELDS:
        before, after = getattr(base, attribute), getattr(edited, attribute)
        if canonical(after, field=attribute) != canonical(before, field=attribute):
            changes[base.bibtex_field(attribute)] = after
    authors = tuple(row for row in edited.authors if not row.blank)
    if authors != base.authors:
        names = tuple(row.to_name() for row in authors)
        if names != tuple(row.to_name() for row in base.authors if not row.blank):
            changes["author"] = names or None
    if tuple(edited.themes) != tuple(base.themes):
        changes["themes"] = ", ".join(edited.themes)
    if edited.evidence_type != base.evidence_type:
        changes["evidence-type"] = edited.evidence_type
    if tuple(edited.settings) != tuple(base.settings):
        changes["setting"] = ", ".join(edited.settings)
    if edited.finding_checked != base.finding_checked:
        changes["finding-checked"] = "yes" if edited.finding_checked else "no"
    new_key = edited.key.strip() if edited.key.strip() and edited.key.strip() != base.key else None
    entry_type = edited.entry_type if edited.entry_type != base.entry_type else None
    return FormChanges(changes, new_key, entry_type)


def with_values(form: ReferenceForm, **values: object) -> ReferenceForm:
    """The form with some attributes replaced (the app fills it from its widgets)."""
    names = {f.name for f in fields(ReferenceForm)}
    return replace(form, **{k: v for k, v in values.items() if k in names})  # type: ignore[arg-type]


def missing_for_type(entry_type: str) -> tuple[str, ...]:
    """The fields an entry type needs, for the form's hints ('author', 'title', 'journal or ...')."""
    out = []
    for requirement in REQUIRED.get(entry_type, REQUIRED["misc"]):
        names = (requirement,) if isinstance(requirement, str) else requirement
        out.append(" or ".join(field_label(n) for n in names))
    return tuple(out)
