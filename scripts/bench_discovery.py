"""How long discovery's own work takes on a large collection: prints figures, asserts nothing.

For each size it writes the benchmark's synthetic collection (bench/collection.py), builds the index,
then times, through the library's own code:
  * parsing the real recorded answers of each service (../shared/testdata/literature-apis);
  * learning what the collection holds (first time: every file read for its PMID and the index for
    titles, years, authors and DOIs; again with nothing changed; again after one import);
  * marking a page of works with their status (`Discovery.classify`): 25 and 200 works, half of them
    copies of references in the collection (so both the DOI and the title checks are exercised);
  * a screening list of those works (`library.screening_session`): reopening it with every status
    marked afresh (what each rerun of the Discover tab does, and a reload) and moving its place;
  * importing one included work through `Library.add_entries`.

    .venv/bin/python scripts/bench_discovery.py                 # 1,000 and 10,000 references
    .venv/bin/python scripts/bench_discovery.py --sizes 50000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.collection import generate  # noqa: E402
from library import Library, Settings  # noqa: E402
from library.discovery import Discovery, DiscoveryResult  # noqa: E402
from library.holdings import holdings_of  # noqa: E402
from library.records import Record  # noqa: E402
from library.sources import crossref, europepmc, openalex, pubmed  # noqa: E402
from library.sources.model import Author, Candidate, Query  # noqa: E402

LIT = REPO.parent / "shared" / "testdata" / "literature-apis"


def timed(action, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def parsing() -> None:
    if not LIT.exists():
        print(f"(recorded answers not found at {LIT}: parsing not timed)")
        return
    sys.path.insert(0, str(REPO / "tests"))
    from tests.cassettes import interactions

    cases = [
        ("Europe PMC, 25 core records (247 KB)", europepmc.parse_answer,
         (LIT / "europepmc" / "pyeuropepmc__search_cancer_core.json").read_bytes()),
        ("OpenAlex, 5 works (56 KB)", openalex.parse_answer,
         interactions(LIT / "openalex" / "commonmetapy__test_get_random_id_from_openalex.yaml")[1].body),
        ("Crossref, 20 works with JATS abstracts (120 KB)", crossref.parse_answer,
         interactions(LIT / "crossref-search" / "habanero__test_works_field_query_publisher_name.yaml")[0].body),
        ("PubMed, 1 record with MathML (27 KB)", pubmed.parse_answer,
         (LIT / "pubmed" / "biopython__pubmed7.xml").read_bytes()),
    ]
    for label, parse, body in cases:
        print(f"  parse {label}: {timed(lambda: parse(body), 20) * 1000:.1f} ms")


def candidates_from(library: Library, count: int) -> list[Candidate]:
    """Half copies of references in the collection (every other one without its DOI), half new works."""
    out: list[Candidate] = []
    keys = sorted(library.collection.scan())[: count // 2]
    for number, name in enumerate(keys):
        record = library.get(name[:-4])
        authors = tuple(Author(n.natural(), family=n.full_family, given=n.given) for n in record.authors)
        out.append(Candidate(source="openalex", source_id=f"W{number}", title=record.title, authors=authors,
                             year=record.year, venue=record.venue, doi=record.doi if number % 2 else ""))
    for number in range(count - len(out)):
        out.append(Candidate(source="openalex", source_id=f"N{number}", title=f"A new study of ward culture {number}",
                             authors=(Author("Ann Example"),), year=2025, venue="Journal of Examples",
                             doi=f"10.5555/new.{number}"))
    return out


def size(n: int, work: Path) -> None:
    print(f"\n{n:,} references")
    root = work / f"refs-{n}"
    started = time.perf_counter()
    generate(root, n)
    settings = Settings.from_env(references_dir=root, index_dir=work / f"index-{n}", data_dir=work / f"data-{n}")
    library = Library(settings)
    print(f"  (collection written and indexed in {time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    holdings = holdings_of(library)
    print(f"  what the collection holds, first look (every file read for its PMID, the index for the rest): "
          f"{time.perf_counter() - started:.2f} s ({len(holdings):,} references)")
    print(f"  the same, nothing changed: {timed(lambda: holdings_of(library)) * 1000:.0f} ms")
    discovery = Discovery(library, today=lambda: dt.date(2026, 11, 28))
    for count in (25, 200):
        batch = candidates_from(library, count)
        found = discovery.classify(batch)
        in_collection = sum(1 for f in found if f.status == "in collection")
        seconds = timed(lambda: discovery.classify(batch), 3)
        print(f"  mark {count} works with their status: {seconds * 1000:.0f} ms "
              f"({seconds / count * 1000:.1f} ms a work; {in_collection} found in the collection)")
        session = discovery.sessions.start(DiscoveryResult(Query("benchmark"), count, tuple(found)), owner="benchmark")
        reopen = timed(lambda: discovery.result_of(discovery.sessions.load(session.id, owner="benchmark")), 3)
        move = timed(lambda: discovery.sessions.move(session.id, 1, owner="benchmark"), 3)
        print(f"  reopen a list of {count} works, statuses marked afresh: {reopen * 1000:.0f} ms; "
              f"move its place: {move * 1000:.0f} ms")
    new = Candidate(source="europepmc", source_id="MED:1", title="Calmer wards after team meetings: a benchmark",
                    authors=(Author("Ann Example", family="Example", given="Ann"),), year=2025,
                    venue="Journal of Examples", doi="10.5555/bench.import", abstract="Background: " + "words " * 300)
    started = time.perf_counter()
    outcome = discovery.decide(new, "included", who="benchmark")
    print(f"  include one work (import, index, record): {time.perf_counter() - started:.2f} s "
          f"({outcome.reference_key})")
    started = time.perf_counter()
    holdings_of(library)
    print(f"  what the collection holds, after that one import: {(time.perf_counter() - started) * 1000:.0f} ms")
    assert Record.from_entry(library.collection.read(outcome.reference_key)).doi == "10.5555/bench.import"
    library.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    print("Parsing recorded answers (median of 20):")
    parsing()
    with tempfile.TemporaryDirectory(prefix="bench-discovery-") as folder:
        for n in args.sizes:
            size(n, Path(folder))
    print("\n" + json.dumps({"python": sys.version.split()[0]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
