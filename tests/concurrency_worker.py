"""One process of the concurrency test: a librarian making changes, or a reader searching.

    python -m tests.concurrency_worker writer N    # 20 changes as worker N, outcomes as JSON
    python -m tests.concurrency_worker reader STOPFILE

Settings come from the LIBRARY_* environment, as for the app and the CLI.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from library import Library, Settings
from library.errors import DuplicateReference, LibraryError, ReferenceNotFound
from tests.security_support import entry_text

OWN_ADDS = 10
OWN_EDITS = 4  # references 0..3 get a key finding
OWN_DELETES = (5, 6, 7)
SHARED_ADDS = 2  # every writer tries to add shared-ref0 and shared-ref1; one of them wins each
OVERLAP_EDIT_KEY = "felitti1998relationship"  # every writer edits this seed reference once
READER_WORDS = ("trauma", "burnout", "synthetic", "study", "restraint", "journal", "worker", "")


def own_key(worker: int, number: int) -> str:
    return f"w{worker}-ref{number}"


def writer(worker: int) -> dict:
    library = Library(Settings.from_env())
    outcomes: dict[str, list] = {"added": [], "edited": [], "deleted": [], "shared_added": [],
                                 "shared_refused": [], "overlap_edited": []}
    operations = ([("add", n) for n in range(OWN_ADDS)] + [("edit", n) for n in range(OWN_EDITS)]
                  + [("delete", n) for n in OWN_DELETES] + [("shared", n) for n in range(SHARED_ADDS)]
                  + [("overlap", 0)])
    # Writers interleave differently on every run, but each keeps its own order of dependent steps.
    rng = random.Random(worker)
    adds = operations[:OWN_ADDS]
    rest = operations[OWN_ADDS:]
    rng.shuffle(rest)
    for action, number in adds + rest:
        if action == "add":
            key = own_key(worker, number)
            library.add_text(entry_text(key, worker * 100 + number), who=f"worker{worker}")
            outcomes["added"].append(key)
        elif action == "edit":
            key = own_key(worker, number)
            entry = library.collection.read(key)
            library.update(entry.with_fields(key_finding=f"Edited by worker {worker}."), who=f"worker{worker}")
            outcomes["edited"].append(key)
        elif action == "delete":
            key = own_key(worker, number)
            library.delete(key, who=f"worker{worker}")
            outcomes["deleted"].append(key)
        elif action == "shared":
            key = f"shared-ref{number}"
            try:
                library.add_text(entry_text(key, 900 + number), who=f"worker{worker}")
                outcomes["shared_added"].append(key)
            except DuplicateReference:
                outcomes["shared_refused"].append(key)
        else:
            # Read and write under the lock, so that no writer's edit is lost to another's stale read.
            with library.collection.locked():
                entry = library.collection.read(OVERLAP_EDIT_KEY)
                note = " ".join(filter(None, (entry.fields.get("note", ""), f"worker{worker}")))
                library.update(entry.with_fields(note=note), who=f"worker{worker}")
            outcomes["overlap_edited"].append(OVERLAP_EDIT_KEY)
    library.close()
    return outcomes


def reader(stop_file: Path) -> dict:
    library = Library(Settings.from_env(), sync=False)
    searches, vanished, errors = 0, 0, []
    rng = random.Random()
    deadline = time.monotonic() + 180  # bounded even if the test never says stop
    while not stop_file.exists() and time.monotonic() < deadline and searches < 20_000:
        try:
            library.refresh(wait=False, max_age=0.05)  # what every page load of the app does
            result = library.search(rng.choice(READER_WORDS))
            searches += 1
            if result.hits:
                try:
                    library.get(result.hits[0].key)
                except ReferenceNotFound:
                    vanished += 1  # deleted between the search and the read: allowed
        except LibraryError as error:
            errors.append(f"{type(error).__name__}: {error}")
        except Exception as error:  # anything else is a bug the test reports
            errors.append(f"{type(error).__name__}: {error!r}")
    library.close()
    return {"searches": searches, "vanished": vanished, "errors": errors[:20]}


def main(argv: list[str]) -> int:
    role, argument = argv[0], argv[1]
    result = writer(int(argument)) if role == "writer" else reader(Path(argument))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
