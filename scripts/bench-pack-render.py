"""Print how long a six-reference pack takes to render in each format.

Usage: .venv/bin/python scripts/bench-pack-render.py [ROUNDS]

Uses the test fixtures (tests/data/pack_references.bib).  The first round
includes loading the CSL styles and the font files; the median is what a
user waits for each later time.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from library.bibtex import parse_file  # noqa: E402
from library.exporters import EXPORTERS, build_pack  # noqa: E402
from library.packs import KeyMessage, Pack, PackReference, Selection  # noqa: E402
from library.records import Record  # noqa: E402


def main(rounds: int) -> None:
    entries = parse_file(REPO / "tests" / "data" / "pack_references.bib").entries
    records = {e.key: Record.from_entry(e) for e in entries}
    pack = Pack(
        title="Should our wards become trauma-informed?",
        ask="Agree a six-month pilot of trauma-informed training on two acute wards.",
        key_messages=tuple(KeyMessage(f"Key message {n} about the evidence.", (n, n + 1))
                           for n in range(1, 5)),
        references=tuple(PackReference.from_record(r) for r in records.values()),
        prepared_by="Benchmark", date=dt.date(2025, 3, 1),
        selection=Selection(searches=("trauma-informed care",)),
    )
    print(f"{len(pack.references)} references, {rounds} rounds per format")
    for fmt in EXPORTERS:
        for style in ("apa", "harvard"):
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                build_pack(pack, records, fmt, style)
                times.append(time.perf_counter() - start)
            print(f"{fmt:8} {style:8} first {times[0] * 1000:7.1f} ms   "
                  f"median {statistics.median(times) * 1000:7.1f} ms   max {max(times) * 1000:7.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
