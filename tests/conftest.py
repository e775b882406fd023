"""Fixtures shared by the whole suite: every path points into tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# Property tests check behaviour, never speed (speed is measured by the benchmarks, not asserted):
# no per-example deadline, which a busy CI machine would turn into a flaky failure.
hypothesis_settings.register_profile("library", deadline=None)
hypothesis_settings.load_profile("library")

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the checkout's collection, index or data by accident."""
    monkeypatch.setenv("LIBRARY_REFERENCES_DIR", str(tmp_path / "references"))
    monkeypatch.setenv("LIBRARY_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("LIBRARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LIBRARY_LIBRARIAN_PASSWORD_HASH", raising=False)


# ---------------------------------------------------------------- the shared database


@pytest.fixture(scope="session")
def postgres_server():  # type: ignore[no-untyped-def]
    """One real PostgreSQL server per test process (scripts/run-tests.sh installs it)."""
    import os
    import shutil
    import tempfile

    from .postgres_server import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        reason = ("PostgreSQL is not installed (Debian's 'postgresql' package; "
                  "scripts/run-tests.sh installs it)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; it must be present in CI", pytrace=False)
        pytest.skip(reason)
    # Not under pytest's own temporary folder: that is private to root, and under root the
    # server runs as the 'postgres' user, which must reach its data folder.
    root = Path(tempfile.mkdtemp(prefix="library-test-postgres-"))
    server = PostgresServer(root, bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A new, empty database for this test: run once on SQLite and once on a real PostgreSQL."""
    from library.database import default_url

    if request.param == "sqlite":
        yield default_url(tmp_path / "data")
        return
    server = request.getfixturevalue("postgres_server")
    name = server.new_database()
    yield server.url(name)
    from library.database import _OPEN

    for url in [u for u in _OPEN if u.endswith("/" + name)]:
        _OPEN.pop(url).close()
    server.drop_database(name)


@pytest.fixture
def database(database_url: str):  # type: ignore[no-untyped-def]
    from library.database import Database

    db = Database(database_url)
    yield db
    db.close()
