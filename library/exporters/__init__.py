"""Exporters: a pack rendered as bytes, one registry entry per format.

Every exporter has the same signature, `render(pack, records, style, terms)
-> bytes`, where `records` are the records of `pack.references` in the same
order (see `library.packs.resolve_records`) and `terms` the vocabulary's words
for kinds of evidence and themes (`brief.BriefTerms`; optional).  Rendering is
separate from writing files: the app offers the bytes for download, the CLI
writes them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from ..citations import style_of
from ..errors import PackError
from ..packs import Pack, resolve_records
from ..records import Record
from . import html_page, markdown, pdf, reference_files, word
from .brief import BriefTerms


class Render(Protocol):
    def __call__(self, pack: Pack, records: Sequence[Record], style: str,
                 terms: BriefTerms | None = None) -> bytes: ...


@dataclass(frozen=True)
class Exporter:
    name: str
    label: str  # for a download button
    mime_type: str
    extension: str  # with the dot
    render: Render
    suffix: str = ""  # added to the file name, so no two downloads of one pack share a name


EXPORTERS: dict[str, Exporter] = {
    e.name: e for e in (
        Exporter("pdf", "PDF (one page, to print or email)", "application/pdf", ".pdf", pdf.render),
        Exporter("docx", "Word (to edit)",
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 ".docx", word.render),
        Exporter("html", "Web page", "text/html; charset=utf-8", ".html", html_page.render),
        Exporter("md", "Markdown", "text/markdown; charset=utf-8", ".md", markdown.render),
        Exporter("bib", "BibTeX (references only)", "application/x-bibtex; charset=utf-8", ".bib",
                 reference_files.render_bib, "-references"),
        Exporter("ris", "RIS for EndNote, Zotero or Mendeley (references only)",
                 "application/x-research-info-systems", ".ris", reference_files.render_ris, "-references"),
        Exporter("csljson", "CSL-JSON (references only)", "application/vnd.citationstyles.csl+json",
                 ".json", reference_files.render_csljson, "-references.csl"),
    )
}
# The pack itself (`packs.dump_pack`), to reopen it or move it to another installation.
PACK_FILE_SUFFIX, PACK_FILE_EXTENSION = "-pack", ".json"
PACK_FILE_MIME = "application/json"


def exporter_for(fmt: str) -> Exporter:
    try:
        return EXPORTERS[fmt]
    except KeyError:
        raise PackError(f"Unknown format '{fmt}': choose one of {', '.join(EXPORTERS)}.") from None


def file_stem(title: str) -> str:
    """A safe, readable file name from a pack's title: 'why-should-we-invest-in-staff-wellbeing'."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    stem = ""
    for part in words:
        if len(stem) + len(part) + 1 > 60:
            break
        stem = f"{stem}-{part}" if stem else part
    return stem or "evidence-pack"


def file_name(pack: Pack, fmt: str) -> str:
    """The download's file name for `fmt` (an export format, or "pack" for the pack file itself).

    Every format gets its own name, so the CSL-JSON references and the pack
    file (both JSON) never overwrite each other in a downloads folder.
    """
    stem = file_stem(pack.title)
    if fmt == "pack":
        return f"{stem}{PACK_FILE_SUFFIX}{PACK_FILE_EXTENSION}"
    exporter = exporter_for(fmt)
    return f"{stem}{exporter.suffix}{exporter.extension}"


def build_pack(pack: Pack, records_by_key: Mapping[str, Record | None], fmt: str,
               style: str = "apa", *, terms: BriefTerms | None = None,
               evidence_labels: Mapping[str, str] | None = None) -> bytes:
    """The pack rendered in `fmt`, using current records and falling back to saved snapshots.

    `terms` carries the vocabulary's words (kinds of evidence, themes); with
    only `evidence_labels` (evidence-type slug -> label) the brief names the
    kinds of evidence but does not group by theme.  A reference whose pack
    entry already names its kind of evidence keeps it.
    """
    exporter = exporter_for(fmt)
    style_of(style)
    records = resolve_records(pack, records_by_key)
    if terms is None and evidence_labels:
        terms = BriefTerms.from_labels(evidence_labels)
    return exporter.render(pack, records, style, terms)


__all__ = ["EXPORTERS", "Exporter", "Render", "build_pack", "exporter_for", "file_name", "file_stem"]
