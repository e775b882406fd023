"""The brief as one self-contained web page that prints on one sheet of A4.

Every value from the pack or the collection is escaped, and the page carries
a Content-Security-Policy that forbids scripts, so a title such as
`<script>alert(1)</script>` is shown as text and could not run even if it
slipped through.  No external fonts, images or style sheets: the file works
offline and attached to an email.
"""

from __future__ import annotations

from html import escape
from typing import Sequence

from ..packs import Pack
from ..records import Record
from .brief import (HEADING_ABOUT, HEADING_ASK, HEADING_CONCERN, HEADING_EVIDENCE, HEADING_FURTHER,
                    HEADING_MESSAGES, Brief, BriefTerms, build_brief, further_reading_line)

_CSS = """\
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; font-size: 11pt; line-height: 1.4;
       color: #111; background: #fff; margin: 0; }
main { max-width: 46em; margin: 0 auto; padding: 1.5em; }
h1 { font-size: 1.6em; line-height: 1.2; margin: 0 0 0.2em; color: #123; }
h2 { font-size: 1.1em; margin: 1em 0 0.3em; color: #123; }
h3 { font-size: 1em; margin: 0.6em 0 0.2em; color: #123; }
p, li { margin: 0 0 0.35em; }
ul, ol { margin: 0; padding-left: 1.4em; }
.audience { font-style: italic; margin-bottom: 0.6em; }
.ask { border-left: 4px solid #2a5d8f; padding: 0.3em 0.8em; background: #f1f5fa; }
.cites { font-weight: bold; white-space: nowrap; }
.basis { display: block; font-size: 0.9em; font-style: italic; color: #333; }
ol.numbered { list-style: none; padding-left: 0; }
ol.numbered li { padding-left: 2.2em; text-indent: -2.2em; }
.num { display: inline-block; min-width: 2.2em; text-indent: 0; font-weight: bold; }
.kind { font-style: italic; }
.references { font-size: 0.92em; }
a { color: #1a4d80; overflow-wrap: anywhere; }
footer { margin-top: 1.2em; border-top: 1px solid #999; padding-top: 0.4em; font-size: 0.85em;
         color: #333; }
footer h2 { font-size: 1em; margin: 0 0 0.2em; }
footer p { margin: 0 0 0.2em; }
@page { size: A4; margin: 14mm 16mm; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  .ask { background: none; }
  h2 { break-after: avoid; }
  li { break-inside: avoid; }
}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _e(text: str) -> str:
    return escape(text, quote=True)


def render(pack: Pack, records: Sequence[Record], style: str, terms: BriefTerms | None = None) -> bytes:
    return page(build_brief(pack, records, style, terms)).encode("utf-8")


def page(brief: Brief) -> str:
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{_e(brief.language)}">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
    ]
    if brief.prepared_by:
        out.append(f'<meta name="author" content="{_e(brief.prepared_by)}">')
    out += [
        f"<title>{_e(brief.title)}</title>",
        f"<style>\n{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        f"<h1>{_e(brief.title)}</h1>",
    ]
    if brief.audience:
        out.append(f'<p class="audience">For: {_e(brief.audience)}</p>')
    out.append("</header>")
    if brief.ask:
        out += ['<section class="ask">', f"<h2>{HEADING_ASK}</h2>", f"<p>{_e(brief.ask)}</p>",
                "</section>"]
    if brief.concern:
        out += ["<section>", f"<h2>{HEADING_CONCERN}</h2>", f"<p>{_e(brief.concern)}</p>",
                "</section>"]
    if brief.messages:
        out += ["<section>", f"<h2>{HEADING_MESSAGES}</h2>", "<ul>"]
        for message in brief.messages:
            cites = f' <span class="cites">{_e(message.marker)}</span>' if message.marker else ""
            basis = f' <span class="basis">{_e(message.evidence)}</span>' if message.evidence else ""
            out.append(f"<li>{_e(message.text)}{cites}{basis}</li>")
        out += ["</ul>", "</section>"]
    if brief.groups or brief.further_reading:
        out += ["<section>", f"<h2>{HEADING_EVIDENCE}</h2>"]
        for group in brief.groups:
            if group.heading:
                out.append(f"<h3>{_e(group.heading)}</h3>")
            out.append('<ol class="numbered">')
            for item in group.items:
                kind = f' <span class="kind">({_e(item.evidence)})</span>' if item.evidence else ""
                note = f" {_e(item.note)}" if item.note else ""
                out.append(f'<li><span class="num">[{item.number}]</span><strong>{_e(item.label)}</strong>'
                           f"{kind}{':' if note else ''}{note}</li>")
            out.append("</ol>")
        if brief.further_reading:
            out.append(f'<p class="further"><strong>{HEADING_FURTHER}:</strong> '
                       f"{_e(further_reading_line(brief.further_reading))}</p>")
        out.append("</section>")
    if brief.references:
        out += ['<section class="references">', f"<h2>{_e(brief.references_heading)}</h2>",
                '<ol class="numbered">']
        for reference in brief.references:
            out.append(f'<li id="ref-{reference.number}"><span class="num">[{reference.number}]</span>'
                       f"{reference.citation.html}</li>")
        out += ["</ol>", "</section>"]
    out += ["<footer>", f"<h2>{HEADING_ABOUT}</h2>"]
    out += [f"<p>{_e(line)}</p>" for line in brief.footer]
    out += ["</footer>", "</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"
