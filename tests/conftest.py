"""Fixtures shared by the whole suite: every path points into tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the checkout's collection, index or data by accident."""
    monkeypatch.setenv("LIBRARY_REFERENCES_DIR", str(tmp_path / "references"))
    monkeypatch.setenv("LIBRARY_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("LIBRARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LIBRARY_LIBRARIAN_PASSWORD_HASH", raising=False)
