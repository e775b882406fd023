"""The brief as a one-page A4 PDF that really fits on one page.

The layout is drawn at the largest text size that fits, trying smaller sizes
down to 9 pt body text (smaller is hard to read for a tired manager on a
printed page).  If even that overflows, `PackDoesNotFit` says what to cut and
roughly by how much, measured from the layout rather than guessed.

Fonts are the DejaVu Sans files shipped in `library/fonts/`, so names such as
Müller, Šimić or Ó Súilleabháin print the same on every machine.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ..citations import Segment
from ..errors import PackDoesNotFit
from ..packs import Pack
from ..records import Record
from .brief import (HEADING_ABOUT, HEADING_ASK, HEADING_CONCERN, HEADING_EVIDENCE,
                    HEADING_MESSAGES, Brief, build_brief)

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
FAMILY = "DejaVu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}

BODY_SIZES = (10.5, 10.0, 9.5, 9.0)  # points, largest first; 9 pt is the floor
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0  # A4, millimetres
MEASURING_HEIGHT = 20_000.0  # millimetres: room to measure any brief, however long
MARGIN_SIDE, MARGIN_TOP, MARGIN_BOTTOM = 16.0, 14.0, 13.0
HANG = 7.5  # indent of numbered and bulleted items, millimetres
LEADING = 1.3  # line height as a multiple of the font size
POINT = 25.4 / 72  # millimetres

INK = (17, 17, 17)
HEADING_INK = (18, 52, 86)
LINK_INK = (26, 77, 128)
RULE_INK = (42, 93, 143)
MUTED_INK = (60, 60, 60)


@dataclass
class _Layout:
    """What one drawing of the brief measured: where it ended and what took the room."""

    body_size: float
    end_y: float = 0.0
    note_lines: dict[int, int] = field(default_factory=dict)
    reference_lines: dict[int, int] = field(default_factory=dict)

    @property
    def limit(self) -> float:
        return PAGE_HEIGHT - MARGIN_BOTTOM

    @property
    def fits(self) -> bool:
        return self.end_y <= self.limit + 0.01

    @property
    def line_height(self) -> float:
        return self.body_size * POINT * LEADING

    @property
    def lines_over(self) -> int:
        return max(1, math.ceil((self.end_y - self.limit) / self.line_height))


def render(pack: Pack, records: Sequence[Record], style: str) -> bytes:
    brief = build_brief(pack, records, style)
    # Measure on pages far taller than A4: fpdf2 stops drawing text at the
    # foot of a page, which would hide how much does not fit.  Then draw the
    # largest size that fits on a real A4 page.
    measuring = _new_document(brief, pack.date)
    try:
        for size in BODY_SIZES:
            layout = _draw(measuring, brief, size, page_height=MEASURING_HEIGHT)
            if layout.fits:
                break
    finally:
        _close_fonts(measuring)  # never output, so fpdf2 would leave the font files open
    if not layout.fits:
        raise PackDoesNotFit(_what_to_cut(layout))
    final = _new_document(brief, pack.date)
    _draw(final, brief, layout.body_size)
    return bytes(final.output())


def _close_fonts(pdf: FPDF) -> None:
    """Close the font files of a document that is never output (fpdf2 closes them in output())."""
    for font in pdf.fonts.values():
        close = getattr(font, "close", None)
        if close is not None:
            close()


def _what_to_cut(layout: _Layout) -> str:
    """Advice in plain words, from the measured layout at the smallest size."""
    over = layout.lines_over
    lead = ("This brief does not fit on one A4 page, even in the smallest readable print. ")
    tail = f"the brief is about {over} line{'s' if over != 1 else ''} too long."
    # References whose notes are longest: shortening each to a line or two is
    # the cut that loses least.
    by_note = sorted(layout.note_lines.items(), key=lambda item: (-item[1], item[0]))
    long_notes = [number for number, lines in by_note[:2] if lines >= 2]
    saving = sum(layout.note_lines[n] - 1 for n in long_notes)
    # How many references would have to go, taking the biggest first.
    sizes = sorted((layout.note_lines.get(n, 0) + lines for n, lines in layout.reference_lines.items()),
                   reverse=True)
    remove, freed = 0, 0
    for lines in sizes:
        if freed >= over:
            break
        remove += 1
        freed += lines
    remove_text = (f"remove {_count(remove)} reference{'s' if remove != 1 else ''}"
                   if freed >= over and remove else "remove references")
    if long_notes and saving >= over:
        numbers = " and ".join(str(n) for n in sorted(long_notes))
        plural = "s" if len(long_notes) > 1 else ""
        return f"{lead}Shorten the notes for reference{plural} {numbers} or {remove_text}: {tail}"
    if freed >= over and remove:
        return (f"{lead}{remove_text[0].upper()}{remove_text[1:]}, or shorten the key messages "
                f"and notes: {tail}")
    return f"{lead}Shorten the key messages, the ask and the notes, or remove references: {tail}"


_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _count(number: int) -> str:
    return _NUMBER_WORDS[number] if number < len(_NUMBER_WORDS) else str(number)


def _new_document(brief: Brief, date: dt.date | None) -> FPDF:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    for style, name in FONT_FILES.items():
        pdf.add_font(FAMILY, style, str(FONT_DIR / name))
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN_SIDE, MARGIN_TOP, MARGIN_SIDE)
    pdf.set_title(brief.title)
    pdf.set_subject("Evidence brief")
    if brief.prepared_by:
        pdf.set_author(brief.prepared_by)
    pdf.set_creator("Trauma-informed evidence library")
    pdf.set_lang(brief.language)
    # A fixed date keeps the file identical for an unchanged pack.
    stamp = dt.datetime.combine(date or dt.date(2000, 1, 1), dt.time(), tzinfo=dt.timezone.utc)
    pdf.set_creation_date(stamp)
    return pdf


class _Painter:
    """Draws the brief at one body size, recording how much room each part took."""

    def __init__(self, pdf: FPDF, body: float) -> None:
        self.pdf = pdf
        self.body = body
        self.small = max(body - 1.0, 8.0)  # references
        self.tiny = max(body - 1.5, 7.5)  # footer
        self.layout = _Layout(body)

    def height(self, size: float) -> float:
        return size * POINT * LEADING

    def font(self, style: str = "", size: float | None = None,
             colour: tuple[int, int, int] = INK) -> None:
        self.pdf.set_font(FAMILY, style, size or self.body)
        self.pdf.set_text_color(*colour)

    def gap(self, points: float) -> None:
        self.pdf.set_y(self.pdf.get_y() + points * POINT)

    def block(self, text: str, style: str = "", size: float | None = None,
              colour: tuple[int, int, int] = INK) -> None:
        size = size or self.body
        self.font(style, size, colour)
        self.pdf.multi_cell(0, self.height(size), text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(self, text: str) -> None:
        self.gap(self.body * 0.45)
        self.block(text, "B", self.body + 1.5, HEADING_INK)
        self.gap(self.body * 0.12)

    def hanging(self, label: str, runs: Sequence[tuple[str, str, str]], size: float,
                label_style: str = "B") -> float:
        """A numbered or bulleted paragraph with a hanging indent; returns its height.

        fpdf2's text columns wrap words across runs of different fonts (plain
        `write` calls can split a word where the font changes).
        """
        pdf = self.pdf
        start = pdf.get_y()
        left = pdf.l_margin
        self.font(label_style, size)
        pdf.set_x(left)
        pdf.cell(HANG, self.height(size), label)
        pdf.set_xy(left + HANG, start)
        with pdf.text_columns(l_margin=left + HANG, r_margin=pdf.r_margin) as columns:
            with columns.paragraph(line_height=LEADING) as paragraph:
                for text, style, link in runs:
                    self.font(style, size, LINK_INK if link else INK)
                    paragraph.write(text, link=link or None)
        pdf.set_x(left)
        self.gap(size * 0.2)
        return pdf.get_y() - start

    def draw(self, brief: Brief, page_height: float = PAGE_HEIGHT) -> _Layout:
        pdf = self.pdf
        pdf.add_page(format=(PAGE_WIDTH, page_height))
        self.block(brief.title, "B", self.body + 6.5, HEADING_INK)
        if brief.audience:
            self.gap(1.5)
            self.block(f"For: {brief.audience}", "I", self.body, MUTED_INK)
        if brief.ask:
            self.heading(HEADING_ASK)
            top = pdf.get_y()
            pdf.set_left_margin(MARGIN_SIDE + 3.5)
            pdf.set_x(MARGIN_SIDE + 3.5)
            self.block(brief.ask)
            pdf.set_left_margin(MARGIN_SIDE)
            pdf.set_x(MARGIN_SIDE)
            pdf.set_fill_color(*RULE_INK)
            pdf.rect(MARGIN_SIDE, top, 1.2, pdf.get_y() - top, style="F")
        if brief.concern:
            self.heading(HEADING_CONCERN)
            self.block(brief.concern)
        if brief.messages:
            self.heading(HEADING_MESSAGES)
            for message in brief.messages:
                runs = [(message.text, "", "")]
                if message.marker:
                    runs.append((f" {message.marker}", "B", ""))
                self.hanging("•", runs, self.body)
        if brief.evidence:
            self.heading(HEADING_EVIDENCE)
            line = self.height(self.body)
            for item in brief.evidence:
                runs = [(item.label, "B", "")]
                if item.evidence:
                    runs.append((f" ({item.evidence})", "I", ""))
                if item.note:
                    runs.append((f": {item.note}", "", ""))
                height = self.hanging(f"[{item.number}]", runs, self.body)
                self.layout.note_lines[item.number] = max(1, round(height / line))
        if brief.references:
            self.heading(brief.references_heading)
            line = self.height(self.body)
            for reference in brief.references:
                height = self.hanging(f"[{reference.number}]", _segment_runs(reference.citation.segments),
                                      self.small, label_style="")
                self.layout.reference_lines[reference.number] = max(1, round(height / line))
        self.gap(self.body * 0.5)
        y = pdf.get_y()
        pdf.set_draw_color(*MUTED_INK)
        pdf.set_line_width(0.2)
        pdf.line(MARGIN_SIDE, y, PAGE_WIDTH - MARGIN_SIDE, y)
        self.gap(self.body * 0.35)
        self.block(HEADING_ABOUT, "B", self.tiny, MUTED_INK)
        for text in brief.footer:
            self.block(text, "", self.tiny, MUTED_INK)
        self.layout.end_y = pdf.get_y()
        return self.layout


def _segment_runs(segments: Sequence[Segment]) -> list[tuple[str, str, str]]:
    runs = []
    for segment in segments:
        link = segment.url if segment.url.lower().startswith(("https://", "http://")) else ""
        runs.append((segment.text, "I" if segment.italic else "", link))
    return runs


def _draw(pdf: FPDF, brief: Brief, body: float, page_height: float = PAGE_HEIGHT) -> _Layout:
    return _Painter(pdf, body).draw(brief, page_height)
