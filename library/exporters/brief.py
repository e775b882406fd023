"""The words of a one-page brief, decided once for every visual format.

PDF, Word, HTML and Markdown lay out the same `Brief`: same headings, same
numbering, same footer.  Only layout differs between them, so a manager who
gets the PDF and a colleague who edits the Word file read the same brief.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

from ..citations import FormattedCitation, format_bibliography, style_of
from ..errors import PackError
from ..packs import Pack
from ..records import Record

HEADING_ASK = "What we are asking for"
HEADING_CONCERN = "The concern this answers"
HEADING_MESSAGES = "Key messages"
HEADING_EVIDENCE = "What the evidence says"
HEADING_REFERENCES = "References"
HEADING_ABOUT = "About this brief"

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


@dataclass(frozen=True)
class Message:
    text: str
    marker: str  # "[1, 3]", or "" when the message cites nothing


@dataclass(frozen=True)
class EvidenceItem:
    number: int
    label: str  # "Felitti et al., 1998"
    evidence: str  # "Systematic review or meta-analysis"
    note: str


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
    evidence: tuple[EvidenceItem, ...]
    references: tuple[Reference, ...]
    references_heading: str  # "References (APA 7th edition)"
    footer: tuple[str, ...]
    prepared_by: str
    language: str = "en-GB"


def uk_date(date: dt.date) -> str:
    """'1 March 2025': unambiguous to a UK reader, unlike 01/03/2025."""
    return f"{date.day} {_MONTHS[date.month - 1]} {date.year}"


def citation_marker(cites: Sequence[int]) -> str:
    return f"[{', '.join(str(n) for n in cites)}]" if cites else ""


def evidence_label(slug: str) -> str:
    """A readable stand-in when the pack does not name the kind of evidence."""
    return slug.replace("-", " ").replace("_", " ").strip().capitalize()


def build_brief(pack: Pack, records: Sequence[Record], style: str) -> Brief:
    """The brief's words for `pack`; `records` are its references' records, in pack order."""
    if len(records) != len(pack.references):
        raise PackError(f"The pack has {len(pack.references)} references but "
                        f"{len(records)} records were given.")
    for reference, record in zip(pack.references, records):
        if reference.key.casefold() != record.key.casefold():
            raise PackError(f"Reference '{reference.key}' was given the record of '{record.key}'.")
    style_info = style_of(style)
    citations = format_bibliography(records, style)
    evidence = []
    for number, (reference, record, citation) in enumerate(
            zip(pack.references, records, citations), 1):
        label = citation.in_text
        if label.startswith("(") and label.endswith(")"):
            label = label[1:-1]
        kind = reference.evidence or evidence_label(record.evidence_type)
        evidence.append(EvidenceItem(number, label, kind, reference.note))
    messages = tuple(Message(m.text, citation_marker(m.cites)) for m in pack.key_messages)
    references = tuple(Reference(n, c) for n, c in enumerate(citations, 1))
    return Brief(
        title=pack.title,
        audience=pack.audience,
        ask=pack.ask,
        concern=pack.concern,
        messages=messages,
        evidence=tuple(evidence),
        references=references,
        references_heading=f"{HEADING_REFERENCES} ({style_info.label})",
        footer=_footer(pack),
        prepared_by=pack.prepared_by,
    )


def _footer(pack: Pack) -> tuple[str, ...]:
    lines = []
    when = f" on {uk_date(pack.date)}" if pack.date else ""
    who = f" by {pack.prepared_by}" if pack.prepared_by else ""
    if when or who:
        lines.append(f"Prepared{when}{who}.")
    selection = pack.selection
    if selection.is_empty():
        lines.append("How the references were chosen: not recorded.")
    else:
        parts = []
        if selection.searches:
            parts.append("searched the evidence library for "
                         + ", ".join(f"‘{s}’" for s in selection.searches))
        if selection.filters:
            parts.append("filtered by " + "; ".join(selection.filters))
        if selection.note:
            parts.append(selection.note.rstrip("."))
        text = "; ".join(parts)
        lines.append(f"How the references were chosen: {text}.")
    lines.append("The notes on each reference draw on the evidence library’s plain-language "
                 "summaries of each work’s key findings; check the original before quoting it.")
    return tuple(lines)
