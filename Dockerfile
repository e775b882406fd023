# The evidence library's app server, for an organisation (see docs/deploy.md and compose.yaml).
#
#   docker build -t evidence-library .
#
# One image for every app server.  Settings come from the environment (README, "Settings"); the
# organisation's sign-in from /app/.streamlit/secrets.toml (mounted at run time, never baked in).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The same pinned packages the tests run with (requirements.txt), installed as root, before the
# code, so that a code change does not reinstall them.
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-compile -r requirements.txt

# A user of its own: the app never runs as root.
RUN groupadd --system --gid 10001 library \
 && useradd --system --uid 10001 --gid library --home-dir /app --no-create-home --shell /usr/sbin/nologin library

# The code.  The fonts (library/fonts, DejaVu) and citation styles (library/styles, CSL) that the
# PDF, Word and reference lists need are part of library/, so they are inside the image; nothing
# is fetched at run time.  The shipped collection is kept as a seed for an empty volume.
COPY app.py ./
COPY .streamlit/config.toml .streamlit/config.toml
COPY library/ library/
COPY views/ views/
COPY deploy/seed-collection.sh deploy/seed-collection.sh
COPY references/ seed/references/

# Settings (every LIBRARY_* variable is in the README's table; STREAMLIT_* are Streamlit's own).
# The collection and the data folder live on the volume /app/var, which every app server shares;
# the search index is each server's own (/app/index: a cache, rebuilt from the files when missing).
ENV LIBRARY_REFERENCES_DIR=/app/var/references \
    LIBRARY_DATA_DIR=/app/var/data \
    LIBRARY_INDEX_DIR=/app/index \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none

RUN mkdir -p /app/var /app/index /app/.streamlit \
 && chown library:library /app/var /app/index /app/.streamlit
VOLUME ["/app/var"]

USER library
EXPOSE 8501

# Streamlit's own health endpoint answers "ok" once the server is up.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read().strip() == b'ok' else 1)"]

CMD ["python", "-m", "streamlit", "run", "app.py"]
