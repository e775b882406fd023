"""Pack figures for the benchmark: an edit on the pack page, and the largest pack the limits allow.

Both go through `library.api.Library`, as the app and the CLI do.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import replace
from typing import Any

from library.api import Library
from library.errors import PackError
from library.exporters import EXPORTERS
from library.packs import MAX_KEY_MESSAGES, MAX_REFERENCES, MAX_TEXT_CHARS, KeyMessage, Pack, PackReference

EDIT_MEASURE = "pack edit → preview + fit check (10 references)"
LARGEST_MEASURE = "largest pack the limits allow → rendered or refused (slowest format)"


def ten_reference_pack(library: Library) -> Pack:
    keys = [h.key for h in library.search("trauma care", per_page=10).hits]
    if len(keys) < 10:
        keys = [h.key for h in library.search("", per_page=10).hits]
    records = library.get_many(keys)
    return Pack(title="Making our ward trauma-informed", ask="Fund a six-month pilot of trauma-informed training.",
                key_messages=(KeyMessage("Most people using our services have lived through trauma.", (1, 2)),
                              KeyMessage("Training alone changes little without leadership.", (3, 4, 5)),
                              KeyMessage("Staff wellbeing improves when the organisation changes.", (6, 7))),
                references=tuple(PackReference(k, (records[k].key_finding if records[k] else "").split(". ")[0])
                                 for k in keys),
                audience="Ward manager", prepared_by="Benchmark")


def edit_timings(library: Library, edits: int) -> tuple[float, float, float]:
    """(first preview, median edit, slowest edit) in seconds: each edit changes one note, a key
    message or the order of the references, then asks for the preview and the fit check."""
    pack = ten_reference_pack(library)
    started = time.perf_counter()
    library.preview_pack(pack)
    first = time.perf_counter() - started
    times = []
    for n in range(edits):
        kind = n % 3
        if kind == 0:
            references = list(pack.references)
            index = n % len(references)
            references[index] = replace(references[index], note=references[index].note + f" Edit {n}.")
            pack = replace(pack, references=tuple(references))
        elif kind == 1:
            messages = list(pack.key_messages)
            messages[n % len(messages)] = replace(messages[n % len(messages)],
                                                  text=messages[n % len(messages)].text + f" ({n})")
            pack = replace(pack, key_messages=tuple(messages))
        else:
            pack = pack.moved(pack.keys[n % len(pack.keys)], 1 if n % 2 else -1)
        started = time.perf_counter()
        preview = library.preview_pack(pack)
        times.append(time.perf_counter() - started)
        if not preview.html.startswith("<!DOCTYPE html>"):
            raise RuntimeError("the preview is not a page")
    return first, statistics.median(times), max(times)


def _text(size: int, seed: int) -> str:
    words = ("trauma", "informed", "care", "ward", "staff", "manager", "evidence", "review", "burnout")
    out, n = [], seed
    while sum(len(w) + 1 for w in out) < size:
        out.append(words[n % len(words)])
        n = n * 7 + 3
    return " ".join(out)[:size]


def largest_pack_json(max_bytes: int) -> bytes:
    """A pack file at every documented limit (references, key messages, characters per field), its
    references known only from their saved details, padded with authors to just under `max_bytes`."""
    field = MAX_TEXT_CHARS

    def reference(n: int, authors: int) -> dict[str, Any]:
        return {"key": f"largest{n}", "note": _text(field, n), "evidence": _text(field, n + 1),
                "snapshot": {"type": "article", "title": _text(field, n + 2), "venue": _text(field, n + 3),
                             "year": 2000 + n % 25, "doi": f"10.5555/largest.{n}", "volume": _text(field, n + 4),
                             "number": _text(field, n + 5), "pages": _text(field, n + 6),
                             "authors": [{"family": _text(40, a), "given": _text(30, a + 1)} for a in range(authors)]}}

    def pack(authors: int) -> bytes:
        data = {"title": _text(field, 1), "ask": _text(field, 2), "audience": _text(field, 3),
                "concern": _text(field, 4), "prepared_by": _text(field, 5),
                "key_messages": [{"text": _text(field, 10 + m), "cites": list(range(1, MAX_REFERENCES + 1))}
                                 for m in range(MAX_KEY_MESSAGES)],
                "references": [reference(n, authors) for n in range(MAX_REFERENCES)],
                "selection": {"searches": [_text(field, 20)] * 20, "filters": [_text(field, 21)] * 20,
                              "note": _text(field, 22)}}
        return json.dumps(data).encode("utf-8")

    low, high = 0, 4000
    while low < high:  # the most authors that keep the file within the limit
        middle = (low + high + 1) // 2
        if len(pack(middle)) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return pack(low)


def largest_timings(library: Library) -> tuple[int, dict[str, float], dict[str, str]]:
    """(file size, seconds per format, outcome per format) for the largest pack file allowed."""
    data = largest_pack_json(library.settings.max_upload_bytes)
    seconds: dict[str, float] = {}
    outcomes: dict[str, str] = {}
    for fmt in EXPORTERS:
        started = time.perf_counter()
        pack = library.read_pack(data)
        try:
            out = library.render_pack(pack, fmt)
            outcomes[fmt] = f"{len(out):,} bytes"
        except PackError as error:
            outcomes[fmt] = f"refused: {str(error)[:90]}…"
        seconds[fmt] = time.perf_counter() - started
    return len(data), seconds, outcomes
