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
import json
import re
import threading
from types import SimpleNamespace
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle
from citeproc import model as csl_model
from citeproc.frontend import CitationStylesXML
from citeproc.source.json import CiteProcJSON

from . import latex
from .errors import PackError
from .links import safe_url
from .records import Name, Record, people

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


# No style prints more than the first 19 names and the last (APA 7 with 21 or
# more authors), so for formatting (never in the CSL-JSON export) longer lists
# are cut to 21 names, which prints the same reference: a list of hundreds of
# names costs citeproc seconds.
_NAMES_KEPT = 20


def _names_shown(names: list[Any]) -> list[Any]:
    return names if len(names) <= _NAMES_KEPT + 1 else [*names[:_NAMES_KEPT], names[-1]]


def _with_et_al(item: dict[str, Any], record: Record) -> dict[str, Any]:
    """The CSL item with a marker after the names where BibTeX says "and others".

    The rest of the list was not given.  `to_csl` leaves "others" out of the
    data; for formatting a marker stands last in the list, rewritten as "et
    al." once formatted (see _et_al), so a reference never reads "& others".
    """
    for role, names in (("author", record.authors), ("editor", record.editors)):
        if any(n.is_others for n in names):
            item = {**item, role: [*item.get(role, []), {"literal": _OTHERS}]}
    return item


_OTHERS = "\ue020"
_OTHERS_JOINED = re.compile(f"(,?)\\s+(?:&|and)\\s+{_OTHERS}")


def _et_al(text: str) -> str:
    """'Binsfeld, G., & <others>' -> 'Binsfeld, G., et al.'; 'Azeem & <others>' -> 'Azeem et al.'."""
    if _OTHERS not in text:
        return text
    return _OTHERS_JOINED.sub(r"\1 et al.", text).replace(_OTHERS, "et al.")


def _page_range(pages: str) -> str:
    return _DIGIT_RANGE.sub("–", pages.strip())


# ---------------------------------------------------------------- APA sentence case

# Words that stay lower case inside a title even in title case; they say
# nothing about whether the title was typed in title case or sentence case.
_MINOR_WORDS = frozenset(
    "a an and as at but by down for from if in into like near nor of off on onto or out over "
    "past per so than that the till to up upon via vs with within without yet".split())
_PROTECT_ON, _PROTECT_OFF = "\ue010", "\ue011"
_PROTECTED_RUN = re.compile(f"{_PROTECT_ON}([^{_PROTECT_OFF}]*){_PROTECT_OFF}")
_PIECES = re.compile(r"(\s+)")
# A subtitle or a new sentence starts after these (APA capitalises its first word).
_CLAUSE_END = re.compile(r"[:?!]['’”)\]]*$")
_COMMAND_BEFORE = re.compile(r"\\[A-Za-z]+\s*$")


def _mark_protected(raw: str) -> str:
    """BibTeX text with each case-protected group `{...}` at the top level marked.

    As in BibTeX, a group that starts with a backslash (`{\\"u}`) is a special
    character, not protection, and a command's argument (`\\emph{x}`) is not
    protection either.
    """
    out: list[str] = []
    position, length = 0, len(raw)
    while position < length:
        char = raw[position]
        if char == "\\":
            out.append(raw[position:position + 2])
            position += 2
            continue
        if char != "{":
            out.append(char)
            position += 1
            continue
        depth, end = 0, position
        while end < length:
            if raw[end] == "\\":
                end += 2
                continue
            if raw[end] == "{":
                depth += 1
            elif raw[end] == "}":
                depth -= 1
                if depth == 0:
                    break
            end += 1
        group = raw[position:end + 1]
        if raw.startswith("{\\", position) or _COMMAND_BEFORE.search("".join(out[-20:])):
            out.append(group)
        else:
            out.append(_PROTECT_ON + group[1:-1] + _PROTECT_OFF)
        position = end + 1
    return "".join(out)


def _keeps_capitals(word: str) -> bool:
    """An acronym (ACE, PTSD's, COVID-19), a name with inner capitals (McDonald), or 'I'."""
    letters = [c for c in word if c.isalpha()]
    if not letters:
        return True
    if letters == ["I"]:
        return True
    return sum(c.isupper() for c in letters) >= 2 or any(c.isupper() for c in letters[1:])


def _lower_word(word: str) -> str:
    return "-".join(part if _keeps_capitals(part) else part.lower() for part in word.split("-"))


_OPENING = frozenset("‘“'\"([")


def _capitalise(word: str) -> str:
    """The word with its first letter capitalised, if only opening quotes or brackets come before it."""
    for index, char in enumerate(word):
        if char.isalpha():
            if (char.islower() and not _keeps_capitals(word.split("-")[0])
                    and all(c in _OPENING for c in word[:index])):
                return word[:index] + char.upper() + word[index + 1:]
            return word
    return word


def sentence_case(raw_title: str) -> str:
    """A title in APA sentence case, from its BibTeX text (LaTeX and braces as written).

    The first word of the title and of a subtitle (after a colon, '?' or '!')
    is capitalised.  A title typed in title case has its other words lowered,
    except words protected by braces (`{Sanctuary}`, `{New York City}`: the
    BibTeX way to mark a proper noun) and words written with more than one
    capital (ACE, PTSD, McDonald).  A title already in sentence case keeps its
    words as typed, since its capitals are proper nouns.
    """
    cleaned = raw_title.replace(_PROTECT_ON, "").replace(_PROTECT_OFF, "")
    decoded = latex.decode(_mark_protected(cleaned))
    pieces: list[tuple[str, bool]] = []  # (text, protected)
    position = 0
    for match in _PROTECTED_RUN.finditer(decoded):
        if match.start() > position:
            pieces.extend((p, False) for p in _PIECES.split(decoded[position:match.start()]) if p)
        if match.group(1):
            pieces.append((match.group(1), True))
        position = match.end()
    pieces.extend((p, False) for p in _PIECES.split(decoded[position:]) if p)

    starts: list[bool] = []  # does each piece begin the title or a subtitle?
    glued: list[bool] = []  # does it continue the word before it ("{SAMHSA}'s")?
    at_start, previous_text = True, False
    for text, protected in pieces:
        space = text.isspace()
        glued.append(previous_text and not space)
        starts.append(at_start and not space and not glued[-1])
        if not space:
            if any(c.isalpha() for c in text):
                at_start = False
            if _CLAUSE_END.search(text):
                at_start = True
        previous_text = not space
    content = [text for (text, protected), start, joined in zip(pieces, starts, glued)
               if not protected and not start and not joined and not text.isspace()
               and any(c.isalpha() for c in text) and not _keeps_capitals(text.split("-")[0])
               and text.strip("‘’“”'\"()[]").lower() not in _MINOR_WORDS]
    first_letters = [next(c for c in text if c.isalpha()) for text in content]
    title_case = bool(first_letters) and all(c.isupper() for c in first_letters)

    out = []
    for (text, protected), start, joined in zip(pieces, starts, glued):
        if protected or text.isspace() or joined:
            out.append(text)
        elif start:
            out.append(_capitalise(_lower_word(text) if title_case else text))
        elif title_case:
            out.append(_lower_word(text))
        else:
            out.append(text)
    return "".join(out)


def _raw_title(record: Record) -> str:
    if record.entry is not None and record.entry.fields.get("title"):
        return record.entry.fields["title"]
    return latex.encode(record.title)


def to_csl(record: Record) -> dict[str, Any]:
    """The record as a CSL-JSON item (the format citeproc and Zotero read)."""
    fields = record.fields
    bib_type = record.type.lower()
    csl_type = _CSL_TYPES.get(bib_type, "document")
    item: dict[str, Any] = {"id": record.key, "type": csl_type}
    if record.title:
        item["title"] = record.title
    # CSL-JSON has no "et al." either: BibTeX's "and others" is left out of the data (a
    # reference manager would make a person of it); formatting marks it (see _with_et_al).
    for role, names in (("author", people(record.authors)), ("editor", people(record.editors))):
        if names:
            item[role] = [_csl_name(n) for n in names]
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
    elif safe_url(record.url):
        # A DOI is the lasting link; a URL next to it would only add clutter.
        item["URL"] = safe_url(record.url)
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


# APA 7 (6.17): titles of articles and chapters in the reference list are in
# sentence case.  Books, reports and theses are left as the collection writes
# them: their titles are full of unbraced proper nouns (the Sanctuary model, the
# Power Threat Meaning Framework) that lowering would get wrong.
_SENTENCE_CASE_TYPES = frozenset({"article-journal", "chapter", "paper-conference", "article",
                                  "article-magazine", "article-newspaper"})


def _for_style(item: dict[str, Any], style: str, record: Record | None = None) -> dict[str, Any]:
    """Adjustments that a style's rules need but CSL cannot express."""
    if style == "apa":
        if record is not None and item.get("title") and item.get("type") in _SENTENCE_CASE_TYPES:
            item = {**item, "title": sentence_case(_raw_title(record))}
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


def _names_without_substituted(self: Any, item: Any, names_context: Any = None, context: Any = None,
                               **kwargs: Any) -> Any:
    """citeproc-py's `cs:names`, leaving out names already used as a substitute.

    The CSL specification says a variable that stood in for a missing author
    (an edited book's editor) is suppressed in the rest of the reference.
    citeproc-py records it but only `cs:text` honours that, so an edited book
    named its editor twice: "Figley, C. R. (Ed.). (1995). Title (C. R. Figley,
    Ed.)." in APA, "... Edited by C.R. Figley." in Harvard.
    """
    layout = (context if context is not None else self).get_layout()
    repressed = set(getattr(layout, "repressed", {}).get(self.tag, ()))
    variables = (self.get("variable") or "").split()
    kept = [v for v in variables if v not in repressed]
    if kept == variables or self.xpath_search("./ancestor::cs:substitute"):
        return _CITEPROC_NAMES_PROCESS(self, item, names_context=names_context, context=context, **kwargs)
    if not kept:
        raise csl_model.VariableError
    self.set("variable", " ".join(kept))
    try:
        return _CITEPROC_NAMES_PROCESS(self, item, names_context=names_context, context=context, **kwargs)
    finally:
        self.set("variable", " ".join(variables))


_CITEPROC_NAMES_PROCESS = csl_model.Names.process
csl_model.Names.process = _names_without_substituted  # type: ignore[method-assign]



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
    for record in records:
        item = _unmarked(_for_style(_with_et_al(to_csl(record), record), style, record))
        item.pop("id")
        for role in ("author", "editor"):
            if role in item:
                item[role] = _names_shown(item[role])
        items.append(json.dumps(item, ensure_ascii=False, sort_keys=True))
    # citeproc-py sees the items in one canonical order, whatever the pack's order:
    # reordering a pack then costs nothing, and a work keeps its label ("2018a").
    canonical = sorted(range(len(items)), key=lambda i: (items[i], i))
    entries_sorted, in_texts_sorted = _render_items(style, tuple(items[i] for i in canonical))
    entries, in_texts = [""] * len(items), [""] * len(items)
    for position, index in enumerate(canonical):
        entries[index], in_texts[index] = entries_sorted[position], in_texts_sorted[position]
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


@lru_cache(maxsize=512)
def _render_items(style: str, items_json: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """citeproc-py's reference list and in-text citations for CSL-JSON items, in their order.

    Cached on the items themselves, so editing a note or a key message on the
    pack page never runs citeproc again; only a changed reference does.
    """
    items = [json.loads(item) for item in items_json]
    # citeproc-py lower-cases ids, so keys that differ only in case would collide.
    ids = [f"ref{index}" for index in range(len(items))]
    for item, item_id in zip(items, ids):
        item["id"] = item_id
    with _RENDER_LOCK:
        csl_style = _load_style(style)
        bibliography = CitationStylesBibliography(csl_style, CiteProcJSON(items), _FORMATTER)
        citations = []
        for item_id in ids:
            citation = Citation([CitationItem(item_id)])
            bibliography.register(citation)
            citations.append(citation)
        in_texts = tuple(_et_al(str(bibliography.cite(c, _ignore))) for c in citations)
        entries = tuple(_et_al(str(entry)) for entry in bibliography.bibliography())
    return entries, in_texts


def citation_labels(records: Sequence[Record], style: str = "apa") -> list[str]:
    """Short labels such as "Felitti et al., 1998", "Sweeney & Taggart, 2018", for pickers and the brief.

    They are the style's own in-text citations without the brackets, so
    "et al." appears only where the style puts it (APA: three or more
    authors; Cite Them Right: four or more), and two works by the same
    authors in the same year are told apart ("2018a", "2018b").
    """
    labels = []
    for citation in format_bibliography(records, style):
        label = citation.in_text.strip()
        if label.startswith("(") and label.endswith(")"):
            label = label[1:-1].strip()
        labels.append(label)
    return labels


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
    joined = "".join(run.text for run in runs)
    drop = {match.start() for match in _DOUBLED_STOP.finditer(joined)}
    if not drop:
        return tuple(run for run in runs if run.text)
    out = []
    offset = 0
    for run in runs:
        kept = "".join(c for i, c in enumerate(run.text, offset) if i not in drop)
        offset += len(run.text)
        if kept:
            out.append(Segment(kept, run.italic, run.url))
    return tuple(out)


# A full stop after '?' or '!', or after a single full stop (never inside an ellipsis "...").
_DOUBLED_STOP = re.compile(r"(?<=[?!])\.|(?<=(?<!\.)\.)\.(?!\.)")


def _link_segments(segments: Iterable[Segment], record: Record) -> tuple[Segment, ...]:
    """Mark the DOI (or URL) printed in the reference as a link (http(s) only, percent-encoded)."""
    target = record.doi_url or (record.url.strip() if safe_url(record.url) else "")
    link = safe_url(target)
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
        result.append(Segment(linked, segment.italic, link))
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
        if safe_url(segment.url):
            text = f'<a href="{html.escape(safe_url(segment.url), quote=True)}">{text}</a>'
        parts.append(text)
    return "".join(parts)
