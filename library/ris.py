"""RIS import and export, for Zotero, EndNote and Mendeley users.

`parse_ris` reads tolerantly and reports completely, like `bibtex.parse_text`:
every record becomes an `Entry` (values escaped for BibTeX) or a `Problem`
located by line, and the good records are returned even when others are broken.
`format_ris` writes records back out, one `XX  - value` line per field, with
the CRLF line ends the RIS specification asks for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import bibtex, latex
from .bibtex import Entry, ParseResult, make_key
from .errors import Problem
from .links import safe_url
from .records import Record, bare_doi, people

# RIS type -> BibTeX type.  The electronic variants (EJOUR, EBOOK...) are the
# same kinds of work; anything else is read as misc rather than refused.
RIS_TYPES = {
    "JOUR": "article",
    "EJOUR": "article",
    "JFULL": "article",
    "BOOK": "book",
    "EBOOK": "book",
    "EDBOOK": "book",
    "CHAP": "incollection",
    "ECHAP": "incollection",
    "CONF": "inproceedings",
    "CPAPER": "inproceedings",
    "RPRT": "techreport",
    "THES": "phdthesis",
}

# BibTeX type -> RIS type for export.
BIBTEX_TYPES = {
    "article": "JOUR",
    "book": "BOOK",
    "incollection": "CHAP",
    "inbook": "CHAP",
    "inproceedings": "CPAPER",
    "conference": "CPAPER",
    "techreport": "RPRT",
    "report": "RPRT",
    "phdthesis": "THES",
    "mastersthesis": "THES",
    "thesis": "THES",
    "misc": "GEN",
}

NO_RECORDS = "This does not look like a RIS file: no 'TY  - ' line found."

# 'XX  - value'.  Some exporters write one space before the hyphen, or none
# after it when the value is empty ('ER  -'); Zotero reads both, so do we.
_TAG_LINE = re.compile(r"^([A-Z][A-Z0-9]) {1,2}-(?: (.*))?$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|2[01]\d\d)(?!\d)")
_DASHES = re.compile(r"\s*[-\u2010\u2011\u2012\u2013\u2014]+\s*")
_ISSN = re.compile(r"^\d{4}-?\d{3}[\dXx]$")
_ISBN = re.compile(r"^(?:\d{9}[\dXx]|\d{13})$")
_SAFE_KEY = re.compile(r"^[^\s,{}()\"#%'=\\~]{1,100}\Z")
_SPACES = re.compile(r"\s+")

# Tags whose value is free text that some exporters wrap over several lines.
_WRAPPING_TAGS = {"AB", "N1", "N2"}
# Tags that may sensibly repeat; for the others only the first value is used.
_REPEATABLE = {"AU", "A1", "A2", "A3", "ED", "KW", "SN", "AB", "N1", "N2", "UR"}


@dataclass
class _Draft:
    """One record as read so far: its tag lines, in order."""

    line: int
    tags: list[tuple[str, str, int]] = field(default_factory=list)

    def values(self, *names: str) -> list[tuple[str, int]]:
        return [(value, line) for tag, value, line in self.tags if tag in names and value]

    def first(self, *names: str) -> str:
        """The first non-empty value among `names`, trying them in the order given."""
        for name in names:
            for value, _ in self.values(name):
                return value
        return ""


class _Notes:
    """Problems found in one record, given its key once the key is known."""

    def __init__(self) -> None:
        self.items: list[tuple[int | None, str, str]] = []

    def warn(self, line: int | None, reason: str) -> None:
        self.items.append((line, reason, "warning"))

    def problems(self, source: str, key: str | None) -> list[Problem]:
        return [Problem(source, line, key, reason, severity) for line, reason, severity in self.items]


# ---------------------------------------------------------------- reading


def parse_ris(text: str, source: str = "<input>") -> ParseResult:
    """Every record in `text` as an `Entry`, and every problem found, with line numbers."""
    problems: list[Problem] = []
    entries: list[Entry] = []
    keys: dict[str, int] = {}
    outside: list[Problem] = []  # reported only if the text is RIS at all
    seen_type_line = False
    draft: _Draft | None = None

    body = text[1:] if text.startswith("\ufeff") else text
    for number, raw in enumerate(_LINE_BREAK.split(body), start=1):
        line = raw.rstrip()
        match = _TAG_LINE.match(line)
        if match is None:
            if not line.strip() or draft is None:
                continue  # blank lines, and text before the first record, mean nothing in RIS
            _continuation(draft, line, number, problems, source)
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            seen_type_line = True
            if draft is not None:
                problems.append(_missing_end(draft, source))
            draft = _Draft(number, [(tag, value, number)])
        elif tag == "ER":
            if draft is None:
                outside.append(Problem(source, number, None,
                                       "an 'ER  - ' line without a record before it was ignored.",
                                       "warning"))
                continue
            entry = _build(draft, source, problems, keys)
            if entry is not None:
                entries.append(entry)
            draft = None
        elif draft is None:
            outside.append(Problem(source, number, None,
                                   f"the '{tag}' line is outside a record (there is no 'TY  - ' line "
                                   f"before it) and was ignored.", "warning"))
        else:
            draft.tags.append((tag, value, number))
    if draft is not None:
        problems.append(_missing_end(draft, source))
    if not seen_type_line:
        return ParseResult((), (Problem(source, None, None, NO_RECORDS),), text)
    problems.extend(outside)
    problems.sort(key=lambda p: p.line or 0)
    return ParseResult(tuple(entries), tuple(problems), text)


def _continuation(draft: _Draft, line: str, number: int, problems: list[Problem],
                  source: str) -> None:
    previous_tag, previous_value, previous_line = draft.tags[-1]
    if previous_tag in _WRAPPING_TAGS:
        # EndNote and others wrap long abstracts and notes over several lines.
        draft.tags[-1] = (previous_tag, f"{previous_value} {line.strip()}".strip(), previous_line)
        reason = (f"this line is not in the form 'XX  - value'; it was read as the rest of the "
                  f"'{previous_tag}' line above.")
    else:
        reason = "this line is not in the form 'XX  - value' and was ignored."
    problems.append(Problem(source, number, None, reason, "warning"))


def _missing_end(draft: _Draft, source: str) -> Problem:
    return Problem(source, draft.line, draft.first("ID") or None,
                   "this record has no 'ER  - ' line at its end, so it may be incomplete; "
                   "it was left out. Check the file was exported whole.")


def _build(draft: _Draft, source: str, problems: list[Problem],
           keys: dict[str, int]) -> Entry | None:
    notes = _Notes()
    ris_type = draft.first("TY").upper()
    kind = RIS_TYPES.get(ris_type, "misc")
    explicit_key = draft.first("ID")

    first_values: dict[str, str] = {}
    for tag, value, line in draft.tags:
        if tag in _REPEATABLE or not value:
            continue
        if tag not in first_values:
            first_values[tag] = value
        elif first_values[tag] != value:
            notes.warn(line, f"'{tag}' appears more than once with different values; "
                             f"the first was kept.")

    title_tags = ("TI", "T1", "CT", "BT") if kind == "book" else ("TI", "T1", "CT")
    title = draft.first(*title_tags)
    if not title:
        problems.append(Problem(source, draft.line, explicit_key or None,
                                "this record has no title (no 'TI  - ' line); it was left out."))
        return None

    fields: dict[str, str] = {}

    def put(name: str, value: str, *tags: str) -> None:
        """Set a field from the value of the first of `tags` present, escaped for BibTeX."""
        value = _one_line(value)
        if value:
            fields[name] = latex.encode(value)

    put("title", title, *title_tags)
    container_tags = {"article": ("T2", "JF", "JO", "JA"), "incollection": ("T2", "BT"),
                      "inproceedings": ("T2", "BT")}.get(kind, ("T2", "T3"))
    put(_container_field(kind), draft.first(*container_tags), *container_tags)
    year = _year(draft.first("PY", "Y1", "DA"))
    if year:
        fields["year"] = year
    put("volume", draft.first("VL"), "VL")
    put("number", draft.first("IS"), "IS")
    pages = _pages(draft.first("SP"), draft.first("EP"))
    if pages:
        fields["pages"] = pages  # already BibTeX: the range's dash is an en dash (--)
    put("edition", draft.first("ET"), "ET")
    publisher_field = {"techreport": "institution", "phdthesis": "school"}.get(kind, "publisher")
    put(publisher_field, draft.first("PB"), "PB")
    put("address", draft.first("CY"), "CY")
    isbns, issns, others = _standard_numbers(draft.values("SN"), kind)
    put("isbn", ", ".join(isbns), "SN")
    put("issn", ", ".join(issns), "SN")
    if kind == "techreport" and "number" not in fields:
        put("number", ", ".join(others), "SN")  # Zotero writes a report's number in SN

    doi_value = draft.first("DO")
    if doi_value:
        doi = bare_doi(doi_value)
        doi_line = draft.values("DO")[0][1]
        if doi.startswith("10.") and "/" in doi and not _SPACES.search(doi) \
                and latex.braces_balanced(doi):
            # Kept as written: escaping would corrupt it, and the library reads DOIs raw.
            fields["doi"] = doi
        else:
            notes.warn(doi_line, f"'{doi_value}' is not a DOI, so it was left out.")
    url = draft.first("UR")
    if url and not _SPACES.search(url):
        # Percent-encoded braces mean the same in a link and keep the BibTeX valid.
        fields["url"] = url.replace("{", "%7B").replace("}", "%7D")

    abstract = " ".join(v for v, _ in draft.values("AB")) or " ".join(v for v, _ in draft.values("N2"))
    put("abstract", abstract, "AB", "N2")
    keywords: list[str] = []
    for value, _ in draft.values("KW"):
        for word in value.split(";"):
            word = _one_line(word)
            if word and word not in keywords:
                keywords.append(word)
    put("keywords", ", ".join(keywords), "KW")
    # 'annote', not 'note': reference managers' notes are personal, and citation
    # styles print 'note' but not 'annote'.
    put("annote", " ".join(v for v, _ in draft.values("N1")), "N1")

    persons: dict[str, tuple[str, ...]] = {}
    authors = [_person(v) for v, _ in draft.values("AU", "A1")]
    editor_tags = ["ED"]
    if kind in ("incollection", "inproceedings"):
        editor_tags.append("A2")  # the book's or proceedings' editors
    elif kind == "book":
        editor_tags.append("A3")  # Zotero writes a book's editors as A3 (A2 is the series editor)
    editors = [_person(v) for v, _ in draft.values(*editor_tags)]
    if any(authors):
        persons["author"] = tuple(a for a in authors if a)
    if any(editors):
        persons["editor"] = tuple(e for e in editors if e)

    key = _choose_key(explicit_key, persons, fields, draft, notes)
    folded = key.casefold()
    if folded in keys:
        if explicit_key:
            problems.extend(notes.problems(source, key))
            problems.append(Problem(source, draft.line, key,
                                    f"the key '{key}' is used twice in this file (first on line "
                                    f"{keys[folded]}); give one of them another ID."))
            return None
        key = _unused_key(key, keys)
        folded = key.casefold()
    keys[folded] = draft.line
    problems.extend(notes.problems(source, key))
    return Entry(key, kind, fields, persons, source, draft.line)


def _choose_key(explicit: str, persons: dict[str, tuple[str, ...]], fields: dict[str, str],
                draft: _Draft, notes: _Notes) -> str:
    if explicit:
        if _SAFE_KEY.match(explicit):
            return explicit
        key = make_key(persons, fields)
        notes.warn(draft.values("ID")[0][1],
                   f"the ID '{explicit}' cannot be used as a citation key (it has spaces or "
                   f"punctuation such as commas or braces); the key '{key}' was used instead.")
        return key
    return make_key(persons, fields)


def _unused_key(key: str, keys: dict[str, int]) -> str:
    # Two works by the same first author, year and first title word: 'smith2020trauma', then 'a', 'b'...
    for letter in "abcdefghijklmnopqrstuvwxyz":
        candidate = key + letter
        if candidate.casefold() not in keys:
            return candidate
    number = 2
    while f"{key}-{number}".casefold() in keys:
        number += 1
    return f"{key}-{number}"


def _container_field(kind: str) -> str:
    return {"article": "journal", "incollection": "booktitle",
            "inproceedings": "booktitle"}.get(kind, "series")


def _person(value: str) -> str:
    """RIS 'Family, Given[, Suffix]' as BibTeX 'Family, [Suffix, ]Given'.

    A name with no comma is an organisation (that is how Zotero writes one), so
    it is braced: BibTeX would otherwise take its last word as a surname.
    """
    parts = [_one_line(p) for p in value.split(",")]
    if len(parts) == 1 or not parts[0]:
        literal = " ".join(p for p in parts if p)
        return "{" + _text(literal) + "}" if literal else ""
    family, given = parts[0], parts[1]
    suffix = ", ".join(p for p in parts[2:] if p)
    pieces = [_name_part(family)]
    if suffix:
        pieces.append(_name_part(suffix))
    if given:
        pieces.append(_name_part(given))
    return ", ".join(pieces)


def _name_part(text: str) -> str:
    return bibtex.protect_name_part(_text(text))


def _year(value: str) -> str:
    match = _YEAR.search(value)
    return match.group(1) if match else ""


def _pages(start: str, end: str) -> str:
    """The page range as BibTeX: each page encoded as text, the range's dash written '--'."""
    start, end = _one_line(start), _one_line(end)
    if start and end and start != end and not _DASHES.search(start):
        parts = [start, end]
    else:
        parts = _DASHES.split(start or end)
    return "--".join(latex.encode(part) for part in parts) if any(parts) else ""


def _standard_numbers(values: list[tuple[str, int]],
                      kind: str) -> tuple[list[str], list[str], list[str]]:
    """SN values sorted into ISBNs, ISSNs and other numbers (a report's number)."""
    isbns: list[str] = []
    issns: list[str] = []
    others: list[str] = []
    for value, _ in values:
        for number in re.split(r"[;\n]", value):
            number = _one_line(number)
            if not number:
                continue
            # Zotero writes ISSNs in SN for articles, ISBNs for books and report numbers for reports.
            if _ISSN.match(number) or kind == "article":
                target = issns
            elif _ISBN.match(re.sub(r"[\s-]", "", number)) or kind != "techreport":
                target = isbns
            else:
                target = others
            if number not in target:
                target.append(number)
    return isbns, issns, others


def _text(plain: str) -> str:
    """Plain text as a BibTeX value (braces are kept as text: `latex.encode` writes them safely)."""
    return latex.encode(_one_line(plain))


def _one_line(value: str) -> str:
    """Whitespace normalised, control characters removed: one RIS or BibTeX line."""
    cleaned = "".join(c if c.isprintable() or c.isspace() else " " for c in value)
    return _SPACES.sub(" ", cleaned).strip()


# ---------------------------------------------------------------- writing


def format_ris(records: Sequence[Record]) -> str:
    """The records as RIS text, each ending 'ER  - ', lines ending CRLF."""
    blocks = ["\r\n".join(_record_lines(record)) + "\r\n" for record in records]
    return "\r\n".join(blocks)


def _record_lines(record: Record) -> list[str]:
    fields = record.fields
    kind = record.type.lower()
    lines: list[str] = []

    def add(tag: str, value: str | None) -> None:
        value = _one_line(value or "")
        if value:
            lines.append(f"{tag}  - {value}")

    ris_type = BIBTEX_TYPES.get(kind, "GEN")
    add("TY", ris_type)
    # RIS has no "et al.": BibTeX's "and others" is left out, not written as a person called
    # "others" (Zotero's own RIS export writes only the names it holds).
    for name in people(record.authors):
        add("AU", _ris_name(name.full_family, name.given, name.suffix, name.literal))
    for name in people(record.editors):
        add("ED", _ris_name(name.full_family, name.given, name.suffix, name.literal))
    add("TI", record.title)
    # Read back, the RIS type gives this kind; its container goes where parse_ris expects it.
    read_back = RIS_TYPES.get(ris_type, "misc")
    if read_back == "article":
        container = fields.get("journal") or fields.get("journaltitle")
    elif read_back in ("incollection", "inproceedings"):
        container = fields.get("booktitle")
    else:
        container = fields.get("series")
    add("T2", container)
    if read_back == "article":
        add("JO", container)  # EndNote and Mendeley read the journal from JO
    add("PY", str(record.year) if record.year else "")
    add("VL", fields.get("volume"))
    add("IS", fields.get("number") or fields.get("issue"))
    start, end = _split_pages(fields.get("pages", ""))
    add("SP", start)
    add("EP", end)
    if kind in ("techreport", "report"):
        publisher = fields.get("institution") or fields.get("publisher")
    elif kind in ("phdthesis", "mastersthesis", "thesis"):
        publisher = fields.get("school") or fields.get("institution") or fields.get("publisher")
    else:
        publisher = fields.get("publisher")
    add("PB", publisher)
    add("CY", fields.get("address") or fields.get("location"))
    for name in ("isbn", "issn"):
        for number in re.split(r"[,;]", fields.get(name, "")):
            add("SN", number)
    add("DO", record.doi)
    add("UR", safe_url(record.url))  # http(s) only, as in every export
    add("AB", record.abstract)
    written: list[str] = []
    for word in (*record.keywords, *record.themes):
        if word.casefold() not in written:
            written.append(word.casefold())
            add("KW", word)
    if record.key_finding:
        add("N1", f"Key finding: {record.key_finding}")
    add("ID", record.key)
    lines.append("ER  - ")
    return lines


def _ris_name(family: str, given: str, suffix: str, literal: bool) -> str:
    if literal:
        return family
    # A trailing comma keeps a one-word personal name from being read back as an organisation.
    name = f"{family}, {given}" if given else f"{family},"
    return f"{name}, {suffix}" if suffix else name


def _split_pages(pages: str) -> tuple[str, str]:
    """'421–424' -> ('421', '424'); 'e20476' -> ('e20476', '')."""
    parts = _DASHES.split(pages.strip(), maxsplit=1)
    if len(parts) == 2 and parts[0] and parts[1]:
        return parts[0], parts[1]
    return pages.strip(), ""
