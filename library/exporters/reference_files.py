"""The pack's references alone, for reference managers: BibTeX, RIS and CSL-JSON."""

from __future__ import annotations

import json
from typing import Sequence

from ..bibtex import format_entries
from ..citations import to_csl
from ..errors import PackError
from ..packs import Pack
from ..records import Record
from ..ris import format_ris


def render_bib(pack: Pack, records: Sequence[Record], style: str) -> bytes:
    missing = [r.key for r in records if r.entry is None]
    if missing:
        raise PackError(f"No BibTeX is available for {', '.join(missing)}.")
    return format_entries(r.entry for r in records if r.entry is not None).encode("utf-8")


def render_ris(pack: Pack, records: Sequence[Record], style: str) -> bytes:
    return format_ris(records).encode("utf-8")


def render_csljson(pack: Pack, records: Sequence[Record], style: str) -> bytes:
    return (json.dumps([to_csl(r) for r in records], ensure_ascii=False, indent=2)
            + "\n").encode("utf-8")
