#!/bin/sh
# Run once before the app servers start (compose.yaml's "init" service).  An empty volume gets the
# shipped collection, so that a first start has something to search; a volume that already holds a
# collection is left exactly as it is.  Then the library is opened once: the database's migrations
# are applied and any change a stopped server left unfinished is finished, before anyone is served.
set -eu
references="${LIBRARY_REFERENCES_DIR:-/app/var/references}"
data="${LIBRARY_DATA_DIR:-/app/var/data}"
mkdir -p "$references" "$data"
if [ -z "$(ls -A "$references" 2>/dev/null)" ]; then
  cp -R /app/seed/references/. "$references"/
  echo "The collection in $references was empty: the shipped collection was copied there."
else
  echo "The collection in $references is left as it is."
fi
python - <<'PY'
from library import Library, Settings

library = Library(Settings.from_env(), sync=False)
library.database  # opened: migrations applied (one server at a time)
for notice in library.notices:
    print(notice)
report = library.check()
print(f"The collection holds {report.count} references; {len(report.errors)} problem(s) found by check.")
PY
