"""What the benchmark runs in fresh child processes, each printing one JSON line.

    python -m bench.probes build REFERENCES INDEX DATA PROCS
    python -m bench.probes open REFERENCES INDEX DATA
    python -m bench.probes app REFERENCES INDEX DATA RUNS QUERY...

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


PROBES = {"build": probe_build, "open": probe_open, "app": probe_app}

if __name__ == "__main__":
    name, *arguments = sys.argv[1:]
    print(json.dumps(PROBES[name](*arguments)))
