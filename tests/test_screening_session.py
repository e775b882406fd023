"""Screening lists kept in the shared database: a search's works and the place in them come back after a
reload or a restarted server, on SQLite and on a real PostgreSQL (the `database_url` fixture), from a local
server replaying Europe PMC's real recorded answers (../shared/testdata/literature-apis, read in place)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from library import Library, Settings
from library.discovery import Discovery, DiscoveryResult
from library.screening_session import (KEEP_DAYS, KEEP_PER_OWNER, ScreeningSession, ScreeningSessionNotFound,
                                       ScreeningSessions)
from library.sources.model import Query
from library.tables import screening_sessions
from tests.replay_server import Reply, ReplayServer, serving
from tests.shared_data import shared_path

from .conftest import REPO

JSON = (("Content-Type", "application/json"),)
CANCER = Query("cancer", source="europepmc", since=2020, type="any", limit=25)
OWNER = "Jo Librarian"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    folder = shared_path("testdata", "literature-apis", "europepmc")
    pages = [Reply(200, (folder / name).read_bytes(), JSON)
             for name in ("pyeuropepmc__search_cancer_core.json",
                          # another recorded answer stands in for the next page: its works are not on the first
                          "pyeuropepmc__Europe_PMC_results_20251022T155445.json",
                          "pyeuropepmc__search_cancer_core.json")]
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with serving({"/search": pages}) as running:
        yield running


@pytest.fixture
def library(tmp_path: Path, server: ReplayServer, database_url: str) -> Iterator[Library]:
    shutil.copytree(REPO / "references", tmp_path / "references", ignore=shutil.ignore_patterns(".*"))
    lib = Library(Settings.from_env(europepmc_url=server.url, database_url=database_url))
    yield lib
    lib.close()


@pytest.fixture
def discovery(library: Library, clock: Clock) -> Discovery:
    return Discovery(library, sleep=lambda _: None, now=clock)


@pytest.fixture
def found(discovery: Discovery) -> DiscoveryResult:
    return discovery.search(CANCER)


def restarted(library: Library, clock: Clock) -> Discovery:
    """The same data seen by a new process: a new Library and a new database connection pool."""
    from library.database import _OPEN

    settings = library.settings
    old = _OPEN.pop(settings.database, None)
    if old is not None:
        old.close()
    again = Discovery(Library(settings, sync=False), sleep=lambda _: None, now=clock)
    assert again.library.database is not old
    return again


# ---------------------------------------------------------------- round trip


def test_a_list_comes_back_whole_after_a_restart(discovery: Discovery, found: DiscoveryResult,
                                                 library: Library, clock: Clock) -> None:
    session = discovery.sessions.start(found, owner=OWNER)
    assert len(found.items) == 25 and session.works == tuple(f.candidate for f in found.items)
    assert session.query == CANCER and session.total == found.total == 5059039
    assert session.next_cursor == found.next_cursor and session.next_cursor
    assert session.position == 0  # the first work still to screen

    again = restarted(library, clock)
    try:
        loaded = again.sessions.load(session.id, owner=OWNER)
        assert loaded == session
        # Every field of every work as the service's answer was parsed: abstracts with their section
        # labels, non-ASCII names, open-access links, citation counts.
        assert [c.to_dict() for c in loaded.works] == [f.candidate.to_dict() for f in found.items]
        assert any("ü" in a.name or "é" in a.name for c in loaded.works for a in c.authors)
        assert again.result_of(loaded) == found
    finally:
        again.library.close()


def test_the_place_and_the_decisions_come_back(discovery: Discovery, found: DiscoveryResult) -> None:
    session = discovery.sessions.start(found, owner=OWNER)
    third = session.works[2]
    discovery.decide(third, "excluded", who=OWNER, reason="Wrong population or setting", query=session.query)
    discovery.decide(session.works[3], "maybe", who=OWNER, query=session.query)
    discovery.sessions.move(session.id, 4, owner=OWNER)

    loaded = discovery.sessions.load(session.id, owner=OWNER)
    assert loaded.position == 4 and loaded.works == session.works
    result = discovery.result_of(loaded)
    # A work excluded while screening stays where it was in the list, marked, rather than vanishing.
    assert [f.status for f in result.items[:5]] == ["new", "new", "excluded", "maybe", "new"]
    assert result.items[2].reason == "Wrong population or setting" and not result.hidden

    # The next search of the same words starts a new list, in which the excluded work is left out.
    later = discovery.sessions.start(discovery.search(CANCER), owner=OWNER)
    assert later.id != session.id
    assert [c.id for c in later.hidden] == [third.id] and third not in later.works
    assert later.position == 0
    assert discovery.sessions.load(session.id, owner=OWNER).position == 4  # the first list is untouched


@pytest.mark.parametrize("position, expected", [(-3, 0), (0, 0), (7, 7), (24, 24), (25, 24), (10_000, 24)])
def test_the_position_stays_within_the_list(discovery: Discovery, found: DiscoveryResult, position: int,
                                            expected: int) -> None:
    session = discovery.sessions.start(found, owner=OWNER)
    assert discovery.sessions.move(session.id, position, owner=OWNER).position == expected
    assert discovery.sessions.load(session.id, owner=OWNER).position == expected


def test_listing_the_works_excluded_earlier_keeps_the_same_work_on_screen(discovery: Discovery) -> None:
    first = discovery.search(CANCER)
    for found in first.items[:2]:
        discovery.decide(found.candidate, "excluded", who=OWNER, reason="Not in English")
    session = discovery.sessions.start(discovery.search(CANCER), owner=OWNER)
    assert len(session.works) == 23 and len(session.hidden) == 2
    session = discovery.sessions.move(session.id, 22, owner=OWNER)  # the last work
    shown = session.listed()[session.position]
    session = discovery.sessions.update(session.id, lambda s: s.showing_excluded(True), owner=OWNER)
    assert len(session.listed()) == 25 and session.listed()[session.position] == shown
    session = discovery.sessions.move(session.id, 24, owner=OWNER)  # the second excluded one
    loaded = discovery.sessions.load(session.id, owner=OWNER)
    assert loaded.show_excluded and loaded.listed()[24] == first.items[1].candidate
    hidden_again = discovery.sessions.update(session.id, lambda s: s.showing_excluded(False), owner=OWNER)
    assert hidden_again.position == 22  # its place gone, the list's last work


def test_more_results_are_added_once_and_the_list_is_bounded(discovery: Discovery, found: DiscoveryResult,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    session = discovery.sessions.start(found, owner=OWNER)
    assert session.can_extend
    more = discovery.search(CANCER, cursor=session.next_cursor)
    session = discovery.sessions.update(session.id, lambda s: s.extended(more), owner=OWNER)
    assert len(session.works) == 30 and session.works[:25] == tuple(f.candidate for f in found.items)
    assert session.next_cursor == more.next_cursor
    # The same page again brings nothing new, which ends the paging.
    again = discovery.search(CANCER, cursor=session.next_cursor)
    session = discovery.sessions.update(session.id, lambda s: s.extended(again), owner=OWNER)
    assert len(session.works) == 30 and session.next_cursor is None and not session.can_extend
    assert discovery.sessions.load(session.id, owner=OWNER).works == session.works

    import library.screening_session as module

    monkeypatch.setattr(module, "MAX_WORKS", 10)
    small = discovery.sessions.start(found, owner=OWNER)
    assert len(small.works) == 10 and small.next_cursor is None and not small.can_extend


# ---------------------------------------------------------------- ids, owners, damage


@pytest.mark.parametrize("bad", [
    "", "short", "../../../etc/passwd", "..%2F..%2Fdata%2Flibrary.sqlite3",
    "x' OR '1'='1'; DROP TABLE screening_sessions; --", "A" * 65, "é" * 30, "a b" * 10,
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # the right shape, but no such list
])
def test_an_address_with_a_bad_id_opens_nothing(discovery: Discovery, found: DiscoveryResult, bad: str) -> None:
    session = discovery.sessions.start(found, owner=OWNER)
    with pytest.raises(ScreeningSessionNotFound, match="Search again to start a new one"):
        discovery.sessions.load(bad, owner=OWNER)
    with pytest.raises(ScreeningSessionNotFound):
        discovery.sessions.move(bad, 3, owner=OWNER)
    with pytest.raises(ScreeningSessionNotFound):
        discovery.sessions.delete(bad, owner=OWNER)
    assert discovery.sessions.load(session.id, owner=OWNER).works == session.works  # nothing else touched


def test_a_list_is_its_owners(discovery: Discovery, found: DiscoveryResult) -> None:
    session = discovery.sessions.start(found, owner="  Jo   Librarian ")
    assert session.owner == "Jo Librarian"
    assert discovery.sessions.load(session.id, owner="jo librarian").id == session.id  # typed another way
    for other in ("Sam Librarian", ""):
        with pytest.raises(ScreeningSessionNotFound):
            discovery.sessions.load(session.id, owner=other)
        with pytest.raises(ScreeningSessionNotFound):
            discovery.sessions.move(session.id, 5, owner=other)
    assert discovery.sessions.load(session.id, owner=OWNER).position == 0
    assert [s.id for s in discovery.sessions.recent(owner=OWNER)] == [session.id]
    assert discovery.sessions.recent(owner="Sam Librarian") == []
    with pytest.raises(Exception, match="sign in first"):
        discovery.sessions.start(found, owner=" ")


def test_a_damaged_list_says_so(discovery: Discovery, found: DiscoveryResult) -> None:
    session = discovery.sessions.start(found, owner=OWNER)
    with discovery.library.database.write() as connection:
        connection.execute(update(screening_sessions).where(screening_sessions.c.id == session.id)
                           .values(body='{"version": 1, "works": "not a list"}'))
    with pytest.raises(ScreeningSessionNotFound, match=f"The screening list {session.id} cannot be read"):
        discovery.sessions.load(session.id, owner=OWNER)


# ---------------------------------------------------------------- pruning


def count(sessions: ScreeningSessions) -> int:
    with sessions.database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(screening_sessions)).scalar() or 0)


def test_lists_unused_for_thirty_days_are_removed(discovery: Discovery, found: DiscoveryResult,
                                                  clock: Clock) -> None:
    sessions = discovery.sessions
    old = sessions.start(found, owner=OWNER)
    clock.tick(days=20)
    used = sessions.start(found, owner="Sam Librarian")
    clock.tick(days=KEEP_DAYS - 20, seconds=1)  # `old` unused for just over 30 days, `used` for 10
    sessions.move(used.id, 3, owner="Sam Librarian")
    assert sessions.prune() == 1
    with pytest.raises(ScreeningSessionNotFound):
        sessions.load(old.id, owner=OWNER)
    assert sessions.load(used.id, owner="Sam Librarian").position == 3
    clock.tick(days=KEEP_DAYS - 1)
    assert sessions.prune() == 0  # moving it counted as using it
    clock.tick(days=1, seconds=1)
    assert sessions.prune() == 1 and count(sessions) == 0


def test_each_librarian_keeps_their_most_recent_lists(discovery: Discovery, found: DiscoveryResult,
                                                      clock: Clock) -> None:
    sessions = discovery.sessions
    other = sessions.start(found, owner="Sam Librarian")
    mine: list[ScreeningSession] = []
    for _ in range(KEEP_PER_OWNER):
        clock.tick(minutes=1)
        mine.append(sessions.start(found, owner=OWNER))
    clock.tick(minutes=1)
    sessions.move(mine[0].id, 2, owner=OWNER)  # the first one used again: now the most recent
    clock.tick(minutes=1)
    newest = sessions.start(found, owner=OWNER)
    kept = [s.id for s in sessions.recent(owner=OWNER, limit=100)]
    assert len(kept) == KEEP_PER_OWNER and kept[0] == newest.id and mine[0].id in kept
    assert mine[1].id not in kept  # the least recently used went
    assert sessions.load(other.id, owner="Sam Librarian")  # another librarian's lists are not theirs to prune
