"""One writer at a time across processes and app servers, on both kinds of collection lock.

With SQLite (the default) the collection lock is the lock file `references/.library.lock`;
with PostgreSQL it is an advisory lock in the database (library/locks.py), because shared file
systems do not honour lock files reliably.  Every test here runs on both (the `database_url`
fixture: SQLite, then a real PostgreSQL server), with real processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from library import Library
from library.database import DatabaseUnavailable
from library.errors import LockTimeout
from library.locks import AdvisoryWriterLock, FileWriterLock, busy_message, writer_lock
from tests.security_support import REPO, entry_text, library_env, seed_collection, settings_for

LIVENESS = 60.0  # a bound on waiting for another process, never a speed check


@pytest.mark.parametrize(("url", "kind"), [
    ("", FileWriterLock),
    ("sqlite:////srv/library/data/library.sqlite3", FileWriterLock),
    ("postgresql+psycopg://library:secret@db:5432/library", AdvisoryWriterLock),
    ("postgresql://library@db/library", AdvisoryWriterLock),
])
def test_the_lock_follows_the_database_setting(tmp_path: Path, url: str, kind: type) -> None:
    assert isinstance(writer_lock(tmp_path, url, 5.0), kind)


def expected_kind(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "file"


def start(tmp_path: Path, database_url: str, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.lock_worker", *args], cwd=REPO,
                            env=library_env(tmp_path, LIBRARY_DATABASE_URL=database_url, **env),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_three_processes_incrementing_one_number_never_lose_an_increment(tmp_path: Path,
                                                                         database_url: str) -> None:
    seed_collection(tmp_path, 0)
    Library(settings_for(tmp_path, database_url=database_url)).add_text(
        entry_text("counted", 1, extra=",\n  note = {0}"), who="setup")
    workers = [start(tmp_path, database_url, "count", "counted", "15", LIBRARY_LOCK_TIMEOUT="120")
               for _ in range(3)]
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err.decode()
        assert json.loads(out)["kind"] == expected_kind(database_url)

    library = Library(settings_for(tmp_path, database_url=database_url))
    assert library.get("counted").fields["note"] == "45"
    counted = [c for c in library.collection.changes(limit=1000) if c.who == "counter"]
    assert len(counted) == 45 and len({c.id for c in counted}) == 45


def test_a_second_writer_waits_then_gives_up_with_the_same_message(tmp_path: Path, database_url: str) -> None:
    seed_collection(tmp_path, 1)
    holder = start(tmp_path, database_url, "hold", "120")
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"held", holder.stderr.read().decode() if holder.stderr else ""
        library = Library(settings_for(tmp_path, database_url=database_url, lock_timeout=0.5), sync=False)
        assert library.collection.writer_lock.kind == expected_kind(database_url)
        started = time.monotonic()
        with pytest.raises(LockTimeout) as refused:
            with library.collection.locked():
                pass
        assert str(refused.value) == busy_message(0.5)
        assert time.monotonic() - started >= 0.45  # it waited before giving up
        with pytest.raises(LockTimeout):
            library.add_text(entry_text("refused1", 1), who="second")
        assert not (tmp_path / "references" / "refused1.bib").exists()

        holder.send_signal(signal.SIGKILL)  # a writer killed while it holds the lock...
        holder.wait(timeout=30)
        deadline = time.monotonic() + LIVENESS
        while True:  # ...leaves it free: the system (or PostgreSQL) ends what the process held
            try:
                library.add_text(entry_text("after1", 1), who="second")
                break
            except LockTimeout:
                assert time.monotonic() < deadline, "the lock of a killed writer was never released"
        assert (tmp_path / "references" / "after1.bib").exists()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_threads_of_one_server_take_turns_and_a_thread_may_take_it_again(tmp_path: Path,
                                                                        database_url: str) -> None:
    seed_collection(tmp_path, 1)
    library = Library(settings_for(tmp_path, database_url=database_url), sync=False)
    lock = library.collection.writer_lock
    inside = 0
    most = 0
    guard = threading.Lock()

    def writer() -> None:
        nonlocal inside, most
        for _ in range(5):
            with library.collection.locked():
                with library.collection.locked():  # re-entrant, as rename_theme needs
                    with guard:
                        inside += 1
                        most = max(most, inside)
                    time.sleep(0.01)
                    with guard:
                        inside -= 1

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LIVENESS)
    assert most == 1
    assert lock.kind == expected_kind(database_url)


def advisory_locks_held(database_url: str) -> int:
    import psycopg
    from sqlalchemy.engine import make_url

    from library.locks import COLLECTION_LOCK_ID

    conninfo = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        # A bigint key is kept as two 32-bit halves; ours fits in the low half.
        row = connection.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                 "AND objid = %s AND classid = 0", (COLLECTION_LOCK_ID,)).fetchone()
    return int(row[0])


def test_with_postgresql_the_lock_is_an_advisory_lock_on_a_connection_of_its_own(tmp_path: Path,
                                                                               postgres_server) -> None:  # type: ignore[no-untyped-def]
    name = postgres_server.new_database()
    url = postgres_server.url(name)
    try:
        seed_collection(tmp_path, 1)
        library = Library(settings_for(tmp_path, database_url=url), sync=False)
        assert advisory_locks_held(url) == 0
        with library.collection.locked():
            assert advisory_locks_held(url) == 1
            with library.collection.locked():
                assert advisory_locks_held(url) == 1
            assert advisory_locks_held(url) == 1
        assert advisory_locks_held(url) == 0
        library.add_text(entry_text("advisory1", 1), who="tester")
        assert advisory_locks_held(url) == 0
        assert not (tmp_path / "references" / ".library.lock").exists(), "no lock file with PostgreSQL"
    finally:
        from library.database import _OPEN

        for open_url in [u for u in _OPEN if u.endswith("/" + name)]:
            _OPEN.pop(open_url).close()
        postgres_server.drop_database(name)


def test_a_database_that_cannot_be_reached_refuses_the_save_and_says_so(tmp_path: Path) -> None:
    from tests.postgres_server import free_port

    seed_collection(tmp_path, 1)
    url = f"postgresql+psycopg://library:never-shown@127.0.0.1:{free_port()}/library"
    library = Library(settings_for(tmp_path, database_url=url, lock_timeout=2), sync=False)
    with pytest.raises(DatabaseUnavailable) as refused:
        library.add_text(entry_text("unreached1", 1), who="tester")
    message = str(refused.value)
    assert "could not be reached" in message and "Nothing was changed" in message
    assert "never-shown" not in message
    assert not (tmp_path / "references" / "unreached1.bib").exists()


def test_a_change_made_through_one_server_is_seen_by_another_within_seconds(tmp_path: Path,
                                                                           database_url: str) -> None:
    """Two app servers share one collection folder (and data folder, and database), each with its
    own index: what one saves, the other's searches show after its next look at the folder."""
    seed_collection(tmp_path, 5)
    writer = Library(settings_for(tmp_path, database_url=database_url))
    other = start(tmp_path, database_url, "server", LIBRARY_INDEX_DIR=str(tmp_path / "index-server-b"))
    assert other.stdin is not None and other.stdout is not None

    def ask(words: str) -> dict:
        other.stdin.write(words.encode() + b"\n")
        other.stdin.flush()
        line = other.stdout.readline()
        assert line, other.stderr.read().decode() if other.stderr else ""
        return json.loads(line)

    def seen_after(words: str, test) -> float:  # type: ignore[no-untyped-def]
        started = time.monotonic()
        while not test(ask(words)):
            assert time.monotonic() - started < LIVENESS, f"the other server never saw the change ({words})"
            time.sleep(0.2)
        return time.monotonic() - started

    try:
        assert json.loads(other.stdout.readline())["ready"]
        assert ask("zebrafish")["total"] == 0
        writer.add_text(entry_text("shared-zebra", 7, extra=",\n  key-finding = {Zebrafish first.}"), who="a")
        added = seen_after("zebrafish", lambda answer: "shared-zebra" in answer["found"])
        writer.edit("shared-zebra", {"key-finding": "Zebrafish second."}, who="a")
        edited = seen_after("zebrafish", lambda answer: answer["found"].get("shared-zebra") == "Zebrafish second.")
        writer.delete("shared-zebra", who="a")
        deleted = seen_after("zebrafish", lambda answer: answer["total"] == 0)
        print(f"seen by the other server after: add {added:.1f} s, edit {edited:.1f} s, delete {deleted:.1f} s")
    finally:
        if other.poll() is None:
            other.stdin.write(b"quit\n")
            other.stdin.close()
            other.wait(timeout=30)
    assert os.path.isdir(tmp_path / "index-server-b")
