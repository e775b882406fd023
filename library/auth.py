"""Librarian sign-in: salted password hashes and throttling of repeated failures.

The deployer sets the hash (never the password) in `LIBRARY_LIBRARIAN_PASSWORD_HASH`
or Streamlit secrets.  There is no default password: without a hash the app is
read-only.

Wrong passwords slow down whoever typed them, not every librarian: each failure counts
against the browser session, the client's address and the name signed in as, each with
its own allowance of free tries; after that each try waits longer, doubling to a limit.
A correct password clears the session's and the name's count (not the address's, which
others may share).  The counts live behind a small storage interface; the app keeps them
in the shared database (`signin_attempts`), so several app servers see the same counts.
Subjects are stored only as keyed hashes: no address or name is kept in the clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Protocol, Sequence

from .errors import AccessDenied, InvalidValue, SettingsError
from .values import canonical

if TYPE_CHECKING:
    from .database import Database

_SCHEME = "scrypt"
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """'scrypt$16384$8$1$<salt>$<hash>' for the settings; the password itself is never stored."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SettingsError(f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.")
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encode = lambda b: base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")  # noqa: E731
    return f"{_SCHEME}${_N}${_R}${_P}${encode(salt)}${encode(digest)}"


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_password(password: str, stored_hash: str) -> bool:
    """True only for the right password; a malformed or empty hash never matches."""
    try:
        scheme, n, r, p, salt, digest = stored_hash.strip().split("$")
        if scheme != _SCHEME:
            return False
        expected = _decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=_decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def is_configured(stored_hash: str) -> bool:
    return bool(stored_hash and stored_hash.startswith(_SCHEME + "$") and stored_hash.count("$") == 5)


MAX_NAME_LENGTH = 80


def signer_name(text: str) -> str:
    """The name a librarian signs in as (shown in the change log): plain text, one line, 2 to 80
    characters.  `InvalidValue` says what is wrong."""
    name = canonical(text or "", field="name")
    if len(name) < 2:
        raise InvalidValue("Type your name, as the change log should show it (at least two letters).")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidValue(f"Your name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}.")
    return name


# ---------------------------------------------------------------- throttling


@dataclass(frozen=True)
class Allowance:
    """How many wrong passwords one kind of subject gets free, and how the wait then grows."""

    free_failures: int
    base_delay: float = 5.0  # seconds, after the first failure beyond the free ones
    max_delay: float = 900.0  # the wait doubles up to this
    forget_after: float = 3600.0  # a count with no failure for this long starts again

    def delay(self, failures: int) -> float:
        beyond = failures - self.free_failures
        return 0.0 if beyond <= 0 else min(self.max_delay, self.base_delay * 2 ** (beyond - 1))


# One browser session is one person; a name is one librarian (whoever types it); an address may
# be a ward computer that several staff share, or a hospital's proxy, so it gets more free tries.
ALLOWANCES: Mapping[str, Allowance] = {
    "session": Allowance(free_failures=3),
    "name": Allowance(free_failures=5),
    "address": Allowance(free_failures=10),
}
KIND_WORDS = {"session": "from this browser", "name": "for this name", "address": "from this address"}


@dataclass(frozen=True)
class Attempts:
    """One subject's wrong passwords: how many (since the count last started) and until when it waits."""

    failures: int = 0
    locked_until: float = 0.0  # seconds since the epoch
    last_failure: float = 0.0


class AttemptStore(Protocol):
    """Where the counts live.  `fail` must be atomic per subject across processes and servers."""

    def load(self, subjects: Sequence[str]) -> dict[str, Attempts]: ...

    def fail(self, subject: str, *, now: float, allowance: Allowance) -> Attempts: ...

    def forget(self, subjects: Sequence[str]) -> None: ...


def subject_id(kind: str, value: str) -> str:
    """The stored form of a subject: a hash, so that no address or name is kept in the clear."""
    digest = hashlib.blake2b(f"{kind}:{value}".encode("utf-8"), digest_size=16,
                             person=b"library-signin").hexdigest()
    return f"{kind}:{digest}"


@dataclass(frozen=True)
class Signer:
    """Who is trying to sign in: the browser session, the client's address ('' when unknown or
    local) and the name typed."""

    session: str
    address: str
    name: str

    def subjects(self) -> dict[str, str]:
        out = {"session": subject_id("session", self.session)}
        out["address"] = subject_id("address", self.address or "local")
        if self.name:
            out["name"] = subject_id("name", self.name.casefold())
        return out


class Throttle:
    """Checks passwords, slowing down repeated failures per session, address and name."""

    def __init__(self, store: AttemptStore, *, allowances: Mapping[str, Allowance] = ALLOWANCES,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.allowances = dict(allowances)
        self.clock = clock

    def wait_seconds(self, signer: Signer) -> tuple[float, str]:
        """How long this signer must wait before the next try, and which count makes them wait."""
        subjects = signer.subjects()
        found = self.store.load(list(subjects.values()))
        now = self.clock()
        longest, why = 0.0, ""
        for kind, subject in subjects.items():
            wait = found.get(subject, Attempts()).locked_until - now
            if wait > longest:
                longest, why = wait, kind
        return longest, why

    def sign_in(self, password: str, stored_hash: str, signer: Signer) -> None:
        """Check a password, or raise `AccessDenied` with a plain reason."""
        if not is_configured(stored_hash):
            raise AccessDenied("Editing is switched off: no librarian password has been set up. "
                               "Ask whoever runs this app to set LIBRARY_LIBRARIAN_PASSWORD_HASH.")
        wait, kind = self.wait_seconds(signer)
        if wait > 0:
            raise AccessDenied(f"Too many wrong passwords {KIND_WORDS[kind]}. Try again in "
                               f"{_duration(wait)}.")
        subjects = signer.subjects()
        if verify_password(password, stored_hash):
            self.store.forget([s for kind, s in subjects.items() if kind != "address"])
            return
        now = self.clock()
        for kind, subject in subjects.items():
            self.store.fail(subject, now=now, allowance=self.allowances[kind])
        raise AccessDenied("That password is not right.")


def _duration(seconds: float) -> str:
    whole = int(seconds) + (0 if seconds == int(seconds) else 1)
    if whole < 120:
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = -(-whole // 60)
    return f"{minutes} minutes"


class DatabaseAttemptStore:
    """The counts in the shared database's `signin_attempts` table (SQLite or PostgreSQL)."""

    def __init__(self, database: "Database") -> None:
        self.database = database

    def load(self, subjects: Sequence[str]) -> dict[str, Attempts]:
        from sqlalchemy import select

        from .tables import signin_attempts as table

        if not subjects:
            return {}
        with self.database.read() as connection:
            rows = connection.execute(select(table.c.subject, table.c.failures, table.c.locked_until,
                                             table.c.last_failure).where(table.c.subject.in_(list(subjects))))
            return {row.subject: Attempts(row.failures, row.locked_until, row.last_failure) for row in rows}

    def fail(self, subject: str, *, now: float, allowance: Allowance) -> Attempts:
        from sqlalchemy import case, select, update

        from .tables import signin_attempts as table

        cutoff = now - allowance.forget_after
        with self.database.write() as connection:
            insert = _upsert(self.database.dialect, table)
            statement = insert.values(subject=subject, failures=1, locked_until=0.0, last_failure=now)
            # The count is raised in one statement, so two servers failing at once both count.
            statement = statement.on_conflict_do_update(
                index_elements=[table.c.subject],
                set_={"failures": case((table.c.last_failure < cutoff, 1), else_=table.c.failures + 1),
                      "last_failure": now})
            connection.execute(statement)
            failures = connection.execute(select(table.c.failures).where(table.c.subject == subject)).scalar_one()
            delay = allowance.delay(failures)
            locked_until = now + delay if delay else 0.0
            connection.execute(update(table).where(table.c.subject == subject).values(locked_until=locked_until))
        return Attempts(failures, locked_until, now)

    def forget(self, subjects: Sequence[str]) -> None:
        from sqlalchemy import delete

        from .tables import signin_attempts as table

        if subjects:
            with self.database.write() as connection:
                connection.execute(delete(table).where(table.c.subject.in_(list(subjects))))

    def prune(self, *, now: float, older_than: float = 86400.0) -> int:
        """Remove counts with no failure for `older_than` seconds (they have started again anyway)."""
        from sqlalchemy import delete

        from .tables import signin_attempts as table

        with self.database.write() as connection:
            return connection.execute(delete(table).where(table.c.last_failure < now - older_than)).rowcount


def _upsert(dialect: str, table):  # type: ignore[no-untyped-def]
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)
