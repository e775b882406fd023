"""The brief as Markdown, for wikis, tickets and emails that render it.

Every value from the pack or the collection is escaped, so a note such as
`[click](javascript:alert(1))` or `<img onerror=...>` stays visible text: only
the library itself writes links, and only to http(s) addresses.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence
from urllib.parse import quote

from ..citations import Segment
from ..links import safe_url
from ..packs import Pack
from ..records import Record
from .brief import (HEADING_ABOUT, HEADING_ASK, HEADING_CONCERN, HEADING_EVIDENCE, HEADING_FURTHER,
                    HEADING_MESSAGES, Brief, BriefTerms, build_brief, further_reading_line)

# Characters that can start a link, an image, raw HTML, an entity, emphasis or
# code anywhere in a line.  Parentheses need no escape once brackets have one.
_INLINE = re.compile(r"([\\`*_\[\]<>&~|])")
# Constructs that only count at the start of a block: headings, lists, quotes,
# setext underlines, code fences.
_BLOCK_START = re.compile(r"^(\s*)([#>+=-]|\d+(?=[.)]))")
_WHITESPACE = re.compile(r"\s+")


def escape(text: str, *, strip: bool = True) -> str:
    """Text that Markdown shows exactly as written, on one line."""
    flat = _WHITESPACE.sub(" ", text)
    return _INLINE.sub(r"\\\1", flat.strip() if strip else flat)


def escape_block(text: str) -> str:
    """`escape`, and safe at the start of a paragraph too ("# x", "1. x" stay text)."""
    escaped = escape(text)
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2)
                            if not m.group(2).isdigit() else m.group(1) + m.group(2) + "\\",
                            escaped, count=1)


def link(text: str, url: str) -> str:
    """A Markdown link for http(s) addresses; anything else stays plain text."""
    if not safe_url(url):
        return escape(text, strip=False)
    target = quote(safe_url(url), safe=":/?#@!$&'*+,;=%~")
    return f"[{escape(text)}]({target})"


def segments(runs: Iterable[Segment]) -> str:
    out = []
    for run in runs:
        text = link(run.text, run.url) if run.url else escape(run.text, strip=False)
        if run.italic and run.text.strip():
            # Emphasis must hug its text: keep surrounding spaces outside the stars.
            lead = " " if run.text[:1].isspace() else ""
            trail = " " if run.text[-1:].isspace() else ""
            text = f"{lead}*{text.strip()}*{trail}"
        out.append(text)
    return "".join(out)


def render(pack: Pack, records: Sequence[Record], style: str, terms: BriefTerms | None = None) -> bytes:
    return document(build_brief(pack, records, style, terms)).encode("utf-8")


def document(brief: Brief) -> str:
    out = [f"# {escape(brief.title)}", ""]
    if brief.audience:
        out += [f"*For: {escape(brief.audience)}*", ""]
    if brief.ask:
        out += [f"## {HEADING_ASK}", "", escape_block(brief.ask), ""]
    if brief.concern:
        out += [f"## {HEADING_CONCERN}", "", escape_block(brief.concern), ""]
    if brief.messages:
        out += [f"## {HEADING_MESSAGES}", ""]
        for message in brief.messages:
            cites = f" **{escape(message.marker)}**" if message.marker else ""
            out.append(f"- {escape(message.text)}{cites}")
            if message.evidence:
                # A line break inside the list item: the basis sits under its message.
                out[-1] += f"  \n  *{escape(message.evidence)}*"
        out.append("")
    if brief.groups or brief.further_reading:
        out += [f"## {HEADING_EVIDENCE}", ""]
        for group in brief.groups:
            if group.heading:
                out += [f"### {escape(group.heading)}", ""]
            for item in group.items:
                kind = f" *({escape(item.evidence)})*" if item.evidence else ""
                note = f": {escape(item.note)}" if item.note else ""
                out.append(f"- **{escape(f'[{item.number}] {item.label}')}**{kind}{note}")
            out.append("")
        if brief.further_reading:
            out += [f"**{HEADING_FURTHER}:** {escape(further_reading_line(brief.further_reading))}", ""]
    if brief.references:
        out += [f"## {escape(brief.references_heading)}", ""]
        for reference in brief.references:
            out.append(f"- {escape(f'[{reference.number}]')} {segments(reference.citation.segments)}")
        out.append("")
    out += [f"## {HEADING_ABOUT}", ""]
    # Two trailing spaces: a line break within the paragraph, so the footer stays compact.
    out.append("  \n".join(escape_block(line) for line in brief.footer))
    return "\n".join(out) + "\n"
