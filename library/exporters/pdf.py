"""The brief as a one-page A4 PDF that really fits on one page.

The layout is drawn at the largest text size that fits, trying smaller sizes
down to 9 pt body text (smaller is hard to read for a tired manager on a
printed page).  If even that overflows, `PackDoesNotFit` says what to cut and
roughly by how much, measured from the layout rather than guessed.

Whether a brief fits is known without drawing it (`fit`): the layout is a
sequence of paragraphs whose heights do not depend on where they sit, so each
paragraph is measured once by fpdf2 itself and its height is remembered by
its text, look and size.  Editing one note on the pack page re-measures that
note only.  A brief far too long for any page is refused before fpdf2 lays out
anything: text that wide cannot take fewer lines than its width divided by the
line's width, so that sum is a lower bound on its height.  fpdf2's line
breaking costs time in proportion to the text times the line length, so
without these checks a 99,000-character note took tens of seconds.

Fonts are the DejaVu Sans files shipped in `library/fonts/`, so names such as
Müller, Šimić or Ó Súilleabháin print the same on every machine.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ..citations import Segment
from ..errors import PackDoesNotFit
from ..links import safe_url
from ..packs import Pack
from ..records import Record
from .brief import (HEADING_ABOUT, HEADING_ASK, HEADING_CONCERN, HEADING_EVIDENCE, HEADING_FURTHER,
                    HEADING_MESSAGES, Brief, BriefTerms, build_brief, further_reading_line, over_limits,
                    pack_over_limits)

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
FAMILY = "DejaVu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}

BODY_SIZES = (10.5, 10.0, 9.5, 9.0)  # points, largest first; 9 pt is the floor
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0  # A4, millimetres
MEASURING_HEIGHT = 20_000.0  # millimetres: room to measure any paragraph the limits allow
MARGIN_SIDE, MARGIN_TOP, MARGIN_BOTTOM = 15.0, 12.0, 12.0
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN_SIDE
HANG = 7.0  # indent of numbered and bulleted items, millimetres
ASK_INDENT = 3.5  # room for the rule beside the ask
LEADING = 1.25  # line height as a multiple of the font size
# A brief whose lower-bound height is over this many pages is refused without
# laying it out; nearer one page, the real layout gives exact advice.
ESTIMATE_REFUSES = 2.0
POINT = 25.4 / 72  # millimetres

INK = (17, 17, 17)
HEADING_INK = (18, 52, 86)
LINK_INK = (26, 77, 128)
RULE_INK = (42, 93, 143)
MUTED_INK = (60, 60, 60)

Run = tuple[str, str, str]  # text, style ("", "B", "I"), link


@dataclass
class _Layout:
    """What one pass over the brief measured: where it ended and what took the room."""

    body_size: float
    end_y: float = 0.0
    # Lines taken by each text an advocate can shorten, by what the advice calls it.
    texts: dict[str, int] = field(default_factory=dict)
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


@dataclass(frozen=True)
class Fit:
    """Whether a brief fits one A4 page, at which print size, and if not what to cut."""

    fits: bool
    body_size: float | None = None  # points; None when it does not fit
    lines_over: int = 0  # at the smallest size
    advice: str = ""  # in plain words, naming what to shorten; "" when it fits


# ---------------------------------------------------------------- surfaces


class _Surface(Protocol):
    """Where the painter puts the brief: a real PDF, a measurement, or a lower-bound estimate."""

    y: float

    def block(self, text: str, style: str, size: float, colour: tuple[int, int, int],
              indent: float = 0.0) -> float: ...

    def hanging(self, label: str, runs: tuple[Run, ...], size: float, label_style: str) -> float: ...

    def bar(self, top: float, bottom: float) -> None: ...

    def rule(self) -> None: ...


def _line(size: float) -> float:
    return size * POINT * LEADING


def _gap(size: float) -> float:
    return size * 0.2 * POINT  # after each bulleted or numbered item


class _Draw:
    """Draws on an fpdf2 document."""

    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf
        self.y = MARGIN_TOP

    def _font(self, style: str, size: float, colour: tuple[int, int, int]) -> None:
        self.pdf.set_font(FAMILY, style, size)
        self.pdf.set_text_color(*colour)

    def block(self, text: str, style: str, size: float, colour: tuple[int, int, int],
              indent: float = 0.0) -> float:
        pdf = self.pdf
        self._font(style, size, colour)
        pdf.set_xy(MARGIN_SIDE + indent, self.y)
        pdf.multi_cell(TEXT_WIDTH - indent, _line(size), text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        height = pdf.get_y() - self.y
        self.y = pdf.get_y()
        return height

    def hanging(self, label: str, runs: tuple[Run, ...], size: float, label_style: str) -> float:
        """A numbered or bulleted paragraph with a hanging indent.

        fpdf2's text columns wrap words across runs of different fonts (plain
        `write` calls can split a word where the font changes).
        """
        pdf = self.pdf
        start = self.y
        self._font(label_style, size, INK)
        pdf.set_xy(MARGIN_SIDE, start)
        pdf.cell(HANG, _line(size), label)
        pdf.set_xy(MARGIN_SIDE + HANG, start)
        with pdf.text_columns(l_margin=MARGIN_SIDE + HANG, r_margin=MARGIN_SIDE) as columns:
            with columns.paragraph(line_height=LEADING) as paragraph:
                for text, style, link in runs:
                    self._font(style, size, LINK_INK if link else INK)
                    paragraph.write(text, link=link or None)
        self.y = pdf.get_y() + _gap(size)
        return self.y - start

    def bar(self, top: float, bottom: float) -> None:
        self.pdf.set_fill_color(*RULE_INK)
        self.pdf.rect(MARGIN_SIDE, top, 1.2, bottom - top, style="F")

    def rule(self) -> None:
        self.pdf.set_draw_color(*MUTED_INK)
        self.pdf.set_line_width(0.2)
        self.pdf.line(MARGIN_SIDE, self.y, PAGE_WIDTH - MARGIN_SIDE, self.y)


class _Measure:
    """Adds up paragraph heights measured by fpdf2 (each remembered), drawing nothing."""

    def __init__(self) -> None:
        self.y = MARGIN_TOP

    def block(self, text: str, style: str, size: float, colour: tuple[int, int, int],
              indent: float = 0.0) -> float:
        height = _block_height(text, style, size, indent)
        self.y += height
        return height

    def hanging(self, label: str, runs: tuple[Run, ...], size: float, label_style: str) -> float:
        height = _hanging_height(label, runs, size, label_style)
        self.y += height
        return height

    def bar(self, top: float, bottom: float) -> None:
        pass

    def rule(self) -> None:
        pass


class _Estimate(_Measure):
    """A lower bound on each paragraph's height, from the width of its text alone.

    Wrapped at word boundaries, a line holds at most its width plus the space
    dropped where it breaks, so a text needs at least width / (line + space)
    lines.  Cheap: one pass over the characters, no line breaking.
    """

    def block(self, text: str, style: str, size: float, colour: tuple[int, int, int],
              indent: float = 0.0) -> float:
        height = _lines_at_least([(text, style)], size, TEXT_WIDTH - indent) * _line(size)
        self.y += height
        return height

    def hanging(self, label: str, runs: tuple[Run, ...], size: float, label_style: str) -> float:
        lines = _lines_at_least([(text, style) for text, style, _ in runs], size, TEXT_WIDTH - HANG)
        height = lines * _line(size) + _gap(size)
        self.y += height
        return height


# ---------------------------------------------------------------- measuring with fpdf2

_MEASURE_LOCK = threading.Lock()
_MEASURING: dict[str, object] = {}  # "pdf": the measuring document, "uses": measurements on it
_PAGE_USES = 200  # measurements drawn over one page before a fresh one
_DOCUMENT_USES = 4_000  # before a fresh document, so memory stays flat


def _measuring_pdf() -> FPDF:
    """The shared document paragraphs are measured on (callers hold `_MEASURE_LOCK`)."""
    pdf = _MEASURING.get("pdf")
    uses = int(_MEASURING.get("uses", 0))  # type: ignore[call-overload]
    if pdf is None or uses >= _DOCUMENT_USES:
        if isinstance(pdf, FPDF):
            _close_fonts(pdf)
        pdf = _blank_document()
        pdf.add_page(format=(PAGE_WIDTH, MEASURING_HEIGHT))
        uses = 0
    elif uses and uses % _PAGE_USES == 0:
        assert isinstance(pdf, FPDF)
        pdf.add_page(format=(PAGE_WIDTH, MEASURING_HEIGHT))
    _MEASURING.update(pdf=pdf, uses=uses + 1)
    assert isinstance(pdf, FPDF)
    return pdf


@lru_cache(maxsize=8_192)
def _block_height(text: str, style: str, size: float, indent: float) -> float:
    with _MEASURE_LOCK:
        surface = _Draw(_measuring_pdf())
        return surface.block(text, style, size, INK, indent)


@lru_cache(maxsize=8_192)
def _hanging_height(label: str, runs: tuple[Run, ...], size: float, label_style: str) -> float:
    with _MEASURE_LOCK:
        surface = _Draw(_measuring_pdf())
        return surface.hanging(label, runs, size, label_style)


@lru_cache(maxsize=1)
def _widths() -> dict[str, tuple[dict[int, float], float]]:
    """Per style: each character's advance width at 1 pt (mm), and fpdf2's width for a missing glyph."""
    with _MEASURE_LOCK:
        pdf = _measuring_pdf()
        out = {}
        for style in FONT_FILES:
            pdf.set_font(FAMILY, style, 1)
            font = pdf.current_font
            scale = POINT / 1000
            widths = {code: width * scale for code, width in font.cw.items()}  # type: ignore[union-attr]
            out[style] = (widths, font.cw.default_factory() * scale)  # type: ignore[union-attr]
        return out


def _lines_at_least(runs: Sequence[tuple[str, str]], size: float, width: float) -> int:
    widths = _widths()
    total = 0.0
    space = 0.0
    for text, style in runs:
        table, missing = widths[style]
        space = max(space, table.get(32, missing) * size)
        total += sum(table.get(ord(c), missing) for c in text) * size
    if total <= 0:
        return 1
    return max(1, math.ceil(total / (width + space)))


def _blank_document() -> FPDF:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    for style, name in FONT_FILES.items():
        pdf.add_font(FAMILY, style, str(FONT_DIR / name))
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN_SIDE, MARGIN_TOP, MARGIN_SIDE)
    return pdf


def _close_fonts(pdf: FPDF) -> None:
    """Close the font files of a document that is never output (fpdf2 closes them in output())."""
    for font in pdf.fonts.values():
        close = getattr(font, "close", None)
        if close is not None:
            close()


# ---------------------------------------------------------------- the page


def _segment_runs(segments: Sequence[Segment]) -> tuple[Run, ...]:
    return tuple((s.text, "I" if s.italic else "", safe_url(s.url)) for s in segments)


class _Painter:
    """Puts the brief on a surface at one body size, recording how much room each part took."""

    def __init__(self, surface: _Surface, body: float) -> None:
        self.surface = surface
        self.body = body
        self.small = max(body - 1.0, 8.0)  # references, the basis of each message
        self.tiny = max(body - 1.5, 7.5)  # footer
        self.layout = _Layout(body)

    def gap(self, points: float) -> None:
        self.surface.y += points * POINT

    def lines(self, height: float) -> int:
        return max(1, round(height / _line(self.body)))

    def heading(self, text: str, size: float | None = None) -> None:
        self.gap(self.body * 0.4)
        self.surface.block(text, "B", size or self.body + 1.5, HEADING_INK)
        self.gap(self.body * 0.1)

    def draw(self, brief: Brief) -> _Layout:
        s = self.surface
        body = self.body
        texts = self.layout.texts
        texts["the title"] = self.lines(s.block(brief.title, "B", body + 5.0, HEADING_INK))
        if brief.audience:
            self.gap(1.0)
            texts["who it is for"] = self.lines(s.block(f"For: {brief.audience}", "I", body, MUTED_INK))
        if brief.ask:
            self.heading(HEADING_ASK)
            top = s.y
            texts["what you are asking for"] = self.lines(s.block(brief.ask, "", body, INK, ASK_INDENT))
            s.bar(top, s.y)
        if brief.concern:
            self.heading(HEADING_CONCERN)
            texts["the concern"] = self.lines(s.block(brief.concern, "", body, INK))
        if brief.messages:
            self.heading(HEADING_MESSAGES)
            for number, message in enumerate(brief.messages, 1):
                runs: tuple[Run, ...] = ((message.text, "", ""),)
                if message.marker:
                    runs += ((f" {message.marker}", "B", ""),)
                texts[f"key message {number}"] = self.lines(s.hanging("•", runs, body, "B"))
                if message.evidence:
                    # The basis sits under its message, in the hanging indent, smaller.
                    s.y -= _gap(body)
                    s.block(message.evidence, "I", self.small, MUTED_INK, HANG)
                    self.gap(body * 0.2)
        if brief.groups or brief.further_reading:
            self.heading(HEADING_EVIDENCE)
            for group in brief.groups:
                if group.heading:
                    self.gap(body * 0.15)
                    s.block(group.heading, "B", body, HEADING_INK)
                for item in group.items:
                    runs = ((item.label, "B", ""),)
                    if item.evidence:
                        runs += ((f" ({item.evidence})", "I", ""),)
                    if item.note:
                        runs += ((f": {item.note}", "", ""),)
                    lines = self.lines(s.hanging(f"[{item.number}]", runs, body, "B"))
                    self.layout.note_lines[item.number] = lines
            if brief.further_reading:
                runs = ((f"{HEADING_FURTHER}: ", "B", ""), (further_reading_line(brief.further_reading), "", ""))
                s.hanging("", runs, body, "B")
        if brief.references:
            self.heading(brief.references_heading)
            for reference in brief.references:
                height = s.hanging(f"[{reference.number}]", _segment_runs(reference.citation.segments),
                                   self.small, "")
                self.layout.reference_lines[reference.number] = self.lines(height)
        self.gap(body * 0.4)
        s.rule()
        self.gap(body * 0.3)
        s.block(HEADING_ABOUT, "B", self.tiny, MUTED_INK)
        for text in brief.footer:
            s.block(text, "", self.tiny, MUTED_INK)
        self.layout.end_y = s.y
        return self.layout


def _measure(brief: Brief, body: float) -> _Layout:
    return _Painter(_Measure(), body).draw(brief)


def fit(brief: Brief) -> Fit:
    """Whether the brief fits one A4 page, and at which size; quick enough to run on every edit.

    Order of the checks, cheapest first: the length of each text against
    `brief.LIMITS`; a lower bound on the height at the smallest size; then the
    real layout, size by size, from paragraph heights that are remembered.
    """
    too_long = over_limits(brief)
    if too_long:
        return Fit(False, advice=too_long_advice(too_long))
    smallest = BODY_SIZES[-1]
    estimate = _Painter(_Estimate(), smallest).draw(brief)
    if estimate.end_y > ESTIMATE_REFUSES * PAGE_HEIGHT:
        return Fit(False, lines_over=estimate.lines_over, advice=_what_to_cut(estimate, at_least=True))
    for size in BODY_SIZES:
        layout = _measure(brief, size)
        if layout.fits:
            return Fit(True, size)
    return Fit(False, lines_over=layout.lines_over, advice=_what_to_cut(layout))


def render_brief(brief: Brief, date: dt.date | None) -> bytes:
    """The brief as a one-page PDF; `PackDoesNotFit` (saying what to cut) when it cannot fit."""
    checked = fit(brief)
    if not checked.fits or checked.body_size is None:
        raise PackDoesNotFit(checked.advice)
    final = _new_document(brief, date)
    final.add_page(format=(PAGE_WIDTH, PAGE_HEIGHT))
    _Painter(_Draw(final), checked.body_size).draw(brief)
    return bytes(final.output())


def render(pack: Pack, records: Sequence[Record], style: str, terms: BriefTerms | None = None) -> bytes:
    too_long = pack_over_limits(pack, records)
    if too_long:
        raise PackDoesNotFit(too_long_advice(too_long))
    return render_brief(build_brief(pack, records, style, terms), pack.date)


def too_long_advice(too_long: Sequence[str], shown: int = 4) -> str:
    """'This brief cannot fit on one A4 page: shorten the note for reference 1 (99,000 characters; ...).'"""
    items = list(too_long[:shown])
    if len(too_long) > shown:
        rest = len(too_long) - shown
        items.append(f"{rest} other text{'s' if rest != 1 else ''}")
    listed = items[0] if len(items) == 1 else "; ".join(items[:-1]) + " and " + items[-1]
    return f"This brief cannot fit on one A4 page: shorten {listed}."


def _what_to_cut(layout: _Layout, *, at_least: bool = False) -> str:
    """Advice in plain words, from the measured layout at the smallest size."""
    over = layout.lines_over
    if at_least:
        lead = "This brief is far too long for one A4 page. "
        tail = f"the brief is at least {over} line{'s' if over != 1 else ''} too long."
    else:
        lead = "This brief does not fit on one A4 page, even in the smallest readable print. "
        tail = f"the brief is about {over} line{'s' if over != 1 else ''} too long."
    # One text that alone takes more room than the page has over: name it first.
    longest = max(layout.texts.items(), key=lambda item: item[1], default=("", 0))
    by_note = sorted(layout.note_lines.items(), key=lambda item: (-item[1], item[0]))
    if longest[1] > max([lines for _, lines in by_note[:1]] + [over]) and longest[1] >= 3:
        return f"{lead}Shorten {longest[0]} ({longest[1]} lines): {tail}"
    # References whose notes are longest: shortening each to a line or two is
    # the cut that loses least.
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
    pdf = _blank_document()
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
