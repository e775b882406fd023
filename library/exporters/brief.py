"""The words of a one-page brief, decided once for every visual format.

PDF, Word, HTML and Markdown lay out the same `Brief`: same headings, same
numbering, same footer.  Only layout differs between them, so a manager who
gets the PDF and a colleague who edits the Word file read the same brief.

What the brief needs from the vocabulary (the words for each kind of
evidence, singular and plural, and the theme labels and hierarchy) comes in
as `BriefTerms`, so this module never reads files.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Mapping, Sequence

from ..citations import FormattedCitation, Segment, format_bibliography, segments_to_html, style_of
from ..errors import PackError
from ..packs import Pack, PackReference, Search, Selection
from ..records import Record

if TYPE_CHECKING:
    from ..taxonomy import Vocabulary

HEADING_ASK = "What we are asking for"
HEADING_CONCERN = "The concern this answers"
HEADING_MESSAGES = "Key messages"
HEADING_EVIDENCE = "What the evidence says"
HEADING_FURTHER = "Further reading"
HEADING_REFERENCES = "References"
HEADING_ABOUT = "About this brief"
OTHER_THEME = "Other evidence"

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


# ---------------------------------------------------------------- words for kinds of evidence


@dataclass(frozen=True)
class EvidenceKind:
    """A kind of evidence in the brief's words."""

    label: str  # beside a reference: "Systematic review or meta-analysis"
    singular: str  # "1 systematic review or meta-analysis"
    plural: str  # "2 systematic reviews or meta-analyses"

    def count(self, number: int) -> str:
        return f"{number} {self.singular if number == 1 else self.plural}"


# Where the plural rule below gives the wrong English for a vocabulary label,
# keyed by evidence-type slug: (singular, plural).
KIND_OVERRIDES: dict[str, tuple[str, str]] = {
    "guidance": ("guidance, policy or framework document", "guidance, policy or framework documents"),
}
# Nouns whose plural is the singular ("guidance", "series").
_SAME_IN_PLURAL = frozenset({"guidance", "literature", "research", "evidence", "information", "advice",
                             "series", "species", "data"})
_ALTERNATIVES = re.compile(r"(,\s+(?:or\s+|and\s+)?|\s+or\s+|\s+and\s+)")


def _plural_word(word: str) -> str:
    head, hyphen, last = word.rpartition("-")
    lower = last.lower()
    if not last or lower in _SAME_IN_PLURAL or not last[-1].isalpha():
        return word
    if lower.endswith("is"):
        last = last[:-2] + "es"  # analysis -> analyses, thesis -> theses
    elif lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        last = last[:-1] + "ies"  # study -> studies
    elif lower.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    else:
        last += "s"
    return head + hyphen + last


# Single words that describe a noun rather than name one ("scoping or mapping review").
_MODIFIER_ENDINGS = ("ing", "al", "ed", "ive", "ic", "ary", "ory", "ous")


def _plural_phrase(phrase: str) -> str:
    """'systematic review or meta-analysis' -> 'systematic reviews or meta-analyses';
    'scoping or mapping review' -> 'scoping or mapping reviews' (one noun, two modifiers);
    'thesis or other grey literature' -> 'theses or other grey literature'."""
    parts = _ALTERNATIVES.split(phrase)
    alternatives = parts[0::2]
    shared_head = (len(alternatives) > 1 and len(alternatives[-1].split()) > 1
                   and all(len(a.split()) == 1 and a.lower().endswith(_MODIFIER_ENDINGS)
                           for a in alternatives[:-1]))
    out = []
    for index, part in enumerate(parts):
        if index % 2 or (shared_head and index != len(parts) - 1) or not part.strip():
            out.append(part)
            continue
        words = part.split(" ")
        words[-1] = _plural_word(words[-1])
        out.append(" ".join(words))
    return "".join(out)


def _lower_first(label: str) -> str:
    first = label.split(" ")[0]
    if len(first) > 1 and sum(c.isupper() for c in first) > 1:
        return label  # starts with an acronym: "RCT", "NHS guidance"
    return label[:1].lower() + label[1:]


def evidence_kind(label: str, slug: str = "") -> EvidenceKind:
    """The brief's words for a kind of evidence, from its vocabulary label."""
    label = " ".join(label.split())
    if slug in KIND_OVERRIDES:
        singular, plural = KIND_OVERRIDES[slug]
        return EvidenceKind(label, singular, plural)
    singular = _lower_first(label)
    return EvidenceKind(label, singular, _plural_phrase(singular))


def evidence_label(slug: str) -> str:
    """A readable stand-in when neither the pack nor the vocabulary names the kind of evidence."""
    return slug.replace("-", " ").replace("_", " ").strip().capitalize()


# ---------------------------------------------------------------- what the brief takes from the vocabulary


@dataclass(frozen=True)
class BriefTerms:
    """The vocabulary's words the brief uses: kinds of evidence, themes and concerns."""

    kinds: Mapping[str, EvidenceKind] = field(default_factory=dict)  # by evidence-type slug, in order
    themes: Mapping[str, str] = field(default_factory=dict)  # slug -> label, in vocabulary order
    parents: Mapping[str, str | None] = field(default_factory=dict)
    concerns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # folded label -> themes

    @classmethod
    def from_vocabulary(cls, vocabulary: "Vocabulary") -> "BriefTerms":
        return cls(
            kinds={t.slug: evidence_kind(t.label, t.slug) for t in vocabulary.evidence_types},
            themes={t.slug: t.label for t in vocabulary.themes},
            parents={t.slug: t.parent for t in vocabulary.themes},
            concerns={_fold(c.label): c.themes for c in vocabulary.concerns},
        )

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> "BriefTerms":
        """Terms from evidence-type labels alone (slug -> label)."""
        return cls(kinds={slug: evidence_kind(label, slug) for slug, label in labels.items()})

    def lineage(self, slug: str) -> tuple[str, ...]:
        """The theme and every broader theme above it, narrowest first."""
        chain: list[str] = []
        while slug and slug in self.themes and slug not in chain:
            chain.append(slug)
            slug = self.parents.get(slug) or ""
        return tuple(chain)


def _fold(text: str) -> str:
    return " ".join(text.strip().strip("“”\"'‘’").casefold().split())


# ---------------------------------------------------------------- the brief


@dataclass(frozen=True)
class Message:
    text: str
    marker: str  # "[1, 3]", or "" when the message cites nothing
    evidence: str = ""  # "Based on 2 systematic reviews or meta-analyses and 1 qualitative study."


@dataclass(frozen=True)
class EvidenceItem:
    number: int
    label: str  # "Felitti et al., 1998"
    evidence: str  # "Systematic review or meta-analysis"
    note: str


@dataclass(frozen=True)
class EvidenceGroup:
    heading: str  # a theme's label; "" when the brief is not grouped by theme
    items: tuple[EvidenceItem, ...]


@dataclass(frozen=True)
class Reference:
    number: int
    citation: FormattedCitation


@dataclass(frozen=True)
class Brief:
    title: str
    audience: str
    ask: str
    concern: str
    messages: tuple[Message, ...]
    evidence: tuple[EvidenceItem, ...]  # every reference with its note, in number order
    references: tuple[Reference, ...]
    references_heading: str  # "References (APA 7th edition)"
    footer: tuple[str, ...]
    prepared_by: str
    language: str = "en-GB"
    groups: tuple[EvidenceGroup, ...] = ()  # `evidence`, by theme when the pack spans several
    further_reading: tuple[EvidenceItem, ...] = ()  # in the reference list, without a note


# Characters no format can show: control characters, lone surrogates, non-characters.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """Text without characters that no format can show (a pasted control character, a stray
    surrogate from a JSON escape); tabs become spaces."""
    return _UNPRINTABLE.sub("", text).replace("\t", " ")


def _printable_citation(citation: FormattedCitation) -> FormattedCitation:
    if not _UNPRINTABLE.search(citation.text + citation.in_text) and "\t" not in citation.text:
        return citation
    segments = tuple(Segment(printable(s.text), s.italic, s.url) for s in citation.segments)
    return FormattedCitation(citation.key, "".join(s.text for s in segments), segments_to_html(segments),
                             printable(citation.in_text), segments)


def _printable_pack(pack: Pack) -> Pack:
    return replace(
        pack, title=printable(pack.title), audience=printable(pack.audience), ask=printable(pack.ask),
        concern=printable(pack.concern), prepared_by=printable(pack.prepared_by),
        key_messages=tuple(replace(m, text=printable(m.text)) for m in pack.key_messages),
        references=tuple(replace(r, note=printable(r.note), evidence=printable(r.evidence),
                                 chosen_by=_printable_search(r.chosen_by) if isinstance(r.chosen_by, Search)
                                 else r.chosen_by)
                         for r in pack.references),
        selection=replace(pack.selection, searches=tuple(_printable_search(s) for s in pack.selection.searches),
                          filters=tuple(printable(t) for t in pack.selection.filters),
                          note=printable(pack.selection.note)))


def _printable_search(search: Search) -> Search:
    return replace(search, words=printable(search.words), themes=tuple(printable(t) for t in search.themes),
                   evidence_types=tuple(printable(t) for t in search.evidence_types),
                   settings=tuple(printable(t) for t in search.settings))


def uk_date(date: dt.date) -> str:
    """'1 March 2025': unambiguous to a UK reader, unlike 01/03/2025."""
    return f"{date.day} {_MONTHS[date.month - 1]} {date.year}"


def citation_marker(cites: Sequence[int]) -> str:
    return f"[{', '.join(str(n) for n in sorted(set(cites)))}]" if cites else ""


def further_reading_line(items: Sequence[EvidenceItem]) -> str:
    """'[5] Bellis et al., 2019; [6] Nation et al., 2022.'"""
    return "; ".join(f"[{item.number}] {item.label}" for item in items) + "."


def build_brief(pack: Pack, records: Sequence[Record], style: str,
                terms: BriefTerms | None = None) -> Brief:
    """The brief's words for `pack`; `records` are its references' records, in pack order."""
    terms = terms or BriefTerms()
    if len(records) != len(pack.references):
        raise PackError(f"The pack has {len(pack.references)} references but "
                        f"{len(records)} records were given.")
    for reference, record in zip(pack.references, records):
        if reference.key.casefold() != record.key.casefold():
            raise PackError(f"Reference '{reference.key}' was given the record of '{record.key}'.")
    style_info = style_of(style)
    pack = _printable_pack(pack)
    citations = [_printable_citation(c) for c in format_bibliography(records, style)]
    items = []
    for number, (reference, record, citation) in enumerate(
            zip(pack.references, records, citations), 1):
        label = citation.in_text.strip()
        if label.startswith("(") and label.endswith(")"):
            label = label[1:-1].strip()
        items.append(EvidenceItem(number, label, _kind_label(reference, record, terms), reference.note))
    noted = tuple(i for i, r in zip(items, pack.references) if not r.further_reading)
    further = tuple(i for i, r in zip(items, pack.references) if r.further_reading)
    messages = tuple(
        Message(m.text, citation_marker(m.cites), _evidence_behind(m.cites, pack.references, records, terms))
        for m in pack.key_messages)
    return Brief(
        title=pack.title,
        audience=pack.audience,
        ask=pack.ask,
        # A template titled "Answering the concern: “…”" need not say it twice.
        concern="" if _fold(pack.concern) and _fold(pack.concern) in _fold(pack.title) else pack.concern,
        messages=messages,
        evidence=noted,
        references=tuple(Reference(n, c) for n, c in enumerate(citations, 1)),
        references_heading=f"{HEADING_REFERENCES} ({style_info.label})",
        footer=_footer(pack, terms),
        prepared_by=pack.prepared_by,
        groups=_by_theme(noted, pack, records, terms),
        further_reading=further,
    )


def _kind_of(reference: PackReference, record: Record, terms: BriefTerms) -> EvidenceKind | None:
    slug = record.evidence_type
    if reference.evidence:
        kind = terms.kinds.get(slug)
        return kind if kind is not None and kind.label == reference.evidence else evidence_kind(reference.evidence)
    if slug in terms.kinds:
        return terms.kinds[slug]
    return evidence_kind(evidence_label(slug), slug) if slug else None


def _kind_label(reference: PackReference, record: Record, terms: BriefTerms) -> str:
    kind = _kind_of(reference, record, terms)
    return kind.label if kind is not None else ""


def _evidence_behind(cites: Sequence[int], references: Sequence[PackReference], records: Sequence[Record],
                     terms: BriefTerms) -> str:
    """'Based on 2 systematic reviews or meta-analyses and 1 qualitative study.', from the cited works."""
    numbers = sorted({n for n in cites if 1 <= n <= len(records)})
    if not numbers:
        return ""
    kinds: dict[str, EvidenceKind] = {}
    counts: Counter[str] = Counter()
    unknown = 0
    for number in numbers:
        kind = _kind_of(references[number - 1], records[number - 1], terms)
        if kind is None:
            unknown += 1
            continue
        kinds.setdefault(kind.singular, kind)
        counts[kind.singular] += 1
    order = {kind.singular: index for index, kind in enumerate(terms.kinds.values())}
    parts = [kinds[s].count(counts[s]) for s in sorted(counts, key=lambda s: (order.get(s, len(order)), s))]
    if unknown:
        noun = "work" if unknown == 1 else "works"
        parts.append(f"{unknown} other {noun}" if parts else f"{unknown} {noun} of a kind not recorded")
    # Semicolons between kinds when a kind's own words hold a comma ("guidance, policy or ...").
    separator = "; " if any("," in p for p in parts) else ", "
    listed = parts[0] if len(parts) == 1 else separator.join(parts[:-1]) + " and " + parts[-1]
    return f"Based on {listed}."


def _by_theme(items: Sequence[EvidenceItem], pack: Pack, records: Sequence[Record],
              terms: BriefTerms) -> tuple[EvidenceGroup, ...]:
    """The items grouped under theme headings when they span several themes, else one group.

    A pack made for a concern uses the concern's themes, in the concern's
    order (or, if that scatters them, the general rule).  Otherwise the fewest
    themes that cover the references are chosen,
    each as narrow as possible (a reference is filed under one of its own
    themes or a broader theme above it, never under a top-level heading such
    as "What managers ask").  References without a theme go last under
    "Other evidence".  Within a group, items keep their numbers' order.
    Headings are used only when they gather two references or more each, on
    average: six references under five headings read worse than a list.
    """
    flat = (EvidenceGroup("", tuple(items)),) if items else ()
    if len(items) < 3 or not terms.themes:
        return flat
    themes_of = {item.number: tuple(t for t in records[item.number - 1].themes if t in terms.themes)
                 for item in items}
    concern = terms.concerns.get(_fold(pack.concern), ())
    for themes in ((concern, ()) if concern else ((),)):
        grouped = _grouping(items, themes_of, themes, terms)
        # Headings help only when they gather references: on average two or more each.
        if 2 <= len(grouped) and 2 * len(grouped) <= len(items):
            groups = sorted(grouped.items(), key=lambda g: (g[0] == OTHER_THEME, g[1][0].number))
            return tuple(EvidenceGroup(heading, tuple(group)) for heading, group in groups)
    return flat


def _grouping(items: Sequence[EvidenceItem], themes_of: Mapping[int, tuple[str, ...]],
              preferred: Sequence[str], terms: BriefTerms) -> dict[str, list[EvidenceItem]]:
    """Heading -> items: each under the first `preferred` theme it falls under, the rest by
    the fewest, narrowest themes that cover them (greedily)."""
    chosen: dict[int, str] = {}
    for number, tagged in themes_of.items():
        lineages = [terms.lineage(t) for t in tagged]
        for theme in preferred:
            if any(theme in lineage for lineage in lineages):
                chosen[number] = theme
                break
    # Candidate headings: a reference's own themes and their parents, short of the top level.
    candidates = {n: {s for t in tagged for s in terms.lineage(t) if terms.parents.get(s)}
                  for n, tagged in themes_of.items() if n not in chosen}
    order = {slug: index for index, slug in enumerate(terms.themes)}
    open_numbers = {n for n, c in candidates.items() if c}
    while open_numbers:
        covering: Counter[str] = Counter(s for n in open_numbers for s in candidates[n])
        best = max(covering, key=lambda s: (covering[s], len(terms.lineage(s)), -order[s]))
        for number in sorted(open_numbers):
            if best in candidates[number]:
                chosen[number] = best
        open_numbers = {n for n in open_numbers if n not in chosen}
    grouped: dict[str, list[EvidenceItem]] = {}
    for item in items:
        slug = chosen.get(item.number)
        grouped.setdefault(terms.themes[slug] if slug else OTHER_THEME, []).append(item)
    return grouped


def _footer(pack: Pack, terms: BriefTerms) -> tuple[str, ...]:
    lines = []
    when = f" on {uk_date(pack.date)}" if pack.date else ""
    who = f" by {pack.prepared_by}" if pack.prepared_by else ""
    if when or who:
        lines.append(f"Prepared{when}{who}.")
    lines.append(f"How the references were chosen: {how_chosen(pack.selection_in_use(), terms)}.")
    lines.append("The notes on each reference draw on the evidence library’s plain-language "
                 "summaries of each work’s key findings; check the original before quoting it.")
    return tuple(lines)


def how_chosen(selection: Selection, terms: BriefTerms | None = None) -> str:
    """How the references were chosen, in the brief's words, without the closing full stop:
    'a search of the evidence library for “seclusion” (systematic reviews or meta-analyses
    only); others chosen one by one'."""
    terms = terms or BriefTerms()
    if selection.is_empty():
        return "not recorded"
    parts = []
    worded = [s for s in selection.searches if s.words]
    if len(worded) == 1:
        parts.append(f"a search of the evidence library for {_search_phrase(worded[0], terms)}")
    elif worded:
        phrases = [_search_phrase(s, terms) for s in worded]
        parts.append("searches of the evidence library for " + ", for ".join(phrases[:-1])
                     + f" and for {phrases[-1]}")
    for search in selection.searches:
        if not search.words:
            limits = _search_limits(search, terms)
            parts.append(f"browsing the evidence library ({limits})" if limits
                         else "browsing the whole evidence library")
    searched = bool(parts)
    if selection.one_by_one and searched:
        parts.append("others chosen one by one")
    if selection.filters:
        parts.append("filtered by " + "; ".join(selection.filters))
    if selection.note:
        parts.append(selection.note.rstrip("."))
    if selection.one_by_one and not searched:
        # After the note: a concern pack with one more added is "from the 6 ...; others chosen one by one".
        parts.append("others chosen one by one" if parts else "chosen one by one from the evidence library")
    return "; ".join(parts)


def _search_phrase(search: Search, terms: BriefTerms) -> str:
    limits = _search_limits(search, terms)
    return f"“{search.words}”" + (f" ({limits})" if limits else "")


def _search_limits(search: Search, terms: BriefTerms) -> str:
    """A search's filters in plain words: 'systematic reviews or meta-analyses only; setting:
    inpatient wards; published 2010 to 2020'."""
    limits = []
    if search.evidence_types:
        limits.append(" or ".join(_kind_plural(label, terms) for label in search.evidence_types) + " only")
    if search.themes:
        joiner = " and " if search.all_themes else " or "
        limits.append(f"theme{'s' if len(search.themes) > 1 else ''}: "
                      + joiner.join(_lower_first(t) for t in search.themes))
    if search.settings:
        limits.append(f"setting{'s' if len(search.settings) > 1 else ''}: "
                      + " or ".join(_lower_first(t) for t in search.settings))
    start, end = search.year_from, search.year_to
    if start is not None and end is not None:
        limits.append(f"published in {start}" if start == end else f"published {start} to {end}")
    elif start is not None:
        limits.append(f"published in {start} or later")
    elif end is not None:
        limits.append(f"published in {end} or earlier")
    return "; ".join(limits)


def _kind_plural(label: str, terms: BriefTerms) -> str:
    """'Systematic review or meta-analysis' -> 'systematic reviews or meta-analyses', in the
    vocabulary's own words where it has the kind."""
    folded = _fold(label)
    for kind in terms.kinds.values():
        if _fold(kind.label) == folded:
            return kind.plural
    return evidence_kind(label).plural


# ---------------------------------------------------------------- what one page can hold

# Characters, per field.  A one-page brief at the smallest readable print holds
# about 5,000 characters in all, so these are generous for any one field while
# keeping the work of laying out a page bounded.
LIMITS: dict[str, int] = {
    "title": 200, "audience": 200, "ask": 1_000, "concern": 500, "message": 1_000, "note": 1_200,
    "evidence": 120, "prepared_by": 150, "footer": 1_500, "reference": 1_500,
}


_REFERENCE_FIELDS = ("title", "journal", "journaltitle", "booktitle", "publisher", "school", "institution",
                     "organization", "series", "volume", "number", "pages", "edition", "type", "address")


def pack_over_limits(pack: Pack, records: Sequence[Record]) -> list[str]:
    """`over_limits` checked on the pack and its records before anything is formatted.

    Cheap (lengths only), so a pack far beyond one page is refused before
    citeproc or the layout spend seconds on it.
    """
    check = _LimitCheck()
    check.opening(pack.title, pack.audience, pack.ask, pack.concern, [m.text for m in pack.key_messages])
    for number, (reference, record) in enumerate(zip(pack.references, records), 1):
        check("evidence", f"the kind of evidence for reference {number}", reference.evidence)
        if not reference.further_reading:
            check("note", f"the note for reference {number}", reference.note)
        names = [n.natural() for n in (*record.authors[:21], *record.editors[:21])]
        details = " ".join([*(record.fields.get(f, "") for f in _REFERENCE_FIELDS), record.title, *names])
        check.reference(number, details)
    check("prepared_by", "prepared by", pack.prepared_by)
    check("footer", "how the references were chosen", how_chosen(pack.selection_in_use()))
    return check.found


def over_limits(brief: Brief) -> list[str]:
    """Each text of the brief too long for one page, in plain words with its length and the limit."""
    check = _LimitCheck()
    check.opening(brief.title, brief.audience, brief.ask, brief.concern, [m.text for m in brief.messages])
    for item in (*brief.evidence, *brief.further_reading):
        check("evidence", f"the kind of evidence for reference {item.number}", item.evidence)
    for item in brief.evidence:
        check("note", f"the note for reference {item.number}", item.note)
    check("prepared_by", "prepared by", brief.prepared_by)
    check("footer", "how the references were chosen", " ".join(brief.footer))
    for reference in brief.references:
        check.reference(reference.number, reference.citation.text)
    return check.found


class _LimitCheck:
    """Collects each text longer than its limit in `LIMITS`, named in plain words."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def __call__(self, name: str, what: str, text: str) -> None:
        if len(text) > LIMITS[name]:
            self.found.append(f"{what} ({len(text):,} characters; at most {LIMITS[name]:,})")

    def opening(self, title: str, audience: str, ask: str, concern: str, messages: Sequence[str]) -> None:
        """The texts that open every brief: its title, audience, ask, concern and key messages."""
        self("title", "the title", title)
        self("audience", "who it is for", audience)
        self("ask", "what you are asking for", ask)
        self("concern", "the concern", concern)
        for number, message in enumerate(messages, 1):
            self("message", f"key message {number}", message)

    def reference(self, number: int, details: str) -> None:
        self("reference", f"the details of reference {number} (its title, authors or journal, from the "
                          "collection or the saved pack)", details)
