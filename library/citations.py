"""Citations: a Record as CSL-JSON, and reference lists formatted by citeproc-py.

Every reference string comes from citeproc-py driven by the CSL style files
shipped in `library/styles/` (see the README there), never from strings built
by hand: a wrong comma or a missing italic costs the advocate credibility, and
the official styles encode far more of APA and Cite Them Right than we could.
The locale files are shipped too, so the output does not change with the
citeproc-py version installed.
"""

from __future__ import annotations

import html
import re
import threading
from types import SimpleNamespace
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle
from citeproc.frontend import CitationStylesXML
from citeproc.source.json import CiteProcJSON

from .errors import PackError
from .records import Name, Record

STYLES_DIR = Path(__file__).resolve().parent / "styles"


@dataclass(frozen=True)
class CitationStyle:
    name: str
    label: str  # what the advocate sees in a menu and the footer
    file: str
    locale: str


# APA is an American style, so it keeps the American locale its authors test
# against (double quotes, "&"); Cite Them Right is British and says en-GB itself.
STYLES: dict[str, CitationStyle] = {
    "apa": CitationStyle("apa", "APA 7th edition", "apa.csl", "en-US"),
    "harvard": CitationStyle("harvard", "Harvard, Cite Them Right",
                             "harvard-cite-them-right.csl", "en-GB"),
}


@dataclass(frozen=True)
class Segment:
    """A piece of a formatted reference with one look: plain, italic, or a link."""

    text: str
    italic: bool = False
    url: str = ""


@dataclass(frozen=True)
class FormattedCitation:
    key: str
    text: str  # plain text, e.g. for a clipboard or a test
    html: str  # minimal, escaped HTML: <i> for italics, <a href> on the DOI or URL
    in_text: str  # parenthetical in-text form, e.g. "(Felitti et al., 1998)"
    segments: tuple[Segment, ...]  # the same reference as runs, for PDF and Word


# ---------------------------------------------------------------- CSL-JSON

_CSL_TYPES = {
    "article": "article-journal",
    "book": "book",
    "booklet": "pamphlet",
    "collection": "book",
    "proceedings": "book",
    "inbook": "chapter",
    "incollection": "chapter",
    "inproceedings": "paper-conference",
    "conference": "paper-conference",
    "manual": "report",
    "techreport": "report",
    "report": "report",
    "phdthesis": "thesis",
    "mastersthesis": "thesis",
    "thesis": "thesis",
    "unpublished": "manuscript",
    "online": "webpage",
    "electronic": "webpage",
    "www": "webpage",
    "misc": "document",
}

# Used only when a thesis entry has no `type` field saying what kind it is.
_DEFAULT_THESIS_GENRE = {"phdthesis": "Doctoral thesis", "mastersthesis": "Master's thesis"}

_DIGIT_RANGE = re.compile(r"(?<=\w)\s*(?:-+|–|—)\s*(?=\w)")


def _csl_name(name: Name) -> dict[str, str]:
    if name.literal:
        return {"literal": name.family}
    result = {"family": name.family}
    if name.given:
        result["given"] = name.given
    if name.particle:
        # BibTeX's "von" part is written lower-case and stays with the surname
        # ("van Os, J."); CSL calls that a non-dropping particle.
        result["non-dropping-particle"] = name.particle
    if name.suffix:
        result["suffix"] = name.suffix
    return result


def _page_range(pages: str) -> str:
    return _DIGIT_RANGE.sub("–", pages.strip())


def to_csl(record: Record) -> dict[str, Any]:
    """The record as a CSL-JSON item (the format citeproc and Zotero read)."""
    fields = record.fields
    bib_type = record.type.lower()
    csl_type = _CSL_TYPES.get(bib_type, "document")
    item: dict[str, Any] = {"id": record.key, "type": csl_type}
    if record.title:
        item["title"] = record.title
    if record.authors:
        item["author"] = [_csl_name(n) for n in record.authors]
    if record.editors:
        item["editor"] = [_csl_name(n) for n in record.editors]
    if record.year is not None:
        item["issued"] = {"date-parts": [[record.year]]}

    if csl_type in ("article-journal", "chapter", "paper-conference"):
        container = (fields.get("journal") or fields.get("journaltitle")
                     or fields.get("booktitle") or "")
        if container:
            item["container-title"] = container
    series = fields.get("series")
    if series:
        item["collection-title"] = series

    if fields.get("volume"):
        item["volume"] = fields["volume"]
    number = fields.get("number") or fields.get("issue") or ""
    if number:
        # In BibTeX `number` is the issue of a journal but the report number of a report.
        item["issue" if csl_type == "article-journal" else "number"] = number
    if fields.get("pages"):
        item["page"] = _page_range(fields["pages"])
    if fields.get("eid") and csl_type == "article-journal":
        # An article number (biblatex `eid`) is not a page: APA prints "Article 1353383".
        item["number"] = fields["eid"]
    if fields.get("edition"):
        item["edition"] = fields["edition"]

    if csl_type == "thesis":
        genre = fields.get("type") or _DEFAULT_THESIS_GENRE.get(bib_type, "Thesis")
        item["genre"] = genre
    elif fields.get("type"):
        item["genre"] = fields["type"]

    publisher = _publisher(fields, bib_type)
    if publisher:
        item["publisher"] = publisher
    place = fields.get("address") or fields.get("location")
    if place:
        item["publisher-place"] = place
    if fields.get("isbn"):
        item["ISBN"] = fields["isbn"]
    if record.doi:
        item["DOI"] = record.doi
    elif record.url:
        # A DOI is the lasting link; a URL next to it would only add clutter.
        item["URL"] = record.url
    return item


def _publisher(fields: dict[str, str], bib_type: str) -> str:
    if bib_type in ("phdthesis", "mastersthesis", "thesis"):
        order = ("school", "institution", "publisher")
    elif bib_type in ("techreport", "report"):
        order = ("institution", "publisher", "organization")
    elif bib_type in ("manual", "proceedings", "inproceedings", "conference"):
        order = ("publisher", "organization")
    else:
        order = ("publisher",)
    return next((fields[name] for name in order if fields.get(name)), "")


def _for_style(item: dict[str, Any], style: str) -> dict[str, Any]:
    """Adjustments that a style's rules need but CSL cannot express."""
    if style == "apa":
        authors = item.get("author", [])
        # APA 7 (9.29): when the author and the publisher are the same, omit the
        # publisher. CSL cannot compare two variables, so the data says it.
        if (len(authors) == 1 and "literal" in authors[0]
                and authors[0]["literal"].casefold() == str(item.get("publisher", "")).casefold()):
            item = {k: v for k, v in item.items() if k != "publisher"}
    return item


# ---------------------------------------------------------------- formatting

# citeproc-py's HTML formatter escapes some values and not others (a title's
# "<" comes through raw), so its output cannot be parsed back reliably.  This
# formatter marks italics with two private-use characters instead, removed
# from the input first, and the runs are rebuilt and escaped by us.
_ITALIC_ON, _ITALIC_OFF = "\ue000", "\ue001"
_MARKS = re.compile(f"[{_ITALIC_ON}{_ITALIC_OFF}]")


def _italic(text: str) -> str:
    return f"{_ITALIC_ON}{text}{_ITALIC_OFF}"


_FORMATTER = SimpleNamespace(
    preformat=lambda text: text, Italic=_italic, Oblique=_italic, Bold=str, Light=str,
    Underline=str, Superscript=str, Subscript=str, SmallCaps=str)


def _unmarked(value: Any) -> Any:
    if isinstance(value, str):
        return _MARKS.sub("", value)
    if isinstance(value, list):
        return [_unmarked(v) for v in value]
    if isinstance(value, dict):
        return {k: _unmarked(v) for k, v in value.items()}
    return value


# citeproc-py's style objects keep state while rendering (the formatter, the
# cites seen so far), so one rendering at a time: the app serves many sessions
# from threads of one process.
_RENDER_LOCK = threading.Lock()


def style_of(name: str) -> CitationStyle:
    try:
        return STYLES[name]
    except KeyError:
        choices = " or ".join(f"'{s}'" for s in STYLES)
        raise PackError(f"Unknown citation style '{name}': choose {choices}.") from None


@lru_cache(maxsize=None)
def _load_style(name: str) -> CitationStylesStyle:
    info = STYLES[name]
    # The shipped styles pass citeproc-py's schema (checked by a test), and
    # validating costs time on every load.
    style = CitationStylesStyle(str(STYLES_DIR / info.file), locale=info.locale, validate=False)
    _use_shipped_locales(style, info.locale)
    return style


def _use_shipped_locales(style: CitationStylesStyle, locale: str) -> None:
    """Point the style at the locale files in library/styles, not citeproc-py's own copies.

    Same search order as citeproc-py's `set_locale_list`: the style's own
    locale blocks first, then the dialect's file, then American English.
    """
    root = style.root
    language = locale.split("-")[0]
    locales = []
    for lang in (locale, language, None):
        expr = f'./cs:locale[@xml:lang="{lang}"]' if lang else "./cs:locale[not(@xml:lang)]"
        locales.extend(root.xpath_search(expr))
    for dialect in dict.fromkeys((locale, "en-US")):
        path = STYLES_DIR / f"locales-{dialect}.xml"
        locales.append(CitationStylesXML(str(path), validate=False).root)
    for element in locales:
        element.style = root
    root.locales = locales


def format_bibliography(records: Sequence[Record], style: str = "apa") -> list[FormattedCitation]:
    """Each record's reference in `style`, in the order given (the pack's numbering)."""
    style_of(style)
    if not records:
        return []
    items = []
    ids = []
    for index, record in enumerate(records):
        # citeproc-py lower-cases ids, so keys that differ only in case would collide.
        item_id = f"ref{index}"
        item = _unmarked(_for_style(to_csl(record), style))
        item["id"] = item_id
        items.append(item)
        ids.append(item_id)
    with _RENDER_LOCK:
        csl_style = _load_style(style)
        bibliography = CitationStylesBibliography(csl_style, CiteProcJSON(items), _FORMATTER)
        citations = []
        for item_id in ids:
            citation = Citation([CitationItem(item_id)])
            bibliography.register(citation)
            citations.append(citation)
        in_texts = [str(bibliography.cite(c, _ignore)) for c in citations]
        entries = [str(entry) for entry in bibliography.bibliography()]
    results = []
    for record, entry, in_text in zip(records, entries, in_texts):
        segments = _collapse_punctuation(_segments_from_marks(entry))
        segments = _link_segments(segments, record)
        results.append(FormattedCitation(
            key=record.key,
            text="".join(s.text for s in segments),
            html=segments_to_html(segments),
            in_text=_MARKS.sub("", in_text),
            segments=segments,
        ))
    return results


def format_reference(record: Record, style: str = "apa") -> FormattedCitation:
    return format_bibliography([record], style)[0]


def _ignore(_item: object) -> None:
    """citeproc-py calls this for a cite missing from the source; ours never are."""


def _segments_from_marks(marked: str) -> tuple[Segment, ...]:
    """citeproc output with italic marks as italic/plain runs (marks may nest)."""
    segments: list[Segment] = []
    depth = 0
    for piece in re.split(f"([{_ITALIC_ON}{_ITALIC_OFF}])", marked):
        if piece == _ITALIC_ON:
            depth += 1
        elif piece == _ITALIC_OFF:
            depth = max(depth - 1, 0)
        else:
            _append(segments, piece, depth > 0)
    return tuple(segments)


def _append(segments: list[Segment], text: str, italic: bool) -> None:
    if not text:
        return
    if segments and segments[-1].italic == italic and not segments[-1].url:
        segments[-1] = Segment(segments[-1].text + text, italic)
    else:
        segments.append(Segment(text, italic))


def _collapse_punctuation(segments: Iterable[Segment]) -> tuple[Segment, ...]:
    """Drop a full stop that follows '?', '!' or a single '.', as the CSL spec requires.

    citeproc-py does not merge punctuation where a title ends in a question
    mark and the style adds a full stop ("do they work?." should read "do
    they work?"); both styles expect it to.
    """
    runs = list(segments)
    chars = [(char, index) for index, run in enumerate(runs) for char in run.text]
    kept: list[list[str]] = [[] for _ in runs]
    for position, (char, index) in enumerate(chars):
        before = chars[position - 1][0] if position >= 1 else ""
        before2 = chars[position - 2][0] if position >= 2 else ""
        after = chars[position + 1][0] if position + 1 < len(chars) else ""
        if char == "." and (before in "?!" and before
                            or before == "." and before2 != "." and after != "."):
            continue
        kept[index].append(char)
    return tuple(Segment("".join(k), r.italic, r.url) for r, k in zip(runs, kept) if k)


def _link_segments(segments: Iterable[Segment], record: Record) -> tuple[Segment, ...]:
    """Mark the DOI (or URL) printed in the reference as a link."""
    target = record.doi_url or record.url
    result: list[Segment] = []
    for segment in segments:
        start = segment.text.find(target) if target else -1
        if start < 0:
            result.append(segment)
            continue
        end = start + len(target)
        before, linked, after = segment.text[:start], segment.text[start:end], segment.text[end:]
        if before:
            result.append(Segment(before, segment.italic))
        result.append(Segment(linked, segment.italic, target))
        if after:
            result.append(Segment(after, segment.italic))
        target = ""
    return tuple(result)


def segments_to_html(segments: Iterable[Segment]) -> str:
    """Escaped HTML for runs; only http(s) links become anchors."""
    parts = []
    for segment in segments:
        text = html.escape(segment.text, quote=False)
        if segment.italic:
            text = f"<i>{text}</i>"
        if segment.url and segment.url.lower().startswith(("https://", "http://")):
            text = f'<a href="{html.escape(segment.url, quote=True)}">{text}</a>'
        parts.append(text)
    return "".join(parts)
