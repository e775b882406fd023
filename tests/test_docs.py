"""Every setting in the registry is documented in the README (datasette's tests/test_docs.py habit)."""

from __future__ import annotations

import pytest

from library.config import SETTINGS, SettingSpec

from .conftest import REPO

README = REPO / "README.md"


@pytest.mark.parametrize("spec", SETTINGS, ids=[spec.env for spec in SETTINGS])
def test_setting_is_documented_in_readme(spec: SettingSpec) -> None:
    assert README.is_file(), f"{README} is missing; it must document every LIBRARY_* setting"
    text = README.read_text(encoding="utf-8")
    assert spec.env in text, f"README.md does not document {spec.env} ({spec.description})"


def test_edit_file_row_names_exactly_the_fields_edit_file_keeps() -> None:
    """README's `edit --file` row lists the library's own fields a file cannot take away: the
    list is `PROJECT_FIELDS`, in its order, so a field added there must be documented too."""
    from library.bibtex import PROJECT_FIELDS

    [row] = [line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| `edit KEY")]
    listed = row.split("the library's own fields it leaves out (", 1)[1].split(")", 1)[0]
    assert [name.strip(" `") for name in listed.split(",")] == list(PROJECT_FIELDS)
