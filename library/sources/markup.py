"""Text from the network made safe to show, store and cite: the answers are untrusted input.

Services send titles and abstracts with markup (Europe PMC's `<h4>Objective</h4>`,
Crossref's JATS `<jats:p>`, PubMed's `<i>` and MathML, entities such as
`&#x2265;`).  Everything here turns such values into plain text: tags removed
(section headings kept as "Objective: ..." labels), entities decoded, control
characters dropped, whitespace tidied, every value bounded in length.  Links
are kept only when they are http(s) addresses.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

MAX_TITLE = 2_000
MAX_ABSTRACT = 100_000  # the collection's limit for one field
MAX_NAME = 300
MAX_VENUE = 500
MAX_AUTHORS = 100
MAX_LINK = 2_000
MAX_SHORT = 60  # volume, issue, pages, identifiers
MAX_INVERTED_WORDS = 50_000

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:_.-]*)((?:\s[^<>]*)?)/?>")
_COMMENT = re.compile(r"<!--.*?-->|<!\[CDATA\[|\]\]>", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2028\u2029\ufeff]")
_SPACES = re.compile(r"\s+")
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6", "title"}
_BLOCKS = {"p", "sec", "div", "br", "li", "ul", "ol", "section", "abstract", "table", "tr", "list",
           "list-item", "blockquote", "trans-abstract"}
_MATH = {"math"}
# Markup that arrives escaped (`&lt;i&gt;`) is removed after decoding only for these names,
# so that text such as "p <0.05" or "a < b > c" is left alone.
_KNOWN = _HEADINGS | _BLOCKS | _MATH | {
    "i", "b", "u", "em", "strong", "sup", "sub", "span", "a", "font", "sc", "italic", "bold",
    "inline-formula", "mi", "mn", "mo", "mrow", "msub", "msup", "label", "ext-link", "xref",
    "underline", "small", "big", "strike", "s", "tt", "code", "img", "break"}
_LEADING_ABSTRACT = re.compile(r"^(?i:abstract|summary)(?:\s*[:.]\s*|\s+(?=[A-Z0-9(]))")


def _local(name: str) -> str:
    """'jats:title' -> 'title', 'mml:math' -> 'math'."""
    return name.rsplit(":", 1)[-1].lower()


def bounded(text: str, limit: int) -> str:
    """`text` if it fits, else cut at a word boundary with an ellipsis (never longer than `limit`)."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _paragraphs(value: str) -> list[str]:
    """Plain paragraphs from marked-up text; a heading becomes the label of the paragraph after it."""
    value = _COMMENT.sub(" ", value)
    paragraphs: list[str] = []
    current: list[str] = []
    heading: list[str] | None = None
    label = ""
    math_depth = 0
    last_open = ""

    def flush() -> None:
        nonlocal label
        text = _tidy("".join(current))
        current.clear()
        if not text:
            return
        if label:
            text = f"{label} {text}" if label[-1] in ":.?!" else f"{label}: {text}"
            label = ""
        paragraphs.append(text)

    position = 0
    for match in _TAG.finditer(value):
        piece = value[position:match.start()]
        position = match.end()
        if piece:
            if heading is not None:
                heading.append(piece)
            elif math_depth:
                # MathML's layout whitespace is not text; an <mtext> space is.
                current.append(piece.strip() or (" " if last_open == "mtext" else ""))
            else:
                current.append(piece)
        closing, name = match.group(1) == "/", _local(match.group(2))
        last_open = "" if closing else name
        if name in _MATH:
            math_depth = max(0, math_depth + (-1 if closing else 1))
            current.append(" " if closing else "")
        elif name in _HEADINGS:
            if not closing:
                flush()
                heading = []
            elif heading is not None:
                text = _tidy("".join(heading))
                heading = None
                # "Abstract" as a heading only repeats what the field is.
                if text and text.rstrip(":.").casefold() not in ("abstract", "summary"):
                    label = text
        elif name in _BLOCKS:
            flush()
        # Any other tag (<i>, <sub>...) is dropped: its text joins the words around it as written.
    tail = value[position:]
    if tail:
        (heading if heading is not None else current).append(tail)
    if heading is not None:
        current.extend(heading)
    flush()  # a heading with no text after it is dropped
    return paragraphs


def _tidy(text: str) -> str:
    """Entities decoded, escaped markup of known tags removed, control characters dropped."""
    text = html.unescape(text)
    for _ in range(10):  # "<<i>i>" leaves "<i>" once the inner tag is gone
        stripped = _TAG.sub(lambda m: "" if _local(m.group(2)) in _KNOWN else m.group(0), text)
        if stripped == text:
            break
        text = stripped
    text = _CONTROL.sub("", text)
    return _SPACES.sub(" ", text).strip()


def plain(value: object, limit: int = MAX_TITLE) -> str:
    """One line of plain text from a service's string (anything else gives '')."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        return ""
    return bounded(" ".join(_paragraphs(value[: limit * 20])), limit)


def abstract(value: object) -> str:
    """An abstract as plain text: paragraphs separated by a blank line, section labels kept
    ("OBJECTIVE: ..."), a leading "Abstract" dropped, bounded to the collection's field limit."""
    if not isinstance(value, str):
        return ""
    paragraphs = _paragraphs(value[: MAX_ABSTRACT * 20])
    if paragraphs:
        paragraphs[0] = _LEADING_ABSTRACT.sub("", paragraphs[0], count=1)
    text = "\n\n".join(p for p in paragraphs if p)
    if text.rstrip(":.").casefold() in ("abstract", "summary", "no abstract available"):
        return ""
    return bounded(text, MAX_ABSTRACT)


def join_labelled(sections: list[tuple[str, str]]) -> str:
    """Sections of a structured abstract ('OBJECTIVE', text) as labelled paragraphs."""
    parts = []
    for label, text in sections:
        label, text = _tidy(label), text.strip()
        if not text:
            continue
        parts.append(f"{label}: {text}" if label and label[-1] not in ":.?!" else
                     f"{label} {text}" if label else text)
    return bounded("\n\n".join(parts), MAX_ABSTRACT)


def rebuild_inverted_index(index: object) -> str:
    """OpenAlex's `abstract_inverted_index` ({word: [positions]}) as the text it was made from."""
    if not isinstance(index, dict):
        return ""
    words: dict[int, str] = {}
    seen = 0
    for word, positions in index.items():
        if not isinstance(word, str) or not isinstance(positions, list):
            continue
        for position in positions:
            seen += 1
            if seen > MAX_INVERTED_WORDS:
                break
            if isinstance(position, int) and not isinstance(position, bool) and 0 <= position:
                words.setdefault(position, word)
    text = " ".join(words[p] for p in sorted(words))
    # Some publishers' abstracts arrive with their HTML tags as "words".
    return abstract(text)


def link(value: object) -> str:
    """The address if it is a plain http(s) link, else ''."""
    if not isinstance(value, str):
        return ""
    url = value.strip()
    if not url or len(url) > MAX_LINK or any(c.isspace() or ord(c) < 32 or c in "<>\"'`\\" for c in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return url


def short(value: object) -> str:
    """A volume, issue, page range or identifier: plain and short."""
    return plain(value, MAX_SHORT)


def count(value: object) -> int | None:
    """A non-negative whole number (a citation count), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 12:
        return int(value.strip())
    return None


def year(value: object) -> int | None:
    """A plausible publication year (1000-2999) from an int or the start of a date string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1000 <= value <= 2999 else None
    if isinstance(value, str):
        match = re.match(r"\s*(\d{4})", value)
        if match and 1000 <= int(match.group(1)) <= 2999:
            return int(match.group(1))
    return None


def page_range(value: object) -> str:
    """'2603-4' -> '2603--2604' (PubMed abbreviates), '635-641' -> '635--641', 'e4375' kept."""
    text = short(value)
    match = re.fullmatch(r"(\w*?)(\d+)\s*[-\u2010-\u2015]+\s*(\w*?)(\d+)", text)
    if not match:
        return text
    prefix, start, end_prefix, end = match.groups()
    if not end_prefix and len(end) < len(start):
        end = start[: len(start) - len(end)] + end
    return f"{prefix}{start}--{end_prefix}{end}"


def doi(value: object) -> str:
    """A bare DOI from '10.1/x', 'https://doi.org/10.1/x' or 'doi:10.1/x', or ''."""
    text = short_text(value, 300)
    text = re.sub(r"^(?:https?://(?:dx\.|www\.)?doi\.org/|doi:\s*)", "", text, flags=re.IGNORECASE)
    if re.fullmatch(r"10\.[0-9]{4,9}(?:\.[0-9]+)*/\S+", text) and "{" not in text and "}" not in text:
        return text
    return ""


def short_text(value: object, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    return _CONTROL.sub("", value).strip()[:limit]


def digits(value: object) -> str:
    """An identifier made of digits only (a PMID), or ''."""
    text = short_text(value if not isinstance(value, int) or isinstance(value, bool) else str(value), 20)
    return text if text.isdigit() and text.isascii() else ""
