"""Discovery and screening over a real collection: statuses, decisions that stick, importing what is
included, saved searches that show only what is new, and the command line, all against a local server
replaying real recorded answers (../shared/testdata/literature-apis, read in place)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from library import Library, Settings
from library.bibtex import parse_file
from library.discovery import Discovery, entry_for, fit_abstract
from library.holdings import SAME_DOI, SAME_PMID, SAME_TITLE, holdings_of
from library.errors import EntryProblems, ScreeningError
from library.records import Record
from library.sources.model import Author, Candidate, Query
from tests.cassettes import interactions
from tests.replay_server import Reply, ReplayServer, serving
from tests.shared_data import shared_path

from .conftest import REPO

JSON = (("Content-Type", "application/json"),)
TODAY = dt.date(2026, 11, 28)

# Three references a librarian added by hand before searching (made up for these tests): one with
# the DOI of a recorded Europe PMC record (in capitals), one with only the PMID of another (under its
# German title), one with the same title, year and first author as a third but no identifiers.
HAND_ADDED = {
    "alabbadey2025role.bib": """@article{alabbadey2025role,
  author = {Al-Abbadey, Miznah},
  title = {The role of psychological flexibility in people in remission from cancer},
  journal = {British Journal of Health Psychology},
  year = {2025},
  doi = {10.1111/BJHP.12807}
}
""",
    "dinkel2025psychische.bib": """@article{dinkel2025psychische,
  author = {Dinkel, Andreas},
  title = {Psychische Komorbidit{\\"a}t und psychosoziale Versorgung},
  journal = {Deutsches {\\"A}rzteblatt},
  year = {2025},
  pmid = {40464630}
}
""",
    "schoenfeld2025abscopal.bib": """@article{schoenfeld2025abscopal,
  author = {Schoenfeld, Jonathan D.},
  title = {Abscopal Response in a Patient With Fibrolamellar Hepatocellular Carcinoma Following Radiotherapy},
  journal = {Lancet},
  year = {2025}
}
""",
}


@pytest.fixture(scope="module")
def lit() -> Path:
    return shared_path("testdata", "literature-apis")


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    folder = tmp_path / "references"
    shutil.copytree(REPO / "references", folder, ignore=shutil.ignore_patterns(".*"))
    for name, text in HAND_ADDED.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def core(lit: Path) -> Reply:
    return Reply(200, (lit / "europepmc" / "pyeuropepmc__search_cancer_core.json").read_bytes(), JSON)


@pytest.fixture
def server(core: Reply, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with serving({"/search": [core]}) as running:
        yield running


@pytest.fixture
def library(collection: Path, server: ReplayServer) -> Iterator[Library]:
    settings = Settings.from_env(europepmc_url=server.url, openalex_url=server.url, crossref_url=server.url,
                                 pubmed_url=server.url, contact_email="librarian@example.org")
    lib = Library(settings)
    yield lib
    lib.close()


@pytest.fixture
def discovery(library: Library) -> Discovery:
    return Discovery(library, sleep=lambda _: None, today=lambda: TODAY)


CANCER = Query("cancer", source="europepmc")


def by_pmid(result) -> dict:  # type: ignore[no-untyped-def]
    return {f.candidate.pmid: f for f in result.items + result.hidden}


# ---------------------------------------------------------------- statuses


def test_works_already_in_the_collection_are_marked_with_how(discovery: Discovery) -> None:
    result = discovery.search(CANCER)
    found = by_pmid(result)
    assert (found["40468710"].status, found["40468710"].reference_key, found["40468710"].matched_by) == (
        "in collection", "alabbadey2025role", SAME_DOI)
    assert (found["40464630"].status, found["40464630"].reference_key, found["40464630"].matched_by) == (
        "in collection", "dinkel2025psychische", SAME_PMID)
    assert (found["39709209"].status, found["39709209"].reference_key, found["39709209"].matched_by) == (
        "in collection", "schoenfeld2025abscopal", SAME_TITLE)
    assert result.counts() == {"new": 22, "in collection": 3, "included": 0, "excluded": 0, "maybe": 0}
    assert result.total == 5059039 and len(result.items) == 25


def test_the_holdings_follow_the_files(discovery: Discovery, collection: Path) -> None:
    library = discovery.library
    assert holdings_of(library).by_pmid == {"40464630": "dinkel2025psychische"}
    path = collection / "dinkel2025psychische.bib"
    path.write_text(path.read_text(encoding="utf-8").replace("40464630", "40464631 "), encoding="utf-8")
    (collection / "extra2020.bib").write_text("@misc{extra2020, title = {X}, PMID = \"123\", doi = {10.5555/X}}\n",
                                              encoding="utf-8")
    holdings = holdings_of(library)
    assert holdings.by_pmid == {"40464631": "dinkel2025psychische", "123": "extra2020"}
    assert holdings.match(doi="https://doi.org/10.5555/x") == ("extra2020", SAME_DOI)
    path.unlink()
    assert holdings_of(library).by_pmid == {"123": "extra2020"}
    assert holdings_of(library) is holdings_of(library)  # nothing changed: nothing read again


def _variants(record: Record) -> list[Candidate]:
    """A reference as other services might return it: as it is, shouted, by DOI only, a year out,
    its title cut short, another first author."""
    authors = tuple(Author(n.natural(), family=n.full_family, given=n.given, organisation=n.literal)
                    for n in record.creators)
    other = (Author("Zed Other", family="Other", given="Zed"),)
    return [Candidate(source="openalex", source_id=f"W{n}", title=title, authors=who, year=year, doi=doi)
            for n, (title, who, year, doi) in enumerate([
                (record.title, authors, record.year, ""),
                (record.title.upper() + "!", authors, record.year, ""),
                ("Something else entirely", authors, record.year, record.doi),
                (record.title, authors, (record.year or 2000) + 1, ""),
                (record.title[: int(len(record.title) * 0.95)], authors, record.year, ""),
                (record.title, other, record.year, ""),
            ])]


def test_holdings_agree_with_the_duplicate_check_of_add(discovery: Discovery) -> None:
    """The fast look-up gives the same answer as `Library.duplicates_of` (same DOI, else a likely
    match) for six versions of every reference in the collection."""
    library = discovery.library
    holdings = holdings_of(library)
    checked = 0
    for name in sorted(library.collection.scan()):
        for candidate in _variants(library.get(name[:-4])):
            probe = entry_for(candidate, found_by="", found_on=TODAY)
            matches = library.duplicates_of(probe)
            slow = next((m.key for m in matches if m.certainty == "same DOI"),
                        next((m.key for m in matches if m.certainty == "likely"), None))
            fast = discovery.in_collection(candidate, holdings)
            assert (fast[0] if fast else None) == slow, (name, candidate)
            checked += 1
    assert checked == 6 * 58


def test_family_names_with_particles_match(discovery: Discovery, collection: Path) -> None:
    # Made up for this test.  `duplicates_of` calls this only "possible" (it compares "Kolk" with
    # "van der Kolk"); the holdings compare the whole family name on both sides.
    (collection / "vanderkolk2014body.bib").write_text(
        "@book{vanderkolk2014body, author = {van der Kolk, Bessel A.}, title = {The Body Keeps the Score},"
        " publisher = {Viking}, year = {2014}}\n", encoding="utf-8")
    for author in (Author("Bessel A. van der Kolk"), Author("Bessel van der Kolk", family="van der Kolk", given="Bessel")):
        candidate = Candidate(source="openalex", source_id="W1", title="The body keeps the score", year=2014,
                              authors=(author,))
        assert discovery.in_collection(candidate) == ("vanderkolk2014body", SAME_TITLE)


def test_decisions_stick_and_excluded_works_do_not_come_back(discovery: Discovery) -> None:
    found = by_pmid(discovery.search(CANCER))
    discovery.decide(found["40437959"].candidate, "excluded", who="Jo", reason="Wrong population or setting")
    discovery.decide(found["40536077"].candidate, "maybe", who="Jo")
    again = discovery.search(CANCER)
    assert "40437959" not in {f.candidate.pmid for f in again.items}
    assert [f.candidate.pmid for f in again.hidden] == ["40437959"]
    assert by_pmid(again)["40536077"].status == "maybe"
    shown = discovery.search(CANCER, show_excluded=True)
    assert (by_pmid(shown)["40437959"].status, by_pmid(shown)["40437959"].reason) == (
        "excluded", "Wrong population or setting")
    assert discovery.store.decisions()[0].query == "Europe PMC search for “cancer”"


# ---------------------------------------------------------------- including


def test_an_included_work_is_imported_with_its_abstract_and_where_it_came_from(discovery: Discovery,
                                                                              collection: Path) -> None:
    query = Query("cancer", source="europepmc", since=2020)
    found = by_pmid(discovery.search(query))["40511629"]
    outcome = discovery.decide(found.candidate, "included", who="Jo", themes=("health-impact",),
                               evidence_type="trial", settings=("primary-care",), query=query)
    key = outcome.reference_key
    assert key == "fincan2025hydrogen"  # the last word of the family name, as for every key
    path = collection / f"{key}.bib"
    (entry,) = parse_file(path).entries
    record = Record.from_entry(entry)
    # The apostrophe reads back as typed (not as a typographic quote): the file escapes it.
    assert record.title == ("Hydrogen Sulfide Treatment Enhanced Paclitaxel's Anticancer Effect on the ID8 "
                            "Murine Epithelial Ovarian Cancer Cell Line")
    assert [(n.family, n.given) for n in record.authors] == [
        ("Öztürk Fincan", "Gökçe Sevim"), ("Kibar Güzin", "Ayşe Kübra"), ("Yar Sağlam", "Atiye Seda")]
    assert (record.year, record.doi, record.venue) == (2025, "10.1111/fcp.70029", "Fundamental & clinical pharmacology")
    assert entry.fields["journal"] == "Fundamental \\& clinical pharmacology"
    assert entry.fields["pmid"] == "40511629"
    assert record.abstract.startswith("Background: Paclitaxel is a potent agent against ovarian cancer. Hydrogen "
                                      "sulfide (H2S) is of particular interest")
    assert "Objectives: We aimed to examine" in record.abstract and "<" not in record.abstract
    assert (record.themes, record.evidence_type, record.settings, record.finding_checked, record.key_finding) == (
        ("health-impact",), "trial", ("primary-care",), False, "")
    assert entry.fields["finding-checked"] == "no"
    assert record.provenance == ("Europe PMC search for “cancer” (published 2020 or later), 2026-11-28; details "
                                 "from Europe PMC record MED:40511629")
    assert (record.added, record.added_by) == ("2026-11-28", "Jo")
    # The normal import path: searchable at once (the abstract too), recorded in the change log.
    library = discovery.library
    assert key in [h.key for h in library.search("antiproliferative").hits]
    assert library.collection.changes()[-1].key == key
    decision = discovery.store.decisions("included")[0]
    assert (decision.reference_key, decision.decided_by) == (key, "Jo")
    # And from now on it is in the collection.
    assert by_pmid(discovery.search(query))["40511629"].status == "in collection"
    with pytest.raises(ScreeningError, match=f"already in the collection as '{key}' \\(it has the same DOI\\)"):
        discovery.decide(found.candidate, "included", who="Jo")


def test_an_unusable_work_is_refused_and_nothing_is_written(discovery: Discovery, collection: Path) -> None:
    found = by_pmid(discovery.search(CANCER))["39709208"]  # "Department of Error": no authors
    before = sorted(p.name for p in collection.iterdir())
    with pytest.raises(EntryProblems, match="the required field 'author' is missing for @article"):
        discovery.decide(found.candidate, "included", who="Jo")
    with pytest.raises(EntryProblems, match="unknown theme 'no-such-theme'"):
        discovery.decide(by_pmid(discovery.search(CANCER))["40536077"].candidate, "included", who="Jo",
                         themes=("no-such-theme",))
    assert sorted(p.name for p in collection.iterdir()) == before
    assert discovery.store.decisions() == []


def test_an_imported_work_gets_a_free_key() -> None:
    candidate = Candidate(source="openalex", source_id="W1", title="Trauma and recovery", year=1992,
                          authors=(Author("Judith Lewis Herman"),), venue="Basic Books", kind="book")
    taken = {"herman1992trauma", "herman1992traumab"}
    entry = entry_for(candidate, found_by="", found_on=TODAY, taken=taken.__contains__)
    assert entry.key == "herman1992traumac"
    assert entry.persons["author"] == ("Judith Lewis Herman",)
    assert entry.fields["publisher"] == "Basic Books" and "url" not in entry.fields


@pytest.mark.parametrize(("author", "expected"), [
    (Author("Valérie dos Santos"), "Valérie dos Santos"),
    (Author("Smith and Jones Partnership"), "{Smith and Jones Partnership}"),
    (Author("World Health Organization", organisation=True), "{World Health Organization}"),
    (Author("Martin Luther King Jr", family="King", given="Martin Luther", suffix="Jr"), "King, Jr, Martin Luther"),
    (Author("Ann Smith, Jones", family="Smith, Jones", given="Ann"), "{Smith, Jones}, Ann"),
    (Author("R&D Unit", organisation=True), "{R\\&D Unit}"),
])
def test_names_become_bibtex_names(author: Author, expected: str) -> None:
    candidate = Candidate(source="openalex", source_id="W1", title="A title", authors=(author,), year=2020)
    assert entry_for(candidate, found_by="", found_on=TODAY).persons["author"] == (expected,)


def test_long_abstracts_fit_the_field_limit() -> None:
    within = "Care % costs " * 7_000  # about 91,000 characters, 98,000 once escaped
    assert fit_abstract(within) == " ".join(within.split()).replace("%", "\\%")
    over = "Care % costs " * 8_000  # 112,000 once escaped
    fitted = fit_abstract(over)
    assert len(fitted) <= 100_000 and fitted.endswith(" …")


# ---------------------------------------------------------------- saved searches


def test_a_saved_search_shows_only_what_is_new_and_counts_it(lit: Path, library: Library,
                                                              server: ReplayServer) -> None:
    pair = interactions(lit / "openalex" / "paperqa__test_title_search_paper_attributes2_.yaml")[3].reply()
    sample = interactions(lit / "openalex" / "commonmetapy__test_get_random_id_from_openalex.yaml")[1].reply()
    unavailable = Reply(503, b"<html>down</html>", (("Content-Type", "text/html"),))
    server.routes["/works"] = [pair, pair, sample, pair, unavailable]
    clock = [dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone.utc)]
    discovery = Discovery(library, sleep=lambda _: None, today=lambda: TODAY, now=lambda: clock[0])
    query = Query("large language models chemistry", source="openalex", limit=10)

    first = discovery.search(query)
    saved = discovery.save_search("Chemistry tools", first, who="Jo")
    assert discovery.store.seen(saved.name) == {f.candidate.id for f in first.items}

    again = discovery.run_saved("chemistry TOOLS")  # the same two works: nothing new
    assert (again.items, again.already_shown, again.saved_search) == ((), 2, "Chemistry tools")
    assert server.query_of(server.requests_to("/works")[-1])["sort"] == "publication_date:desc"

    clock[0] += dt.timedelta(days=1)
    [checked] = discovery.check_saved()
    assert (checked.new_count, checked.checked_at, checked.check_message) == (5, clock[0], "")
    assert discovery.stale_searches() == []
    newer = discovery.run_saved("Chemistry tools")  # the checked answer was used; now the pair again
    assert newer.items == () and discovery.store.saved(saved.name).new_count == 0

    clock[0] += dt.timedelta(hours=1)
    assert discovery.check_saved(max_age=dt.timedelta(hours=24))[0].checked_at != clock[0]  # fresh: not asked
    requests = len(server.requests_to("/works"))
    [failed] = discovery.check_saved()
    assert failed.new_count == 0 and failed.check_message.startswith("OpenAlex is having problems")
    assert len(server.requests_to("/works")) == requests + 3
    clock[0] += dt.timedelta(days=2)
    assert [s.name for s in discovery.stale_searches()] == ["Chemistry tools"]


# ---------------------------------------------------------------- the command line


@pytest.fixture
def cli(tmp_path: Path, collection: Path, server: ReplayServer):  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": str(REPO), "LIBRARY_USER": "cli-librarian",
           "LIBRARY_REFERENCES_DIR": str(collection), "LIBRARY_INDEX_DIR": str(tmp_path / "index"),
           "LIBRARY_DATA_DIR": str(tmp_path / "data"), "LIBRARY_EUROPEPMC_URL": server.url,
           "LIBRARY_OPENALEX_URL": server.url, "LIBRARY_CONTACT_EMAIL": "librarian@example.org",
           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "library", *args], capture_output=True, text=True,
                              encoding="utf-8", env=env, cwd=tmp_path, timeout=120)

    return run


def test_discover_prints_json_in_the_promised_shape(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("discover", "cancer", "--source", "europepmc", "--since", "2020", "--type", "review",
                 "--limit", "25", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert list(document) == ["source", "query", "total", "candidates"]
    assert (document["source"], document["query"], document["total"]) == ("europepmc", "cancer", 5059039)
    assert len(document["candidates"]) == 25
    for candidate in document["candidates"]:
        assert list(candidate) == ["title", "authors", "year", "venue", "doi", "pmid", "abstract", "oa_url",
                                   "cited_by", "status"]
        assert candidate["status"] in ("new", "in collection")
    first = document["candidates"][0]
    assert first == {
        "title": "Abscopal response in a patient with fibrolamellar hepatocellular carcinoma following radiotherapy",
        "authors": ["Jonathan D Schoenfeld", "Daphne A Haas-Kogan", "Allison F O'Neill"], "year": 2025,
        "venue": "Lancet (London, England)", "doi": "10.1016/s0140-6736(24)02600-x", "pmid": "39709209",
        "abstract": None, "oa_url": None, "cited_by": 0, "status": "in collection"}


def test_discover_screen_and_export_from_the_command_line(cli, tmp_path: Path, collection: Path,  # type: ignore[no-untyped-def]
                                                          server: ReplayServer) -> None:
    text = cli("discover", "cancer", "--source", "europepmc", "--save", "Cancer watch")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Europe PMC search for “cancer”: 5,059,039 found; showing 25.")
    assert "1. [in collection: schoenfeld2025abscopal, same title, year and first author] Abscopal response" in text.stdout
    assert "   id: doi:10.1111/fcp.70029" in text.stdout
    assert "Saved as 'Cancer watch'." in text.stderr

    assert cli("screen", "exclude", "pmid:40437959", "--reason", "Not in English").returncode == 0
    refused = cli("screen", "exclude", "pmid:40437959", "--reason", "Too long")
    assert refused.returncode == 3 and "'Too long' is not one of the exclusion reasons" in refused.stderr
    assert cli("screen", "reasons", "--add", "Too long").returncode == 0
    assert cli("screen", "maybe", "10.1097/CEJ.0000000000000979").returncode == 0
    included = cli("screen", "include", "https://doi.org/10.1111/fcp.70029", "--themes", "health-impact",
                   "--evidence-type", "trial")
    assert included.returncode == 0, included.stderr
    assert included.stdout.startswith("Included and added ")
    key = included.stdout.split()[3]
    assert (collection / f"{key}.bib").exists()
    unknown = cli("screen", "include", "10.5555/never-found")
    assert unknown.returncode == 3 and "has been found by a discovery search" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    again = cli("discover", "--saved", "Cancer watch", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["candidates"] == []  # the same answer: nothing new
    listed = cli("discover", "--list-saved")
    assert listed.stdout.startswith("Cancer watch: 0 new, checked ")

    exported = tmp_path / "screening.csv"
    assert cli("screen", "export", "-o", str(exported)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))
    assert [(r["Decision"], r["PMID"]) for r in rows] == [("Excluded", "40437959"), ("Maybe", "40536077"),
                                                          ("Included", "40511629")]
    assert rows[0]["Reason for exclusion"] == "Not in English" and rows[2]["Reference key"] == key
    assert rows[0]["Found by"] == "Europe PMC search for “cancer”" and rows[0]["Decided by"] == "cli-librarian"
    listing = cli("screen", "list", "--decision", "excluded")
    assert listing.stdout == ("Excluded: Co-Designed Culturally Tailored Cancer Screening Promotion Program With "
                              "Chinese-Australian: Using a Community Partnership Approach (2025) "
                              "— Not in English\n")

    hidden = cli("discover", "cancer", "--source", "europepmc")
    assert "1 excluded earlier left out (--show-excluded shows them)." in hidden.stdout
    assert "[maybe]" in hidden.stdout and f"[in collection: {key}, same DOI]" in hidden.stdout


@pytest.mark.parametrize(("args", "code", "message"), [
    (("discover", "cancer", "--since", "last year"), 2, "give a year such as 2015"),
    (("discover", "cancer", "--limit", "5000"), 2, "give a number from 1 to 200"),
    (("discover", "cancer", "--source", "scopus"), 2, "invalid choice: 'scopus'"),
    (("discover",), 2, "give words to search for"),
    (("discover", "cancer", "--saved", "x"), 2, "give words to search for, or one of --saved"),
    (("discover", "--saved", "Nothing saved"), 3, "There is no saved search called 'Nothing saved'"),
    (("discover", "burnout", "--source", "crossref", "--type", "review"), 3,
     "Crossref does not say which works are reviews"),
    (("screen", "exclude", "pmid:1"), 3, "No work with the id 'pmid:1' has been found"),
])
def test_discover_usage_errors(cli, args: tuple[str, ...], code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args)
    assert result.returncode == code
    assert message in result.stderr and "Traceback" not in result.stderr


def test_discover_offline_says_so_without_a_traceback(tmp_path: Path, collection: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env_url = f"http://127.0.0.1:{port}"
    result = subprocess.run(
        [sys.executable, "-m", "library", "discover", "trauma", "--source", "pubmed"], capture_output=True,
        text=True, encoding="utf-8", cwd=tmp_path, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), "LIBRARY_PUBMED_URL": env_url,
             "LIBRARY_REFERENCES_DIR": str(tmp_path / "references"), "LIBRARY_INDEX_DIR": str(tmp_path / "index"),
             "LIBRARY_DATA_DIR": str(tmp_path / "data"), "LIBRARY_HTTP_TIMEOUT": "2"})
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f"Could not reach PubMed at {env_url}. Check the internet "
                                                      "connection, or try another source.")
