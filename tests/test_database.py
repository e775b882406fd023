"""The shared database: migrations on open, both backends, refusing a newer schema, clear errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, text

from library.database import Database, DatabaseUnavailable, default_url, describe
from library.errors import SettingsError
from library.tables import metadata, packs

from .conftest import REPO


def _heads() -> tuple[str, ...]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from library.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return tuple(ScriptDirectory.from_config(config).get_heads())


def test_migrations_make_exactly_the_tables_the_code_queries(database: Database) -> None:
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert database.revision()  # at the newest migration


def test_opening_twice_migrates_once_and_keeps_rows(database_url: str) -> None:
    first = Database(database_url)
    with first.write() as connection:
        connection.execute(insert(packs).values(id="a", title="T", body="{}", created="1", updated="1",
                                                   edit_token="e"))
    first.close()
    again = Database(database_url)
    with again.read() as connection:
        assert connection.execute(select(packs.c.title)).scalars().all() == ["T"]
    again.close()


def test_a_failed_write_keeps_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError):
        with database.write() as connection:
            connection.execute(insert(packs).values(id="a", title="T", body="{}", created="1", updated="1",
                                                   edit_token="e"))
            raise RuntimeError("stop half-way")
    with database.read() as connection:
        assert connection.execute(select(packs.c.id)).all() == []


def test_a_database_from_a_newer_version_is_refused(database_url: str) -> None:
    database = Database(database_url)
    with database.write() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    database.close()
    with pytest.raises(DatabaseUnavailable, match="newer version of the library"):
        Database(database_url)


def test_sqlite_is_a_wal_file_in_the_data_folder(tmp_path: Path) -> None:
    database = Database(default_url(tmp_path / "data"))
    assert database.path == tmp_path / "data" / "library.sqlite3"
    with sqlite3.connect(database.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()
    database.close()


@pytest.mark.parametrize(("url", "message"), [
    ("not a url", "is not a database URL"),
    ("mysql://u@h/db", "must be a SQLite or PostgreSQL database"),
    ("sqlite://", "must be a file"),
    ("sqlite:///:memory:", "must be a file"),
])
def test_unusable_urls_say_what_to_write(url: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Database(url)


def test_an_unreachable_postgresql_says_so_without_the_password() -> None:
    from .postgres_server import free_port

    url = f"postgresql+psycopg://someone:s3cret-pass@127.0.0.1:{free_port()}/library"
    with pytest.raises(DatabaseUnavailable) as caught:
        Database(url, timeout=2)
    assert "s3cret-pass" not in str(caught.value)
    assert "LIBRARY_DATABASE_URL" in str(caught.value)
    assert "s3cret-pass" not in describe(url)


def test_servers_starting_at_once_migrate_without_clashing(database_url: str) -> None:
    code = textwrap.dedent(f"""
        from library.database import Database
        Database({database_url!r}).close()
    """)
    workers = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE) for _ in range(4)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
    database = Database(database_url)
    assert database.revision() == set(_heads())
    database.close()

