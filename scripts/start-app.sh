#!/usr/bin/env bash
# Install what the app needs (once) and start it on http://localhost:8501.
# Runs on the embedded defaults: the collection in references/, the index in var/index/.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
# Streamlit's own upload limit follows LIBRARY_MAX_UPLOAD_MB (whole megabytes, rounded up), so that its
# "Limit N MB per file" never promises more than the library accepts.
upload=()
if [ -n "${LIBRARY_MAX_UPLOAD_MB:-}" ]; then
  upload=(--server.maxUploadSize "$(.venv/bin/python -c 'import math, sys; print(max(1, math.ceil(float(sys.argv[1]))))' "$LIBRARY_MAX_UPLOAD_MB")")
fi
exec .venv/bin/python -m streamlit run app.py --server.headless true --browser.gatherUsageStats false "${upload[@]}" "$@"
