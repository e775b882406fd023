#!/usr/bin/env bash
# Install everything the test suite needs (Python packages; Debian's Chromium for the end-to-end
# tests, PostgreSQL for the shared-database tests, nginx for the proxy configuration's tests and the
# soak) and run the whole suite.  Extra arguments
# go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# Debian keeps PostgreSQL's server programs out of PATH, in /usr/lib/postgresql/<version>/bin.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's ${missing[*]} for the tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "The tests need Debian's packages: ${missing[*]} (as root: apt-get install ${missing[*]})." >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
exec .venv/bin/python -m pytest -n 2 "$@"
