"""Screening decisions, exclusion reasons and saved searches in the shared database: every test runs
on SQLite and on a real PostgreSQL (the `database` fixture)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from library.database import Database
from library.errors import ScreeningError
from library.screening import CSV_COLUMNS, ScreeningStore
from library.sources.model import Author, Candidate, Query
from library.tables import saved_search_seen

STARTING_REASONS = [
    "Not about trauma or trauma-informed care",
    "Wrong population or setting",
    "Wrong kind of study or publication (editorial, letter, protocol...)",
    "Not in English",
    "Duplicate of another record",
    "Superseded by a newer review or version",
]

WARDS = Candidate(source="openalex", source_id="W1", title="Calmer wards after trauma-informed team meetings",
                  authors=(Author("Ann Example"), Author("Kurt Müller")), year=2024, venue="Journal of Examples",
                  doi="10.5555/Example.2024.1", pmid="", abstract="An abstract.")
BURNOUT = Candidate(source="pubmed", source_id="31234567", title="Burnout among ward staff: a survey",
                    authors=(Author("Jo Bloggs", family="Bloggs", given="Jo"),), year=2019, venue="Nursing Times",
                    pmid="31234567")
NO_IDS = Candidate(source="europepmc", source_id="AGR:IND1", title="Trauma-informed supervision in rural services",
                   authors=(Author("Sam Jones", family="Jones", given="Sam"),), year=2021, venue="")


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, minutes: int = 1) -> None:
        self.now += dt.timedelta(minutes=minutes)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database: Database, clock: Clock) -> Iterator[ScreeningStore]:
    yield ScreeningStore(database, now=clock)


# ---------------------------------------------------------------- exclusion reasons


def test_the_starting_reasons_and_extending_them(store: ScreeningStore) -> None:
    assert store.reasons() == STARTING_REASONS
    assert store.add_reason("  Conference   abstract only ") == "Conference abstract only"
    assert store.reasons()[-1] == "Conference abstract only"
    with pytest.raises(ScreeningError, match="already an exclusion reason"):
        store.add_reason("not in english")
    with pytest.raises(ScreeningError, match="cannot be empty"):
        store.add_reason(" \t ")
    with pytest.raises(ScreeningError, match="at most 200 characters"):
        store.add_reason("x" * 201)
    store.remove_reason("Not in English")
    assert "Not in English" not in store.reasons()
    with pytest.raises(ScreeningError, match="is not an exclusion reason"):
        store.remove_reason("Not in English")


def test_a_removed_reason_stays_on_the_decisions_that_gave_it(store: ScreeningStore) -> None:
    store.decide(WARDS, "excluded", who="lib", reason="Not in English")
    store.remove_reason("Not in English")
    assert store.decisions()[0].reason == "Not in English"


# ---------------------------------------------------------------- decisions


def test_decisions_are_kept_with_who_when_and_why(store: ScreeningStore, clock: Clock) -> None:
    decided = store.decide(WARDS, "excluded", who="Jo", reason="Wrong population or setting", query="a search")
    assert (decided.decision, decided.reason, decided.decided_by, decided.query) == (
        "excluded", "Wrong population or setting", "Jo", "a search")
    assert decided.decided_at == clock.now
    first = clock.now
    clock.tick(5)
    again = store.decide(WARDS, "maybe", who="Sam")
    assert (again.decision, again.reason, again.decided_by) == ("maybe", "", "Sam")
    assert again.first_decided_at == first and again.decided_at == clock.now
    [kept] = store.decisions()
    assert kept == again
    assert store.counts() == {"included": 0, "excluded": 0, "maybe": 1}


@pytest.mark.parametrize(("decision", "reason", "message"), [
    ("excluded", "", "An exclusion reason cannot be empty."),
    ("excluded", "Because I said so", "'Because I said so' is not one of the exclusion reasons."),
    ("rejected", "", "'rejected' is not a screening decision; use one of: included, excluded, maybe."),
])
def test_unusable_decisions_are_refused(store: ScreeningStore, decision: str, reason: str, message: str) -> None:
    with pytest.raises(ScreeningError) as caught:
        store.decide(WARDS, decision, who="lib", reason=reason)
    assert str(caught.value).startswith(message)
    assert store.decisions() == []


def test_a_work_is_recognised_by_doi_pmid_or_title_year_and_first_author(store: ScreeningStore) -> None:
    store.decide(WARDS, "excluded", who="lib", reason="Not in English")
    store.decide(BURNOUT, "maybe", who="lib")
    store.decide(NO_IDS, "excluded", who="lib", reason="Wrong population or setting")
    # The same works as another service would find them:
    same_doi = Candidate(source="crossref", source_id="10.5555/example.2024.1", title="Calmer Wards",
                         doi="10.5555/EXAMPLE.2024.1", year=2024)
    same_pmid = Candidate(source="europepmc", source_id="MED:31234567", title="Burnout in ward staff",
                          pmid="31234567", doi="10.5555/burnout")
    same_title = Candidate(source="openalex", source_id="W99", title="Trauma-Informed Supervision in Rural Services!",
                           authors=(Author("Sam Jones"),), year=2021)
    other_year = Candidate(source="openalex", source_id="W98", title=NO_IDS.title, authors=(Author("Sam Jones"),),
                           year=2022)
    unrelated = Candidate(source="openalex", source_id="W97", title="Something else entirely", year=2021)
    found = store.decisions_for([same_doi, same_pmid, same_title, other_year, unrelated])
    assert {k: v.decision for k, v in found.items()} == {
        same_doi.id: "excluded", same_pmid.id: "maybe", same_title.id: "excluded"}


def test_short_titles_say_too_little_to_match(store: ScreeningStore) -> None:
    editorial = Candidate(source="pubmed", source_id="1", title="Editorial", authors=(Author("A Smith"),),
                          year=2020, pmid="1")
    store.decide(editorial, "excluded", who="lib", reason="Wrong kind of study or publication (editorial, letter, "
                                                        "protocol...)")
    another = Candidate(source="openalex", source_id="W5", title="Editorial", authors=(Author("A Smith"),), year=2020)
    assert store.decisions_for([another]) == {}


def test_a_work_known_by_its_pmid_keeps_one_record_once_it_has_a_doi(store: ScreeningStore) -> None:
    store.decide(BURNOUT, "maybe", who="lib")
    with_doi = Candidate(source="openalex", source_id="W3", title=BURNOUT.title, authors=BURNOUT.authors,
                         year=2019, pmid="31234567", doi="10.5555/burnout.2019")
    store.decide(with_doi, "excluded", who="lib", reason="Not in English")
    [only] = store.decisions()
    assert (only.id, only.decision, only.doi) == ("doi:10.5555/burnout.2019", "excluded", "10.5555/burnout.2019")


def test_undo_forgets_a_decision(store: ScreeningStore) -> None:
    store.decide(WARDS, "maybe", who="lib")
    assert store.undo(WARDS) is True
    assert store.decisions() == [] and store.undo(WARDS) is False


# ---------------------------------------------------------------- what searches found


@pytest.mark.parametrize("identifier", [
    "doi:10.5555/example.2024.1", "10.5555/Example.2024.1", "https://doi.org/10.5555/EXAMPLE.2024.1",
])
def test_a_found_work_can_be_looked_up_by_its_doi(store: ScreeningStore, identifier: str) -> None:
    store.remember([WARDS, BURNOUT], found_by="OpenAlex search for “wards”")
    assert store.candidate(identifier) == WARDS
    assert store.found_by(WARDS) == "OpenAlex search for “wards”"


@pytest.mark.parametrize("identifier", ["pmid:31234567", "31234567", "PMID:31234567"])
def test_a_found_work_can_be_looked_up_by_its_pmid(store: ScreeningStore, identifier: str) -> None:
    store.remember([WARDS, BURNOUT])
    assert store.candidate(identifier) == BURNOUT


def test_unknown_identifiers_find_nothing(store: ScreeningStore) -> None:
    store.remember([NO_IDS])
    assert store.candidate("europepmc:AGR:IND1") == NO_IDS
    for identifier in ("", "10.1/nothing", "123", "x" * 1000, "'; DROP TABLE discovered; --"):
        assert store.candidate(identifier) is None


def test_the_query_recorded_with_a_decision_defaults_to_the_search_that_found_it(store: ScreeningStore) -> None:
    store.remember([WARDS], found_by="Europe PMC search for “wards”")
    assert store.decide(WARDS, "maybe", who="lib").query == "Europe PMC search for “wards”"


# ---------------------------------------------------------------- the screening record


def test_decisions_export_as_csv(store: ScreeningStore, clock: Clock) -> None:
    hostile = Candidate(source="crossref", source_id="10.5555/x", title="=HYPERLINK(\"http://evil\")",
                        authors=(Author("@admin"),), year=2020, venue="+Journal", doi="10.5555/x")
    store.decide(WARDS, "included", who="Jo", reference_key="example2024calmer", query="OpenAlex search for “wards”")
    clock.tick()
    store.decide(BURNOUT, "excluded", who="Jo", reason="Not in English", saved_search="Burnout watch")
    clock.tick()
    store.decide(hostile, "maybe", who="-Sam")
    data = store.export_csv()
    assert data.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1] == ["Included", "", WARDS.title, "Ann Example; Kurt Müller", "2024", "Journal of Examples",
                       "10.5555/example.2024.1", "", "OpenAlex search for “wards”", "openalex", "", "example2024calmer",
                       "Jo", "2026-11-28 09:00", "2026-11-28 09:00"]
    assert rows[2][:2] == ["Excluded", "Not in English"] and rows[2][7] == "31234567" and rows[2][10] == "Burnout watch"
    assert rows[3][0] == "Maybe"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert rows[3][2] == "'=HYPERLINK(\"http://evil\")" and rows[3][3] == "'@admin" and rows[3][12] == "'-Sam"


# ---------------------------------------------------------------- saved searches


def test_saved_searches(store: ScreeningStore, database: Database, clock: Clock) -> None:
    query = Query("trauma-informed care", source="europepmc", since=2015, type="review", limit=50)
    saved = store.save_search("  Reviews  since 2015 ", query, who="Jo")
    assert (saved.name, saved.created_by, saved.created, saved.last_run, saved.new_count) == (
        "Reviews since 2015", "Jo", clock.now, None, None)
    assert saved.query == Query("trauma-informed care", source="europepmc", since=2015, type="review", limit=50,
                                sort="newest")
    assert store.saved("reviews SINCE 2015") == saved  # librarians type names in any case
    with pytest.raises(ScreeningError, match="There is already a saved search called 'REVIEWS since 2015'"):
        store.save_search("REVIEWS since 2015", query, who="Jo")
    with pytest.raises(ScreeningError, match=r"There is no saved search called 'Nope' \(saved searches: Reviews since 2015\)"):
        store.saved("Nope")

    store.mark_seen(saved.name, ["doi:10.1/a", "pmid:2", "doi:10.1/a"])
    clock.tick()
    store.mark_seen(saved.name, ["doi:10.1/a", "doi:10.1/b"], ran=False)
    assert store.seen(saved.name) == {"doi:10.1/a", "pmid:2", "doi:10.1/b"}
    ran = store.saved(saved.name)
    assert ran.last_run == clock.now - dt.timedelta(minutes=1) and ran.new_count == 0

    store.record_check(saved.name, 7)
    assert (store.saved(saved.name).new_count, store.saved(saved.name).checked_at) == (7, clock.now)
    store.record_check(saved.name, 7, "Could not reach Europe PMC")
    assert store.saved(saved.name).check_message == "Could not reach Europe PMC"

    store.delete_search("REVIEWS SINCE 2015")
    assert store.saved_searches() == []
    with database.read() as connection:  # what it had seen goes with it
        assert connection.execute(select(func.count()).select_from(saved_search_seen)).scalar() == 0


@pytest.mark.parametrize(("name", "message"), [
    ("", "Give the saved search a name"),
    ("x" * 101, "at most 100 characters"),
])
def test_saved_search_names(store: ScreeningStore, name: str, message: str) -> None:
    with pytest.raises(ScreeningError, match=message):
        store.save_search(name, Query("trauma"), who="Jo")


def test_a_saved_search_must_be_a_usable_query(store: ScreeningStore) -> None:
    with pytest.raises(ScreeningError, match="Type what to search for"):
        store.save_search("Empty", Query("   "), who="Jo")
    with pytest.raises(ScreeningError, match="between 1 and 200 results"):
        store.save_search("Too many", Query("trauma", limit=500), who="Jo")
