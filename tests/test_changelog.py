"""The change log's index in the shared database, on SQLite and on a real PostgreSQL.

The file `changes.jsonl` is the record; the index (library/changelog.py) must show exactly
what reading the file shows (`Collection.changes`, the slow path), in the same order, catch
up with lines it did not see written, and rebuild itself when it is missing or out of step.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from library import Library
from library.changelog import ChangeLogIndex
from library.database import Database, DatabaseUnavailable
from tests.security_support import REPO, entry_text, library_env, seed_collection, settings_for


def open_library(tmp_path: Path, database_url: str) -> Library:
    library = Library(settings_for(tmp_path, database_url=database_url))
    library.changes.sync()  # the database in use, as in the app
    return library


def as_tuples(changes) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [(c.id, c.when, c.who, c.action, c.key, c.detail, c.changes, c.version) for c in changes]


def make_changes(library: Library) -> None:
    library.add_text(entry_text("log-a", 1) + entry_text("log-b", 2), who="ann@example.org")
    library.edit("log-a", {"key-finding": "First finding."}, who="ann@example.org")
    library.edit("log-b", {"title": "A title with “quotes” and \\ backslashes"}, who="librarian (app)")
    library.delete("log-b", who="bob@example.org")
    library.restore("log-b", who="bob@example.org")
    library.edit("log-a", {"note": "x"}, who="ann@example.org", new_key="log-c")
    from library.taxonomy import Theme

    library.add_theme(Theme("log-theme", "Log theme"), who="bob@example.org")


def test_the_index_shows_exactly_what_the_file_shows(tmp_path: Path, database_url: str) -> None:
    seed_collection(tmp_path, 3)
    library = open_library(tmp_path, database_url)
    make_changes(library)
    from_file = library.collection.changes(limit=1000)
    assert len(from_file) == 8
    assert as_tuples(library.changes.recent(1000)) == as_tuples(from_file)
    assert as_tuples(library.changes.recent(3)) == as_tuples(from_file[:3])
    for who in ("ann@example.org", "bob@example.org", "librarian (app)"):
        assert as_tuples(library.changes.recent(100, who=who)) == as_tuples([c for c in from_file if c.who == who])
    for key in ("log-a", "log-b", "log-c", "themes.toml"):
        assert as_tuples(library.changes.recent(100, key=key)) == as_tuples(library.collection.changes(key=key))
    assert library.changes.people() == ["ann@example.org", "bob@example.org", "librarian (app)"]
    assert library.changes.count(who="bob@example.org") == 3
    assert [c.action for c in library.changes.recent(100, action="delete")] == ["delete"]


def test_every_save_brings_the_index_up_to_date_at_once(tmp_path: Path, database_url: str) -> None:
    seed_collection(tmp_path, 1)
    library = open_library(tmp_path, database_url)
    library.add_text(entry_text("at-once", 1), who="ann@example.org")
    with library.database.read() as connection:  # no read has caught up: the save did it
        from sqlalchemy import select

        from library.tables import change_log

        assert connection.execute(select(change_log.c.key, change_log.c.who)).all() == [("at-once",
                                                                                           "ann@example.org")]


def test_lines_written_elsewhere_are_read_before_anything_is_shown(tmp_path: Path, database_url: str) -> None:
    seed_collection(tmp_path, 1)
    library = open_library(tmp_path, database_url)
    library.add_text(entry_text("from-app", 1), who="ann@example.org")
    # The command line saves without opening the database (another process, another server).
    done = subprocess.run([sys.executable, "-m", "library", "add", "-"], cwd=REPO,
                          env=library_env(tmp_path, LIBRARY_DATABASE_URL=database_url, LIBRARY_USER="cli-user"),
                          input=entry_text("from-cli", 2).encode(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert [(c.key, c.who) for c in library.changes.recent(10)] == [("from-cli", "cli-user"),
                                                                     ("from-app", "ann@example.org")]


def test_an_index_that_is_missing_or_out_of_step_is_rebuilt_from_the_file(tmp_path: Path,
                                                                         database_url: str) -> None:
    seed_collection(tmp_path, 2)
    library = open_library(tmp_path, database_url)
    make_changes(library)
    log = library.collection.log_path
    expected = as_tuples(library.collection.changes(limit=1000))

    with library.database.write() as connection:  # the tables emptied (a new database, say)
        from sqlalchemy import delete

        from library.tables import change_log, change_log_files

        connection.execute(delete(change_log))
        connection.execute(delete(change_log_files))
    assert as_tuples(library.changes.recent(1000)) == expected

    # The file restored from an older backup: shorter, so everything is read again.
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:4]))
    assert library.changes.sync().rebuilt
    assert as_tuples(library.changes.recent(1000)) == as_tuples(library.collection.changes(limit=1000))
    assert library.changes.count() == 4

    # Replaced by a different file of the same length: noticed by the fingerprint of its end.
    other = b"".join(lines[4:8])
    log.write_bytes(other[: len(b"".join(lines[:4]))].ljust(len(b"".join(lines[:4])), b" ")[:-1] + b"\n")
    outcome = library.changes.sync()
    assert outcome.rebuilt
    assert as_tuples(library.changes.recent(1000)) == as_tuples(library.collection.changes(limit=1000))


def test_damaged_and_unfinished_lines(tmp_path: Path, database_url: str) -> None:
    seed_collection(tmp_path, 1)
    library = open_library(tmp_path, database_url)
    log = library.collection.log_path
    good = {"when": "2026-01-01T00:00:00+00:00", "who": "old", "action": "add", "key": "k1", "detail": "",
            "changes": {}, "version": "v1"}  # a line from before lines had ids
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(json.dumps(good).encode() + b"\n{not json\n" + json.dumps([1, 2]).encode() + b"\n"
                    + b'{"when": "2026-01-02", "who": "cut", "action": "ad')  # cut short by a crash
    assert [(c.key, c.who, c.id) for c in library.changes.recent(10)] == [("k1", "old", "@0")]
    library.add_text(entry_text("after-crash", 3), who="ann@example.org")  # completes the cut line
    assert [c.key for c in library.changes.recent(10)] == ["after-crash", "k1"]
    assert [c.key for c in library.collection.changes(limit=10)] == ["after-crash", "k1"]


def test_each_line_is_kept_once_however_often_and_by_however_many_it_is_read(tmp_path: Path,
                                                                            database_url: str) -> None:
    seed_collection(tmp_path, 1)
    library = open_library(tmp_path, database_url)
    for number in range(5):
        library.add_text(entry_text(f"once{number}", number), who="ann@example.org")
    log = library.collection.log_path
    first_line = log.read_bytes().splitlines(keepends=True)[0]
    with open(log, "ab") as handle:  # the same line twice (a pending line added again, say)
        handle.write(first_line)
    readers = [Database(database_url) for _ in range(3)]
    try:
        for reader in readers:
            ChangeLogIndex(reader, log).sync()
        assert library.changes.count() == 5
        assert sorted(c.key for c in library.changes.recent(10)) == [f"once{n}" for n in range(5)]
    finally:
        for reader in readers:
            reader.close()


def test_a_save_while_the_database_is_down_says_so_and_the_index_catches_up(tmp_path: Path,
                                                                            postgres_server) -> None:  # type: ignore[no-untyped-def]
    """The index is not the record: a save still stands when it cannot be updated."""
    import psycopg

    seed_collection(tmp_path, 1)
    name = postgres_server.new_database()
    url = postgres_server.url(name)
    # The collection lock stays a lock file here: this test takes the database away only from
    # the index (a PostgreSQL collection lock would, rightly, refuse the save instead).
    library = Library(settings_for(tmp_path, database_url=""), sync=False)
    library._database = Database(url)
    library.changes.sync()
    try:
        with psycopg.connect(postgres_server.admin_dsn, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        library.database.engine.dispose()
        result = library.add_text(entry_text("while-down", 1), who="ann@example.org")
        assert result.added == ("while-down",)
        assert any("change log's index" in notice and "catches up" in notice for notice in result.notices)
        assert [c.key for c in library.collection.changes()] == ["while-down"]
        with pytest.raises(DatabaseUnavailable):
            library.changes.recent(10)
        with psycopg.connect(postgres_server.admin_dsn, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert [(c.key, c.who) for c in library.changes.recent(10)] == [("while-down", "ann@example.org")]
    finally:
        library.database.close()
        postgres_server.drop_database(name)


def test_servers_catching_up_at_once_keep_each_line_once(tmp_path: Path, database_url: str) -> None:
    """Several processes read the log for the first time together (the app servers after an upgrade)."""
    seed_collection(tmp_path, 1)
    library = Library(settings_for(tmp_path, database_url=database_url))
    for number in range(30):
        library.add_text(entry_text(f"race{number}", number), who="ann@example.org")
    code = ("import sys\nfrom pathlib import Path\nfrom library.changelog import ChangeLogIndex\n"
            "from library.database import Database\n"
            "database = Database(sys.argv[1])\nChangeLogIndex(database, Path(sys.argv[2])).sync()\n")
    readers = [subprocess.Popen([sys.executable, "-c", code, database_url, str(library.collection.log_path)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    for reader in readers:
        _, err = reader.communicate(timeout=120)
        assert reader.returncode == 0, err.decode()
    assert library.changes.count() == 30
    assert as_tuples(library.changes.recent(100)) == as_tuples(library.collection.changes(limit=100))
