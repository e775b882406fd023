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
