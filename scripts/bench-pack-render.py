"""Print how long packs take: each format, an edit on the pack page, and the largest packs allowed.

Usage: .venv/bin/python scripts/bench-pack-render.py [ROUNDS]

1. A six-reference pack from the test fixtures (tests/data/pack_references.bib)
   in every format and style.  The first round includes loading the CSL
   styles and the font files; the median is what a user waits for each later
   time.
2. An edit on the pack page (a note, a key message, a move) followed by the
   preview and the fit check, for a ten-reference pack from the shipped
   collection (copied to a temporary folder).
3. The largest pack file the documented limits allow, and a reference whose
   key finding is 99,000 characters: each format rendered or refused.
"""

from __future__ import annotations

import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.packs import edit_timings, largest_timings  # noqa: E402
from library.api import Library  # noqa: E402
from library.bibtex import format_entry, parse_file  # noqa: E402
from library.config import Settings  # noqa: E402
from library.errors import PackError  # noqa: E402
from library.exporters import EXPORTERS, build_pack  # noqa: E402
from library.packs import KeyMessage, Pack, PackReference, Search, Selection  # noqa: E402
from library.records import Record  # noqa: E402


def formats(rounds: int) -> None:
    entries = parse_file(REPO / "tests" / "data" / "pack_references.bib").entries
    records = {e.key: Record.from_entry(e) for e in entries}
    pack = Pack(
        title="Should our wards become trauma-informed?",
        ask="Agree a six-month pilot of trauma-informed training on two acute wards.",
        key_messages=tuple(KeyMessage(f"Key message {n} about the evidence.", (n, n + 1))
                           for n in range(1, 5)),
        references=tuple(PackReference.from_record(r) for r in records.values()),
        prepared_by="Benchmark", date=dt.date(2025, 3, 1),
        selection=Selection(searches=(Search("trauma-informed care"),)),
    )
    print(f"1. {len(pack.references)} references, {rounds} rounds per format")
    for fmt in EXPORTERS:
        for style in ("apa", "harvard"):
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                build_pack(pack, records, fmt, style)
                times.append(time.perf_counter() - start)
            print(f"   {fmt:8} {style:8} first {times[0] * 1000:7.1f} ms   "
                  f"median {statistics.median(times) * 1000:7.1f} ms   max {max(times) * 1000:7.1f} ms")


def library_figures(rounds: int, root: Path) -> None:
    references = root / "references"
    shutil.copytree(REPO / "references", references)
    # A reference whose key finding is 99,000 characters (the field limit is 100,000).
    long_key = "longfinding2024"
    entry = parse_file(references / "muskett2014trauma.bib").entries[0]
    finding = ("Staff described how the ward changed once the team had time to reflect together. " * 1200)[:99_000]
    (references / f"{long_key}.bib").write_text(
        format_entry(entry.with_key(long_key).with_fields(key_finding=finding, doi=None,
                                                          title="A study with a very long key finding")),
        encoding="utf-8")
    library = Library(Settings.from_env(references_dir=references, index_dir=root / "index",
                                        data_dir=root / "data"))
    first, edit, slowest = edit_timings(library, rounds * 10)
    print(f"\n2. pack edit → preview + fit check, 10 references, {rounds * 10} edits: first preview "
          f"{first * 1000:.0f} ms, median {edit * 1000:.0f} ms, slowest {slowest * 1000:.0f} ms")

    size, seconds, outcomes = largest_timings(library)
    print(f"\n3. largest pack file the limits allow ({size / 1_000_000:.1f} MB), read and rendered:")
    for fmt, taken in seconds.items():
        print(f"   {fmt:8} {taken:6.2f} s   {outcomes[fmt]}")
    pack = Pack(title="One long key finding", references=(PackReference(long_key),))
    print("   a 99,000-character key finding as a reference's note:")
    for fmt in ("pdf", "docx", "html", "md"):
        start = time.perf_counter()
        try:
            outcome = f"{len(library.render_pack(pack, fmt)):,} bytes"
        except PackError as error:
            outcome = f"refused: {error}"
        print(f"   {fmt:8} {time.perf_counter() - start:6.2f} s   {outcome[:150]}")
    library.close()


def main(rounds: int) -> None:
    formats(rounds)
    with tempfile.TemporaryDirectory(prefix="bench-pack-") as tmp:
        library_figures(rounds, Path(tmp))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
