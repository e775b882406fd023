"""Where the third-party test data lives, read in place (it stays out of this repository).

`../shared/testdata` sits beside the checkout on developers' machines and in CI.
Where it is absent, tests that need it skip with the reason, except under
CI=true, where its absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("LIBRARY_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"third-party test data not found at {path} (the ../shared folder beside the checkout)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; it must be present in CI", pytrace=False)
        pytest.skip(reason)
    return path
