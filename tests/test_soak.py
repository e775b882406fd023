"""A short run of the soak (scripts/soak.py): two app servers sharing one collection and one
PostgreSQL behind nginx, a few browser sessions searching and building packs, two librarians
saving through different servers and an API writer; then nothing may be lost.

The figures of a full run (20 sessions, minutes) are in docs/benchmarks.md; this only proves, on
every run of the suite, that the topology works and the checks pass.  No time is asserted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import REPO
from .postgres_server import find_bindir
from .proxy_server import find_nginx
from .test_e2e import CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_short_soak_of_two_servers_loses_nothing() -> None:
    missing = [name for name, present in (("chromium", CHROMIUM.exists()), ("postgresql", find_bindir() is not None),
                                          ("nginx", find_nginx() is not None)) if not present]
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"missing in CI: {', '.join(missing)} (scripts/run-tests.sh installs them)", pytrace=False)
        pytest.skip(f"needs Debian's {', '.join(missing)}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBRARY_")}
    done = subprocess.run([sys.executable, "scripts/soak.py", "--seconds", "20", "--sessions", "3",
                           "--librarians", "2"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "losses: 0" in done.stdout and "result: nothing lost" in done.stdout
    assert "nginx in front" in done.stdout and "PostgreSQL" in done.stdout
    assert "packs built: 0" not in done.stdout
