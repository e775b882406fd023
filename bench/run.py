"""Run the benchmark: `python -m bench [--sizes 1000,10000,50000] [--repeat 3] [--out docs/benchmarks.md]`.

For each size: generate the collection in a temporary folder, then measure,
through the library's own code, the full rebuild (in a child process, with its
memory), opening with nothing changed, syncing one added, edited and deleted
file, the CLI's cold start, the query set, the app's search page and pack
export; and the same build and queries in SQLite FTS5.  Prints the report and
writes it to `--out`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Sequence

from . import fts5, packs
from .collection import Synthetic, generate
from .queries import EVERYDAY, QUERIES
from .report import MIB, SizeResult, median, percentile, render, write

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (1_000, 10_000, 50_000)
DEFAULT_OUT = REPO / "docs" / "benchmarks.md"
APP_QUERIES = ("trauma care", '"trauma informed"', "burnout", "staff training")
CLI_QUERY = "trauma care"
NOTES = """How to read the tables: *ours* is the library (`library.api.Library`, Whoosh); *SQLite FTS5*
is the same records in FTS5 (porter tokenizer, bm25 with the same field weights, `snippet()`, `COUNT(*)`
and a GROUP BY facet on evidence type; its build parses the files with the same parser in the same
two processes). A ratio above 1 means ours is slower. Our searches do more per query than the
baseline: facet counts on themes (with their ancestors), evidence types, settings and years, each
counted with the other filters applied, and the theme labels are searched with the text. Phrases are
exact in both: ours checks every phrase on the word positions its index keeps, a block of postings at
a time with numpy (`library/ranking.py`), and returns exactly the documents and scores of Whoosh's own
phrase search; it no longer matches phrases through hashed word pairs, so no phrase total is high.
Totals can differ from FTS5's where the analysis differs: ours joins UK and US spellings, compounds
and word forms (Snowball stems), drops stop words, and searches theme labels and their synonyms too."""


class _PeakMemory:
    """Polls the resident memory of a process and all its descendants; keeps the highest sum."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def __enter__(self) -> "_PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        found, stack = [], [self.pid]
        while stack:
            pid = stack.pop()
            found.append(pid)
            for children in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    stack.extend(int(c) for c in children.read_text().split())
                except OSError:
                    continue
        return found

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for pid in self._tree():
                try:
                    total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self._page
                except (OSError, IndexError, ValueError):
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)


def _env(synthetic_root: Path, index: Path, data: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(LIBRARY_REFERENCES_DIR=str(synthetic_root), LIBRARY_INDEX_DIR=str(index),
               LIBRARY_DATA_DIR=str(data), PYTHONPATH=str(REPO))
    return env


def _probe(name: str, *arguments: str, env: dict[str, str], memory: bool = False) -> tuple[dict, int]:
    process = subprocess.Popen([sys.executable, "-m", "bench.probes", name, *arguments], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if memory:
        with _PeakMemory(process.pid) as peak:
            out, err = process.communicate()
        peak_bytes = peak.peak
    else:
        out, err = process.communicate()
        peak_bytes = 0
    if process.returncode != 0:
        raise RuntimeError(f"probe {name} failed ({process.returncode}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), peak_bytes


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def bench_size(size: int, work: Path, repeat: int, search_runs: int, procs: int) -> SizeResult:
    from library.api import Library
    from library.bibtex import format_entry, parse_file
    from library.config import Settings

    result = SizeResult(size, repeat)
    figures, baseline = result.figures, result.baseline
    refs, index, data = work / "references", work / "index", work / "data"
    started = time.perf_counter()
    synthetic: Synthetic = generate(refs, size)
    _say(f"[{size:,}] generated the collection in {time.perf_counter() - started:.1f} s")
    env = _env(refs, index, data)
    args = (str(refs), str(index), str(data))

    # Full rebuild, in a child process so that its memory (and its workers') is its own.
    builds, peaks = [], []
    loads = {"rebuild": [os.getloadavg()]}
    for run in range(repeat):
        out, peak = _probe("build", *args, str(procs), env=env, memory=True)
        if out["parsed_files"] != size or out["problems"]:
            raise RuntimeError(f"the build parsed {out['parsed_files']} of {size} files "
                               f"with {out['problems']} problem(s)")
        builds.append(out["seconds"])
        # Polling can miss nothing but a very short spike; getrusage is the fallback.
        peaks.append(peak or (out["self_maxrss_kib"] + out["workers_maxrss_kib"]) * 1024)
        _say(f"[{size:,}] rebuild {run + 1}/{repeat}: {out['seconds']:.1f} s, peak {peak / MIB:,.0f} MiB, "
             f"{out['progress_calls']} progress updates, last {out['last_progress']}")
    figures["full rebuild, 2 processes, with progress"] = median(builds)
    loads["rebuild"].append(os.getloadavg())
    figures["peak memory during full rebuild (process + workers)"] = max(peaks)
    result.notes.append(f"Rebuild: {out['progress_calls']} progress updates, the last {tuple(out['last_progress'])}; "
                        f"peak resident memory summed over the building process and its workers, polled every "
                        f"50 ms (largest single process by getrusage: "
                        f"{max(out['self_maxrss_kib'], out['workers_maxrss_kib']) / 1024:,.0f} MiB).")

    fts_db = work / "fts5.sqlite"
    fts_builds = []
    for run in range(repeat):
        fts_builds.append(fts5.build(refs, fts_db, synthetic.vocabulary, procs=procs))
    baseline["full rebuild, 2 processes, with progress"] = median(fts_builds)
    _say(f"[{size:,}] FTS5 build: {median(fts_builds):.1f} s")

    # Opening with nothing changed, in a new process each time: must parse no BibTeX.
    opens = []
    loads["open"] = [os.getloadavg()]
    for _ in range(repeat):
        out, _ = _probe("open", *args, env=env)
        if out["parsed_files"] != 0 or out["rebuilt"]:
            raise RuntimeError(f"opening an unchanged library parsed {out['parsed_files']} file(s)")
        opens.append(out["seconds"])
    figures["open with nothing changed (BibTeX files parsed: 0)"] = median(opens)
    loads["open"].append(os.getloadavg())
    result.notes.append(f"Open: a new process creates `Library(settings)`, which syncs; report.parsed_files == "
                        f"{out['parsed_files']} in every run.")

    # Sync after one change, on a library that is already open (as the app and a CLI session have it).
    settings = Settings.from_env(references_dir=refs, index_dir=index, data_dir=data)
    library = Library(settings)
    added, edited, deleted = [], [], []
    loads["sync"] = [os.getloadavg()]
    for run in range(repeat):
        gone = synthetic.keys[(run * 7919) % size]
        path = refs / f"{gone}.bib"
        text = path.read_bytes()
        path.unlink()
        started = time.perf_counter()
        report = library.refresh()
        deleted.append(time.perf_counter() - started)
        _expect(report, "deleted", parsed=0)

        path.write_bytes(text)
        started = time.perf_counter()
        report = library.refresh()
        added.append(time.perf_counter() - started)
        _expect(report, "added", parsed=1)

        changed = refs / f"{synthetic.keys[(run * 104729 + 1) % size]}.bib"
        entry = parse_file(changed).entries[0]
        changed.write_text(format_entry(entry.with_fields(title=entry.fields["title"] + " Revisited")),
                           encoding="utf-8")
        started = time.perf_counter()
        report = library.refresh()
        edited.append(time.perf_counter() - started)
        _expect(report, "changed", parsed=1)
    figures["sync after one file added"] = median(added)
    figures["sync after one file edited"] = median(edited)
    figures["sync after one file deleted"] = median(deleted)
    loads["sync"].append(os.getloadavg())
    result.notes.append("Sync: `Library.refresh()` on an open library after a file is added, edited or deleted "
                        "behind its back; each re-indexes exactly that one document (checked).")

    # Cold start: a new process running the CLI to its first result.
    colds = []
    loads["cold start"] = [os.getloadavg()]
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "library", "search", CLI_QUERY], cwd=REPO, env=env,
                              capture_output=True, text=True)
        colds.append(time.perf_counter() - started)
        if done.returncode != 0 or "found" not in done.stdout:
            raise RuntimeError(f"the CLI search failed:\n{done.stderr[-2000:]}")
    figures["cold start: CLI process to first result"] = median(colds)
    loads["cold start"].append(os.getloadavg())
    result.notes.append("Load average (1, 5, 15 min) on 2 cores shared with other work, before and after: "
                        + "; ".join(f"{what} {_load(before)} → {_load(after)}" for what, (before, after) in loads.items())
                        + ".")

    # Search: every query several times on the open library, then the same in FTS5.
    library.search("")  # opens the searcher, as the first page load does
    if library._searcher.fast_path_problem:
        raise RuntimeError(f"search is not on its fast path: {library._searcher.fast_path_problem}")
    load_before = os.getloadavg()
    ours, totals = _time_ours(library, QUERIES + EVERYDAY, search_runs)
    fts_searcher = fts5.FtsSearcher(fts_db)
    try:
        theirs, fts_totals = _time_fts(fts_searcher, QUERIES + EVERYDAY, search_runs)
    finally:
        fts_searcher.close()
    load_after = os.getloadavg()
    all_ours = [t for q in QUERIES for t in ours[q.label]]
    all_theirs = [t for q in QUERIES for t in theirs[q.label]]
    figures["search p50 (20 hits, facets, snippets)"] = percentile(all_ours, 0.5)
    figures["search p95 (20 hits, facets, snippets)"] = percentile(all_ours, 0.95)
    baseline["search p50 (20 hits, facets, snippets)"] = percentile(all_theirs, 0.5)
    baseline["search p95 (20 hits, facets, snippets)"] = percentile(all_theirs, 0.95)
    result.per_query = [(q.label, median(ours[q.label]), median(theirs[q.label]), totals[q.label],
                         fts_totals[q.label]) for q in QUERIES]
    result.everyday = [(q.label, median(ours[q.label]), median(theirs[q.label]), totals[q.label],
                        fts_totals[q.label]) for q in EVERYDAY]
    result.notes.append(f"Search: {len(QUERIES)} queries × {search_runs} runs each (and {len(EVERYDAY)} everyday "
                        f"ones, in their own table). Load average (1, 5, 15 min) on 2 cores shared with other work: "
                        f"{_load(load_before)} before the searches, {_load(load_after)} after.")

    # Pack export through the library's facade, from six references a search found.
    figures.update(_packs(library, repeat))
    # The pack page: an edit (a note, a key message, a move), then the preview and the fit check.
    first, edit, slowest = packs.edit_timings(library, max(repeat, 3) * 10)
    figures[packs.EDIT_MEASURE] = edit
    result.notes.append(f"Pack edit: `Library.preview_pack` (the brief as a web page and whether its PDF fits "
                        f"one page) after each of {max(repeat, 3) * 10} edits to a 10-reference pack: median "
                        f"{edit * 1000:,.0f} ms, slowest {slowest * 1000:,.0f} ms; the first preview, with "
                        f"nothing measured yet, {first:.2f} s. Exports render only when a download is asked for.")
    file_size, per_format, outcomes = packs.largest_timings(library)
    figures[packs.LARGEST_MEASURE] = max(per_format.values())
    result.notes.append(f"Largest pack: a {file_size / 1_000_000:.1f} MB pack file at every documented limit "
                        "(50 references known only from saved details, 5 key messages, 5,000 characters in "
                        "every field, authors up to `LIBRARY_MAX_UPLOAD_MB`), read and rendered: "
                        + "; ".join(f"{fmt} {per_format[fmt]:.2f} s ({outcomes[fmt].split(':')[0]})"
                                    for fmt in per_format) + ".")
    library.close()

    # The app's search page, in a new process (Streamlit's resource cache is per process).
    out, _ = _probe("app", *args, str(max(repeat, 3)), *APP_QUERIES, env=env)
    figures["app: search page rendered after a query"] = median(out["seconds"])
    result.notes.append(f"App: `AppTest.from_file('app.py')`; first page load {out['first_run']:.2f} s, then "
                        f"{len(out['seconds'])} searches ({', '.join(APP_QUERIES)}) timed from the Search click.")

    # The pack page: one edit on a saved pack of ten references, in a new process.
    out, _ = _probe("pack-edit", *args, str(3 * max(repeat, 3)), env=env)
    figures["app: pack page after an edit (10 references)"] = median(out["seconds"])
    kinds = ", ".join(f"{kind} {median(times):.2f} s" for kind, times in out["by_kind"].items())
    result.notes.append(f"Pack page: `AppTest` on a saved pack of {out['references']} references "
                        f"({'fits' if out['fits'] else 'does not fit'} one page); first load {out['first_run']:.2f} s, "
                        f"then {len(out['seconds'])} edits timed from the change to the page drawn again "
                        f"(medians: {kinds}); each edit saved, exports made only on a download click.")
    return result


def _load(values: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _time_ours(library, queries, runs: int) -> tuple[dict[str, list[float]], dict[str, int]]:  # type: ignore[no-untyped-def]
    times: dict[str, list[float]] = {q.label: [] for q in queries}
    totals: dict[str, int] = {}
    for _ in range(runs):
        for query in queries:
            started = time.perf_counter()
            found = library.search(query.request)
            times[query.label].append(time.perf_counter() - started)
            totals[query.label] = found.total
            if found.total and not found.hits:
                raise RuntimeError(f"{query.label}: {found.total} found but no hits returned")
    return times, totals


def _time_fts(searcher, queries, runs: int) -> tuple[dict[str, list[float]], dict[str, int]]:  # type: ignore[no-untyped-def]
    times: dict[str, list[float]] = {q.label: [] for q in queries}
    totals: dict[str, int] = {}
    for _ in range(runs):
        for query in queries:
            started = time.perf_counter()
            found = searcher.search(query.fts)
            times[query.label].append(time.perf_counter() - started)
            totals[query.label] = found.total
    return times, totals


def _expect(report, what: str, *, parsed: int) -> None:  # type: ignore[no-untyped-def]
    if getattr(report, what) != 1 or report.touched != 1 or report.parsed_files != parsed or report.rebuilt:
        raise RuntimeError(f"expected one file {what} and {parsed} parsed, got {report}")


def _packs(library, repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    import datetime as dt

    from library.packs import KeyMessage, Pack, PackReference

    keys = [h.key for h in library.search("trauma care", per_page=6).hits]
    records = library.get_many(keys)
    references = tuple(PackReference.from_record(records[k]) for k in keys)  # type: ignore[arg-type]
    references = tuple(PackReference(r.key, r.note.split(". ")[0] + ".", r.evidence, r.snapshot)
                       for r in references)
    pack = Pack(title="Making our ward trauma-informed", ask="Fund a six-month pilot of trauma-informed training.",
                key_messages=(KeyMessage("Most people using our services have lived through trauma.", (1, 2)),
                              KeyMessage("Training alone changes little without leadership.", (3, 4)),
                              KeyMessage("Staff wellbeing improves when the organisation changes.", (5, 6))),
                references=references, audience="Ward manager", prepared_by="Benchmark",
                date=dt.date(2026, 1, 1))
    out = {}
    for fmt, name in (("pdf", "pack export: PDF (6 references)"), ("docx", "pack export: DOCX (6 references)")):
        times = []
        for _ in range(max(repeat, 3)):
            started = time.perf_counter()
            data = library.render_pack(pack, fmt)
            times.append(time.perf_counter() - started)
            if len(data) < 1000:
                raise RuntimeError(f"the {fmt} pack is only {len(data)} bytes")
        out[name] = median(times)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="collection sizes, comma-separated (default: 1000,10000,50000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the median is reported")
    parser.add_argument("--search-runs", type=int, default=5, help="runs of each query (default 5)")
    parser.add_argument("--procs", type=int, default=2, help="processes for the full rebuild (default 2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the Markdown report")
    parser.add_argument("--label", help="write the figures as a labelled section (e.g. 'before'), keeping the rest")
    parser.add_argument("--title", help="heading of the section (default: Results, or the label)")
    parser.add_argument("--work-dir", type=Path, help="where to generate collections (default: a temporary folder)")
    parser.add_argument("--fast", action="store_true", help="one small size, one run: for the test suite")
    args = parser.parse_args(argv)
    if args.fast:
        args.sizes, args.repeat, args.search_runs = "200", 1, 1
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    results = []
    with tempfile.TemporaryDirectory(prefix="library-bench-", dir=args.work_dir) as tmp:
        for size in sizes:
            work = Path(tmp) / str(size)
            results.append(bench_size(size, work, args.repeat, args.search_runs, args.procs))
            print(render(results[-1:], command, f"{size:,} references"), file=sys.stderr, flush=True)
    title = args.title or ({"before": "Before optimisation"}.get(args.label or "", args.label) or "Results")
    body = render(results, command.strip(), title)
    write(args.out, body, args.label, NOTES)
    print(body)
    return 0
