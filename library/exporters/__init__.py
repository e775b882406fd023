"""Exporters: a pack rendered as bytes, one registry entry per format.

Every exporter has the same signature, `render(pack, records, style) -> bytes`,
where `records` are the records of `pack.references` in the same order (see
`library.packs.resolve_records`).  Rendering is separate from writing files:
the app offers the bytes for download, the CLI writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

from ..citations import style_of
from ..errors import PackError
from ..packs import Pack, resolve_records
from ..records import Record
from . import html_page, markdown, pdf, reference_files, word

Render = Callable[[Pack, Sequence[Record], str], bytes]


@dataclass(frozen=True)
class Exporter:
    name: str
    label: str  # for a download button
    mime_type: str
    extension: str  # with the dot
    render: Render


EXPORTERS: dict[str, Exporter] = {
    e.name: e for e in (
        Exporter("pdf", "PDF (one page, to print or email)", "application/pdf", ".pdf", pdf.render),
        Exporter("docx", "Word (to edit)",
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 ".docx", word.render),
        Exporter("html", "Web page", "text/html; charset=utf-8", ".html", html_page.render),
        Exporter("md", "Markdown", "text/markdown; charset=utf-8", ".md", markdown.render),
        Exporter("bib", "BibTeX (references only)", "application/x-bibtex; charset=utf-8", ".bib",
                 reference_files.render_bib),
        Exporter("ris", "RIS for EndNote, Zotero or Mendeley (references only)",
                 "application/x-research-info-systems", ".ris", reference_files.render_ris),
        Exporter("csljson", "CSL-JSON (references only)", "application/vnd.citationstyles.csl+json",
                 ".json", reference_files.render_csljson),
    )
}


def exporter_for(fmt: str) -> Exporter:
    try:
        return EXPORTERS[fmt]
    except KeyError:
        raise PackError(f"Unknown format '{fmt}': choose one of {', '.join(EXPORTERS)}.") from None


def build_pack(pack: Pack, records_by_key: Mapping[str, Record | None], fmt: str,
               style: str = "apa", *, evidence_labels: Mapping[str, str] | None = None) -> bytes:
    """The pack rendered in `fmt`, using current records and falling back to saved snapshots.

    `evidence_labels` maps evidence-type slugs to the words the brief shows
    (the vocabulary's labels); a reference whose pack entry already names its
    kind of evidence keeps it.
    """
    exporter = exporter_for(fmt)
    style_of(style)
    records = resolve_records(pack, records_by_key)
    if evidence_labels:
        pack = _with_evidence_labels(pack, records, evidence_labels)
    return exporter.render(pack, records, style)


def _with_evidence_labels(pack: Pack, records: Sequence[Record],
                          labels: Mapping[str, str]) -> Pack:
    references = tuple(
        reference if reference.evidence or not labels.get(record.evidence_type)
        else replace(reference, evidence=labels[record.evidence_type])
        for reference, record in zip(pack.references, records))
    return replace(pack, references=references)


__all__ = ["EXPORTERS", "Exporter", "Render", "build_pack", "exporter_for"]
