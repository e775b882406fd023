"""What the benchmark runs in fresh child processes, each printing one JSON line.

    python -m bench.probes build REFERENCES INDEX DATA PROCS
    python -m bench.probes open REFERENCES INDEX DATA
    python -m bench.probes app REFERENCES INDEX DATA RUNS QUERY...
    python -m bench.probes pack-edit REFERENCES INDEX DATA RUNS

A child process gives a true "new process" for opening and the app, and lets
the parent measure the build's memory (the building process plus its workers)
without its own memory in the figure.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _settings(references: str, index: str, data: str):  # type: ignore[no-untyped-def]
    from library.config import Settings

    return Settings.from_env(references_dir=references, index_dir=index, data_dir=data)


def probe_build(references: str, index: str, data: str, procs: str) -> dict:
    from library.api import Library

    calls: list[tuple[int, int]] = []
    library = Library(_settings(references, index, data), sync=False)
    started = time.perf_counter()
    report = library.rebuild(progress=lambda done, total: calls.append((done, total)), procs=int(procs))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "parsed_files": report.parsed_files, "added": report.added,
            "problems": len(report.problems), "progress_calls": len(calls),
            "last_progress": calls[-1] if calls else None,
            "self_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "workers_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}


def probe_open(references: str, index: str, data: str) -> dict:
    from library.api import Library

    started = time.perf_counter()
    library = Library(_settings(references, index, data))
    seconds = time.perf_counter() - started
    report = library.last_sync
    return {"seconds": seconds, "parsed_files": report.parsed_files, "touched": report.touched,
            "rebuilt": report.rebuilt}


def probe_app(references: str, index: str, data: str, runs: str, *queries: str) -> dict:
    os.environ.update(LIBRARY_REFERENCES_DIR=references, LIBRARY_INDEX_DIR=index, LIBRARY_DATA_DIR=data)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    started = time.perf_counter()
    at.run()
    first = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"the app failed to open: {at.exception}")
    times = []
    for number in range(int(runs)):
        at.text_input(key="q").set_value(queries[number % len(queries)])
        at.button[0].click()
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        if at.exception:
            raise SystemExit(f"the search page failed: {at.exception}")
    found = [m.value for m in at.markdown if "found" in str(m.value)]
    if not found:
        raise SystemExit("the search page showed no results")
    return {"first_run": first, "seconds": times, "shown": found[:1]}


PACK_EDIT_REFERENCES = 10


def probe_pack_edit(references: str, index: str, data: str, runs: str) -> dict:
    """The pack page after one edit (a note, a key message, a reorder), on a saved pack of ten references.

    Each figure is one AppTest run from the edit to the page drawn again: the edit saved,
    the preview made and the fit checked, every download offered (exports are made only
    when a download is clicked, so none is rendered here).
    """
    os.environ.update(LIBRARY_REFERENCES_DIR=references, LIBRARY_INDEX_DIR=index, LIBRARY_DATA_DIR=data)
    from streamlit.testing.v1 import AppTest

    from library.api import Library
    from library.packs import KeyMessage, Pack, PackReference
    from library.search import SearchRequest

    library = Library(_settings(references, index, data))
    hits = library.search(SearchRequest(text="trauma", per_page=PACK_EDIT_REFERENCES)).hits
    if len(hits) < PACK_EDIT_REFERENCES:
        hits = library.search(SearchRequest(per_page=PACK_EDIT_REFERENCES)).hits
    keys = [h.key for h in hits][:PACK_EDIT_REFERENCES]
    pack = Pack(title="Making our ward trauma-informed", ask="Fund a six-month pilot of trauma-informed training.",
                key_messages=(KeyMessage("Most people using our services have lived through trauma.", (1, 2, 3)),
                              KeyMessage("Training alone changes little without leadership.", (4, 5, 6)),
                              KeyMessage("Staff wellbeing improves when the organisation changes.", (7, 8, 9, 10))),
                references=tuple(PackReference(h.key, h.key_finding.split(". ")[0].rstrip(".") + ".")
                                 for h in hits[:PACK_EDIT_REFERENCES]),
                audience="Ward manager", prepared_by="Benchmark")
    made = library.packs.create(pack.with_snapshots(library.get_many(keys)), owner=None)
    library.close()

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["edit"] = made.edit_token
    at.switch_page("views/pack.py")
    started = time.perf_counter()
    at.run()
    first = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"the pack page failed to open: {at.exception}")
    by_kind: dict[str, list[float]] = {"note": [], "key message": [], "reorder": []}
    for number in range(int(runs)):
        kind = list(by_kind)[number % 3]
        if kind == "note":
            at.text_area(key=f"note-{keys[number % len(keys)]}").input(f"Why this matters, edit {number}.")
        elif kind == "key message":
            at.text_area(key="message-0").input(f"Most people using our services have lived through trauma ({number}).")
        else:
            at.button(key=f"down-{keys[number % (len(keys) - 1)]}").click()
        started = time.perf_counter()
        at.run()
        by_kind[kind].append(time.perf_counter() - started)
        if at.exception:
            raise SystemExit(f"the pack page failed after a {kind} edit: {at.exception}")
    saved = Library(_settings(references, index, data), sync=False).packs.open(made.edit_token, None)
    if saved.revision != 1 + int(runs):
        raise SystemExit(f"{runs} edits made {saved.revision - 1} saves")
    fits = not any("Longer than one page" in str(w.value) for w in at.warning)
    return {"first_run": first, "seconds": [t for times in by_kind.values() for t in times],
            "by_kind": {k: sorted(v) for k, v in by_kind.items()}, "references": len(keys), "fits": fits}


PROBES = {"build": probe_build, "open": probe_open, "app": probe_app, "pack-edit": probe_pack_edit}

if __name__ == "__main__":
    name, *arguments = sys.argv[1:]
    print(json.dumps(PROBES[name](*arguments)))
