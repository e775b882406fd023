"""Does the collection agree with a file of checked bibliographic facts?

A facts file is BibTeX in the shape of the project's `verified.bib`: one entry
per work, holding only the fields that were seen on a checked page, plus three
fields about the checking itself:

- `x-verified-by`: the page(s) the facts were checked on (every record needs one);
- `x-not-confirmed`: what was *not* seen, in words ("volume; issue; author
  forenames (source gives initials only)"): a reference must leave these out;
- `x-note`: caveats (weaker sources, traps such as "do not 'correct' the DOI").

`compare_collection` checks every bibliographic field of every reference that
has a record: names as family name + initials in order (LaTeX decoded, case and
brace protection ignored), a forename spelled out where the record gives only
an initial, any field the record lists as not confirmed or does not have at
all, and any checked field the reference leaves out.  Each difference names the
file, the field, the value in the collection and the checked value.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, Sequence

from whoosh.lang.porter import stem

from . import latex
from .bibtex import PERSON_FIELDS, PROJECT_FIELDS, Entry, parse_bytes
from .errors import EntryProblems, LibraryError, Problem
from .records import Name, normalise_doi

# The project's own fields (tags, the plain-language finding, where the details came from, who
# added it and when): our classification and summary of a work, not facts about its publication,
# so a facts file never holds them and they are not compared.  Fields named x-... are notes about
# the checking (x-verified-by, x-not-confirmed, x-note), never part of a reference's citation.
EXEMPT_FIELDS: frozenset[str] = frozenset(PROJECT_FIELDS)
CHECKING_PREFIX = "x-"

ENTRY_TYPE = "entry type"  # the pseudo-field a difference of @article/@book... is reported under
FORENAMES = "author forenames"  # an x-not-confirmed item about forenames, not a whole field
AUTHOR_LIST = "author list"  # "fifth author", "authors after X": the record ends in "and others"

# Two titles whose content words agree at least this much (Dice coefficient of their word sets,
# see `title_similarity`) are taken to be the same work.  The closest pair of distinct works in the
# seed collection and its facts file (two literature reviews of trauma-informed care on inpatient
# wards) scores 0.78; retitled copies (a dropped subtitle, British spelling, a plural) score 0.83-1.
TITLE_MATCH = 0.8


def is_bibliographic(name: str) -> bool:
    """True for a field the fact check compares (everything but the project's and x- fields)."""
    return name not in EXEMPT_FIELDS and not name.startswith(CHECKING_PREFIX)


# ---------------------------------------------------------------- x-not-confirmed, in words

# Words a checker uses for what was not seen, and the field (or aspect of the names) each means.
# An item naming forenames is about forenames wherever the word comes; otherwise the earliest word
# decides ("journal name not printed on the pages seen" is about the journal, not the pages).
_FORENAME_WORDS = re.compile(r"\b(?:fore ?names?|first names?|given names?)\b")
_ITEM_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), meaning) for pattern, meaning in (
        (r"\bauthors?\b|\bauthor list\b", AUTHOR_LIST),
        (r"\beditors?\b", "editor"),
        (r"\bdois?\b", "doi"),
        (r"\bissue(?: number)?\b|\bnumber\b", "number"),
        (r"\bpage range\b|\bpages?\b|\barticle number\b", "pages"),
        (r"\bvolume\b", "volume"),
        (r"\burls?\b|\blink\b", "url"),
        (r"\bjournal(?: name| title)?\b", "journal"),
        (r"\btitle\b", "title"),
        (r"\bpublisher\b", "publisher"),
        (r"\bplace of publication\b|\baddress\b", "address"),
        (r"\bisbn\b", "isbn"),
        (r"\bmonth\b", "month"),
        (r"\byear\b", "year"),
        (r"\bedition\b", "edition"),
        (r"\bschool\b", "school"),
        (r"\binstitution\b", "institution"),
        (r"\bseries\b", "series"),
        (r"\bchapter\b", "chapter"),
        (r"\bbook ?title\b", "booktitle"),
    ))


# Everything an x-not-confirmed item can be read as.
NOT_CONFIRMED_MEANINGS: frozenset[str] = frozenset({FORENAMES, *(meaning for _, meaning in _ITEM_WORDS)})


def _top_level_split(text: str, separators: str) -> list[str]:
    """`text` split at any of `separators` outside parentheses, with the parenthesised asides kept."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        if char in separators and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _without_asides(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, re.sub(r"\([^()]*\)|\[[^\[\]]*\]", " ", text)
    return " ".join(text.split())


def _meaning(phrase: str) -> str | None:
    words = latex.decode(phrase).casefold()
    if _FORENAME_WORDS.search(words):
        return FORENAMES
    found = [(match.start(), meaning) for pattern, meaning in _ITEM_WORDS
             if (match := pattern.search(words))]
    return min(found)[1] if found else None


def read_not_confirmed(text: str) -> tuple[dict[str, str], list[str]]:
    """What an `x-not-confirmed` value says was not seen: {field or aspect: the item as written}.

    Items are separated by ';' or ',' (outside parentheses); "issue and pages" names two.  The
    second value lists items that name nothing this check knows, so that a caller can report them
    rather than silently ignore them.
    """
    meanings: dict[str, str] = {}
    unknown: list[str] = []
    for item in _top_level_split(text, ";"):
        for part in _top_level_split(item, ","):
            plain = _without_asides(part)
            pieces = [p for p in re.split(r"\s+and\s+", plain) if p.strip()]
            meant = [m for m in (_meaning(p) for p in pieces) if m]
            if len(pieces) > 1 and len(meant) == len(pieces):
                for meaning in meant:
                    meanings.setdefault(meaning, item)
                continue
            meaning = _meaning(plain)
            if meaning is None:
                unknown.append(part)
            else:
                meanings.setdefault(meaning, item)
    return meanings, unknown


# ---------------------------------------------------------------- the facts file


@dataclass(frozen=True)
class FactRecord:
    """One checked work: its entry (fields as written) and what the checker said about them."""

    entry: Entry
    verified_by: str = ""
    note: str = ""
    not_confirmed: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def key(self) -> str:
        return self.entry.key


@dataclass(frozen=True)
class Facts:
    source: str
    records: tuple[FactRecord, ...]
    problems: tuple[Problem, ...] = ()

    @cached_property
    def by_key(self) -> dict[str, FactRecord]:
        return {r.key: r for r in self.records}


def read_facts(data: bytes, source: str) -> Facts:
    """The records of a facts file, with every problem that stops one being used as a fact."""
    parsed = parse_bytes(data, source)
    problems = list(parsed.problems)
    records: list[FactRecord] = []
    for entry in parsed.entries:
        verified_by = " ".join(entry.get("x-verified-by").split())  # addresses: kept as written
        if not verified_by:
            problems.append(Problem(source, entry.line, entry.key,
                                    "has no x-verified-by: a checked fact must name the page it was checked on."))
        meanings, unknown = read_not_confirmed(entry.get("x-not-confirmed"))
        for item in unknown:
            problems.append(Problem(source, entry.line, entry.key,
                                    f"x-not-confirmed names '{item}', which is not a field this check knows; "
                                    "write the field's name (volume, issue, pages, DOI, URL, journal, title, "
                                    "publisher, address, ISBN, month, author forenames...)."))
        records.append(FactRecord(entry, verified_by, " ".join(entry.get("x-note").split()), meanings))
    if not records and not parsed.errors:
        problems.append(Problem(source, None, None, "the file holds no BibTeX entry."))
    return Facts(source, tuple(records), tuple(problems))


def usable_facts(data: bytes, source: str) -> Facts:
    """`read_facts`, refusing a file with no record at all (nothing to compare with)."""
    facts = read_facts(data, source)
    if not facts.records:
        raise EntryProblems(list(facts.problems), f"{source} cannot be used as a facts file:")
    return facts


def load_facts(path: Path) -> Facts:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LibraryError(f"{path} does not exist; give the path of a facts file (BibTeX).") from None
    except IsADirectoryError:
        raise LibraryError(f"{path} is a folder; give the path of a facts file (BibTeX).") from None
    return usable_facts(data, str(path))


# ---------------------------------------------------------------- comparing values


def _plain(value: str) -> str:
    return " ".join(latex.decode(value).casefold().split())


_DASHES = re.compile(r"\s*[-\u2010-\u2015]+\s*")
_MONTHS = {name: number for number, names in enumerate(
    (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
     ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
     ("oct", "october"), ("nov", "november"), ("dec", "december")), 1) for name in names}


def _month(value: str) -> str:
    plain = _plain(value).rstrip(".")
    if plain.isdigit():
        return str(int(plain))
    return str(_MONTHS.get(plain, plain))


_NORMALISERS = {
    "doi": normalise_doi,
    "pages": lambda v: _DASHES.sub("-", _plain(v)),
    "isbn": lambda v: re.sub(r"[\s-]", "", v).upper(),
    "issn": lambda v: re.sub(r"[\s-]", "", v).upper(),
    "month": _month,
    "url": lambda v: v.strip(),  # a URL's path is case-sensitive
}


def values_agree(name: str, shipped: str, verified: str) -> bool:
    """Whether two values of a field state the same fact (LaTeX, case, braces and spacing aside)."""
    normalise = _NORMALISERS.get(name, _plain)
    return normalise(shipped) == normalise(verified)


def _initials(name: Name) -> tuple[str, ...]:
    return tuple(piece[0].casefold() for word in name.given.split()
                 for piece in word.split("-") if piece.strip("."))


def name_key(name: Name) -> tuple[str, ...]:
    """What two spellings of one person must share: family name (with particle) and initials, in order."""
    if name.literal:
        return ("", " ".join(name.family.casefold().split()))
    family = " ".join(name.full_family.casefold().split())
    return (family, " ".join(name.suffix.casefold().split()), *_initials(name))


def names_agree(shipped: Name, verified: Name) -> bool:
    return name_key(shipped) == name_key(verified)


def _is_initial(word: str) -> bool:
    return all(len(piece.strip(".")) <= 1 for piece in word.split("-"))


def forename_problem(shipped: Name, verified: Name) -> str | None:
    """Why the shipped forenames say more than the record's (their initials agreeing), or None:
    a forename spelled out where the record gives only an initial is not confirmed; one spelled
    otherwise than the record's differs."""
    for mine, checked in zip(shipped.given.split(), verified.given.split()):
        if _is_initial(mine):
            continue  # saying less than the record is never wrong
        if _is_initial(checked):
            return "forename not confirmed"
        if mine.casefold() != checked.casefold():
            return "forename differs"
    return None


def forename_beyond(shipped: Name, verified: Name) -> bool:
    return forename_problem(shipped, verified) is not None


# ---------------------------------------------------------------- differences


@dataclass(frozen=True)
class Difference:
    """One field of one reference that does not agree with the checked facts."""

    file: str
    key: str
    field: str  # "pages", "author 3", "entry type"
    shipped: str  # as written in the collection; "" when the reference has no such field
    verified: str  # as written in the facts file; "" when the record has none
    reason: str  # what is wrong, in a few words

    def describe(self) -> str:
        shipped = f"'{self.shipped}'" if self.shipped else "(none)"
        verified = f"'{self.verified}'" if self.verified else "(none)"
        return f"{self.file}: {self.field}: shipped {shipped}; verified {verified} ({self.reason})"


def _persons(entry: Entry, role: str) -> list[tuple[str, Name]]:
    return [(raw, Name.parse(raw)) for raw in entry.persons.get(role, ())]


def _compare_names(role: str, shipped: list[tuple[str, Name]], verified: list[tuple[str, Name]],
                   record: FactRecord, where: tuple[str, str]) -> list[Difference]:
    file, key = where
    out: list[Difference] = []
    matcher = difflib.SequenceMatcher(None, [name_key(n) for _, n in shipped],
                                      [name_key(n) for _, n in verified], autojunk=False)

    def differ(position: int, mine: str, checked: str, reason: str) -> None:
        out.append(Difference(file, key, f"{role} {position}", mine, checked, reason))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(i2 - i1):
                (raw, name), (checked_raw, checked) = shipped[i1 + offset], verified[j1 + offset]
                why = forename_problem(name, checked)
                if why == "forename not confirmed" and FORENAMES in record.not_confirmed:
                    why += f": {record.not_confirmed[FORENAMES]}"
                if why:
                    differ(i1 + offset + 1, raw, checked_raw, why)
            continue
        pairs = max(i2 - i1, j2 - j1)
        for offset in range(pairs):
            mine = shipped[i1 + offset][0] if i1 + offset < i2 else ""
            checked = verified[j1 + offset][0] if j1 + offset < j2 else ""
            if mine and checked:
                differ(i1 + offset + 1, mine, checked, "differs")
            elif mine:
                differ(i1 + offset + 1, mine, "", "not in the verified record")
            else:
                differ(j1 + offset + 1, "", checked, "left out")
    return out


def compare_entry(shipped: Entry, record: FactRecord, file: str | None = None) -> list[Difference]:
    """Every way `shipped` says more than, or other than, its checked record."""
    where = (file or shipped.source, shipped.key)
    facts = record.entry
    out: list[Difference] = []
    if shipped.type.casefold() != facts.type.casefold():
        out.append(Difference(*where, ENTRY_TYPE, shipped.type, facts.type, "differs"))
    for role in PERSON_FIELDS:
        mine, checked = _persons(shipped, role), _persons(facts, role)
        if not mine and not checked:
            continue
        if role in record.not_confirmed and mine:
            out.append(Difference(*where, role, " and ".join(r for r, _ in mine), "",
                                  f"not confirmed: {record.not_confirmed[role]}"))
            continue
        out.extend(_compare_names(role, mine, checked, record, where))
    names = [n for n in shipped.fields if is_bibliographic(n)]
    names += [n for n in facts.fields if is_bibliographic(n) and n not in shipped.fields]
    for name in names:
        mine, checked = shipped.fields.get(name, ""), facts.fields.get(name, "")
        if name in record.not_confirmed:
            if mine:
                out.append(Difference(*where, name, mine, "", f"not confirmed: {record.not_confirmed[name]}"))
            continue
        if mine and not checked:
            out.append(Difference(*where, name, mine, "", "not in the verified record"))
        elif checked and not mine:
            out.append(Difference(*where, name, "", checked, "left out"))
        elif not values_agree(name, mine, checked):
            out.append(Difference(*where, name, mine, checked, "differs"))
    return out


# ---------------------------------------------------------------- titles


_STOP_WORDS = frozenset(
    "a an and are as at be by do does for from has have in into is it its of on or over so than "
    "that the their them these they this those to under was we what when where which who why with "
    "how our not can".split())


def title_words(title: str) -> frozenset[str]:
    """A title's content words for comparison: LaTeX decoded, accents, case and punctuation dropped,
    British and American spellings joined (-ise/-ize, -our/-or), each word stemmed (Porter)."""
    text = unicodedata.normalize("NFKD", latex.decode(title)).encode("ascii", "ignore").decode("ascii")
    words = set()
    for word in re.findall(r"[a-z0-9]+", text.casefold()):
        if word in _STOP_WORDS or len(word) < 2:
            continue
        word = re.sub(r"is(e|es|ed|ing|ation|ations|ational)$", r"iz\1", word)
        word = re.sub(r"our(s?)$", r"or\1", word)
        words.add(stem(word))
    return frozenset(words)


def title_similarity(a: str, b: str) -> float:
    """How far two titles share their content words, from 0 to 1 (the Dice coefficient of the two
    word sets); word order, case, punctuation, spelling variants and plurals do not count."""
    first, second = title_words(a), title_words(b)
    if not first or not second:
        return 0.0
    return 2 * len(first & second) / (len(first) + len(second))


# ---------------------------------------------------------------- the whole collection


@dataclass(frozen=True)
class FactsReport:
    facts: Facts
    compared: tuple[tuple[str, str, str], ...]  # (reference key, record key, how matched: key, DOI or title)
    differences: tuple[Difference, ...]
    without_record: tuple[str, ...]  # references with no record in the facts file: not compared
    unused: tuple[str, ...]  # records that match no reference

    @property
    def ok(self) -> bool:
        """Every reference with a record agrees with it, and at least one had a record."""
        return bool(self.compared) and not self.differences and not self.facts.problems

    def lines(self) -> list[str]:
        """The report as text for a terminal: problems, each difference, the notes that go with them."""
        out = [p.describe() for p in self.facts.problems]
        records = self.facts.by_key
        matched = {reference: (record, how) for reference, record, how in self.compared}
        by_reference: dict[str, list[Difference]] = {}
        for difference in self.differences:
            by_reference.setdefault(difference.key, []).append(difference)
        for reference, differences in by_reference.items():
            record_key, how = matched[reference]
            out.extend(d.describe() for d in differences)
            record = records[record_key]
            if how != "key":
                out.append(f"  compared with the record '{record_key}' (same {how})")
            if record.verified_by:
                out.append(f"  checked on: {record.verified_by}")
            if record.note:
                out.append(f"  note: {record.note}")
        n_diff, n_refs = len(self.differences), len(by_reference)
        summary = (f"{len(self.compared)} reference(s) compared with {self.facts.source} "
                   f"({len(self.facts.records)} record(s)): ")
        if self.ok:
            summary += "every bibliographic field agrees."
        elif not self.compared and not self.facts.problems:
            summary += ("no reference has a record there (same key, DOI or title), so nothing was checked. "
                        "Is it the right file?")
        else:
            summary += (f"{n_diff} difference(s) in {n_refs} reference(s)"
                        + (f", {len(self.facts.problems)} problem(s) in the facts file" if self.facts.problems else "")
                        + ". Each line names the file, the field, the value in the collection and the checked "
                          "value: correct the reference, or check the fact again and correct the facts file.")
        if self.without_record:
            summary += (f"\n{len(self.without_record)} reference(s) have no record in the facts file and were "
                        f"not compared: {', '.join(self.without_record)}.")
        out.append(("\n" if len(out) else "") + summary)
        return out


def _match_records(entries: Sequence[Entry], facts: Facts) -> tuple[list[tuple[Entry, FactRecord, str]], list[str]]:
    by_key = {r.key.casefold(): r for r in facts.records}
    by_doi: dict[str, list[FactRecord]] = {}
    for record in facts.records:
        doi = record.entry.get("doi")
        if doi:
            by_doi.setdefault(normalise_doi(doi), []).append(record)
    used: set[str] = set()
    pairs: list[tuple[Entry, FactRecord, str]] = []
    waiting: list[Entry] = []
    for entry in entries:
        record = by_key.get(entry.key.casefold())
        if record is not None:
            pairs.append((entry, record, "key"))
            used.add(record.key)
        else:
            waiting.append(entry)
    without: list[str] = []
    for entry in waiting:
        doi = normalise_doi(entry.get("doi")) if entry.get("doi") else ""
        candidates = [r for r in by_doi.get(doi, []) if r.key not in used] if doi else []
        how = "DOI"
        if not candidates:
            title = entry.get("title")
            scored = [(title_similarity(title, r.entry.get("title")), r) for r in facts.records
                      if r.key not in used and title]
            candidates = [r for score, r in scored if score >= TITLE_MATCH]
            how = "title"
        if len(candidates) == 1:
            pairs.append((entry, candidates[0], how))
            used.add(candidates[0].key)
        else:
            without.append(entry.key)
    return pairs, without


def compare_collection(entries: Iterable[Entry], facts: Facts) -> FactsReport:
    """Compare every reference that has a record (same key; else same DOI; else one record whose
    title matches) with that record, field by field."""
    entries = sorted(entries, key=lambda e: e.key)
    pairs, without = _match_records(entries, facts)
    differences = [d for entry, record, _ in pairs for d in compare_entry(entry, record)]
    used = {record.key for _, record, _ in pairs}
    return FactsReport(
        facts=facts,
        compared=tuple((entry.key, record.key, how) for entry, record, how in pairs),
        differences=tuple(differences),
        without_record=tuple(without),
        unused=tuple(r.key for r in facts.records if r.key not in used),
    )
