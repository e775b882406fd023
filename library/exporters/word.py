"""The brief as a Word document: the accessible, editable version.

Real heading styles (Title, Heading 1, Heading 2) let screen readers and the
navigation pane move through the brief; key messages are a real bulleted
list; DOIs are real hyperlinks.  The document language is British English.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Sequence

from docx import Document
from docx.document import Document as DocumentObject
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.text.paragraph import Paragraph

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

    document.add_heading(brief.title, level=0)
    if brief.audience:
        document.add_paragraph().add_run(f"For: {brief.audience}").italic = True
    if brief.ask:
        document.add_heading(HEADING_ASK, level=1)
        document.add_paragraph(brief.ask)
    if brief.concern:
        document.add_heading(HEADING_CONCERN, level=1)
        document.add_paragraph(brief.concern)
    if brief.messages:
        document.add_heading(HEADING_MESSAGES, level=1)
        for message in brief.messages:
            paragraph = document.add_paragraph(message.text, style="List Bullet")
            if message.marker:
                paragraph.add_run(f" {message.marker}").bold = True
            if message.evidence:
                paragraph.add_run().add_break()
                paragraph.add_run(message.evidence).italic = True
    if brief.groups or brief.further_reading:
        document.add_heading(HEADING_EVIDENCE, level=1)
        for group in brief.groups:
            if group.heading:
                document.add_heading(group.heading, level=2)
            for item in group.items:
                document.add_heading(f"[{item.number}] {item.label}", level=3 if group.heading else 2)
                paragraph = document.add_paragraph()
                if item.evidence:
                    paragraph.add_run(f"{item.evidence}. ").italic = True
                if item.note:
                    paragraph.add_run(item.note)
        if brief.further_reading:
            paragraph = document.add_paragraph()
            paragraph.add_run(f"{HEADING_FURTHER}: ").bold = True
            paragraph.add_run(further_reading_line(brief.further_reading))
    if brief.references:
        document.add_heading(brief.references_heading, level=1)
        for reference in brief.references:
            paragraph = document.add_paragraph()
            _hanging_indent(paragraph)
            paragraph.add_run(f"[{reference.number}]\t")
            _add_segments(paragraph, reference.citation.segments)
    document.add_heading(HEADING_ABOUT, level=1)
    for line in brief.footer:
        run = document.add_paragraph().add_run(line)
        run.font.size = Pt(9)

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


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
    text = " ".join(text.split())
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
            paragraph.add_run(segment.text).italic = segment.italic or None


def _add_hyperlink(paragraph: Paragraph, text: str, url: str, italic: bool) -> None:
    """python-docx has no call for an external link, so build the w:hyperlink element."""
    relationship = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    hyperlink = OxmlElement("w:hyperlink")
    hyperlink.set(qn("r:id"), relationship)
    run = paragraph.add_run(text)
    run.font.color.rgb = LINK_COLOUR
    run.font.underline = True
    if italic:
        run.italic = True
    # Move the run, formatting and all, inside the hyperlink element.
    hyperlink.append(run._r)
    paragraph._p.append(hyperlink)
