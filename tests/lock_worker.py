"""One process of the lock and several-servers tests (settings from the LIBRARY_* environment).

    python -m tests.lock_worker count KEY TIMES     # read a number from KEY's note, add one, write it back,
                                                    # TIMES times, each under the collection lock
    python -m tests.lock_worker hold SECONDS        # hold the collection lock, print "held", then wait
    python -m tests.lock_worker server              # a second app server: waits for commands on stdin

`server` stands in for a second app server sharing the collection: it keeps one `Library` open
(with its own index folder) and answers, for each line of standard input, as the app's page loads
do: it refreshes at most every `REFRESH_SECONDS` and prints what a search finds as JSON.
"""

from __future__ import annotations

import json
import sys
import time

from library import Library, Settings

REFRESH_SECONDS = 5.0  # as views/ui.py


def count(key: str, times: int) -> dict:
    library = Library(Settings.from_env(), sync=False)
    collection = library.collection
    for _ in range(times):
        with collection.locked():
            entry = collection.read(key)
            number = int(entry.fields.get("note", "0"))
            time.sleep(0.005)  # a read-modify-write that a second writer would interleave with
            collection.write(entry.with_fields(note=str(number + 1)), action="edit", who="counter")
    return {"kind": collection.writer_lock.kind}


def hold(seconds: float) -> None:
    library = Library(Settings.from_env(), sync=False)
    with library.collection.locked():
        print("held", flush=True)
        time.sleep(seconds)


def server() -> None:
    library = Library(Settings.from_env())
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        words = line.strip()
        if words == "quit":
            break
        library.refresh(max_age=REFRESH_SECONDS)
        result = library.search(words, per_page=50)
        found = {hit.key: hit.key_finding for hit in result.hits}
        print(json.dumps({"total": result.total, "found": found}), flush=True)
    library.close()


if __name__ == "__main__":
    action = sys.argv[1]
    if action == "count":
        print(json.dumps(count(sys.argv[2], int(sys.argv[3]))))
    elif action == "hold":
        hold(float(sys.argv[2]))
    elif action == "server":
        server()
    else:
        raise SystemExit(f"unknown action {action!r}")
