"""Sign-in throttling per person: the counts in the shared database, on SQLite and on a real PostgreSQL.

Wrong passwords slow down the browser session, the address and the name that made them; another
librarian signing in from elsewhere is never made to wait.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from library.auth import (ALLOWANCES, Allowance, DatabaseAttemptStore, Signer, Throttle, hash_password,
                          signer_name, subject_id)
from library.database import Database
from library.errors import AccessDenied, InvalidValue
from library.tables import signin_attempts

PASSWORD = "a long test password"
HASH = hash_password(PASSWORD, salt=b"0123456789abcdef")
JO = Signer(session="session-jo", address="10.0.0.5", name="Jo Bloggs")
MALLORY = Signer(session="session-m", address="10.0.0.66", name="Mallory")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(database: Database, clock: Clock) -> Throttle:
    return Throttle(DatabaseAttemptStore(database), clock=clock)


def fail(throttle: Throttle, signer: Signer, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(AccessDenied, match="That password is not right"):
            throttle.sign_in("a wrong guess", HASH, signer)


def test_the_wait_doubles_for_the_session_and_the_right_password_starts_it_again(database: Database,
                                                                                 clock: Clock) -> None:
    # The address's own allowance is the subject of another test; here it never runs out.
    throttle = Throttle(DatabaseAttemptStore(database), clock=clock,
                        allowances={**ALLOWANCES, "address": Allowance(free_failures=100)})
    fail(throttle, JO, 3)  # the session's free tries
    assert throttle.wait_seconds(JO) == (0.0, "")
    waits = []
    for _ in range(6):
        fail(throttle, JO)
        wait, kind = throttle.wait_seconds(JO)
        waits.append((wait, kind))
        with pytest.raises(AccessDenied, match=r"Too many wrong passwords from this browser\. Try again in"):
            throttle.sign_in(PASSWORD, HASH, JO)  # even the right password waits
        clock.now += wait
    assert [w for w, _ in waits] == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0]
    assert {k for _, k in waits} == {"session"}
    throttle.sign_in(PASSWORD, HASH, JO)
    fail(throttle, JO, 3)  # the session's count started again
    assert throttle.wait_seconds(JO)[0] == 0.0


def test_one_person_guessing_never_makes_another_librarian_wait(throttle: Throttle) -> None:
    fail(throttle, MALLORY, 3)
    for _ in range(20):
        with pytest.raises(AccessDenied):
            throttle.sign_in("a wrong guess", HASH, MALLORY)
    assert throttle.wait_seconds(MALLORY)[0] > 0
    assert throttle.wait_seconds(JO) == (0.0, "")
    throttle.sign_in(PASSWORD, HASH, JO)


def test_a_colleague_on_the_same_ward_computer_is_not_held_by_another_session(throttle: Throttle) -> None:
    fail(throttle, MALLORY, 4)  # the session now waits, the address has used 4 of its 10
    colleague = Signer(session="another-tab", address=MALLORY.address, name="Sam Carer")
    assert throttle.wait_seconds(MALLORY)[1] == "session"
    assert throttle.wait_seconds(colleague) == (0.0, "")
    throttle.sign_in(PASSWORD, HASH, colleague)


def test_new_sessions_and_names_from_one_address_are_held_by_the_address(throttle: Throttle) -> None:
    free = ALLOWANCES["address"].free_failures
    for attempt in range(free + 1):
        fail(throttle, Signer(session=f"reloaded-{attempt}", address="10.9.9.9", name=f"Name {attempt}"))
    fresh = Signer(session="yet-another", address="10.9.9.9", name="Someone New")
    wait, kind = throttle.wait_seconds(fresh)
    assert (wait, kind) == (ALLOWANCES["address"].base_delay, "address")
    with pytest.raises(AccessDenied, match="from this address"):
        throttle.sign_in(PASSWORD, HASH, fresh)
    # A correct password from elsewhere is untouched, and does not clear the address's count.
    throttle.sign_in(PASSWORD, HASH, JO)
    assert throttle.wait_seconds(fresh)[1] == "address"


def test_guesses_for_one_name_from_many_places_hold_that_name_only(throttle: Throttle) -> None:
    free = ALLOWANCES["name"].free_failures
    for attempt in range(free + 1):
        fail(throttle, Signer(session=f"s{attempt}", address=f"10.1.1.{attempt}", name="jo bloggs"))
    assert throttle.wait_seconds(JO) == (ALLOWANCES["name"].base_delay, "name")  # names ignore case
    with pytest.raises(AccessDenied, match="for this name"):
        throttle.sign_in(PASSWORD, HASH, JO)
    other = Signer(session="s-other", address="10.1.1.200", name="Sam Carer")
    throttle.sign_in(PASSWORD, HASH, other)


def test_a_count_with_no_failure_for_an_hour_starts_again(throttle: Throttle, clock: Clock) -> None:
    fail(throttle, JO, 3)
    clock.now += ALLOWANCES["session"].forget_after + 1
    fail(throttle, JO, 3)  # three free tries again, not a fourth failure
    assert throttle.wait_seconds(JO)[0] == 0.0


def test_no_address_or_name_is_stored_in_the_clear(throttle: Throttle, database: Database) -> None:
    fail(throttle, JO)
    with database.read() as connection:
        subjects = connection.execute(select(signin_attempts.c.subject)).scalars().all()
    assert sorted(subjects) == sorted(JO.subjects().values())
    stored = " ".join(subjects)
    for secret in (JO.address, JO.name, JO.name.casefold(), JO.session):
        assert secret not in stored
    assert subject_id("address", "10.0.0.5") != subject_id("name", "10.0.0.5")


def test_two_app_servers_share_the_counts(database_url: str, clock: Clock) -> None:
    first, second = Database(database_url), Database(database_url)
    try:
        one = Throttle(DatabaseAttemptStore(first), clock=clock)
        two = Throttle(DatabaseAttemptStore(second), clock=clock)
        fail(one, JO, 2)
        fail(two, JO, 1)
        fail(one, JO, 1)  # the fourth failure, wherever it was made
        assert two.wait_seconds(JO) == (5.0, "session")
    finally:
        first.close()
        second.close()


def test_failures_at_the_same_moment_are_all_counted(database: Database, clock: Clock) -> None:
    store = DatabaseAttemptStore(database)
    allowance = Allowance(free_failures=1000)
    subject = subject_id("address", "10.2.2.2")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                store.fail(subject, now=clock.now, allowance=allowance)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert store.load([subject])[subject].failures == 40


def test_old_counts_are_pruned(database: Database, clock: Clock) -> None:
    store = DatabaseAttemptStore(database)
    store.fail("session:old", now=clock.now - 2 * 86400, allowance=ALLOWANCES["session"])
    store.fail("session:new", now=clock.now, allowance=ALLOWANCES["session"])
    assert store.prune(now=clock.now) == 1
    assert set(store.load(["session:old", "session:new"])) == {"session:new"}


@pytest.mark.parametrize(("typed", "expected"), [("  Jo   Bloggs ", "Jo Bloggs"), ("Siobhán Ó Dálaigh", "Siobhán Ó Dálaigh")])
def test_the_name_signed_in_as_is_plain_text(typed: str, expected: str) -> None:
    assert signer_name(typed) == expected


@pytest.mark.parametrize("typed", ["", " ", "J", "x" * 81, "Jo\x00Bloggs"])
def test_an_unusable_name_is_refused_with_a_reason(typed: str) -> None:
    with pytest.raises(InvalidValue):
        signer_name(typed)
