"""The pack's references alone, for reference managers: BibTeX, RIS and CSL-JSON.

Links in them are http(s) only, as in every other format: a reference whose
`url` is a `javascript:`, `data:` or `file:` address is exported without it.
"""

from __future__ import annotations

import json
from typing import Sequence

from ..bibtex import Entry, format_entries
from ..citations import safe_url, to_csl
from ..errors import PackError
from ..links import EMBEDDED_LINK, LOCAL_FILE_FIELDS
from ..packs import Pack
from ..records import Record
from ..ris import format_ris
from .brief import BriefTerms


def exportable_entry(entry: Entry) -> Entry:
    """The entry with every link that is not http(s), and every local file, left out."""
    removed = {name for name in LOCAL_FILE_FIELDS if name in entry.fields}
    url = entry.fields.get("url", "")
    if url and not safe_url(url):
        removed.add("url")
    for name, value in entry.fields.items():
        if any(not safe_url(target) for target in EMBEDDED_LINK.findall(value)):
            removed.add(name)
    if not removed:
        return entry
    fields = {name: value for name, value in entry.fields.items() if name not in removed}
    return Entry(entry.key, entry.type, fields, dict(entry.persons), entry.source, entry.line)


def render_bib(pack: Pack, records: Sequence[Record], style: str, terms: BriefTerms | None = None) -> bytes:
    missing = [r.key for r in records if r.entry is None]
    if missing:
        raise PackError(f"No BibTeX is available for {', '.join(missing)}.")
    return format_entries(exportable_entry(r.entry) for r in records if r.entry is not None).encode("utf-8")


def render_ris(pack: Pack, records: Sequence[Record], style: str, terms: BriefTerms | None = None) -> bytes:
    return format_ris(records).encode("utf-8")


def render_csljson(pack: Pack, records: Sequence[Record], style: str, terms: BriefTerms | None = None) -> bytes:
    return (json.dumps([to_csl(r) for r in records], ensure_ascii=False, indent=2)
            + "\n").encode("utf-8")
