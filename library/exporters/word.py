"""The brief as a Word document: the accessible, editable version.

Real heading styles (Title, Heading 1, Heading 2) let screen readers and the
navigation pane move through the brief; key messages are a real bulleted
list; DOIs are real hyperlinks.  The document language is British English.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Sequence

from docx import Document
from docx.document import Document as DocumentObject
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from ..citations import Segment
from ..links import safe_url
from ..packs import Pack
from ..records import Record
from .brief import (HEADING_ABOUT, HEADING_ASK, HEADING_CONCERN, HEADING_EVIDENCE, HEADING_FURTHER,
                    HEADING_MESSAGES, Brief, BriefTerms, build_brief, further_reading_line)

LINK_COLOUR = RGBColor(0x1A, 0x4D, 0x80)
# Word keeps its document properties (title, author...) to 255 characters.
PROPERTY_LIMIT = 255


def render(pack: Pack, records: Sequence[Record], style: str, terms: BriefTerms | None = None) -> bytes:
    brief = build_brief(pack, records, style, terms)
    document = Document()
    _set_up(document, brief, pack.date)

    _heading(document, brief.title, 0)
    if brief.audience:
        _run(document.add_paragraph(), f"For: {brief.audience}", italic=True)
    if brief.ask:
        _heading(document, HEADING_ASK, 1)
        _run(document.add_paragraph(), brief.ask)
    if brief.concern:
        _heading(document, HEADING_CONCERN, 1)
        _run(document.add_paragraph(), brief.concern)
    if brief.messages:
        _heading(document, HEADING_MESSAGES, 1)
        for message in brief.messages:
            paragraph = document.add_paragraph(style="List Bullet")
            _run(paragraph, message.text)
            if message.marker:
                _run(paragraph, f" {message.marker}", bold=True)
            if message.evidence:
                paragraph.add_run().add_break()
                _run(paragraph, message.evidence, italic=True)
    if brief.groups or brief.further_reading:
        _heading(document, HEADING_EVIDENCE, 1)
        for group in brief.groups:
            if group.heading:
                _heading(document, group.heading, 2)
            for item in group.items:
                _heading(document, f"[{item.number}] {item.label}", 3 if group.heading else 2)
                paragraph = document.add_paragraph()
                if item.evidence:
                    _run(paragraph, f"{item.evidence}. ", italic=True)
                if item.note:
                    _run(paragraph, item.note)
        if brief.further_reading:
            paragraph = document.add_paragraph()
            _run(paragraph, f"{HEADING_FURTHER}: ", bold=True)
            _run(paragraph, further_reading_line(brief.further_reading))
    if brief.references:
        _heading(document, brief.references_heading, 1)
        for reference in brief.references:
            paragraph = document.add_paragraph()
            _hanging_indent(paragraph)
            _run(paragraph, f"[{reference.number}]")
            paragraph.add_run().add_tab()
            _add_segments(paragraph, reference.citation.segments)
    _heading(document, HEADING_ABOUT, 1)
    for line in brief.footer:
        run = _run(document.add_paragraph(), line)
        run.font.size = Pt(9)

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# Characters XML 1.0 cannot hold (lxml refuses them), and runs of white space.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"\s+")


def _plain(text: str) -> str:
    """Text as one line of XML-safe characters: the brief's paragraphs are single paragraphs."""
    return _SPACES.sub(" ", _NOT_XML.sub("", text))


def _run(paragraph: Paragraph, text: str, *, bold: bool | None = None, italic: bool | None = None) -> Run:
    """A run holding `text`, written as one w:t element.

    python-docx's `add_run(text)` adds text a character at a time (to turn tabs
    and line breaks into their own elements), which takes seconds on long
    texts; ours never hold either.
    """
    run = paragraph.add_run()
    element = OxmlElement("w:t")
    element.text = _plain(text)
    element.set(qn("xml:space"), "preserve")
    run._r.append(element)
    if bold is not None:
        run.bold = bold
    if italic is not None:
        run.italic = italic
    return run


def _heading(document: DocumentObject, text: str, level: int) -> Paragraph:
    paragraph = document.add_heading("", level=level)
    _run(paragraph, text)
    return paragraph


def _set_up(document: DocumentObject, brief: Brief, date: dt.date | None) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(18))
    normal = document.styles["Normal"]
    normal.font.size = Pt(11)
    _set_language(normal.element, brief.language)
    properties = document.core_properties
    properties.title = _property(brief.title)
    properties.author = _property(brief.prepared_by)
    properties.language = brief.language
    properties.subject = "Evidence brief"
    # Fixed dates keep the file identical for an unchanged pack.
    stamp = dt.datetime.combine(date or dt.date(2000, 1, 1), dt.time())
    properties.created = properties.modified = stamp
    properties.last_modified_by = _property(brief.prepared_by)
    properties.revision = 1


def _property(text: str) -> str:
    """Text cut to Word's 255-character limit for a document property (the brief keeps it whole)."""
    text = _plain(text).strip()
    return text if len(text) <= PROPERTY_LIMIT else text[:PROPERTY_LIMIT - 1].rstrip() + "…"


def _set_language(style_element: OxmlElement, language: str) -> None:
    run_properties = style_element.get_or_add_rPr()
    lang = run_properties.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        run_properties.append(lang)
    lang.set(qn("w:val"), language)


def _hanging_indent(paragraph: Paragraph) -> None:
    paragraph.paragraph_format.left_indent = Mm(9)
    paragraph.paragraph_format.first_line_indent = Mm(-9)
    paragraph.paragraph_format.tab_stops.add_tab_stop(Mm(9))


def _add_segments(paragraph: Paragraph, segments: Sequence[Segment]) -> None:
    for segment in segments:
        if safe_url(segment.url):
            _add_hyperlink(paragraph, segment.text, safe_url(segment.url), segment.italic)
        else:
            _run(paragraph, segment.text, italic=segment.italic or None)


def _add_hyperlink(paragraph: Paragraph, text: str, url: str, italic: bool) -> None:
    """python-docx has no call for an external link, so build the w:hyperlink element."""
    relationship = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    hyperlink = OxmlElement("w:hyperlink")
    hyperlink.set(qn("r:id"), relationship)
    run = _run(paragraph, text)
    run.font.color.rgb = LINK_COLOUR
    run.font.underline = True
    if italic:
        run.italic = True
    # Move the run, formatting and all, inside the hyperlink element.
    hyperlink.append(run._r)
    paragraph._p.append(hyperlink)
